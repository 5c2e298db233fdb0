"""The tolerance policy (reasoning and calibration in docs/tolerances.md).

An element passes when ``|actual - expected| <= atol + rtol * |expected|`` with, for a tensor whose
elements each accumulate ``K`` rounded terms (kh*kw*cin for a conv output, N*OH*OW for a filter
gradient, 1 for an elementwise op; each OpInfo counts its own),

    rtol  = SAFETY * eps(dtype) * sqrt(K)
    atol  = max(rtol * rms(expected), smallest normal number of dtype)

``sqrt(K)``: rounding errors of two different summation orders behave like a random walk, so
their difference grows with the square root of the number of terms. ``atol`` ties the absolute
slack to the tensor's typical magnitude, so elements that cancel to nearly zero (whose rounding
error is set by the size of the terms, not by the result) do not false-alarm. SAFETY is one
constant per dtype, fixed from a 10,000-case calibration run, never adjusted per op or per case.
"""
from __future__ import annotations

import contextvars
import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}
SAFETY = {"float32": 32.0, "float64": 32.0}
TINY = {"float32": float(np.finfo(np.float32).tiny), "float64": float(np.finfo(np.float64).tiny)}


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    terms: int
    scale: float


def rms(a: np.ndarray) -> float:
    """Root mean square of the finite values below the dtype's limit: sentinels such as the
    ``finfo.min`` of an empty max-pool window do not set the scale of everything else."""
    a = np.asarray(a)
    limit = float(np.finfo(a.dtype).max) / 2 if a.dtype.kind == "f" else np.inf
    a = a.astype(np.float64).reshape(-1)
    ordinary = a[np.isfinite(a) & (np.abs(a) < limit)] if not (np.isfinite(a).all() and
                                                            (np.abs(a) < limit).all()) else a
    return math.sqrt(float(ordinary @ ordinary) / ordinary.size) if ordinary.size else 0.0


_OVERRIDE: contextvars.ContextVar = contextvars.ContextVar("crosscheck_tolerance_override", default=None)


@contextmanager
def overriding(atol: float | None = None, rtol: float | None = None):
    """Within the block, :func:`tolerance` returns these atol / rtol (None: the policy's) for every
    tensor: a library's own tolerance (``check_op(..., atol=, rtol=)``)."""
    for name, value in (("atol", atol), ("rtol", rtol)):
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    token = _OVERRIDE.set((atol, rtol))
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


def tolerance(dtype: str, terms: int, expected: np.ndarray, scale_floor: float = 0.0) -> Tolerance:
    """The (atol, rtol) for a tensor of ``dtype`` whose elements accumulate ``terms`` terms.

    ``scale_floor`` (from the OpInfo) raises the scale for tensors computed as small differences of
    larger terms, whose rounding error follows the terms, not the result. Inside :func:`overriding`
    the atol / rtol it gives replace the policy's."""
    if dtype not in EPS:
        raise ValueError(f"no tolerance policy for dtype {dtype!r}; known: {sorted(EPS)}")
    k = max(int(terms), 1)
    rtol = SAFETY[dtype] * EPS[dtype] * float(np.sqrt(k))
    scale = max(rms(expected), float(scale_floor))
    # below the smallest normal number, results differ by flush-to-zero alone (quirk flush-to-zero)
    atol = max(rtol * scale, TINY[dtype])
    atol_given, rtol_given = _OVERRIDE.get() or (None, None)
    return Tolerance(atol=atol if atol_given is None else float(atol_given),
                     rtol=rtol if rtol_given is None else float(rtol_given), terms=k, scale=scale)


def detectable_relative_error(dtype: str, terms: int) -> float:
    """The smallest relative error of one typical-sized element (``|e| ~ rms``) that must fail."""
    k = max(int(terms), 1)
    return 2 * SAFETY[dtype] * EPS[dtype] * float(np.sqrt(k))
