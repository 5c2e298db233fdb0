"""Hypotheses about matrix-shaped mistakes: a 2-D gradient that is TensorFlow's transposed (a
product taken in the other order: ``dvalues.T @ inputs`` for ``inputs.T @ dvalues``), and a
softmax backward that keeps only the Jacobian's diagonal (``g * p * (1 - p)`` for
``p * (g - sum(g * p))``), also behind a dense layer (a dense + softmax class). A non-square
transpose changes the shape and is named by :func:`crosscheck.diagnosis.hypotheses.shape_hypotheses`;
this module handles the square one."""
from __future__ import annotations

import numpy as np

from .hypotheses import _falls, _matches
from .labels import entry


def transposed(info, case, diff, actual, expected, tol) -> list[dict]:
    """A square 2-D tensor equal to TensorFlow's transposed (and not symmetric, where it would say nothing)."""
    if actual.ndim != 2 or actual.shape[0] != actual.shape[1] or actual.shape[0] < 2:
        return []
    if np.allclose(expected, expected.T):
        return []
    ok, err = _matches(actual, expected.T, tol)
    return [entry("transposed", "equals TensorFlow's tensor transposed: " + _falls(diff, err))] if ok else []


def softmax_diagonal_only(info, case, diff, actual, expected, tol) -> list[dict]:
    """softmax's input gradient computed as g * p * (1 - p) along the class axis."""
    if case.op != "softmax" or diff.tensor != "d_logits" or case.dy is None:
        return []
    logits = np.asarray(case.arrays["logits"], dtype=np.float64)
    axis = case.params.get("axis", -1)
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    p = shifted / shifted.sum(axis=axis, keepdims=True)
    alt = np.asarray(case.dy, dtype=np.float64) * p * (1 - p)
    ok, err = _matches(actual, alt, tol)
    if not ok:
        return []
    return [entry("softmax-jacobian-diagonal-only", "equals g * p * (1 - p), the softmax Jacobian's diagonal only "
                                                    "(the off-diagonal -p_i p_j terms dropped): " + _falls(diff, err))]


def dense_softmax_diagonal_only(info, case, diff, actual, expected, tol) -> list[dict]:
    """A dense layer followed by softmax (a reference path "... softmax of dense") whose gradients all
    come from ``g * p * (1 - p)`` for the pre-activation gradient: d_x, d_kernel and d_bias follow it
    through ``x @ kernel + bias``."""
    if case.op != "dense" or "softmax of dense" not in diff.path or case.dy is None:
        return []
    x, kernel = (np.asarray(case.arrays[n], dtype=np.float64) for n in ("x", "kernel"))
    z = x @ kernel + np.asarray(case.arrays.get("bias", 0.0), dtype=np.float64)
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    p = shifted / shifted.sum(axis=-1, keepdims=True)
    g = np.asarray(case.dy, dtype=np.float64) * p * (1 - p)
    alt = {"d_x": g @ kernel.T, "d_kernel": x.T @ g, "d_bias": g.sum(axis=0)}.get(diff.tensor)
    if alt is None:
        return []
    ok, err = _matches(actual, alt.reshape(np.shape(actual)), tol)
    if not ok:
        return []
    return [entry("softmax-jacobian-diagonal-only", "equals the gradient through g * p * (1 - p), the softmax "
                                                    "Jacobian's diagonal only (the off-diagonal -p_i p_j terms "
                                                    "dropped): " + _falls(diff, err))]


MATRIX_HYPOTHESES = [transposed, softmax_diagonal_only, dense_softmax_diagonal_only]
