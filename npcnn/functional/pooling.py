"""Pooling: max_pool2d, avg_pool2d, global_avg_pool2d and their vjp rules.

Activations are NHWC (or NCHW with ``data_format``); windows come from
:func:`npcnn.padding.window_geometry` (dilation 1) and :func:`npcnn.functional.im2col.window_view`.

TensorFlow's CPU rules (checked against tensorflow-cpu 2.21, float32 and float64):

* max_pool2d visits only the valid (unpadded) cells of a window, starting from the lowest finite
  value, and keeps a cell only if it is strictly greater than the current maximum. So NaN is
  ignored, a window of NaN / -inf gives ``finfo.min`` (not NaN, not -inf), and the gradient goes
  to the *first* maximum in row-major window order (ties: the whole gradient, not a split). The
  gradient's argmax starts at the window's first valid cell: if that cell is NaN, nothing beats
  it and it takes the gradient, although the forward value is the maximum of the other cells.
* avg_pool2d takes VALID/SAME only; SAME divides by the number of valid cells in each window.
"""
from __future__ import annotations

import numpy as np

from .. import padding as P
from .._checks import as_float_array, check_rank, flag_arg, from_nhwc, shape_to_nhwc, shown, to_nhwc
from .._typing import ArrayLike, OpResult, PaddingArg, SpatialArg
from ..gradients import defvjp
from .conv import check_window_sizes
from .im2col import (CACHE_BLOCK_BYTES, accumulation_order, batch_chunks, needs_zero_fill, pad_nhwc,
                     scatter_windows_in_chunks,
                     window_slices, window_view)
from ..parallel import map_chunks


def _pool_geometry(x_shape: tuple, ksize: SpatialArg, strides: SpatialArg, padding: PaddingArg, data_format: str, *,
                   explicit_ok: bool, itemsize: int) -> P.WindowGeometry:
    """Validate a pooling configuration for the ``data_format`` input shape ``x_shape`` (``itemsize``
    bytes a value: the padded input and the output must fit in memory)."""
    P.check_data_format(data_format)
    if len(x_shape) != 4:
        raise ValueError(f"input must be 4-D ({data_format}), got shape {tuple(x_shape)}")
    kernel = P.spatial_pair(ksize, "ksize", data_format)
    strides = P.spatial_pair(strides, "strides", data_format)
    pad = P.normalize_padding(padding, data_format)
    if not isinstance(pad, str):
        if not explicit_ok:
            raise ValueError(f"padding must be 'VALID' or 'SAME' (TensorFlow's avg_pool2d takes no "
                             f"explicit padding), got {shown(padding)}")
        for (before, after), k, axis in zip(pad, kernel, "HW"):
            if max(before, after) >= k:
                raise ValueError(f"padding {pad} along {axis} must be smaller than the window: "
                                 f"ksize {kernel}, pads ({before}, {after})")
    hw = x_shape[1:3] if data_format == "NHWC" else x_shape[2:4]
    try:
        geom = P.window_geometry(hw, kernel, strides, (1, 1), pad)
    except ValueError as e:
        raise ValueError(f"input shape {tuple(x_shape)} ({data_format}), ksize {kernel}: {e}") from None
    live = P.live_taps(geom, hw)[0]   # a window far larger than the input costs what the input does
    x_nhwc = shape_to_nhwc(x_shape, data_format)
    check_window_sizes(x_nhwc, live, (x_nhwc[0], *live.out, x_nhwc[3]), itemsize,
                       lambda: f"input shape {tuple(x_shape)} ({data_format}), ksize {kernel}, strides {strides}, "
                               f"padding {shown(padding)}")
    return live


def _flat_windows(xp: np.ndarray, geom: P.WindowGeometry) -> np.ndarray:
    """``(N, OH, OW, C, KH * KW)`` copy of the windows of the padded NHWC input ``xp``."""
    view = window_view(xp, geom)
    n, oh, ow, kh, kw, c = view.shape
    return view.transpose(0, 1, 2, 5, 3, 4).reshape(n, oh, ow, c, kh * kw)


def _valid_counts(x_shape: tuple, geom: P.WindowGeometry, dtype: np.dtype) -> np.ndarray:
    """``(OH, OW, 1)`` number of unpadded cells in each window."""
    ones = np.ones((1, *x_shape[1:3], 1), dtype=dtype)
    return window_view(pad_nhwc(ones, geom.pads), geom).sum(axis=(3, 4))[0]


def _max_pool_nhwc(x: np.ndarray, geom: P.WindowGeometry,
                   with_argmax: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """TensorFlow's max pool of an NHWC input: ``(y, argmax)``, argmax indexing the flat window
    (None unless ``with_argmax``).

    Mirrors TF's scan: visit the kernel offsets in row-major order and move to a cell only if it
    is strictly greater (NaN never is). A window starts at its first valid cell, so one whose
    first valid cell is NaN keeps its gradient there. Works in batch chunks of about
    ``CACHE_BLOCK_BYTES``, run on threads, so that the KH * KW passes over a chunk stay in cache.
    """
    kh, kw = geom.kernel
    n, h, w, c = x.shape
    (top, _), (left, _) = geom.pads
    has_nan = x.size > 0 and bool(np.isnan(x.min()))  # min propagates NaN: no mask unless needed
    valid = pad_nhwc(np.ones((1, h, w, 1), bool), geom.pads, False)
    first_valid = _flat_windows(valid, geom).argmax(axis=-1)[0]  # (OH, OW, 1)
    y = np.empty((n, *geom.out, c), dtype=x.dtype)
    argmax = np.empty(y.shape, np.min_scalar_type(kh * kw - 1)) if with_argmax else None

    def run(chunk):
        xc, best = x[chunk], y[chunk]
        key = pad_nhwc(xc, geom.pads, -np.inf)
        if has_nan:
            is_nan = np.isnan(xc)
            if key is xc:  # no padding: pad_nhwc returned the caller's array, never write to it
                key = xc.copy()
            key[:, top:top + h, left:left + w][is_nan] = -np.inf
            nan_padded = pad_nhwc(is_nan, geom.pads, False)
            nan_first = np.zeros(best.shape, bool)
        best.fill(-np.inf)
        if with_argmax:
            am = argmax[chunk]
            am[...] = first_valid
            step = np.empty_like(am)
        for i in range(kh):
            for j in range(kw):
                rows, cols = window_slices(geom, i, j)
                cand = key[:, rows, cols, :]
                if with_argmax:
                    # am = where(cand > best, k, am) without branches (random masks make
                    # np.where/putmask ~10x slower): am += (k - am) * mask in unsigned modular arithmetic
                    np.subtract(am.dtype.type(i * kw + j), am, out=step)
                    np.multiply(step, np.greater(cand, best).view(np.uint8), out=step)
                    np.add(am, step, out=am)
                np.maximum(best, cand, out=best)  # key holds no NaN
                if with_argmax and has_nan:
                    nan_first |= (first_valid == i * kw + j) & nan_padded[:, rows, cols, :]
        if with_argmax and has_nan:
            am[nan_first] = np.broadcast_to(first_valid, best.shape)[nan_first]
        np.maximum(best, np.finfo(x.dtype).min, out=best)
    map_chunks(run, batch_chunks(n, h * w * c * x.itemsize, CACHE_BLOCK_BYTES))
    return y, argmax


def max_pool2d(input: ArrayLike, ksize: SpatialArg, strides: SpatialArg, padding: PaddingArg = "VALID",
               data_format: str = "NHWC") -> np.ndarray:
    """Max pooling, as ``tf.nn.max_pool2d``.

    input: ``(N, H, W, C)`` (or NCHW); ksize, strides: int, pair or TF's 4-element form; padding:
    "VALID", "SAME" or explicit pairs (each pad smaller than the window). Returns ``(N, OH, OW, C)``
    in ``data_format``. NaN is ignored (see the module docstring).
    """
    x = as_float_array(input, "input")
    geom = _pool_geometry(x.shape, ksize, strides, padding, data_format, explicit_ok=True, itemsize=x.itemsize)
    return from_nhwc(_max_pool_nhwc(to_nhwc(x, data_format), geom, with_argmax=False)[0], data_format)


def _select(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.where(mask, values, 0)`` exactly (inf and NaN kept where selected, +0 elsewhere), as a
    bitwise AND: branch-free, several times faster than np.where on a random mask."""
    bits = np.dtype(f"u{values.itemsize}")
    keep = mask.astype(bits)
    np.negative(keep, out=keep)  # 1 -> all ones
    return (np.ascontiguousarray(values).view(bits) & keep).view(values.dtype)


@defvjp(max_pool2d, ("input",))
def max_pool2d_vjp(input, ksize, strides, padding, data_format) -> OpResult:
    """Each output's gradient goes to the first maximum of its window; overlapping windows add."""
    x = as_float_array(input, "input")
    geom = _pool_geometry(x.shape, ksize, strides, padding, data_format, explicit_ok=True, itemsize=x.itemsize)
    x_nhwc = to_nhwc(x, data_format)
    y, argmax = _max_pool_nhwc(x_nhwc, geom)

    def pullback(dy):
        dy_nhwc = to_nhwc(dy, data_format)
        dx = scatter_windows_in_chunks(
            lambda i, j, b: _select(argmax[b] == i * geom.kernel[1] + j, dy_nhwc[b]),
            geom, x_nhwc.shape, dy.dtype)
        return (from_nhwc(dx, data_format),)
    return from_nhwc(y, data_format), pullback


def avg_pool2d(input: ArrayLike, ksize: SpatialArg, strides: SpatialArg, padding: str = "VALID",
               data_format: str = "NHWC") -> np.ndarray:
    """Average pooling, as ``tf.nn.avg_pool2d``.

    input: ``(N, H, W, C)`` (or NCHW); padding "VALID" or "SAME" only. With SAME each window is
    divided by its number of valid (unpadded) cells. Returns ``(N, OH, OW, C)`` in ``data_format``.
    """
    x = as_float_array(input, "input")
    geom = _pool_geometry(x.shape, ksize, strides, padding, data_format, explicit_ok=False, itemsize=x.itemsize)
    return from_nhwc(_avg_pool_nhwc(to_nhwc(x, data_format), geom)[0], data_format)


def _window_sums(x: np.ndarray, order: list, out: np.ndarray) -> np.ndarray:
    """``out (N, OH, OW, C)`` = the sum of each window's cells inside the NHWC input ``x`` (padding
    adds zeros): one add per kernel offset, in ``order`` (:func:`accumulation_order` onto the output)."""
    if needs_zero_fill(order):
        out.fill(0)
    for _, ((out_rows, out_cols), (in_rows, in_cols)), assign in order:
        if assign:
            out[...] = x[:, in_rows, in_cols, :]
        else:
            out[:, out_rows, out_cols, :] += x[:, in_rows, in_cols, :]
    return out


def _avg_pool_nhwc(x: np.ndarray, geom: P.WindowGeometry) -> tuple[np.ndarray, np.ndarray]:
    """``(y, counts)``: window sums over zero padding divided by ``counts (OH, OW, 1)`` valid cells.

    Batch chunks stay in cache over the KH * KW adds and run on threads. (Summing along W, then
    along H, costs KH + KW adds per output instead of KH * KW, but measured 30% slower for 3x3
    stride 2 on (8, 112, 112, 64) float32: its intermediate array costs more than it saves.)
    """
    counts = _valid_counts(x.shape, geom, x.dtype)
    n, h, w, c = x.shape
    y = np.empty((n, *geom.out, c), dtype=x.dtype)
    order = accumulation_order(geom, (h, w), onto="output")
    map_chunks(lambda chunk: _window_sums(x[chunk], order, y[chunk]),
               batch_chunks(n, h * w * c * x.itemsize, CACHE_BLOCK_BYTES))
    y /= counts
    return y, counts


@defvjp(avg_pool2d, ("input",))
def avg_pool2d_vjp(input, ksize, strides, padding, data_format) -> OpResult:
    """Each output's gradient, divided by its window's valid-cell count, spreads over the window."""
    x = as_float_array(input, "input")
    geom = _pool_geometry(x.shape, ksize, strides, padding, data_format, explicit_ok=False, itemsize=x.itemsize)
    x_nhwc = to_nhwc(x, data_format)
    y, counts = _avg_pool_nhwc(x_nhwc, geom)

    def pullback(dy):
        share = to_nhwc(dy, data_format) / counts
        return (from_nhwc(scatter_windows_in_chunks(lambda i, j, b: share[b], geom, x_nhwc.shape, dy.dtype),
                          data_format),)
    return from_nhwc(y, data_format), pullback


def global_avg_pool2d(input: ArrayLike, data_format: str = "NHWC", keepdims: bool = False) -> np.ndarray:
    """Mean over H and W: ``(N, H, W, C) -> (N, C)`` (``(N, 1, 1, C)`` with keepdims; NCHW alike)."""
    return global_avg_pool2d_vjp(input, data_format, keepdims)[0]


@defvjp(global_avg_pool2d, ("input",))
def global_avg_pool2d_vjp(input, data_format, keepdims) -> OpResult:
    x = as_float_array(input, "input")
    P.check_data_format(data_format)
    keepdims = flag_arg(keepdims, "keepdims")
    check_rank(x, 4, "input", data_format)
    axes = (1, 2) if data_format == "NHWC" else (2, 3)
    y = x.mean(axis=axes, keepdims=keepdims)
    cells = x.shape[axes[0]] * x.shape[axes[1]]

    def pullback(dy):
        dy = dy if keepdims else np.expand_dims(dy, axes)
        return (np.broadcast_to(dy / cells, x.shape).astype(x.dtype, copy=True),)
    return y, pullback
