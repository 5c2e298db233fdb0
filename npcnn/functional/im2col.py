"""Sliding-window views and batch chunking shared by convolution and pooling.

The window view is a zero-copy ``as_strided`` view of a padded NHWC input with shape
``(N, OH, OW, KH, KW, C)``; reshaping it to a matrix is the one im2col copy.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..padding import WindowGeometry
from ..parallel import map_chunks

#: The most bytes one im2col matrix (or its gradient) may take; convs process the batch in chunks
#: that fit. ``npcnn.functional.im2col.IM2COL_BUDGET_BYTES = ...`` changes it.
IM2COL_BUDGET_BYTES = 128 * 2**20

#: The most bytes of im2col matrices a conv2d vjp keeps from its forward for the filter gradient.
#: Above it the filter gradient recomputes them chunk by chunk, in cache: kept matrices are fresh
#: memory the forward must fault in, which cost more than recomputing (measured, forward + filter
#: gradient on 2 cores: a CIFAR-sized float32 conv, 38 MB of matrices, 15.0 ms keeping them, 13.2 ms
#: not; a stride-2 one of 9 MB, 6.1 ms keeping them, 6.8 ms not).
IM2COL_KEEP_BYTES = 32 * 2**20

#: The im2col chunk convs aim for below that budget: small enough that the im2col copy and the GEMM
#: that reads it (or the input-gradient GEMM and the scatter that reads its result) meet in the
#: last-level cache, large enough that each GEMM still runs near BLAS's peak. Measured on the
#: bench shapes: 4-8 MiB chunks make a CIFAR-like conv's forward + backward about 1.5x faster
#: than whole-batch (128 MiB) ones.
GEMM_BLOCK_BYTES = 8 * 2**20


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


def clipped_window_slices(geom: WindowGeometry, in_hw, i: int, j: int):
    """For kernel offset ``(i, j)``, the outputs whose tap falls inside the *unpadded* input and the
    input cells they read: ``((out_rows, out_cols), (in_rows, in_cols))``, or None when every tap of
    this offset lands in padding. Lets pooling and scatters skip the padded copy."""
    per_axis = []
    for o, n, offset, s, d, (pad, _) in zip(geom.out, in_hw, (i, j), geom.strides, geom.dilations, geom.pads):
        first = offset * d - pad                  # input index read by output 0
        lo = max(0, -(first // s)) if first < 0 else 0
        hi = min(o, (n - 1 - first) // s + 1) if n - 1 >= first else 0
        if hi <= lo:
            return None
        per_axis.append((slice(lo, hi), slice(first + lo * s, first + (hi - 1) * s + 1, s)))
    (out_rows, in_rows), (out_cols, in_cols) = per_axis
    return (out_rows, out_cols), (in_rows, in_cols)


def live_offsets(geom: WindowGeometry, in_hw) -> list:
    """``[((i, j), clipped_window_slices(geom, in_hw, i, j)), ...]`` for the kernel offsets that
    read some cell of the unpadded input, in row-major order."""
    return [((i, j), taps) for i in range(geom.kernel[0]) for j in range(geom.kernel[1])
            if (taps := clipped_window_slices(geom, in_hw, i, j)) is not None]


def _axis_tiling(n: int, o: int, k: int, s: int, d: int, pad: int) -> range | None:
    """The first run of consecutive taps of one axis whose reads cover ``[0, n)`` exactly once (tap
    ``t`` reads ``t * d - pad + s * i`` for outputs ``i < o``), or None."""
    if n == 0 or o == 0 or k * k * n > 2**20:
        return None
    reads = [r[(r >= 0) & (r < n)] for r in (t * d - pad + s * np.arange(o) for t in range(k))]
    for first in range(k):
        count = np.zeros(n, np.int64)
        for last in range(first, k):
            count[reads[last]] += 1   # one tap reads a cell at most once
            if count.max() > 1:
                break
            if count.min() == 1:
                return range(first, last + 1)
    return None


@lru_cache(maxsize=512)
def _tiling_offsets(geom: WindowGeometry, in_hw) -> frozenset:
    """The kernel offsets ``(i, j)`` whose taps, together, read every input cell exactly once
    (empty when there are none): for 3x3 stride 1 SAME the centre, for 3x3 stride 2 SAME on an even
    input the four offsets of the top-left 2x2."""
    rows, cols = (_axis_tiling(n, o, k, s, d, pad) for n, o, k, s, d, (pad, _) in
                  zip(in_hw, geom.out, geom.kernel, geom.strides, geom.dilations, geom.pads))
    if rows is None or cols is None:
        return frozenset()
    return frozenset((i, j) for i in rows for j in cols)


def accumulation_order(geom: WindowGeometry, in_hw, onto: str) -> list:
    """:func:`live_offsets` ordered for a loop that adds one block per kernel offset onto the
    output (``onto="output"``: a window sum, such as pooling's forward) or onto the input (``"input"``:
    a scatter, such as an input gradient): ``[((i, j), taps, assign), ...]``. The offsets marked
    ``assign`` come first and together write every cell of the target exactly once, so the loop
    assigns their blocks and adds the rest, with no zero fill and one pass fewer; if no offset is
    marked, the target must start at zero. Onto the output, the first offset whose taps all lie in the
    input is marked; onto the input, the offsets of :func:`_tiling_offsets`."""
    offsets = live_offsets(geom, in_hw)
    if onto == "output":
        marked = next(({ij} for ij, (out_slices, _) in offsets
                       if all(sl.indices(o)[:2] == (0, o) for sl, o in zip(out_slices, geom.out))), set())
    elif onto == "input":
        marked = _tiling_offsets(geom, tuple(in_hw))
    else:
        raise ValueError(f"onto must be 'output' or 'input', got {onto!r}")
    return sorted(((ij, taps, ij in marked) for ij, taps in offsets), key=lambda entry: not entry[2])


def needs_zero_fill(order: list) -> bool:
    """True unless :func:`accumulation_order` marked offsets that write every cell of the target."""
    return not (order and order[0][2])


def scatter_windows(per_offset, geom: WindowGeometry, x_shape, dtype, channels_first: bool = False,
                    out: np.ndarray | None = None) -> np.ndarray:
    """The adjoint of :func:`window_view`: the NHWC input gradient ``x_shape`` that receives, for
    every kernel offset ``(i, j)``, ``per_offset(i, j)`` (shaped like the NHWC output) on the cells
    that offset read. Loops over the KH * KW offsets only; what falls on padding is never added.

    ``channels_first``: ``per_offset`` gives ``(C, N, OH, OW)`` blocks and the result is a
    ``(C, N, H, W)`` array; with few channels its strided adds run over rows, not over C values.
    ``out``: an array of the result's shape to write into (it is zeroed first).
    """
    n, h, w, c = x_shape
    shape = (c, n, h, w) if channels_first else (n, h, w, c)
    order = accumulation_order(geom, (h, w), onto="input")
    dx = np.empty(shape, dtype=dtype) if out is None else out
    if needs_zero_fill(order):
        dx.fill(0)
    for (i, j), ((out_rows, out_cols), (in_rows, in_cols)), assign in order:
        if channels_first:
            target, block = dx[:, :, in_rows, in_cols], per_offset(i, j)[:, :, out_rows, out_cols]
        else:
            target, block = dx[:, in_rows, in_cols, :], per_offset(i, j)[:, out_rows, out_cols, :]
        if assign:
            target[...] = block
        else:
            target += block
    return dx


def scatter_windows_in_chunks(per_offset, geom: WindowGeometry, x_shape, dtype) -> np.ndarray:
    """:func:`scatter_windows` over batch chunks of about ``CACHE_BLOCK_BYTES`` (of input gradient),
    so that the KH * KW strided adds of a chunk hit cache, run on threads (``npcnn.parallel``).
    ``per_offset(i, j, chunk)`` gives the NHWC-output-shaped block of the samples ``chunk`` (a slice
    of the batch)."""
    n, h, w, c = x_shape
    dx = np.empty(x_shape, dtype=dtype)

    def run(chunk):
        size = len(range(n)[chunk])
        scatter_windows(lambda i, j: per_offset(i, j, chunk), geom, (size, h, w, c), dtype, out=dx[chunk])
    map_chunks(run, batch_chunks(n, h * w * c * np.dtype(dtype).itemsize, CACHE_BLOCK_BYTES))
    return dx


#: Below this many bytes of im2col matrix a conv's GEMM chunks are not split further for threads:
#: one GEMM on BLAS's own threads is faster (measured: a CS231n-sized conv, 2.7 MB, 3.9 ms as one
#: chunk, 5.3 ms as four on threads; a CIFAR-sized one, 38 MB, 35 ms as five chunks one after
#: another, 24 ms as eight on threads, on 2 cores).
PARALLEL_MIN_BYTES = 4 * 2**20
#: The number of GEMM chunks of a larger conv is a multiple of this: equal shares for 1, 2 or 4
#: threads, and the same chunks (the same sums, the same bits) whatever the number of threads.
GEMM_CHUNK_MULTIPLE = 4


def gemm_chunks(n: int, bytes_per_sample: int) -> list:
    """:func:`batch_chunks` for the im2col convs' GEMMs, run on threads (``npcnn.parallel.map_blas_chunks``):
    of near-equal sizes and as many as a multiple of ``GEMM_CHUNK_MULTIPLE`` (at most one sample
    each), unless the whole matrix is under ``PARALLEL_MIN_BYTES``."""
    chunks = batch_chunks(n, bytes_per_sample)
    if n * bytes_per_sample < PARALLEL_MIN_BYTES:
        return chunks
    count = min(n, -(-len(chunks) // GEMM_CHUNK_MULTIPLE) * GEMM_CHUNK_MULTIPLE)
    bounds = [n * k // count for k in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def batch_chunks(n: int, bytes_per_sample: int, budget: int | None = None):
    """Slices of ``range(n)`` whose im2col matrices each fit in ``budget`` bytes (at least 1 sample);
    by default the smaller of ``GEMM_BLOCK_BYTES`` and ``IM2COL_BUDGET_BYTES``."""
    budget = min(GEMM_BLOCK_BYTES, IM2COL_BUDGET_BYTES) if budget is None else budget
    step = max(1, budget // max(1, bytes_per_sample))
    if n == 0:   # an empty batch is one empty chunk: every loop over chunks runs once and makes empty results
        return [slice(0, 0)]
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]
