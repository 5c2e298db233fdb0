"""Compare one actual tensor with one expected tensor: a TensorDiff with the worst elements and
where the mismatches are (per channel, and per channel over H x W for spatial tensors)."""
from __future__ import annotations

import numpy as np

from .case import TensorDiff
from .tolerance import Tolerance

WORST_K = 5
NONE_NOTE = "the implementation returned no value for this tensor"
ZERO_NOTE = "every element is 0 where the reference's are not"


def compare(actual, expected, tol: Tolerance, *, tensor: str, path: str, channel_axis: int | None = None,
            spatial_axes: tuple[int, int] | None = None, k: int = WORST_K) -> TensorDiff:
    """Elementwise ``|a - e| <= atol + rtol |e|`` (NaN equals NaN, inf equals the same inf).

    ``channel_axis`` / ``spatial_axes`` locate channels and (H, W) in 4-D tensors (NHWC: 3 and (1, 2);
    NCHW: 1 and (2, 3); HWIO filters: 3 and (0, 1)); the maps are left empty otherwise.
    """
    expected = np.asarray(expected)
    diff = TensorDiff(tensor=tensor, path=path, passed=False, shape=_shape(actual), expected_shape=expected.shape,
                      atol=tol.atol, rtol=tol.rtol, total=int(expected.size))
    if actual is None:
        diff.note = NONE_NOTE
        diff.mismatched = diff.total
        return diff
    actual = np.asarray(actual)
    if actual.shape != expected.shape:
        diff.note = f"shape {actual.shape} differs from the reference's {expected.shape}"
        diff.mismatched = diff.total
        return diff
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):   # inf - inf, x / 0: handled below
        err, mag, bound = _errors(a, e, tol)
        bad = err > bound
        diff.mismatched = int(np.count_nonzero(bad))
        diff.passed = diff.mismatched == 0
        if not diff.passed and a.size and not np.any(a) and np.any(e):
            diff.note = ZERO_NOTE
        if err.size:
            diff.max_abs_err = float(err.max())
            diff.max_rel_err = max_relative_error(err, mag)
            # a passing tensor keeps its closest call and its largest error (the headroom), no more
            diff.worst = worst_elements(a, e, err, bound, k if not diff.passed else min(k, 2))
    if a.ndim == 4 and channel_axis is not None:
        if diff.passed:
            diff.channel_map = [0] * bad.shape[channel_axis]
        else:
            others = tuple(ax for ax in range(4) if ax != channel_axis)
            diff.channel_map = [int(v) for v in bad.sum(axis=others)]
            if spatial_axes is not None:
                diff.spatial_map = spatial_map(bad, channel_axis, spatial_axes)
    return diff


def within(actual, expected, tol: Tolerance) -> tuple[bool, float]:
    """``(passed, max_abs_err)`` of :func:`compare`, without the worst elements and maps (the
    diagnosis asks this of many alternatives of one tensor)."""
    if actual is None or expected is None or np.shape(actual) != np.shape(expected):
        return False, 0.0
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        err, _, bound = _errors(a, e, tol)
        return not bool(np.any(err > bound)), float(err.max()) if err.size else 0.0


def _errors(a: np.ndarray, e: np.ndarray, tol: Tolerance):
    """``|a - e|`` (:func:`abs_error`), ``|e|`` and each element's bound ``atol + rtol |e|`` (``atol``
    where ``e`` is not finite)."""
    err, mag = abs_error(a, e), np.abs(e)
    bound = tol.atol + tol.rtol * mag
    if not np.isfinite(e).all():
        bound = np.where(np.isfinite(e), bound, tol.atol)
    return err, mag, bound


def abs_error(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``|a - e|`` where NaN against NaN and an inf against the same inf count as 0, and any other
    NaN as inf (so it always fails). Call it under ``np.errstate(invalid="ignore", over="ignore")``."""
    err = np.abs(a - e)
    if np.isfinite(err).all():
        return err
    agree = (np.isnan(a) & np.isnan(e)) | (np.isinf(a) & (a == e))
    err = np.where(agree, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def max_relative_error(err: np.ndarray, mag: np.ndarray) -> float:
    """``max |a - e| / |e|`` (``mag`` is ``|e|``); an error where ``e`` is 0 is infinitely relative.
    Call it under ``np.errstate(divide="ignore", invalid="ignore")``."""
    rel = err / mag if (mag > 0).all() else np.where(mag > 0, err / mag, np.where(err > 0, np.inf, 0.0))
    worst = float(rel.max())  # NaN (inf / inf) propagates through max and counts as infinite
    return np.inf if np.isnan(worst) else worst


def _shape(a) -> tuple:
    return () if a is None else tuple(np.shape(a))


def worst_elements(a, e, err, bound, k: int) -> list[dict]:
    """The ``k`` elements with the largest ``err / bound`` (the most out-of-tolerance first); the
    element with the largest absolute error is always among them (last, if it is not in the top k).
    Call it under ``np.errstate(divide="ignore", invalid="ignore")``."""
    ratio = err / bound if (bound > 0).all() else np.where(bound > 0, err / bound, np.where(err > 0, np.inf, 0.0))
    ratio = ratio.reshape(-1)
    k = min(k, ratio.size)
    top = np.argpartition(-ratio, k - 1)[:k] if k < ratio.size else np.arange(ratio.size)
    top = top[np.lexsort((top, -ratio[top]))].tolist()
    largest = int(np.argmax(err.reshape(-1)))  # the headline's "greatest absolute difference" is always listed
    if largest not in top:
        top = top[:k - 1] + [largest]
    index = [list(i) for i in zip(*(axis.tolist() for axis in np.unravel_index(top, a.shape)))] if a.ndim \
        else [[] for _ in top]
    flat_a, flat_e, flat_err = a.reshape(-1)[top].tolist(), e.reshape(-1)[top].tolist(), err.reshape(-1)[top].tolist()
    return [{"index": i, "actual": x, "expected": y, "abs_err": z}
            for i, x, y, z in zip(index, flat_a, flat_e, flat_err)]


def spatial_map(bad: np.ndarray, channel_axis: int, spatial_axes: tuple[int, int]) -> list:
    """Per channel, an H x W 0/1 mask: 1 where any element at that position mismatched."""
    other = [ax for ax in range(bad.ndim) if ax != channel_axis and ax not in spatial_axes]
    m = np.transpose(bad, (channel_axis, *spatial_axes, *other))
    m = m.reshape(*m.shape[:3], -1).any(axis=-1)
    return m.astype(int).tolist()
