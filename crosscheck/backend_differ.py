"""``crosscheck run --tf-backend both``: TensorFlow's oneDNN kernels against its Eigen kernels.

The run itself computes its references on Eigen (its verdict on the code under test is the default
run's). Each case is also computed on oneDNN, in a worker process started with
``TF_ENABLE_ONEDNN_OPTS=1`` (:mod:`crosscheck.oracle.remote`), and the two references are compared
path by path under the tolerance policy. A disagreement is judged by an independent third opinion:
a disputed gradient by float64 finite differences of TensorFlow's forward (:mod:`crosscheck.arbiter`),
a disputed forward output by the same forward evaluated in float64 (both backends' float64 kernels
are Eigen's, and float64 is the more accurate computation). A case one backend refuses and the
other computes is a disagreement too. Disagreements are listed apart from the code under test's
verdict (they do not fail the run), each with a replay file and a plain-TensorFlow snippet.
"""
from __future__ import annotations

import numpy as np

from .arbiter import AGREE, forward_f64, gaps, kink_reason
from .compare import within
from .isolation import IsolatedModule
from .oracle.backend import EIGEN, ONEDNN, VARIABLE, variable_value
from .oracle.reference import Reference, float64_forward, reference_or_error
from .registry import get_op
from .runner import compare_all
from .tolerance import tolerance

_STATE: dict = {}


def other_backend():
    """The worker that computes references on oneDNN (started on first use, kept for the run)."""
    if "worker" not in _STATE:
        _STATE["worker"] = IsolatedModule("crosscheck.oracle.remote", timeout=300.0,
                                          environ={VARIABLE: variable_value(ONEDNN)})
    return _STATE["worker"]


def _truth(case, tensor: str, eigen, onednn) -> str:
    """Which backend the third opinion sides with on ``tensor`` (finite differences or float64)."""
    if tensor.startswith("d_"):
        kink = kink_reason(case)
        if kink:
            return kink
        f, names = forward_f64(case)
        if f is None or tensor[2:] not in names:
            return "no finite-difference verdict (not a differentiable argument)"
        k = names.index(tensor[2:])
        e_gap, o_gap = gaps(f, [case.arrays[n] for n in names], k, case.dy.astype(np.float64), [eigen, onednn],
                            seed=case.seed)
        tol = AGREE.get(case.dtype, 1e-6)
        return _side(e_gap <= tol, o_gap <= tol, f"relative gap to finite differences: Eigen {e_gap:.2g}, oneDNN "
                                                 f"{o_gap:.2g}")
    info = get_op(case.op)
    call = info.resolve(case)
    truth = float64_forward(case).get(tensor)
    if truth is None or np.shape(truth) != np.shape(eigen) or np.shape(truth) != np.shape(onednn):
        return "no float64 verdict (shapes differ)"
    tol = tolerance(case.dtype, info.tensor_terms(call).get(tensor, 1), truth, info.tensor_scale_floor(call).get(tensor, 0.0))
    (e_ok, e_err), (o_ok, o_err) = within(eigen, truth, tol), within(onednn, truth, tol)
    return _side(e_ok, o_ok, f"greatest error against the float64 forward: Eigen {e_err:.3g}, oneDNN {o_err:.3g}")


def _shape_truth(case, tensor: str, eigen_shape, onednn_shape) -> str:
    """Which backend's shape is right: a gradient has its array's shape, an output the float64 forward's."""
    if tensor.startswith("d_") and tensor[2:] in case.arrays:
        right = tuple(np.shape(case.arrays[tensor[2:]]))
    else:
        right = tuple(np.shape(float64_forward(case).get(tensor)))
    return _side(tuple(eigen_shape) == right, tuple(onednn_shape) == right,
                 f"shapes: Eigen {tuple(eigen_shape)}, oneDNN {tuple(onednn_shape)}, right {right}")


def _side(eigen_ok: bool, onednn_ok: bool, numbers: str) -> str:
    who = {(True, False): "Eigen is right, oneDNN is wrong", (False, True): "oneDNN is right, Eigen is wrong",
           (True, True): "both agree with the third opinion (a rounding difference)",
           (False, False): "neither agrees with the third opinion"}[(eigen_ok, onednn_ok)]
    return f"{who} ({numbers})"


def _differing(case, eigen: dict, onednn: dict) -> list:
    """The TensorDiffs of Eigen's tensors against oneDNN's on the same path that fail the tolerance policy."""
    info = get_op(case.op)
    call = info.resolve(case)
    out = []
    for path, tensors in eigen.items():
        if path in onednn:
            out += [d for d in compare_all(info, call, tensors, Reference(paths={path: onednn[path]}))
                    if d.judged and not d.passed]
    return out


def disagreement(case) -> dict | None:
    """None when Eigen and oneDNN agree on ``case``; else what differs and who is right:
    ``{"op", "dtype", "eigen", "onednn", "tensors": [{"tensor", "path", "max_abs_error", "verdict"}]}``."""
    eigen, eigen_error = reference_or_error(case)
    try:
        other = other_backend().reference(case)
    except Exception as exc:   # noqa: BLE001 - the oneDNN worker died or hung: a disagreement of its own
        other = {"backend": ONEDNN, "paths": {}, "error": f"crash: {type(exc).__name__}: {exc}"}
    if other.get("backend") != ONEDNN:
        raise RuntimeError(f"the other backend's worker runs {other.get('backend')}, not oneDNN")
    onednn, onednn_error = other["paths"], other["error"]
    if eigen_error or onednn_error:
        if eigen_error.split(":")[0] == onednn_error.split(":")[0]:
            return None
        return {"op": case.op, "dtype": case.dtype, EIGEN: eigen_error or "computes",
                ONEDNN: onednn_error or "computes", "tensors": []}
    tensors = []
    for d in _differing(case, eigen, onednn):
        try:
            verdict = (_truth(case, d.tensor, eigen[d.path][d.tensor], onednn[d.path][d.tensor])
                       if d.shape == d.expected_shape else _shape_truth(case, d.tensor, d.shape, d.expected_shape))
        except Exception as exc:   # noqa: BLE001 - the third opinion could not be formed; the disagreement stands
            verdict = f"no verdict: the third opinion failed ({type(exc).__name__}: {str(exc)[:200]})"
        tensors.append({"tensor": d.tensor, "path": d.path, "max_abs_error": d.max_abs_err,
                        "shapes": [list(d.shape), list(d.expected_shape)], "verdict": verdict})
    if not tensors:
        return None
    return {"op": case.op, "dtype": case.dtype, EIGEN: "computes", ONEDNN: "computes", "tensors": tensors}
