"""Compare one actual tensor with one expected tensor: a TensorDiff with the worst elements and
where the mismatches are (per channel, and per channel over H x W for spatial tensors)."""
from __future__ import annotations

import numpy as np

from .case import TensorDiff
from .tolerance import Tolerance

WORST_K = 5


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
        diff.note = "the implementation returned no value for this tensor"
        diff.mismatched = diff.total
        return diff
    actual = np.asarray(actual)
    if actual.shape != expected.shape:
        diff.note = f"shape {actual.shape} differs from the reference's {expected.shape}"
        diff.mismatched = diff.total
        return diff
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(e)
    same_inf = np.isinf(a) & (a == e)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where(both_nan | same_inf, 0.0, np.abs(a - e))
    err = np.where(np.isnan(err), np.inf, err)
    bound = tol.atol + tol.rtol * np.where(np.isfinite(e), np.abs(e), 0.0)
    bad = err > bound
    diff.mismatched = int(bad.sum())
    diff.passed = diff.mismatched == 0
    if err.size:
        diff.max_abs_err = float(err.max())
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(np.abs(e) > 0, err / np.abs(e), np.where(err > 0, np.inf, 0.0))
        diff.max_rel_err = float(np.nan_to_num(rel, nan=np.inf, posinf=np.inf).max())
        diff.worst = worst_elements(a, e, err, bound, k)
    if a.ndim == 4 and channel_axis is not None:
        diff.channel_map = [int(v) for v in np.moveaxis(bad, channel_axis, -1).reshape(-1, bad.shape[channel_axis])
                            .sum(axis=0)]
        if diff.mismatched and spatial_axes is not None:
            diff.spatial_map = spatial_map(bad, channel_axis, spatial_axes)
    return diff


def _shape(a) -> tuple:
    return () if a is None else tuple(np.shape(a))


def worst_elements(a, e, err, bound, k: int) -> list[dict]:
    """The ``k`` elements with the largest ``err / bound`` (the most out-of-tolerance first); the
    element with the largest absolute error is always among them (last, if it is not in the top k)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bound > 0, err / bound, np.where(err > 0, np.inf, 0.0)).reshape(-1)
    k = min(k, ratio.size)
    top = np.argpartition(-ratio, k - 1)[:k]
    top = top[np.lexsort((top, -ratio[top]))]
    largest = int(np.argmax(err.reshape(-1)))  # the headline's "greatest absolute difference" is always listed
    if largest not in top:
        top = np.append(top[:k - 1], largest)
    return [{"index": [int(i) for i in np.unravel_index(int(f), a.shape)],
             "actual": float(a.reshape(-1)[f]), "expected": float(e.reshape(-1)[f]),
             "abs_err": float(err.reshape(-1)[f])} for f in top]


def spatial_map(bad: np.ndarray, channel_axis: int, spatial_axes: tuple[int, int]) -> list:
    """Per channel, an H x W 0/1 mask: 1 where any element at that position mismatched."""
    other = [ax for ax in range(bad.ndim) if ax != channel_axis and ax not in spatial_axes]
    m = np.transpose(bad, (channel_axis, *spatial_axes, *other))
    m = m.reshape(*m.shape[:3], -1).any(axis=-1)
    return m.astype(int).tolist()
