"""The backward pass of convolution: conv2d_backprop_input, conv2d_backprop_filter and the vjp rules
of conv2d, depthwise_conv2d, conv2d_backprop_input and conv2d_backprop_filter.

For ``y = conv2d(x, w)`` with upstream gradient ``dy`` (all NHWC, ``w`` HWIO):

* ``dx``: each output's gradient spreads back over the input cells its window read. One GEMM gives
  ``dcols = dy @ w^T`` of shape ``(N, OH, OW, KH, KW, C)``; a loop over the ``KH * KW`` kernel
  offsets adds ``dcols[..., i, j, :]`` into the strided slice of the padded input that offset
  touched (this is "dilating dy by the stride and convolving with the flipped kernel", done without
  the zeros), then the padding is cropped away.
* ``dw = cols^T @ dy``: the im2col matrix of the input times the upstream gradient.
"""
from __future__ import annotations

import numpy as np

from .. import padding as P
from .._checks import as_shape, check_allocation, check_shape, from_nhwc, shape_from_nhwc, shown, to_nhwc
from .._typing import ArrayLike, OpResult, PaddingArg, ShapeArg, SpatialArg
from ..gradients import defvjp
from .conv import (ConvSpec, conv2d, conv2d_forward, conv_nhwc, depthwise_conv2d, live_spec,
                   depthwise_filters_as_grouped, resolve_conv, resolve_depthwise, tiled_filter_rows, _float_args)
from .im2col import (CACHE_BLOCK_BYTES, accumulation_order, batch_chunks, gemm_chunks, live_offsets, needs_zero_fill,
                     pad_nhwc, scatter_windows, window_view)
from ..parallel import map_blas_chunks, map_chunks


#: Below this many input channels the input gradient is scattered channels-first (see scatter_windows).
SMALL_CHANNELS = 16


def conv_backprop_input_nhwc(w: np.ndarray, dy: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """``dx (N, H, W, C)`` from ``w (KH, KW, C/G, O)`` and ``dy (N, OH, OW, O)``."""
    if spec.x_shape[3] == 0 or spec.w_shape[3] == 0:   # no channels in or out: nothing flows back
        return np.zeros(spec.x_shape, dtype=dy.dtype)
    spec, taps = live_spec(spec)
    w = w[taps]
    n, h, wd, c = spec.x_shape
    kh, kw, cg, cout = w.shape
    (oh, ow), g = spec.geom.out, spec.groups
    og = cout // g
    if g > 1 and cg == 1:
        return _depthwise_backprop_input(w.reshape(kh, kw, g, og), dy.reshape(n, oh, ow, g, og), spec)
    chunks = gemm_chunks(n, oh * ow * kh * kw * c * dy.itemsize)
    # few channels: scatter (C, N, OH, OW) blocks, whose strided adds run along rows, not along C
    channels_first = g == 1 and c < SMALL_CHANNELS
    if channels_first:
        w_offsets = w.reshape(kh * kw, cg, cout)
    elif g == 1:
        # one (O, C) block per kernel offset: dcols[i, j] is a contiguous (M, C) matrix
        w_offsets = w.reshape(kh * kw, cg, cout).transpose(0, 2, 1)
    else:
        w_mat_t = w.reshape(kh * kw, cg, g, og).transpose(2, 3, 0, 1).reshape(g, og, kh * kw * cg)
    if channels_first and len(chunks) == 1:
        dx = None   # the scatter's own result, a transposed view: no copy
    else:
        dx = np.empty((n, h, wd, c), dtype=dy.dtype)

    def run(chunk):
        dyc = dy[chunk]
        nc = dyc.shape[0]
        m = nc * oh * ow
        if channels_first:
            dcols = np.matmul(w_offsets, dyc.reshape(m, cout).T).reshape(kh, kw, c, nc, oh, ow)
            part = scatter_windows(lambda i, j: dcols[i, j], spec.geom, (nc, h, wd, c), dy.dtype,
                                   channels_first=True).transpose(1, 2, 3, 0)
            if dx is None:
                return part
            dx[chunk] = part
        elif g == 1:
            dcols = np.matmul(dyc.reshape(m, cout), w_offsets).reshape(kh, kw, nc, oh, ow, c)
            scatter_windows(lambda i, j: dcols[i, j], spec.geom, (nc, h, wd, c), dy.dtype, out=dx[chunk])
        else:
            dyg = dyc.reshape(m, g, og).transpose(1, 0, 2)
            dcols = np.matmul(dyg, w_mat_t).reshape(g, m, kh * kw, cg).transpose(1, 2, 0, 3)
            dcols = dcols.reshape(nc, oh, ow, kh, kw, c)
            scatter_windows(lambda i, j: dcols[:, :, :, i, j, :], spec.geom, (nc, h, wd, c), dy.dtype,
                            out=dx[chunk])
        return None
    parts = map_blas_chunks(run, chunks)
    if dx is None:
        return parts[0]
    return dx


def _depthwise_backprop_input(f: np.ndarray, dy: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """dx of :func:`~npcnn.functional.conv._depthwise_nhwc`: f ``(KH, KW, C, M)``, dy ``(N, OH, OW, C, M)``.

    Per kernel offset and multiplier column, ``dy[..., m] * f[i, j, :, m]`` (filter rows tiled
    along OW, as in the forward) is added onto the input cells that offset read; batch chunks of
    about ``CACHE_BLOCK_BYTES`` keep each chunk's target in cache and run on threads.
    """
    n, h, w, c = spec.x_shape
    mult = f.shape[3]
    rows_of = tiled_filter_rows(f, dy.shape[2])
    order = accumulation_order(spec.geom, (h, w), onto="input")
    dx = np.empty(spec.x_shape, dtype=dy.dtype)

    def run(chunk):
        dxc, dy_columns = dx[chunk], dy[chunk].transpose(4, 0, 1, 2, 3)   # (M, n, OH, OW, C)
        if not mult or needs_zero_fill(order):   # multiplier 0: no term at all, the gradient is 0
            dxc.fill(0)
        tmp = np.empty(dy_columns.shape[1:], dtype=dy.dtype)
        for (i, j), ((out_rows, out_cols), (in_rows, in_cols)), assign in order:
            for m in range(mult):
                first = assign and m == 0   # this tap's cells get their first term here
                product = np.multiply(dy_columns[m][:, out_rows, out_cols], rows_of[m, i, j, out_cols],
                                      out=dxc[:, in_rows, in_cols] if first else tmp[:, out_rows, out_cols])
                if not first:
                    dxc[:, in_rows, in_cols] += product
    map_chunks(run, batch_chunks(n, h * w * c * dy.itemsize, CACHE_BLOCK_BYTES))
    return dx


def _depthwise_backprop_filter(x: np.ndarray, dy: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """``(KH, KW, C, M)`` filter gradient: x unpadded ``(N, H, W, C)``, dy ``(N, OH, OW, C, M)``.

    Each offset sums over the taps inside the input (those on padding read zeros). Batch chunks run
    on threads, each returning its partial sum; they are added in chunk order."""
    kh, kw = spec.geom.kernel
    mult = dy.shape[4]
    taps = live_offsets(spec.geom, x.shape[1:3])

    def run(chunk):
        xc, dy_columns = x[chunk], dy[chunk].transpose(4, 0, 1, 2, 3)
        part = np.zeros((kh, kw, mult, dy.shape[3]), dtype=dy.dtype)
        for (i, j), ((out_rows, out_cols), (in_rows, in_cols)) in taps:
            xs = xc[:, in_rows, in_cols]
            for m in range(mult):
                part[i, j, m] = np.einsum("nhwc,nhwc->c", xs, dy_columns[m][:, out_rows, out_cols])
        return part
    parts = map_chunks(run, batch_chunks(dy.shape[0], dy[:1].nbytes, CACHE_BLOCK_BYTES))
    return sum(parts[1:], parts[0]).transpose(0, 1, 3, 2)


def conv_backprop_filter_nhwc(x: np.ndarray, dy: np.ndarray, spec: ConvSpec, cols=None) -> np.ndarray:
    """``dw (KH, KW, C/G, O)`` from ``x (N, H, W, C)`` and ``dy (N, OH, OW, O)``.

    ``cols``: the forward pass's im2col matrices of ``x``, one per batch chunk, if it kept them
    (``groups == 1``, see ``conv_nhwc``'s ``keep``).
    """
    if spec.x_shape[3] == 0 or spec.w_shape[3] == 0:   # no channels in or out: an empty or zero gradient
        return np.zeros(spec.w_shape, dtype=x.dtype)
    live, taps = live_spec(spec)
    if live is not spec:   # taps that read only padding get a zero gradient
        dw = np.zeros(spec.w_shape, dtype=x.dtype)
        dw[taps] = conv_backprop_filter_nhwc(x, dy, live, cols)
        return dw
    n = x.shape[0]
    kh, kw, cg, cout = spec.w_shape
    (oh, ow), g = spec.geom.out, spec.groups
    og = cout // g
    if cols is not None:
        dy_rows = dy.reshape(-1, cout)
        bounds = np.cumsum([0] + [c.shape[0] for c in cols])
        parts = map_blas_chunks(lambda k: cols[k].T @ dy_rows[bounds[k]:bounds[k + 1]], list(range(len(cols))))
        return sum(parts).reshape(kh, kw, cg, cout)
    if g > 1 and cg == 1:
        dw = _depthwise_backprop_filter(x, dy.reshape(n, oh, ow, g, og), spec)
        return dw.reshape(kh, kw, 1, cout)
    xp = pad_nhwc(x, spec.geom.pads)

    def run(chunk):
        view = window_view(xp[chunk], spec.geom)
        m = view.shape[0] * oh * ow
        if g == 1:
            return view.reshape(m, kh * kw * cg).T @ dy[chunk].reshape(m, cout)
        cols = view.reshape(m, kh * kw, g, cg).transpose(2, 3, 1, 0).reshape(g, kh * kw * cg, m)
        # cols rows are ordered (cg, kh*kw) here; reorder after the GEMM
        part = np.matmul(cols, dy[chunk].reshape(m, g, og).transpose(1, 0, 2))
        return part.reshape(g, cg, kh * kw, og).transpose(0, 2, 1, 3).reshape(g, kh * kw * cg, og)
    acc = np.zeros((kh * kw * cg, cout) if g == 1 else (g, kh * kw * cg, og), dtype=x.dtype)
    for part in map_blas_chunks(run, gemm_chunks(n, oh * ow * kh * kw * x.shape[3] * x.itemsize)):
        acc += part
    if g == 1:
        return acc.reshape(kh, kw, cg, cout)
    return acc.reshape(g, kh, kw, cg, og).transpose(1, 2, 3, 0, 4).reshape(kh, kw, cg, cout)


def _check_dy(dy: np.ndarray, spec: ConvSpec, padding: PaddingArg, x_name: str = "input",
              w_name: str = "filters") -> None:
    g = spec.geom
    check_shape(dy, shape_from_nhwc(spec.y_shape, spec.data_format), "out_backprop",
                f"the conv output shape for {x_name} {spec.x_shape} (NHWC), {w_name} {spec.w_shape}, strides "
                f"{g.strides}, dilations {g.dilations}, padding {shown(padding)}, {spec.data_format}")


def conv2d_backprop_input(input_sizes: ShapeArg, filters: ArrayLike, out_backprop: ArrayLike, strides: SpatialArg = 1,
                          padding: PaddingArg = "VALID", dilations: SpatialArg = 1,
                          data_format: str = "NHWC") -> np.ndarray:
    """Gradient of conv2d with respect to its input, as ``tf.nn.conv2d_backprop_input``.

    input_sizes: the input's shape (4 ints, in ``data_format``); filters: ``(KH, KW, C/G, O)``;
    out_backprop: ``(N, OH, OW, O)``. Returns the input gradient with shape ``input_sizes``.
    """
    a = _float_args(filters=filters, out_backprop=out_backprop)
    w, dy = a["filters"], a["out_backprop"]
    P.check_data_format(data_format)
    sizes = as_shape(input_sizes, "input_sizes", 4, data_format)
    spec = resolve_conv(sizes, w.shape, strides, padding, dilations, data_format, x_name="input_sizes",
                        itemsize=dy.itemsize)
    _check_dy(dy, spec, padding, x_name="input_sizes")
    return from_nhwc(conv_backprop_input_nhwc(w, to_nhwc(dy, data_format), spec), data_format)


def conv2d_backprop_filter(input: ArrayLike, filter_sizes: ShapeArg, out_backprop: ArrayLike, strides: SpatialArg = 1,
                           padding: PaddingArg = "VALID", dilations: SpatialArg = 1,
                           data_format: str = "NHWC") -> np.ndarray:
    """Gradient of conv2d with respect to its filters, as ``tf.compat.v1.nn.conv2d_backprop_filter``.

    input: ``(N, H, W, C)``; filter_sizes: ``(KH, KW, C/G, O)``; out_backprop: ``(N, OH, OW, O)``.
    Returns the filter gradient with shape ``filter_sizes``.
    """
    a = _float_args(input=input, out_backprop=out_backprop)
    x, dy = a["input"], a["out_backprop"]
    sizes = as_shape(filter_sizes, "filter_sizes", 4, minimums=(1, 1, 1, 0))   # no output channels: an empty gradient
    spec = resolve_conv(x.shape, sizes, strides, padding, dilations, data_format, w_name="filter_sizes",
                        itemsize=x.itemsize)
    check_allocation(sizes, x.itemsize, f"filter_sizes {sizes}")
    _check_dy(dy, spec, padding, w_name="filter_sizes")
    return conv_backprop_filter_nhwc(to_nhwc(x, data_format), to_nhwc(dy, data_format), spec)


@defvjp(conv2d, ("input", "filters", "bias"))
def conv2d_vjp(input, filters, bias, strides, padding, dilations, data_format) -> OpResult:
    kept = []  # the forward's im2col matrices, when the budget held them: the filter gradient reuses them
    y, spec = conv2d_forward(input, filters, bias, strides, padding, dilations, data_format, keep=kept)
    x, w = np.asarray(input), np.asarray(filters)
    x_nhwc = to_nhwc(x, data_format)

    def pullback(dy):
        dy_nhwc = to_nhwc(dy, data_format)
        dx = from_nhwc(conv_backprop_input_nhwc(w, dy_nhwc, spec), data_format)
        dw = conv_backprop_filter_nhwc(x_nhwc, dy_nhwc, spec, kept or None)
        db = None if bias is None else dy_nhwc.sum(axis=(0, 1, 2))
        return dx, dw, db
    return y, pullback


@defvjp(depthwise_conv2d, ("input", "filter"))
def depthwise_conv2d_vjp(input, filter, strides, padding, dilations, data_format) -> OpResult:
    y = depthwise_conv2d(input, filter, strides, padding, dilations, data_format)
    x, f = np.asarray(input), np.asarray(filter)
    spec = resolve_depthwise(x.shape, f.shape, strides, padding, dilations, data_format, itemsize=x.itemsize)
    w = depthwise_filters_as_grouped(f)

    def pullback(dy):
        dy_nhwc = to_nhwc(dy, data_format)
        dx = from_nhwc(conv_backprop_input_nhwc(w, dy_nhwc, spec), data_format)
        df = conv_backprop_filter_nhwc(to_nhwc(x, data_format), dy_nhwc, spec).reshape(f.shape)
        return dx, df
    return y, pullback


@defvjp(conv2d_backprop_input, ("filters", "out_backprop"))
def conv2d_backprop_input_vjp(input_sizes, filters, out_backprop, strides, padding, dilations, data_format) -> OpResult:
    """Linear in each argument: d out_backprop is the forward conv of g; d filters its filter grad."""
    dx = conv2d_backprop_input(input_sizes, filters, out_backprop, strides, padding, dilations, data_format)
    w, dy = np.asarray(filters), np.asarray(out_backprop)
    spec = resolve_conv(dx.shape, w.shape, strides, padding, dilations, data_format, x_name="input_sizes",
                        itemsize=dx.itemsize)

    def pullback(g):
        g_nhwc = to_nhwc(g, data_format)
        d_out_backprop = from_nhwc(conv_nhwc(g_nhwc, w, spec), data_format)
        d_filters = conv_backprop_filter_nhwc(g_nhwc, to_nhwc(dy, data_format), spec)
        return d_filters, d_out_backprop
    return dx, pullback


@defvjp(conv2d_backprop_filter, ("input", "out_backprop"))
def conv2d_backprop_filter_vjp(input, filter_sizes, out_backprop, strides, padding, dilations, data_format) -> OpResult:
    """Bilinear in (input, out_backprop): each cotangent is a conv op with g as the filters."""
    dw = conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, dilations, data_format)
    x, dy = np.asarray(input), np.asarray(out_backprop)
    spec = resolve_conv(x.shape, dw.shape, strides, padding, dilations, data_format, w_name="filter_sizes",
                        itemsize=dw.itemsize)

    def pullback(g):
        d_input = from_nhwc(conv_backprop_input_nhwc(g, to_nhwc(dy, data_format), spec), data_format)
        d_out_backprop = from_nhwc(conv_nhwc(to_nhwc(x, data_format), g, spec), data_format)
        return d_input, d_out_backprop
    return dw, pullback
