"""The finite-difference arbiter: when the code under test and TensorFlow disagree on a gradient,
float64 finite differences of the op's forward pass say which side agrees with the mathematics.

The forward pass differentiated is TensorFlow's own (the op's first reference path, in float64,
on the case's arrays): the forward is not what is in dispute, and the code under test never
judges itself. For each disputed gradient ``d_<array>``, both candidate gradients are projected on
random directions ``v`` and compared with ``(<f(a + eps v), dy> - <f(a - eps v), dy>) / 2 eps``
(JAX's ``check_grads`` idea: two evaluations per direction); arrays of at most ``CENTRAL_MAX``
elements get the full central-difference gradient instead, compared element by element.

The verdict is a diagnosis entry with label ``"arbiter"`` on every disputed TensorDiff (not an
Outcome note: those count how references were built), e.g. "d_input: TensorFlow disagrees with
finite differences here; the code under test agrees". Cases on a kink of the op (its OpInfo's
``kinks``: tied max-pool maxima, relu at 0) are not judged: there is no derivative there.
"""
from __future__ import annotations

import numpy as np

from .case import Case
from .finite_diff import numerical_vjp
from .oracle.reference import forward_reference
from .registry import get_op

DIRECTIONS = 3
CENTRAL_MAX = 64
# a gradient "agrees" when its relative gap to finite differences is below this (float64 central
# differences of a smooth op are good to ~1e-8 relative; float32 gradients carry ~1e-6 rounding)
AGREE = {"float64": 1e-6, "float32": 2e-4}


def forward_f64(case):
    """``f(*differentiable arrays) -> y`` by TensorFlow in float64, and the arrays' names."""
    info = get_op(case.op)
    if case.dy is None or not info.differentiable:
        return None, ()
    names = tuple(n for n in info.differentiable if n in case.arrays)
    fixed = {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in case.arrays.items()
             if k not in names}
    output = info.outputs[0]

    def f(*arrays):
        arrays64 = {**fixed, **{n: np.asarray(a, np.float64) for n, a in zip(names, arrays)}}
        return forward_reference(Case(case.op, case.params, arrays64, None, "float64", case.seed))[output]
    return f, names


def gap(f, arrays, k: int, dy, grad, *, seed: int) -> float:
    """Relative gap between ``grad`` (the gradient w.r.t. ``arrays[k]``) and finite differences."""
    return gaps(f, arrays, k, dy, [grad], seed=seed)[0]


def gaps(f, arrays, k: int, dy, grads, *, seed: int) -> list[float]:
    """:func:`gap` of each of ``grads``, the finite differences evaluated once for all of them."""
    a64 = [np.asarray(a, np.float64) for a in arrays]
    gs = [np.asarray(g, np.float64) for g in grads]
    finite = [bool(np.all(np.isfinite(g))) for g in gs]
    if not any(finite):
        return [float("inf")] * len(gs)
    if a64[k].size <= CENTRAL_MAX:
        numeric = numerical_vjp(lambda x: f(*a64[:k], x, *a64[k + 1:]), [a64[k]], dy)[0]
        scale = max(float(np.max(np.abs(numeric))), 1e-12)
        return [float(np.max(np.abs(g - numeric))) / scale if ok else float("inf") for g, ok in zip(gs, finite)]
    rng = np.random.default_rng(seed)
    worst = [0.0] * len(gs)
    eps = 1e-6 * max(1.0, float(np.max(np.abs(a64[k]))))
    for _ in range(DIRECTIONS):
        v = rng.standard_normal(a64[k].shape)
        plus = np.vdot(f(*a64[:k], a64[k] + eps * v, *a64[k + 1:]), dy)
        minus = np.vdot(f(*a64[:k], a64[k] - eps * v, *a64[k + 1:]), dy)
        numeric = (plus - minus) / (2 * eps)
        for i, g in enumerate(gs):
            analytic = float(np.vdot(g, v))
            scale = max(abs(numeric), float(np.linalg.norm(g)) * 1e-3, 1e-12)
            worst[i] = max(worst[i], abs(analytic - numeric) / scale)
    return [w if ok else float("inf") for w, ok in zip(worst, finite)]


def verdict(tensor: str, impl_ok: bool, tf_ok: bool, impl_gap: float, tf_gap: float) -> str:
    numbers = f"(relative gap to finite differences: code under test {impl_gap:.2g}, TensorFlow {tf_gap:.2g})"
    if impl_ok and not tf_ok:
        return f"{tensor}: TensorFlow disagrees with finite differences here; the code under test agrees {numbers}"
    if tf_ok and not impl_ok:
        return f"{tensor}: the code under test disagrees with finite differences; TensorFlow agrees {numbers}"
    if tf_ok and impl_ok:
        return f"{tensor}: both agree with finite differences to the arbiter's precision {numbers}"
    return (f"{tensor}: neither agrees with finite differences (a kink such as a tie or relu(0), or both "
            f"wrong) {numbers}")


def kink_reason(case) -> str:
    """Why finite differences cannot judge this case (the op has no derivative at its inputs), or ""."""
    reason = get_op(case.op).kink_reason(case)
    return f"not judged by finite differences: {reason}" if reason else ""


def arbitrate(case, actual: dict, ref, diffs) -> list[str]:
    """Judge every disputed gradient tensor; adds an "arbiter" diagnosis entry to its TensorDiffs and
    returns the verdicts as text."""
    disputed = sorted({d.tensor for d in diffs if d.judged and not d.passed and d.tensor.startswith("d_")
                       and d.shape == d.expected_shape and actual.get(d.tensor) is not None})
    if not disputed or case.dy is None:
        return []
    f, names = forward_f64(case)
    if f is None:
        return []
    kink = kink_reason(case)
    if kink:
        for d in diffs:
            if d.tensor in disputed and not d.passed:
                d.diagnosis.append({"label": "arbiter", "evidence": kink})
        return [kink]
    arrays = [case.arrays[n] for n in names]
    dy = case.dy.astype(np.float64)
    tol = AGREE.get(case.dtype, 1e-6)
    notes = []
    for tensor in disputed:
        name = tensor[2:]
        if name not in names:
            continue
        k = names.index(name)
        path = next(d.path for d in diffs if d.tensor == tensor and not d.passed)
        tf_grad = ref.paths[path][tensor]
        try:
            impl_gap, tf_gap = gaps(f, arrays, k, dy, [actual[tensor], tf_grad], seed=case.seed)
        except Exception as exc:     # the forward cannot be evaluated: no verdict, say why
            text = f"{tensor}: the finite-difference arbiter could not run ({type(exc).__name__}: {exc})"
            notes.append(text)
            for d in diffs:
                if d.tensor == tensor and not d.passed:
                    d.diagnosis.append({"label": "arbiter", "evidence": text})
            continue
        text = verdict(tensor, impl_gap <= tol, tf_gap <= tol, impl_gap, tf_gap)
        notes.append(text)
        for d in diffs:
            if d.tensor == tensor and not d.passed:
                d.diagnosis.append({"label": "arbiter", "evidence": text})
    return notes
