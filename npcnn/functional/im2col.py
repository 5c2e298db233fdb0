"""Sliding-window views and batch chunking shared by convolution and pooling.

The window view is a zero-copy ``as_strided`` view of a padded NHWC input with shape
``(N, OH, OW, KH, KW, C)``; reshaping it to a matrix is the one im2col copy.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..padding import WindowGeometry

#: The most bytes one im2col matrix (or its gradient) may take; convs process the batch in chunks
#: that fit. ``npcnn.functional.im2col.IM2COL_BUDGET_BYTES = ...`` changes it.
IM2COL_BUDGET_BYTES = 128 * 2**20


#: Batch-chunk size (bytes) for the per-kernel-offset element-wise loops (depthwise conv, pooling):
#: each chunk's operands stay in cache across the KH * KW passes.
CACHE_BLOCK_BYTES = 2**20


def pad_nhwc(x: np.ndarray, pads, value: float = 0.0) -> np.ndarray:
    """Pad the H and W axes of an NHWC array with ``pads = ((top, bottom), (left, right))``."""
    (t, b), (l, r) = pads
    if t == b == l == r == 0:
        return x
    n, h, w, c = x.shape
    out = np.full((n, h + t + b, w + l + r, c), value, dtype=x.dtype)  # faster than np.pad
    out[:, t:t + h, l:l + w, :] = x
    return out


def window_view(xp: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """Read-only ``(N, OH, OW, KH, KW, C)`` view of the padded NHWC input ``xp``."""
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    (oh, ow), (sh, sw), (dh, dw), (kh, kw) = geom.out, geom.strides, geom.dilations, geom.kernel
    return as_strided(xp, shape=(n, oh, ow, kh, kw, c),
                      strides=(s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c), writeable=False)


def window_slices(geom: WindowGeometry, i: int, j: int) -> tuple[slice, slice]:
    """The (H, W) slices of the padded input that kernel offset ``(i, j)`` touches, one per output."""
    (oh, ow), (sh, sw), (dh, dw) = geom.out, geom.strides, geom.dilations
    return (slice(i * dh, i * dh + (oh - 1) * sh + 1, sh),
            slice(j * dw, j * dw + (ow - 1) * sw + 1, sw))


def scatter_windows(per_offset, geom: WindowGeometry, x_shape, dtype, channels_first: bool = False) -> np.ndarray:
    """The adjoint of :func:`window_view`: the NHWC input gradient ``x_shape`` that receives, for
    every kernel offset ``(i, j)``, ``per_offset(i, j)`` (shaped like the NHWC output) on the cells
    that offset read. Loops over the KH * KW offsets only; padding is cropped away at the end.

    ``channels_first``: ``per_offset`` gives ``(C, N, OH, OW)`` blocks and the result is a
    ``(C, N, H, W)`` array; with few channels its strided adds run over rows, not over C values.
    """
    n, h, w, c = x_shape
    (pt, pb), (pl, pr) = geom.pads
    kh, kw = geom.kernel
    hp, wp = h + pt + pb, w + pl + pr
    dxp = np.zeros((c, n, hp, wp) if channels_first else (n, hp, wp, c), dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            rows, cols = window_slices(geom, i, j)
            if channels_first:
                dxp[:, :, rows, cols] += per_offset(i, j)
            else:
                dxp[:, rows, cols, :] += per_offset(i, j)
    if channels_first:
        return dxp[:, :, pt:pt + h, pl:pl + w]
    return dxp[:, pt:pt + h, pl:pl + w, :]


def scatter_windows_in_chunks(per_offset, geom: WindowGeometry, x_shape, dtype) -> np.ndarray:
    """:func:`scatter_windows` over batch chunks of about ``CACHE_BLOCK_BYTES`` (of input gradient),
    so that the KH * KW strided adds of a chunk hit cache. ``per_offset(i, j, chunk)`` gives the
    NHWC-output-shaped block of the samples ``chunk`` (a slice of the batch)."""
    n, h, w, c = x_shape
    dx = np.empty(x_shape, dtype=dtype)
    for chunk in batch_chunks(n, h * w * c * np.dtype(dtype).itemsize, CACHE_BLOCK_BYTES):
        size = len(range(n)[chunk])
        dx[chunk] = scatter_windows(lambda i, j: per_offset(i, j, chunk), geom, (size, h, w, c), dtype)
    return dx


def batch_chunks(n: int, bytes_per_sample: int, budget: int | None = None):
    """Slices of ``range(n)`` whose im2col matrices each fit in ``budget`` bytes (at least 1 sample)."""
    budget = IM2COL_BUDGET_BYTES if budget is None else budget
    step = max(1, budget // max(1, bytes_per_sample))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]
