"""Hypothesis building blocks for the ops' strategies: valid cases by construction (no filtering).

Hypothesis draws the *configuration* (shapes, strides, paddings, dilations, groups, layout and how
each parameter is spelled, or whether it is left to its default), so failures shrink to small
configurations; array *values* come from ``np.random.default_rng(seed)`` with a drawn seed, which
keeps generation fast. Output shapes come from :mod:`crosscheck.geometry`, crosscheck's own copy of
TensorFlow's rules, never from the code under test; the upstream gradient ``dy`` is drawn in the
shape of TensorFlow's forward output.

A library's restrictions (:func:`allowing`, set by the public :mod:`crosscheck.strategies`) narrow
what the building blocks draw: parameter values, layouts, forms such as bias given or omitted, batch
sizes, channel counts, groups.

Sizes: batch 0-4 where TensorFlow accepts an empty batch, H and W 1-24 (not necessarily square),
channels 1-8 (sometimes 16-20), kernels 1-5, strides 1-4, dilations 1-3; padding VALID, SAME or
explicit asymmetric pairs (pads may exceed the kernel where TensorFlow allows it).
"""
from __future__ import annotations

import contextvars
import functools
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from . import geometry as G
from .params import DEFAULT, Param, canonical, classify, spell_padding, spell_spatial

MAX_HW = 24
MAX_BATCH = 4
MAX_CHANNELS = 8
WIDE_CHANNELS = (16, 20)          # sometimes: implementations switch strategies at 16 channels
MAX_EXPLICIT_PAD = 6
SEEDS = st.integers(0, 2**32 - 1)
OMIT = object()                 # a parameter left out of the call (its default applies)


# ---------------------------------------------------------------------------- strategy objects

def _frozen(value):
    """A hashable key for a strategy's arguments, every value tagged by its type (1, 1.0, True
    and [1] stay apart); TypeError if a value is unhashable."""
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(_frozen(v) for v in value))
    if isinstance(value, dict):
        return (dict, tuple((_frozen(k), _frozen(v)) for k, v in value.items()))
    hash(value)
    return (type(value), value)


def reused(make):
    """Wrap a function that builds a strategy so that the same arguments give the same strategy
    object. Hypothesis validates each new strategy object on its first draw (a walk over the
    strategy's parts) and keeps per-object caches: building one per draw cost more than drawing.
    Arguments that cannot be made hashable build a new object, as before. Meant for building
    blocks whose arguments come from a small fixed set (the cache is never emptied)."""
    cache: dict = {}

    @functools.wraps(make)
    def get(*args, **kwargs):
        try:
            key = (_frozen(args), _frozen(kwargs))
        except TypeError:
            return make(*args, **kwargs)
        if key not in cache:
            cache[key] = make(*args, **kwargs)
        return cache[key]
    return get


@reused
def sampled(options: tuple):
    """``st.sampled_from(options)``, one strategy object per tuple of options."""
    return st.sampled_from(options)


# ------------------------------------------------------------------------------- restrictions

_ALLOWED: contextvars.ContextVar = contextvars.ContextVar("crosscheck_allowed_values", default=None)


@contextmanager
def allowing(allowed: dict):
    """Within the block, the building blocks draw only these values (``{name: tuple of values}``):
    a parameter's values (strides, dilations, ksize as per-axis tuples; padding as "SAME", "VALID",
    "EXPLICIT" or per-axis pairs; data_format), a :func:`pick`'s forms (bias: "given" / "omitted"),
    "batch", "channels", "groups", "multiplier" sizes, and "empty": (False,) for no zero-size axis."""
    token = _ALLOWED.set(dict(allowed))
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def allowed(name: str) -> tuple | None:
    """The values :func:`allowing` allows for ``name``, or None when it is not restricted."""
    return (_ALLOWED.get() or {}).get(name)


BATCHES = st.sampled_from([1, 2, 3, 4, 0])   # shrinks towards 1; 0 is TF's empty batch


def batches():
    """The batch sizes to draw from, called while drawing: :data:`BATCHES`, or the allowed ones
    (no 0 when empty axes are not allowed). The unrestricted strategy is the same object as ever, so
    that the registry's seeded draws stay what they were."""
    only = allowed("batch") or ((1, 2, 3, 4) if allowed("empty") == (False,) else None)
    return sampled(tuple(only)) if only else BATCHES


# ------------------------------------------------------------------------------------- values

def normal(rng: np.random.Generator, shape, dtype: str, scale: float = 1.0) -> np.ndarray:
    return np.asarray(rng.standard_normal(tuple(shape)) * scale).astype(dtype)


def distinct(rng: np.random.Generator, shape, dtype: str) -> np.ndarray:
    """Tie-free values: a random permutation of evenly spaced numbers in [-3, 3]."""
    n = int(np.prod(shape))
    return np.linspace(-3.0, 3.0, max(n, 1))[rng.permutation(n)][:n].reshape(shape).astype(dtype)


def probabilities(rng, shape, axis: int, dtype: str) -> np.ndarray:
    """Random probability distributions along ``axis`` (each slice sums to 1)."""
    e = np.exp(rng.standard_normal(shape) * 2.0)
    return (e / e.sum(axis=axis, keepdims=True)).astype(dtype)


def with_special_values(rng, x: np.ndarray, values) -> np.ndarray:
    """``x`` with about a quarter of its cells set to values drawn from ``values`` (e.g. 0 for a kink)."""
    x = x.copy()
    mask = rng.random(x.shape) < 0.25
    x[mask] = rng.choice(np.asarray(values, dtype=x.dtype), size=int(mask.sum()))
    return x


@reused
def small_shapes(min_rank: int = 1, max_rank: int = 4, max_side: int = 8):
    return st.lists(st.integers(1, max_side), min_size=min_rank, max_size=max_rank).map(tuple)


def channel_counts(low: int = 1, high: int = MAX_CHANNELS):
    """Mostly 1-8 channels, sometimes 16 or 20 (where implementations change their inner loops);
    the allowed counts (at least ``low``) under :func:`allowing` (called while drawing)."""
    only = tuple(c for c in (allowed("channels") or ()) if c >= low)
    return sampled(only) if only else _channel_counts(low, high)


@reused
def _channel_counts(low: int, high: int):
    return st.one_of(st.integers(low, high), st.integers(low, high), st.integers(low, high),
                     st.sampled_from(WIDE_CHANNELS))


# ------------------------------------------------------------------------------------ parameters

_FORCED: contextvars.ContextVar = contextvars.ContextVar("crosscheck_forced_forms", default=None)


@contextmanager
def forcing(forms: dict):
    """Within the block, :func:`pick` returns these forms (``{parameter: form}``): a run tops up the
    forms its random draws missed (hypothesis's choices are far from uniform)."""
    token = _FORCED.set(dict(forms))
    try:
        yield
    finally:
        _FORCED.reset(token)


def pick(draw, name: str, options):
    """One of ``options`` (the forms of parameter ``name``): drawn, unless :func:`forcing` fixes it."""
    forced = (_FORCED.get() or {}).get(name)
    if forced is not None and forced in options:
        return forced
    only = allowed(name)
    if only is not None and any(o in only for o in options):
        options = [o for o in options if o in only]
    return draw(sampled(tuple(options)))


def forms_for(param: Param, spellings: bool, canonical_form: str) -> tuple:
    """The forms to draw from: every form the param documents, or only its canonical one."""
    return param.expected_forms() if spellings else (canonical_form,)


def spelled(params: dict, name: str, value) -> None:
    """Put ``value`` in the call's ``params`` unless it is OMIT."""
    if value is not OMIT:
        params[name] = value


@reused
@st.composite
def choice_param(draw, name: str, param: Param, choices, spellings: bool = True):
    """(meaning, value as written or OMIT) of a parameter with a few values (data_format, keepdims, ...)."""
    only = allowed(name)
    by_form = {classify(param.kind, c): c for c in choices if only is None or c in only}
    options = ([DEFAULT] if spellings and param.has_default else []) + list(by_form)
    picked = pick(draw, name, options)
    return (param.default, OMIT) if picked == DEFAULT else (by_form[picked], by_form[picked])


@reused
@st.composite
def spatial_param(draw, name: str, param: Param, low: int, high: int, data_format: str, spellings: bool = True,
                  rank: int = 2):
    """(per-axis values, value as written or OMIT). The int and 1-value forms give equal axes."""
    only = allowed(name)
    if only is not None:
        values = draw(sampled(tuple(only)))
        return values, spell_spatial(values, "2 values", data_format)
    form = pick(draw, name, forms_for(param, spellings, "2 values"))
    if form == DEFAULT:
        return canonical("spatial", param.default, data_format), OMIT
    if form in ("int", "1 value"):
        values = (draw(st.integers(low, high)),) * rank
    else:
        values = tuple(draw(st.integers(low, high)) for _ in range(rank))
    return values, spell_spatial(values, form, data_format)


@reused
@st.composite
def padding_param(draw, param: Param, data_format: str, spellings: bool = True):
    """(mode "SAME" / "VALID" / "EXPLICIT", form) for a padding parameter; the caller draws the
    explicit pads and spells the value with :func:`write_padding`."""
    explicit = "4 pairs" in param.forms
    canonical_forms = ["'SAME'", "'VALID'"] + (["4 pairs"] if explicit else [])
    only = allowed("padding")
    if only is not None:
        canonical_forms = [f for f, mode in (("'SAME'", "SAME"), ("'VALID'", "VALID"), ("4 pairs", "EXPLICIT"))
                           if f in canonical_forms and (mode in only or mode == "EXPLICIT" and any(
                               not isinstance(p, str) for p in only))]
        form = draw(sampled(tuple(canonical_forms)))
        return ("EXPLICIT" if form == "4 pairs" else form.strip("'")), form
    form = pick(draw, "padding", param.expected_forms() if spellings else canonical_forms)
    if form in ("2 pairs", "4 pairs"):
        return "EXPLICIT", form
    if form == DEFAULT:
        return canonical("padding", param.default), form
    if form in ("'SAME'", "'VALID'"):
        return form.strip("'"), form
    return draw(st.sampled_from(["SAME", "VALID"])), form


def axis_form(draw, name: str, rank: int, spellings: bool = True, extra=()) -> str:
    """"default", "negative", "non-negative" (or one of ``extra``) for an axis parameter."""
    return pick(draw, name, ((DEFAULT,) if spellings else ()) + ("negative", "non-negative") + tuple(extra))


def draw_axis(draw, form: str, rank: int) -> int:
    return draw(st.integers(-rank, -1)) if form == "negative" else draw(st.integers(0, rank - 1))


def write_padding(mode_or_pads, form: str, data_format: str):
    """The padding value as the call writes it (OMIT for the default form)."""
    if form == DEFAULT:
        return OMIT
    return spell_padding(mode_or_pads, form, data_format)


# ------------------------------------------------------------------------------------ windows

@dataclass(frozen=True)
class WindowConfig:
    """A drawn sliding window: canonical meaning (per-axis tuples, NHWC-free) and the call's params."""
    data_format: str
    in_sizes: tuple
    window: tuple
    strides: tuple
    dilations: tuple
    padding: object           # "SAME", "VALID" or per-axis pairs
    out: tuple
    params: dict              # strides / padding / dilations / data_format as the call writes them


@reused
@st.composite
def window_config(draw, params: dict, spellings: bool = True, *, window_param: str | None = None,
                  max_k: int = 5, pads_below_window: bool = False) -> WindowConfig:
    """A window valid by construction under TensorFlow's rules (crosscheck.geometry).

    ``params``: the op's Params (data_format, strides, padding and, if present, dilations);
    ``window_param``: the name of a window-size parameter (ksize), or None when the window comes
    from a filter array (then it is drawn here and left out of ``params``)."""
    call = {}
    fmt, value = draw(choice_param("data_format", params["data_format"], ["NHWC", "NCHW"], spellings))
    spelled(call, "data_format", value)
    strides, value = draw(spatial_param("strides", params["strides"], 1, 4, fmt, spellings))
    spelled(call, "strides", value)
    if "dilations" in params:
        dilations, value = draw(spatial_param("dilations", params["dilations"], 1, 3, fmt, spellings))
        spelled(call, "dilations", value)
    else:
        dilations = (1, 1)
    if window_param is not None:
        window, value = draw(spatial_param(window_param, params[window_param], 1, max_k, fmt, spellings))
        spelled(call, window_param, value)
    else:
        window = (draw(st.integers(1, max_k)), draw(st.integers(1, max_k)))
    mode, form = draw(padding_param(params["padding"], fmt, spellings))
    k_eff = G.effective_window(window, dilations)
    given_pads = [p for p in (allowed("padding") or ()) if not isinstance(p, str)]
    if mode == "EXPLICIT" and given_pads and "EXPLICIT" not in allowed("padding"):
        if pads_below_window:   # max_pool2d: TensorFlow takes only pads smaller than the window
            given_pads = [p for p in given_pads if all(max(pair) < k for pair, k in zip(p, window))]
        assume(bool(given_pads))
        padding = draw(sampled(tuple(given_pads)))
    elif mode == "EXPLICIT":
        flat = draw(explicit_pads([k - 1 if pads_below_window else MAX_EXPLICIT_PAD for k in window]))
        padding = ((flat[0], flat[1]), (flat[2], flat[3]))
    if mode == "EXPLICIT":
        # pads that cover the window allow an empty axis (TF computes those windows over padding only)
        low = 0 if allowed("empty") != (False,) else 1
        sizes = [draw(st.integers(max(low, ke - before - after), MAX_HW)) for ke, (before, after) in zip(k_eff, padding)]
    else:
        padding, sizes = mode, []
        for ke in k_eff:
            if mode == "SAME":
                # an empty axis (an empty output, as TF allows) in about 1 axis in 10; a flag, not integers(0, ..),
                # which would draw 0 a third of the time, and False first so that shrinking prefers a real axis
                empty = draw(st.sampled_from((False,) * 9 + (True,))) and allowed("empty") != (False,)
                sizes.append(0 if empty else draw(st.integers(1, MAX_HW)))
            else:
                sizes.append(draw(st.integers(ke, MAX_HW)))
    spelled(call, "padding", write_padding(padding, form, fmt))
    win = G.resolve(sizes, window, strides, dilations, padding, pads_below_window=pads_below_window)
    return WindowConfig(fmt, tuple(sizes), tuple(window), tuple(strides), tuple(dilations), padding, win.out, call)


#: how the four explicit pads (top, bottom, left, right) relate: drawn first, so that the boundary
#: combinations kernels branch on (no padding, equal pads, one side only, all but one) are drawn as
#: often as free ones; "free" first, so that shrinking prefers independent pads
PAD_PATTERNS = ("free", "all zero", "all equal", "one side", "all equal but one zero", "symmetric per axis")


@st.composite
def explicit_pads(draw, tops) -> list[int]:
    """[top, bottom, left, right], each at most ``tops`` of its axis, in one of :data:`PAD_PATTERNS`."""
    limits = [tops[0], tops[0], tops[1], tops[1]]
    pattern = draw(st.sampled_from(PAD_PATTERNS))
    shared = draw(st.integers(min(1, min(limits)), min(limits)))   # nonzero where every axis allows it
    side = draw(st.integers(0, 3))
    if pattern == "free":
        return [draw(st.integers(0, t)) for t in limits]
    if pattern == "all zero":
        return [0, 0, 0, 0]
    if pattern == "all equal":
        return [shared] * 4
    if pattern == "one side":
        return [draw(st.integers(min(1, limits[side]), limits[side])) if i == side else 0 for i in range(4)]
    if pattern == "all equal but one zero":
        return [0 if i == side else shared for i in range(4)]
    h, w = draw(st.integers(0, tops[0])), draw(st.integers(0, tops[1]))
    return [h, h, w, w]


def layout(shape_nhwc, data_format: str) -> list[int]:
    return G.to_layout(shape_nhwc, data_format)
