"""Convolution forward passes: conv2d (grouped, dilated, strided), depthwise_conv2d, conv2d_transpose.

Layouts are TensorFlow's: activations NHWC (or NCHW with ``data_format``), conv2d filters HWIO
``[kh, kw, in/groups, out]``, depthwise filters ``[kh, kw, in, multiplier]`` with output channel
``c * multiplier + m``, conv2d_transpose filters ``[kh, kw, out, in]``. Backward passes live in
:mod:`npcnn.functional.conv_backward`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .. import padding as P
from .._checks import (as_float_array, as_shape, check_allocation, check_rank, check_shape, exceeds_memory, from_nhwc,
                       same_dtype, shape_to_nhwc, shown, to_nhwc)
from .._typing import ArrayLike, PaddingArg, ShapeArg, SpatialArg
from . import im2col
from .im2col import (CACHE_BLOCK_BYTES, accumulation_order, batch_chunks, gemm_chunks, needs_zero_fill, pad_nhwc,
                     window_view)
from ..parallel import map_blas_chunks, map_chunks


@dataclass(frozen=True)
class ConvSpec:
    """A convolution resolved against one NHWC input shape: geometry and grouping."""
    x_shape: tuple  # NHWC
    w_shape: tuple  # HWIO
    geom: P.WindowGeometry
    groups: int
    data_format: str

    @property
    def y_shape(self) -> tuple:  # NHWC
        return (self.x_shape[0], *self.geom.out, self.w_shape[3])


def resolve_conv(x_shape: ShapeArg, w_shape: ShapeArg, strides: SpatialArg, padding: PaddingArg,
                 dilations: SpatialArg, data_format: str, x_name: str = "input", w_name: str = "filters",
                 channelless: bool = False, *, itemsize: int) -> ConvSpec:
    """Validate a conv2d configuration and resolve its geometry. ``x_shape`` is in ``data_format``.
    ``channelless``: an input with no channels is allowed (depthwise: an empty output).
    ``itemsize``: bytes per value, for the check that the padded input and the output fit in memory."""
    P.check_data_format(data_format)
    if len(x_shape) != 4:
        raise ValueError(f"{x_name} must be 4-D ({data_format}), got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"{w_name} must be 4-D [kh, kw, in, out], got shape {tuple(w_shape)}")
    x_nhwc = shape_to_nhwc(x_shape, data_format)
    # as in TensorFlow: an empty batch, an empty H or W (under SAME) and no output channels give
    # empty results; an empty kernel or no input channels is an error
    if min(w_shape[:3]) < 1 or (x_nhwc[3] < 1 and not channelless):
        raise ValueError(f"{w_name} {tuple(w_shape)} needs a non-empty kernel and in-channels, and {x_name} "
                         f"{tuple(x_shape)} at least one channel")
    kh, kw, cin_g, cout = w_shape
    cin = x_nhwc[3]
    if cin % cin_g:
        raise ValueError(
            f"{x_name} channels ({cin}, shape {tuple(x_shape)}) must be a multiple of {w_name} in-channels "
            f"({cin_g}, shape {tuple(w_shape)}); groups = in_channels / filter in-channels")
    groups = max(cin // cin_g, 1)   # 1 for a channelless input (depthwise), whose output is empty
    if cout % groups:
        raise ValueError(
            f"{w_name} out-channels ({cout}, shape {tuple(w_shape)}) must be divisible by groups={groups} "
            f"({x_name} channels {cin}, shape {tuple(x_shape)}, / {w_name} in-channels {cin_g})")
    strides = P.spatial_pair(strides, "strides", data_format)
    dilations = P.spatial_pair(dilations, "dilations", data_format)
    pad = P.normalize_padding(padding, data_format)
    try:
        geom = P.window_geometry(x_nhwc[1:3], (kh, kw), strides, dilations, pad)
    except ValueError as e:
        raise ValueError(f"{x_name} shape {tuple(x_shape)}, {w_name} shape {tuple(w_shape)}: {e}") from None
    spec = ConvSpec(tuple(x_nhwc), tuple(w_shape), geom, groups, data_format)
    check_window_sizes(spec.x_shape, geom, spec.y_shape, itemsize,
                       lambda: f"{x_name} shape {tuple(x_shape)}, {w_name} shape {tuple(w_shape)}, strides "
                               f"{strides}, dilations {dilations}, padding {shown(padding)}")
    return spec


def check_window_sizes(x_nhwc: tuple, geom: P.WindowGeometry, y_nhwc: tuple, itemsize: int,
                       what: Callable[[], str]) -> None:
    """The padded NHWC input (of the taps that read the input, :func:`npcnn.padding.live_taps`) and
    the output must fit in memory (``what()``: the arguments, for the message)."""
    n, h, w, c = x_nhwc
    (top, bottom), (left, right) = geom.pads
    if not exceeds_memory((n, h + top + bottom, w + left + right, c), itemsize) and not exceeds_memory(
            y_nhwc, itemsize):
        return
    (top, bottom), (left, right) = P.live_taps(geom, x_nhwc[1:3])[0].pads
    check_allocation((n, h + top + bottom, w + left + right, c), itemsize, lambda: f"{what()}: the padded input")
    check_allocation(y_nhwc, itemsize, lambda: f"{what()}: the output")


def live_spec(spec: ConvSpec) -> tuple[ConvSpec, tuple[slice, slice]]:
    """``spec`` restricted to the kernel taps that read the unpadded input, and the slices of the
    kernel they are (:func:`npcnn.padding.live_taps`); ``spec`` itself when every tap does. The
    conv kernels below run on it, so a huge dilation or SAME window costs what the input does."""
    geom, taps = P.live_taps(spec.geom, spec.x_shape[1:3])
    if geom is spec.geom:
        return spec, taps
    return replace(spec, geom=geom, w_shape=(*geom.kernel, *spec.w_shape[2:])), taps


def conv_nhwc(x: np.ndarray, w: np.ndarray, spec: ConvSpec, keep: list | None = None) -> np.ndarray:
    """im2col + GEMM: ``(N, H, W, C) * (KH, KW, C/G, O) -> (N, OH, OW, O)``.

    ``keep``: a list that receives the im2col matrix of each batch chunk, ``(n*OH*OW, KH*KW*C)``
    (of the live taps, :func:`live_spec`), when ``groups == 1`` and the whole batch's matrices fit
    in ``IM2COL_BUDGET_BYTES`` and ``IM2COL_KEEP_BYTES``, so that a vjp can reuse them for the filter
    gradient.
    """
    if spec.x_shape[3] == 0:   # a channelless input (depthwise): an empty output
        return np.zeros((x.shape[0], *spec.geom.out, w.shape[3]), dtype=x.dtype)
    spec, taps = live_spec(spec)
    w = w[taps]
    n = x.shape[0]
    kh, kw, cg, cout = w.shape
    (oh, ow), g = spec.geom.out, spec.groups
    og = cout // g
    if g > 1 and cg == 1:
        return _depthwise_nhwc(x, w.reshape(kh, kw, g, og), spec.geom).reshape(n, oh, ow, cout)
    xp = pad_nhwc(x, spec.geom.pads)
    y = np.empty((n, oh, ow, cout), dtype=x.dtype)
    if g == 1:
        w_mat = w.reshape(kh * kw * cg, cout)
    else:
        w_mat = w.reshape(kh * kw, cg, g, og).transpose(2, 0, 1, 3).reshape(g, kh * kw * cg, og)
    per_sample = oh * ow * kh * kw * x.shape[3] * x.itemsize
    fits = n * per_sample <= min(im2col.IM2COL_BUDGET_BYTES, im2col.IM2COL_KEEP_BYTES)
    keep = keep if keep is not None and fits else None

    def run(chunk):
        view = window_view(xp[chunk], spec.geom)
        m = view.shape[0] * oh * ow
        if g == 1:
            cols = view.reshape(m, kh * kw * cg)
            np.matmul(cols, w_mat, out=y[chunk].reshape(m, cout))
            return cols if keep is not None else None
        cols = view.reshape(m, kh * kw, g, cg).transpose(2, 0, 1, 3).reshape(g, m, kh * kw * cg)
        y[chunk] = np.matmul(cols, w_mat).transpose(1, 0, 2).reshape(view.shape[0], oh, ow, cout)
        return None
    kept = map_blas_chunks(run, gemm_chunks(n, per_sample))
    if keep is not None and g == 1:
        keep.extend(kept)
    return y


def _depthwise_nhwc(x: np.ndarray, f: np.ndarray, geom: P.WindowGeometry) -> np.ndarray:
    """One input channel per group: ``(N, OH, OW, C, M)`` as a multiply-add per kernel offset.

    x: unpadded ``(N, H, W, C)``, each offset adding only its taps inside the input
    (:func:`~npcnn.functional.im2col.clipped_window_slices`); f: ``(KH, KW, C, M)``. (A GEMM with
    K = KH*KW per channel would spend its time in im2col copies and tiny matrix products.) Each
    multiplier column is one ``(N, OH, OW, C)`` array and each filter row is tiled along OW
    (:func:`tiled_filter_rows`), so that NumPy's inner loops run over OW * C contiguous values, not
    C. Batch chunks of about ``CACHE_BLOCK_BYTES`` stay in cache over the KH * KW passes and run on
    threads.
    """
    n, h, w, c = x.shape
    (oh, ow), mult = geom.out, f.shape[3]
    rows_of = tiled_filter_rows(f, ow)
    order = accumulation_order(geom, (h, w), onto="output")
    y = np.empty((mult, n, oh, ow, c), dtype=x.dtype)

    def run(chunk):
        xc = x[chunk]
        for m in range(mult):
            yc = y[m, chunk]
            if needs_zero_fill(order):
                yc.fill(0)
            tmp = np.empty_like(yc)
            for (i, j), ((out_rows, out_cols), (in_rows, in_cols)), assign in order:
                product = np.multiply(xc[:, in_rows, in_cols], rows_of[m, i, j, out_cols],
                                      out=yc if assign else tmp[:, out_rows, out_cols])
                if not assign:
                    yc[:, out_rows, out_cols] += product
    map_chunks(run, batch_chunks(n, oh * ow * c * x.itemsize, CACHE_BLOCK_BYTES))
    return y.transpose(1, 2, 3, 4, 0)


def tiled_filter_rows(f: np.ndarray, width: int) -> np.ndarray:
    """Depthwise filters ``(KH, KW, C, M)`` as ``(M, KH, KW, width, C)``: each ``f[i, j, :, m]``
    repeated ``width`` times, contiguous, to multiply a whole ``(width, C)`` row of the input."""
    per_column = f.transpose(3, 0, 1, 2)[:, :, :, None, :]
    return np.ascontiguousarray(np.broadcast_to(per_column, (*per_column.shape[:3], width, f.shape[2])))


def _float_args(**named: ArrayLike | None) -> dict[str, np.ndarray]:
    """The named arrays as float arrays of one dtype; only ``bias`` may be None (left out)."""
    arrays = {k: as_float_array(v, k) for k, v in named.items() if v is not None or k != "bias"}
    same_dtype(**arrays)
    return arrays


def _check_bias(bias: np.ndarray | None, cout: int) -> None:
    if bias is not None:
        check_rank(bias, 1, "bias")
        check_shape(bias, (cout,), "bias", "one value per output channel")


def conv2d(input: ArrayLike, filters: ArrayLike, bias: ArrayLike | None = None, strides: SpatialArg = 1,
           padding: PaddingArg = "VALID", dilations: SpatialArg = 1, data_format: str = "NHWC") -> np.ndarray:
    """2-D convolution (cross-correlation), as ``tf.nn.conv2d`` plus an optional bias.

    input: ``(N, H, W, C)`` (or NCHW); filters: ``(KH, KW, C / groups, O)``; bias: ``(O,)``.
    Returns ``(N, OH, OW, O)`` in ``data_format``.
    """
    return conv2d_forward(input, filters, bias, strides, padding, dilations, data_format)[0]


def conv2d_forward(input: ArrayLike, filters: ArrayLike, bias: ArrayLike | None, strides: SpatialArg,
                   padding: PaddingArg, dilations: SpatialArg, data_format: str,
                   keep: list | None = None) -> tuple[np.ndarray, ConvSpec]:
    """:func:`conv2d` returning ``(output, spec)``, every argument given; ``keep`` as in :func:`conv_nhwc`
    (for the vjp)."""
    a = _float_args(input=input, filters=filters, bias=bias)
    x, w, b = a["input"], a["filters"], a.get("bias")
    spec = resolve_conv(x.shape, w.shape, strides, padding, dilations, data_format, itemsize=x.itemsize)
    _check_bias(b, w.shape[3])
    y = conv_nhwc(to_nhwc(x, data_format), w, spec, keep)
    if b is not None:
        y += b
    return from_nhwc(y, data_format), spec


def depthwise_filters_as_grouped(filter: np.ndarray) -> np.ndarray:
    """``[kh, kw, C, mult]`` depthwise filters as grouped HWIO ``[kh, kw, 1, C * mult]``."""
    kh, kw, c, mult = filter.shape
    return filter.reshape(kh, kw, 1, c * mult)


def resolve_depthwise(x_shape: ShapeArg, f_shape: ShapeArg, strides: SpatialArg, padding: PaddingArg,
                      dilations: SpatialArg, data_format: str, *, itemsize: int) -> ConvSpec:
    """Validate a depthwise conv (filter ``[kh, kw, C, mult]``) and resolve it as a grouped conv."""
    P.check_data_format(data_format)
    if len(x_shape) != 4:
        raise ValueError(f"input must be 4-D ({data_format}), got shape {tuple(x_shape)}")
    if len(f_shape) != 4:
        raise ValueError(f"filter must be 4-D [kh, kw, in, multiplier], got shape {tuple(f_shape)}")
    if min(f_shape[:2]) < 1:   # no channels or a multiplier of 0 give an empty output, as in TensorFlow
        raise ValueError(f"filter {tuple(f_shape)} needs a non-empty kernel")
    cin = shape_to_nhwc(x_shape, data_format)[3]
    if f_shape[2] != cin:
        raise ValueError(
            f"filter in-channels ({f_shape[2]}, shape {tuple(f_shape)}) must equal input channels "
            f"({cin}, shape {tuple(x_shape)})")
    kh, kw, c, mult = f_shape
    return resolve_conv(x_shape, (kh, kw, 1, c * mult), strides, padding, dilations, data_format,
                        w_name="filter", channelless=True, itemsize=itemsize)


def depthwise_conv2d(input: ArrayLike, filter: ArrayLike, strides: SpatialArg = 1, padding: PaddingArg = "VALID",
                     dilations: SpatialArg = 1, data_format: str = "NHWC") -> np.ndarray:
    """Depthwise convolution, as ``tf.nn.depthwise_conv2d``.

    input: ``(N, H, W, C)``; filter: ``(KH, KW, C, M)``. Returns ``(N, OH, OW, C * M)``, channel
    ``c * M + m`` being input channel ``c`` convolved with ``filter[:, :, c, m]``.
    """
    a = _float_args(input=input, filter=filter)
    x, f = a["input"], a["filter"]
    spec = resolve_depthwise(x.shape, f.shape, strides, padding, dilations, data_format, itemsize=x.itemsize)
    return from_nhwc(conv_nhwc(to_nhwc(x, data_format), depthwise_filters_as_grouped(f), spec), data_format)


def resolve_transpose(x_shape: ShapeArg, w_shape: ShapeArg, output_shape: ShapeArg, strides: SpatialArg,
                      padding: PaddingArg, dilations: SpatialArg, data_format: str, *, itemsize: int) -> ConvSpec:
    """Validate a conv2d_transpose and return the spec of the conv2d it transposes.

    ``x_shape`` is the transpose's input (the conv's output); ``w_shape`` is ``[kh, kw, out, in]``;
    ``output_shape`` (the conv's input) must be one that the conv maps back onto ``x_shape``.
    """
    P.check_data_format(data_format)
    output_shape = as_shape(output_shape, "output_shape", 4, data_format)
    if len(x_shape) != 4:
        raise ValueError(f"input must be 4-D ({data_format}), got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"filters must be 4-D [kh, kw, out, in], got shape {tuple(w_shape)}")
    x_nhwc = shape_to_nhwc(x_shape, data_format)
    if min(w_shape[:3]) < 1:   # an input with no channels (filters[3] == 0) gives zeros, as in TensorFlow
        raise ValueError(f"filters {tuple(w_shape)} needs a non-empty kernel and output channels")
    if x_nhwc[3] != w_shape[3]:
        raise ValueError(
            f"input channels ({x_nhwc[3]}, shape {tuple(x_shape)}) must equal filters[3] "
            f"(filters are [kh, kw, out, in], shape {tuple(w_shape)})")
    out_nhwc = shape_to_nhwc(output_shape, data_format)
    if out_nhwc[3] % w_shape[2]:
        raise ValueError(
            f"output_shape channels ({out_nhwc[3]}, shape {tuple(output_shape)}) must be a multiple of filters[2] "
            f"(filters are [kh, kw, out, in], shape {tuple(w_shape)}; groups = output channels / filters[2])")
    strides_hw = P.spatial_pair(strides, "strides", data_format)
    dilations_hw = P.spatial_pair(dilations, "dilations", data_format)
    ranges = [P.transpose_output_range(n, k, s, d, p) for n, k, s, d, p in zip(
        x_nhwc[1:3], w_shape[:2], strides_hw, dilations_hw, _per_axis(P.normalize_padding(padding, data_format)))]
    # checked before resolve_conv so that a too-small output_shape also gets the reachable range
    if out_nhwc[0] != x_nhwc[0] or any(n not in r for n, r in zip(out_nhwc[1:3], ranges)):
        allowed = ", ".join(f"{a}: {r.start}..{r.stop - 1}" if len(r) else f"{a}: none"
                            for a, r in zip("HW", ranges))
        raise ValueError(
            f"output_shape {tuple(output_shape)} ({data_format}) is not reachable from input shape "
            f"{tuple(x_shape)} with filters {tuple(w_shape)}, strides {strides_hw}, dilations {dilations_hw}, "
            f"padding {shown(padding)}: allowed output sizes {allowed}, batch {x_nhwc[0]}")
    return resolve_conv(output_shape, w_shape, strides, padding, dilations, data_format,
                        x_name="output_shape", w_name="filters", itemsize=itemsize)


def _per_axis(pad):
    return (pad, pad) if isinstance(pad, str) else pad
