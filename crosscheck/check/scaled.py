"""A scaled activation declared with ``crosscheck.Layer(..., op="tanh", scale=(a, b))``: a layer whose
forward is ``a * op(b * x)`` (LeCun's ``1.7159 * tanh(2x/3)``), judged against TensorFlow.

    scale_problem   what is wrong with a declared ``scale`` (for crosscheck.check.target.plan_of)
    scale_note      the row's note, told where the user's code is imported: the declared formula, or
                    that the forward computes something else (then the row fails on its forward)
    scaled_run      one case: the layer's forward and input gradient against TensorFlow's op on
                    ``b * x`` (its registry reference path), the output times ``a`` and the gradient
                    times ``a * b`` (the chain rule), under the float64 tolerance policy
"""
from __future__ import annotations

import math

import numpy as np

from ..case import IMPLEMENTATION_ERROR, Case, Outcome
from ..oracle.reference import compute_reference
from ..registry import OPS as REGISTRY
from ..tracebacks import user_traceback
from .identify import REGISTRY_CANDIDATES, _close, identify, probes
from .layer_declaration import Config, Layer, activations
from .layers import layer_impl
from .run import modified_outcome, outcome_of, own_diff

VALUES = "give (a, b), two finite numbers other than 0: the forward computes a * op(b * x)"
NEAR = 1e-3   # a forward this close to the declared formula (relative) follows it, in lower precision


def scale_problem(scale, op: str) -> str:
    """"" when ``scale`` is None or a valid (a, b) for ``op``; else the problem, naming what it takes."""
    if scale is None:
        return ""
    if op not in activations():
        return f"scale={scale!r}: a scale is for an activation ({', '.join(activations())}), not op={op!r}"
    if not isinstance(scale, (tuple, list)) or len(scale) != 2 or not all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)
            and v != 0 for v in scale):
        return f"scale={scale!r}: {VALUES}"
    return ""


def formula(op: str, scale) -> str:
    a, b = (float(v) for v in scale)
    return f"{a:.6g} * {op}({b:.6g} x)"


def scale_note(layer: Layer) -> str:
    """The row's note on a declared scale: what was judged, or what the forward computes instead.
    Built once on probe inputs (crosscheck.check.identify's), in the user's process."""
    a, b = (float(v) for v in layer.scale)
    declared = formula(layer.op, layer.scale)
    judged = f"declared scale: {declared}, judged against TensorFlow's {layer.op}"

    def forward(x):
        obj = layer.make(Config(layer.op, input_shape=tuple(x.shape[1:])))
        return getattr(obj, layer.forward)(x)
    reference = REGISTRY_CANDIDATES.get(layer.op)
    if reference is None:
        return judged
    try:
        gaps = [_relative_gap(forward(x.copy()), a * reference(b * x)) for x in probes()]
    except Exception:   # noqa: BLE001 - a forward that raises: its cases say so
        return judged
    if all(_close(forward(x.copy()), a * reference(b * x)) for x in probes()):
        return judged
    if max(gaps) < NEAR:
        return (f"{judged}; its forward agrees with it to a relative {max(gaps):.1g} only (float32 arithmetic, or a "
                "constant rounded in the code or in the declaration, such as 0.6667 for 2/3?)")
    ident = identify(forward)
    what = f"its forward computes {ident.name}" if ident.found else "its forward is not that"
    return f"declared scale=({a:.6g}, {b:.6g}) ({declared}), but {what}: the declaration does not match the code"


def _relative_gap(y, expected) -> float:
    y, expected = np.asarray(y, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if y.shape != expected.shape:
        return float("inf")
    return float(np.max(np.abs(y - expected), initial=0.0)) / max(1.0, float(np.sqrt(np.mean(expected ** 2))))


def scaled_run(layer: Layer):
    """The runner of a layer declared with ``scale=(a, b)``."""
    a, b = (float(v) for v in layer.scale)
    name = layer.row_name()

    def run(module, case: Case, options: dict) -> Outcome:
        arg = REGISTRY[case.op].arrays[0]
        modified: list = []
        impl = layer_impl(layer, case.params.get("data_format", "NHWC"), modified)
        try:
            y, pullback = impl.vjp(case.op, np.array(case.arrays[arg], copy=True))
            dx = pullback(np.array(case.dy, copy=True))[0]
        except Exception as exc:   # noqa: BLE001 - the user's code raised
            return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(exc), impl=name)
        inner = Case(case.op, case.params, {arg: b * np.asarray(case.arrays[arg])}, case.dy, case.dtype, case.seed)
        path, values = next(iter(compute_reference(inner, first_only=True).paths.items()))
        path = f"{path} ({formula(case.op, layer.scale)})"
        diffs = [own_diff(case, y, a * values["y"], "y", path, 1),
                 own_diff(case, dx, a * b * values["d_" + arg], "d_" + arg, path, 1)]
        return modified_outcome(outcome_of(case, diffs, name, [path]), modified)
    return run
