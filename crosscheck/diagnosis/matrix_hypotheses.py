"""Hypotheses about matrix-shaped mistakes: a 2-D gradient that is TensorFlow's transposed (a
product taken in the other order: ``dvalues.T @ inputs`` for ``inputs.T @ dvalues``), and a
softmax backward that keeps only the Jacobian's diagonal (``g * p * (1 - p)`` for
``p * (g - sum(g * p))``). A non-square transpose changes the shape and is named by
:func:`crosscheck.diagnosis.hypotheses.shape_hypotheses`; this module handles the square one."""
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


MATRIX_HYPOTHESES = [transposed, softmax_diagonal_only]
