"""Hypothesis strategies of ready Cases, restricted to what your library supports.

::

    from crosscheck import strategies
    cases = strategies.conv2d(strides=(1, 2), padding=("SAME", "VALID"), layout="NHWC", dtypes=("float32",),
                              groups=(1,), bias=False)
    crosscheck.check_op("conv2d", conv2d, conv2d_backward, cases=cases)

Each Case holds the op's arrays in the chosen layout (activations NHWC or NCHW; conv filters HWIO
``(kh, kw, in, out)``, depthwise filters ``(kh, kw, in, multiplier)``), every parameter written
explicitly (strides and dilations as ``[h, w]``, padding as "SAME", "VALID" or TensorFlow's 4 pairs in
the layout), and ``dy``, the upstream gradient, in the shape of TensorFlow's output. Any op of the
registry works through :func:`cases`; :func:`conv2d`, :func:`depthwise_conv2d`,
:func:`conv2d_transpose`, :func:`max_pool2d`, :func:`avg_pool2d` and :func:`dense` name it for you.

Restrictions (each a tuple of the values allowed; None or left out: everything the registry draws):

* a spatial parameter (``strides``, ``dilations``, ``ksize``): ints (the same on both axes) or
  ``(h, w)`` pairs;
* ``padding``: "SAME", "VALID", "EXPLICIT" (any explicit pads), an int p (p on every side) or
  ``((top, bottom), (left, right))``;
* ``layout``: "NHWC" or "NCHW" (one, or a tuple); ``dtypes``: "float32", "float64";
* ``batch``, ``channels`` (the input's), ``groups`` (conv2d), ``multiplier`` (depthwise_conv2d): ints;
* ``bias``: True (always given), False (never) where the op has an optional bias;
* ``empty``: False for no zero-size axis (TensorFlow accepts an empty batch or image; the default
  draws some);
* any other parameter of the op: its values.

An unknown name or value is a ValueError listing the valid ones.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from . import geometry as G
from .case import Case
from .registry import case_strategy, get_op
from .strategy_blocks import allowing

DTYPES = ("float32", "float64")
LAYOUTS = ("NHWC", "NCHW")
PADDING_MODES = ("SAME", "VALID", "EXPLICIT")
#: restrictions of sizes a case's arrays have, by the ops whose strategies draw them
_SIZES = {"groups": ("conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "conv2d_transpose"),
          "multiplier": ("depthwise_conv2d",)}


def cases(op: str, *, dtypes: str | Sequence[str] = DTYPES, layout: str | Sequence[str] | None = None,
          batch: int | Sequence[int] | None = None, channels: int | Sequence[int] | None = None,
          bias: bool | None = None, empty: bool | None = None, **params: Any) -> st.SearchStrategy[Case]:
    """Cases of registry op ``op`` drawn only from the allowed values (see the module docstring)."""
    info = get_op(op)
    has_layout = "data_format" in info.params
    valid = sorted({*info.params} - {"data_format"} | {"dtypes"} | ({"layout", "batch", "channels", "empty"} if has_layout else set())
                   | ({"bias"} if "bias" in info.optional_arrays else set())
                   | {name for name, ops in _SIZES.items() if op in ops})
    given = {"layout": layout, "batch": batch, "channels": channels, "bias": bias, "empty": empty, **params}
    for name, value in given.items():
        if value is not None and name not in valid:
            raise ValueError(f"{op} has no restriction {name!r}; valid: {', '.join(valid)}")
    dtypes = _choices("dtypes", dtypes, DTYPES)
    allowed: dict = {}
    if layout is not None:
        allowed["data_format"] = _choices("layout", layout, LAYOUTS)
    for name in ("batch", "channels", *_SIZES):
        if given.get(name) is not None:
            allowed[name] = _ints(name, given[name], low=0 if name == "batch" else 1)
    if bias is not None:
        if not isinstance(bias, bool):
            raise ValueError(f"bias must be True or False, got {bias!r}")
        allowed["bias"] = ("given",) if bias else ("omitted",)
    if empty is not None:
        if not isinstance(empty, bool):
            raise ValueError(f"empty must be True or False, got {empty!r}")
        allowed["empty"] = (empty,) if not empty else (True, False)
    for name, value in params.items():
        if value is None or name in _SIZES:
            continue
        kind = info.params[name].kind
        if kind == "spatial":
            allowed[name] = tuple(_pair(name, v) for v in _as_tuple(value))
        elif kind in ("padding", "padding-name"):
            values = (value,) if _is_pads(value) else _as_tuple(value)   # one ((top, bottom), (left, right))
            allowed[name] = tuple(_padding(v, explicit=kind == "padding") for v in values)
        else:
            allowed[name] = _as_tuple(value)
    if "channels" in allowed and "groups" in allowed and not any(
            c % g == 0 for c in allowed["channels"] for g in allowed["groups"]):
        raise ValueError(f"channels {allowed['channels']} and groups {allowed['groups']}: no channel count is a "
                         "multiple of a group count")
    checks = {k: v for k, v in allowed.items() if k not in ("bias", "empty")}
    if empty is False:
        checks["empty"] = (False,)
    by_dtype = {dtype: case_strategy(op, dtype, spellings=False).filter(lambda c: _satisfies(info, c, checks))
                for dtype in dtypes}

    @st.composite
    def restricted(draw) -> Case:
        dtype = draw(st.sampled_from(dtypes))
        with allowing(allowed):
            return draw(by_dtype[dtype])
    return restricted()


def conv2d(**restrictions: Any) -> st.SearchStrategy[Case]:
    """conv2d cases: input in the layout, filters HWIO ``(kh, kw, in / groups, out)``, optional bias."""
    return cases("conv2d", **restrictions)


def depthwise_conv2d(**restrictions: Any) -> st.SearchStrategy[Case]:
    """depthwise_conv2d cases: input in the layout, filter ``(kh, kw, in, multiplier)``."""
    return cases("depthwise_conv2d", **restrictions)


def conv2d_transpose(**restrictions: Any) -> st.SearchStrategy[Case]:
    """conv2d_transpose cases: input in the layout, filters ``(kh, kw, out, in)``, output_shape given."""
    return cases("conv2d_transpose", **restrictions)


def max_pool2d(**restrictions: Any) -> st.SearchStrategy[Case]:
    """max_pool2d cases (ksize, strides, padding; input in the layout)."""
    return cases("max_pool2d", **restrictions)


def avg_pool2d(**restrictions: Any) -> st.SearchStrategy[Case]:
    """avg_pool2d cases (ksize, strides, padding; input in the layout)."""
    return cases("avg_pool2d", **restrictions)


def dense(**restrictions: Any) -> st.SearchStrategy[Case]:
    """dense cases: x ``(..., in)``, kernel ``(in, out)``, optional bias ``(out,)``."""
    return cases("dense", **restrictions)


# --------------------------------------------------------------------------------- validation

def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _is_pads(value) -> bool:
    return (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in value)
            and all(isinstance(p, int) for pair in value for p in pair))


def _choices(name: str, value, valid: tuple) -> tuple:
    chosen = _as_tuple(value)
    bad = [v for v in chosen if v not in valid]
    if bad or not chosen:
        raise ValueError(f"{name}: {bad[0] if bad else value!r} is not one of {', '.join(valid)}")
    return chosen


def _ints(name: str, value, low: int) -> tuple:
    chosen = _as_tuple(value)
    if not chosen or any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in chosen):
        raise ValueError(f"{name} must be ints >= {low}, got {value!r}")
    return chosen


def _pair(name: str, value) -> tuple:
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in pair):
        raise ValueError(f"{name}: {value!r} is neither an int >= 1 nor an (h, w) pair of them")
    return pair


def _padding(value, explicit: bool):
    valid = PADDING_MODES if explicit else PADDING_MODES[:2]
    if isinstance(value, str):
        if value not in valid:
            raise ValueError(f"padding: {value!r} is not one of {', '.join(valid)}"
                             + (", an int or ((top, bottom), (left, right))" if explicit else ""))
        return value
    if not explicit:
        raise ValueError(f"padding: {value!r}: this op takes only {', '.join(valid)}")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return ((value, value), (value, value))
    try:
        pads = tuple(tuple(int(p) for p in pair) for pair in value)
    except (TypeError, ValueError):
        pads = ()
    if len(pads) != 2 or any(len(pair) != 2 or min(pair) < 0 for pair in pads):
        raise ValueError(f"padding: {value!r} is not 'SAME', 'VALID', 'EXPLICIT', an int or ((top, bottom), (left, right))")
    return pads


def _satisfies(info, case: Case, allowed: dict) -> bool:
    """Whether a drawn case keeps to the restrictions (the building blocks draw only allowed values;
    this catches any case drawn another way, such as an op's extreme strategy)."""
    call = info.resolve(case)
    fmt = call.data_format
    for name, values in allowed.items():
        if name == "empty":
            actual = any(0 in a.shape for a in (*case.arrays.values(), case.dy) if a is not None)
        elif name in ("batch", "channels", "groups", "multiplier"):
            x = next(iter(case.arrays.values()))
            w = case.arrays.get("filters", case.arrays.get("filter"))
            actual = {"batch": x.shape[0], "channels": G.channels(x.shape, fmt),
                      "groups": G.channels(x.shape, fmt) // max(w.shape[2], 1) if w is not None else 1,
                      "multiplier": w.shape[3] if w is not None else 1}[name]
        elif name == "padding" and "EXPLICIT" in values:
            actual = call.params.get(name)
            actual = "EXPLICIT" if not isinstance(actual, str) else actual
        else:
            actual = call.params.get(name)
        if actual not in values:
            return False
    return True
