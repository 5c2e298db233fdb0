"""Code judged against its own forward (crosscheck.check.self_consistency) in the ``layers``
convention: what it is, found where the user's code is imported (the check worker), and its runs.

    Subject     how to build one object with a forward and a backward: a layer class built with no
                arguments (an activation no TensorFlow op matches, a Softmax class, a whole network
                whose forward runs a list of layers), or a pair of module functions wrapped as one
                (``swish(x)`` with ``swish_backward(dout, x)``, ``swish_grad(x)``, ``d_swish(x)``,
                ``swish_derivative(s)`` on the forward's output, ``swish_forward(x) -> (out,
                cache)`` with ``swish_backward(dout, cache)``)
    parameters  the parameter arrays of an object: ``W``/``b``-like attributes, ``params`` dicts,
                and those of the layers it holds (``layers[0].W``), each with where its gradient is
                found after the backward (``dW``, ``grads['W']``, a dict the backward returns)
    run_subject one case: a fresh object, its forward on the case's input, its backward with the
                case's random upstream gradient, every gradient against finite differences

The plans that go to the command's process carry plain values only: the probed input and output
shapes and the notes (crosscheck.check.target.LayerPlan ``self_check``).
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

import numpy as np

from ..case import IMPLEMENTATION_ERROR, Case, Outcome
from ..compare import compare
from ..tolerance import tolerance
from ..tracebacks import user_traceback
from .layer_access import DICTS, GRAD_DICTS, find_path, grad_path, returning_output
from .layer_declaration import (
    BACKWARD_NAMES,
    BIAS_NAMES,
    FORWARD_NAMES,
    INPUT_GRAD_NAMES,
    WEIGHT_NAMES,
)
from .self_consistency import CANNOT_JUDGE, SELF_OP, judge_gradients, self_outcome

# input shapes tried on a class whose forward is not element-wise, smallest first (NCHW, NHWC, flat)
NETWORK_PROBES = ((2, 1, 6, 6), (2, 6, 6, 1), (2, 1, 8, 8), (2, 8, 8, 1), (2, 3, 8, 8), (2, 8, 8, 3), (2, 4),
                  (2, 8), (2, 16), (2, 10), (2, 1, 28, 28), (2, 28, 28, 1), (2, 784))
ELEMENTWISE_SHAPES = ((4, 5), (2, 3, 4, 4), (3, 7))
MAX_SHAPES = 3


def method(obj, names):
    """The first of ``names`` that ``obj`` has as a callable (``__call__`` only if its class defines it);
    a forward returns its output even where it stores it in ``self.output`` instead."""
    for name in names:
        if name == "__call__" and "__call__" not in {k for c in type(obj).__mro__[:-1] for k in vars(c)}:
            continue
        fn = getattr(obj, name, None)
        if callable(fn):
            return returning_output(obj, fn) if name in FORWARD_NAMES else fn
    return None


# ------------------------------------------------------------------------------ attribute paths

def _parts(path: str) -> list:
    return [p for p in re.split(r"[.\[\]'\"]+", path) if p]


def _step(obj, part):
    if isinstance(obj, dict):
        return obj[part]
    if isinstance(obj, (list, tuple)) and part.isdigit():
        return obj[int(part)]
    return getattr(obj, part)


def get(obj, path: str):
    for part in _parts(path):
        obj = _step(obj, part)
    return obj


def put(obj, path: str, value) -> None:
    *head, last = _parts(path)
    for part in head:
        obj = _step(obj, part)
    if isinstance(obj, dict):
        obj[last] = value
    elif isinstance(obj, list) and last.isdigit():
        obj[int(last)] = value
    else:
        setattr(obj, last, value)


def _is_layer(value) -> bool:
    return not isinstance(value, (np.ndarray, type)) and hasattr(value, "__dict__") and \
        method(value, FORWARD_NAMES[:3]) is not None


def parameters(obj, prefix: str = "", depth: int = 0, seen=None) -> list[str]:
    """Paths of the float parameter arrays of ``obj`` and of the layers it holds (each array once)."""
    seen = set() if seen is None else seen
    found = []

    def keep(path, value):
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size and id(value) not in seen:
            seen.add(id(value))
            found.append(path)
    for name in (*WEIGHT_NAMES, *BIAS_NAMES):
        keep(prefix + name, getattr(obj, name, None) if not isinstance(obj, dict) else None)
    for d in DICTS:
        table = getattr(obj, d, None)
        if isinstance(table, dict):
            for key, value in table.items():
                if isinstance(key, str):
                    keep(f"{prefix}{d}['{key}']", value)
    if depth < 3:
        for attr, value in list(vars(obj).items()) if hasattr(obj, "__dict__") else []:
            if isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if _is_layer(item):
                        found += parameters(item, f"{prefix}{attr}[{i}].", depth + 1, seen)
            elif _is_layer(value):
                found += parameters(value, f"{prefix}{attr}.", depth + 1, seen)
    return found


def gradient_of(obj, path: str, returned=None):
    """The gradient of the parameter at ``path`` after the backward: beside it (``dW``, ``grads['W']``
    in its owner), or in a dict the backward returned; None when there is none."""
    parts = _parts(path)
    owner_path, leaf = parts[:-1], parts[-1]
    if owner_path and owner_path[-1] in DICTS:   # params['W1'] -> grads['W1'] beside it
        owner = get(obj, ".".join(owner_path[:-1])) if owner_path[:-1] else obj
        for d in GRAD_DICTS:
            table = getattr(owner, d, None)
            if isinstance(table, dict) and isinstance(table.get(leaf), np.ndarray):
                return table[leaf]
    else:
        owner = get(obj, ".".join(owner_path)) if owner_path else obj
        found = grad_path(owner, leaf)
        if found:
            return get(owner, found)
        for d in GRAD_DICTS:
            table = getattr(owner, d, None)
            if isinstance(table, dict) and isinstance(table.get(leaf), np.ndarray):
                return table[leaf]
    if isinstance(returned, dict):
        for key in (leaf, "d" + leaf, "d_" + leaf, "grad_" + leaf):
            if isinstance(returned.get(key), np.ndarray):
                return returned[key]
    return None


# ---------------------------------------------------------------------------------- subjects

@dataclass
class Subject:
    """One checkable object: ``make()`` builds a fresh one (a layer class's instance, or a
    :class:`FunctionPair`); ``name`` is its row; ``notes`` go to the row (what the forward is)."""
    name: str
    make: object
    notes: tuple = ()
    reference: object = None    # x -> y: the identified formula the forward is also compared with
    reference_name: str = ""


class FunctionPair:
    """Module functions as one object with ``forward(x)`` and ``backward(dout) -> dx``. ``style``:
    "dout_x" (``backward(dout, x)``), "dout_y" (``backward(dout, out)``), "dout_cache" (the forward
    returns (out, cache)), "derivative_x" (``derivative(x)``, dx = dout * derivative(x)),
    "derivative_y" (``derivative(out)``)."""

    def __init__(self, forward, backward, style: str):
        self.f, self.b, self.style = forward, backward, style

    def forward(self, x):
        result = self.f(x)
        if self.style == "dout_cache":
            out, self.cache = result
        else:
            out = result
        self.x, self.out = x, out
        return out

    def backward(self, dout):
        if self.style == "dout_cache":
            return self.b(dout, self.cache)
        if self.style == "dout_x":
            return self.b(dout, self.x)
        if self.style == "dout_y":
            return self.b(dout, self.out)
        return dout * np.asarray(self.b(self.x if self.style == "derivative_x" else self.out))


def _first_output(forward):
    """``forward`` returning its output alone (a forward that returns (out, cache) gives out)."""
    def call(x):
        y = forward(x)
        return y[0] if isinstance(y, tuple) and y else y
    return call


def run_subject(subject: Subject, case: Case, options: dict | None = None, max_elements: int | None = None) -> Outcome:
    """One case of a Subject: the backward's gradients (input and every parameter found) against
    finite differences of its own forward; the forward against the identified formula, if any."""
    np.random.seed(case.seed % 2**32)   # the user's random initialisation, the same on a replay
    x = np.array(case.arrays["input"], dtype=np.float64)
    try:
        obj = subject.make()
        forward, backward = method(obj, FORWARD_NAMES), method(obj, BACKWARD_NAMES)
        forward = _first_output(forward)
        forward(x.copy())   # lazily created weights exist from here on
        paths = parameters(obj)
        snapshot = {p: np.array(get(obj, p), copy=True) for p in paths}
        y, again = forward(x.copy()), forward(x.copy())
        returned = backward(np.array(case.dy, copy=True))
        dx = returned[0] if isinstance(returned, (tuple, list)) and returned else returned
        dx = None if isinstance(dx, dict) else dx
        if dx is None and returned is None:   # kept on the layer (self.dinputs, self.dx)
            path = find_path(obj, INPUT_GRAD_NAMES, dicts=GRAD_DICTS)
            dx = get(obj, path) if path else None
        grads = {p: gradient_of(obj, p, returned if isinstance(returned, dict) else None) for p in paths}
        grads = {p: None if g is None else np.array(g, dtype=np.float64, copy=True) for p, g in grads.items()}
    except Exception as exc:   # noqa: BLE001 - the user's code raised: the case's error
        return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(exc), impl=subject.name)
    if not np.array_equal(np.asarray(y), np.asarray(again), equal_nan=True):
        return Outcome(case, IMPLEMENTATION_ERROR, impl=subject.name, message=(
            f"{subject.name} {CANNOT_JUDGE}two forward passes on the same input differ (dropout or another random "
            "step?); make the forward deterministic (a test mode) or declare it with crosscheck.Layer"))
    for p, value in snapshot.items():   # a backward that also stepped the weights: back to where it started
        put(obj, p, value.copy())

    def f(input, **params):
        for p, value in params.items():
            put(obj, p, value)
        return forward(input)
    # no input gradient is a first layer's, unless there is nothing else to judge (starter code?)
    missing = {"input": f"{subject.name} does not compute d_input (a first layer)"} if any(
        g is not None for g in grads.values()) else {}
    unfound = [p for p, g in grads.items() if g is None]
    if unfound and (dx is not None or len(unfound) < len(grads)):   # some gradients, not these: where are they?
        names = ", ".join(f"d_{p}" for p in unfound)
        return Outcome(case, IMPLEMENTATION_ERROR, impl=subject.name, message=(
            f"{subject.name} {CANNOT_JUDGE}its backward leaves no {names} where crosscheck looks (d{_parts(unfound[0])[-1]}, "
            f"grads['{_parts(unfound[0])[-1]}'] or the like): a backward that computes no gradient for a parameter "
            "cannot train it; declare where it is with crosscheck.Layer(grads=...)"))
    missing.update({p: f"{subject.name} does not compute d_{p} (no d{_parts(p)[-1]}, grads['{_parts(p)[-1]}'] "
                       "or the like after its backward)" for p in paths})
    diffs = []
    if subject.reference is not None:
        expected = subject.reference(x)
        diffs.append(compare(y, expected, tolerance("float64", 1, expected), tensor="y",
                             path=f"own formula: {subject.reference_name}"))
    if np.shape(y) != np.shape(case.dy):
        diffs.append(compare(y, np.zeros(np.shape(case.dy)), tolerance("float64", 1, case.dy), tensor="y",
                             path="the output shape probed"))
    else:
        try:
            diffs += judge_gradients(f, {"input": x, **snapshot}, {"input": dx, **grads}, case.dy, seed=case.seed,
                                     case=case, missing_notes=missing,
                                     **({"max_elements": max_elements} if max_elements else {}))
        except Exception as exc:   # noqa: BLE001 - the forward raised on a perturbed input
            return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(exc), impl=subject.name)
    return self_outcome(case, diffs, subject.name)


# -------------------------------------------------------------------------------- the probes

def probe_shapes(subject: Subject, elementwise: bool) -> tuple[tuple, ...] | str:
    """((input shape, output shape), ...) the subject's forward takes (at most MAX_SHAPES), or why none."""
    shapes, last = [], ""
    for shape in (ELEMENTWISE_SHAPES if elementwise else dict.fromkeys((*_weight_probes(subject), *NETWORK_PROBES))):
        try:
            obj = subject.make()
            y = _first_output(method(obj, FORWARD_NAMES))(np.random.default_rng(0).standard_normal(shape))
            y = np.asarray(y, dtype=np.float64)
        except Exception as exc:   # noqa: BLE001 - the shape it cannot take
            last = f"{type(exc).__name__}: {exc}"
            continue
        try:   # a shape only its forward takes (a dense layer's on a 4-D input) is no case
            method(obj, BACKWARD_NAMES)(np.random.default_rng(1).standard_normal(y.shape))
        except Exception as exc:   # noqa: BLE001
            last = f"{type(exc).__name__} in its backward: {exc}"
            continue
        if y.dtype.kind == "f" and y.size:
            shapes.append((tuple(int(s) for s in shape), tuple(int(s) for s in y.shape)))
        if len(shapes) == MAX_SHAPES:
            break
    if shapes:
        return tuple(shapes)
    return f"{subject.name}: its forward took none of the input shapes tried ({last})"


def _weight_probes(subject: Subject) -> tuple:
    """Input shapes its first parameter array suggests: (in, out) or (out, in) weights take (2, in);
    (F, C, k, k) or (k, k, C, F) filters take C channels first or last."""
    try:
        obj = subject.make()
        paths = parameters(obj)
        w = np.shape(get(obj, paths[0])) if paths else ()
    except Exception:   # noqa: BLE001 - then only the fixed probes
        return ()
    if len(w) == 2:
        return ((2, w[0]), (2, w[1]))
    if len(w) == 4:
        side = max(w) + 3
        return tuple((2, c, side, side) for c in (w[1], w[2])) + tuple((2, side, side, c) for c in (w[2], w[1]))
    return ()


def subject_cases(shapes: tuple):
    """Cases of a self-consistency plan: a standard-normal input of one of the probed shapes, a
    random upstream gradient of its output's shape."""
    from hypothesis import strategies as st  # deferred: only the command's process draws cases

    @st.composite
    def draw(draw_):
        x_shape, y_shape = draw_(st.sampled_from(list(shapes)))
        seed = draw_(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        return Case(SELF_OP, {}, {"input": rng.standard_normal(x_shape)}, rng.standard_normal(y_shape),
                    "float64", seed)
    return draw()


def constructible(cls) -> str:
    """"" when ``cls()`` needs no argument, else why not (its first required parameter)."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return ""
    required = [p.name for p in params if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if required:
        return (f"{cls.__name__}: its constructor needs {', '.join(required)} and no TensorFlow op is known from its "
                f"name; declare it with crosscheck.Layer(make=lambda c: {cls.__name__}(...), ...)")
    return ""
