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

from .._checks import as_shape, check_shape, from_nhwc, shape_from_nhwc, to_nhwc
from ..gradients import defvjp
from .conv import (ConvSpec, conv_nhwc, depthwise_filters_as_grouped, resolve_conv, resolve_depthwise,
                   _float_args)
from .im2col import batch_chunks, pad_nhwc, scatter_windows, window_view


def conv_backprop_input_nhwc(w: np.ndarray, dy: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """``dx (N, H, W, C)`` from ``w (KH, KW, C/G, O)`` and ``dy (N, OH, OW, O)``."""
    n, h, wd, c = spec.x_shape
    kh, kw, cg, cout = w.shape
    (oh, ow), g = spec.geom.out, spec.groups
    og = cout // g
    dx = np.empty((n, h, wd, c), dtype=dy.dtype)
    if g == 1:
        w_mat_t = w.reshape(kh * kw * cg, cout).T
    else:
        w_mat_t = w.reshape(kh * kw, cg, g, og).transpose(2, 3, 0, 1).reshape(g, og, kh * kw * cg)
    for chunk in batch_chunks(n, oh * ow * kh * kw * c * dy.itemsize):
        dyc = dy[chunk]
        m = dyc.shape[0] * oh * ow
        if g == 1:
            dcols = dyc.reshape(m, cout) @ w_mat_t
        else:
            dyg = dyc.reshape(m, g, og).transpose(1, 0, 2)
            dcols = np.matmul(dyg, w_mat_t).reshape(g, m, kh * kw, cg).transpose(1, 2, 0, 3)
        dcols = dcols.reshape(-1, oh, ow, kh, kw, c)
        dx[chunk] = scatter_windows(lambda i, j: dcols[:, :, :, i, j, :], spec.geom,
                                    (dcols.shape[0], h, wd, c), dy.dtype)
    return dx


def conv_backprop_filter_nhwc(x: np.ndarray, dy: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """``dw (KH, KW, C/G, O)`` from ``x (N, H, W, C)`` and ``dy (N, OH, OW, O)``."""
    n = x.shape[0]
    kh, kw, cg, cout = spec.w_shape
    (oh, ow), g = spec.geom.out, spec.groups
    og = cout // g
    xp = pad_nhwc(x, spec.geom.pads)
    acc = np.zeros((kh * kw * cg, cout) if g == 1 else (g, kh * kw * cg, og), dtype=x.dtype)
    for chunk in batch_chunks(n, oh * ow * kh * kw * x.shape[3] * x.itemsize):
        view = window_view(xp[chunk], spec.geom)
        m = view.shape[0] * oh * ow
        if g == 1:
            acc += view.reshape(m, kh * kw * cg).T @ dy[chunk].reshape(m, cout)
        else:
            cols = view.reshape(m, kh * kw, g, cg).transpose(2, 3, 1, 0).reshape(g, kh * kw * cg, m)
            # cols rows are ordered (cg, kh*kw) here; reorder after the GEMM
            part = np.matmul(cols, dy[chunk].reshape(m, g, og).transpose(1, 0, 2))
            acc += part.reshape(g, cg, kh * kw, og).transpose(0, 2, 1, 3).reshape(g, kh * kw * cg, og)
    if g == 1:
        return acc.reshape(kh, kw, cg, cout)
    return acc.reshape(g, kh, kw, cg, og).transpose(1, 2, 3, 0, 4).reshape(kh, kw, cg, cout)


def _check_dy(dy: np.ndarray, spec: ConvSpec, name: str = "out_backprop"):
    check_shape(dy, shape_from_nhwc(spec.y_shape, spec.data_format), name, f"the conv output shape for input {spec.x_shape} (NHWC), "
                                 f"filters {spec.w_shape}, {spec.data_format}")


def conv2d_backprop_input(input_sizes, filters, out_backprop, strides=1, padding="VALID", dilations=1,
                          data_format="NHWC"):
    """Gradient of conv2d with respect to its input, as ``tf.nn.conv2d_backprop_input``.

    input_sizes: the input's shape (4 ints, in ``data_format``); filters: ``(KH, KW, C/G, O)``;
    out_backprop: ``(N, OH, OW, O)``. Returns the input gradient with shape ``input_sizes``.
    """
    a = _float_args(filters=filters, out_backprop=out_backprop)
    w, dy = a["filters"], a["out_backprop"]
    sizes = as_shape(input_sizes, "input_sizes", 4)
    spec = resolve_conv(sizes, w.shape, strides, padding, dilations, data_format, x_name="input_sizes")
    _check_dy(dy, spec)
    return from_nhwc(conv_backprop_input_nhwc(w, to_nhwc(dy, data_format), spec), data_format)


def conv2d_backprop_filter(input, filter_sizes, out_backprop, strides=1, padding="VALID", dilations=1,
                           data_format="NHWC"):
    """Gradient of conv2d with respect to its filters, as ``tf.compat.v1.nn.conv2d_backprop_filter``.

    input: ``(N, H, W, C)``; filter_sizes: ``(KH, KW, C/G, O)``; out_backprop: ``(N, OH, OW, O)``.
    Returns the filter gradient with shape ``filter_sizes``.
    """
    a = _float_args(input=input, out_backprop=out_backprop)
    x, dy = a["input"], a["out_backprop"]
    sizes = as_shape(filter_sizes, "filter_sizes", 4)
    spec = resolve_conv(x.shape, sizes, strides, padding, dilations, data_format, w_name="filter_sizes")
    _check_dy(dy, spec)
    return conv_backprop_filter_nhwc(to_nhwc(x, data_format), to_nhwc(dy, data_format), spec)


@defvjp("conv2d", ("input", "filters", "bias"), required=2)
def conv2d_vjp(input, filters, bias=None, strides=1, padding="VALID", dilations=1, data_format="NHWC"):
    from .conv import conv2d
    y = conv2d(input, filters, bias, strides, padding, dilations, data_format)
    x, w = np.asarray(input), np.asarray(filters)
    spec = resolve_conv(x.shape, w.shape, strides, padding, dilations, data_format)
    x_nhwc = to_nhwc(x, data_format)

    def pullback(dy):
        dy_nhwc = to_nhwc(dy, data_format)
        dx = from_nhwc(conv_backprop_input_nhwc(w, dy_nhwc, spec), data_format)
        dw = conv_backprop_filter_nhwc(x_nhwc, dy_nhwc, spec)
        db = None if bias is None else dy_nhwc.sum(axis=(0, 1, 2))
        return dx, dw, db
    return y, pullback


@defvjp("depthwise_conv2d", ("input", "filter"))
def depthwise_conv2d_vjp(input, filter, strides=1, padding="VALID", dilations=1, data_format="NHWC"):
    from .conv import depthwise_conv2d
    y = depthwise_conv2d(input, filter, strides, padding, dilations, data_format)
    x, f = np.asarray(input), np.asarray(filter)
    spec = resolve_depthwise(x.shape, f.shape, strides, padding, dilations, data_format)
    w = depthwise_filters_as_grouped(f)

    def pullback(dy):
        dy_nhwc = to_nhwc(dy, data_format)
        dx = from_nhwc(conv_backprop_input_nhwc(w, dy_nhwc, spec), data_format)
        df = conv_backprop_filter_nhwc(to_nhwc(x, data_format), dy_nhwc, spec).reshape(f.shape)
        return dx, df
    return y, pullback


@defvjp("conv2d_backprop_input", ("filters", "out_backprop"))
def conv2d_backprop_input_vjp(filters, out_backprop, input_sizes, strides=1, padding="VALID", dilations=1,
                              data_format="NHWC"):
    """Linear in each argument: d out_backprop is the forward conv of g; d filters its filter grad."""
    dx = conv2d_backprop_input(input_sizes, filters, out_backprop, strides, padding, dilations, data_format)
    w, dy = np.asarray(filters), np.asarray(out_backprop)
    spec = resolve_conv(dx.shape, w.shape, strides, padding, dilations, data_format, x_name="input_sizes")

    def pullback(g):
        g_nhwc = to_nhwc(g, data_format)
        d_out_backprop = from_nhwc(conv_nhwc(g_nhwc, w, spec), data_format)
        d_filters = conv_backprop_filter_nhwc(g_nhwc, to_nhwc(dy, data_format), spec)
        return d_filters, d_out_backprop
    return dx, pullback


@defvjp("conv2d_backprop_filter", ("input", "out_backprop"))
def conv2d_backprop_filter_vjp(input, out_backprop, filter_sizes, strides=1, padding="VALID", dilations=1,
                               data_format="NHWC"):
    """Bilinear in (input, out_backprop): each cotangent is a conv op with g as the filters."""
    dw = conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, dilations, data_format)
    x, dy = np.asarray(input), np.asarray(out_backprop)
    spec = resolve_conv(x.shape, dw.shape, strides, padding, dilations, data_format, w_name="filter_sizes")

    def pullback(g):
        d_input = from_nhwc(conv_backprop_input_nhwc(g, to_nhwc(dy, data_format), spec), data_format)
        d_out_backprop = from_nhwc(conv_nhwc(to_nhwc(x, data_format), g, spec), data_format)
        return d_input, d_out_backprop
    return dw, pullback
