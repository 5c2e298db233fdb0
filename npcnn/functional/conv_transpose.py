"""conv2d_transpose: the input gradient of conv2d, used as a forward op (``tf.nn.conv2d_transpose``).

filters are ``[kh, kw, out_channels, in_channels]``: exactly the HWIO filters of the conv2d that
maps ``output_shape`` back to the input's shape.
"""
from __future__ import annotations

import numpy as np

from .._checks import from_nhwc, to_nhwc
from .._typing import ArrayLike, OpResult, PaddingArg, ShapeArg, SpatialArg
from ..gradients import defvjp
from .conv import _float_args, conv_nhwc, resolve_transpose
from .conv_backward import conv_backprop_filter_nhwc, conv_backprop_input_nhwc


def conv2d_transpose(input: ArrayLike, filters: ArrayLike, output_shape: ShapeArg, strides: SpatialArg = 1,
                     padding: PaddingArg = "SAME", dilations: SpatialArg = 1, data_format: str = "NHWC") -> np.ndarray:
    """Transposed convolution, as ``tf.nn.conv2d_transpose``.

    input: ``(N, H, W, C_in)``; filters: ``(KH, KW, C_out, C_in)``; output_shape: ``(N, OH, OW, C_out)``
    in ``data_format``, which conv2d with the same strides/padding/dilations must map back to the
    input's shape (a ValueError names the reachable sizes otherwise). padding defaults to "SAME",
    as TensorFlow's does (npcnn's other convolutions default to "VALID"; TF's have no default).
    """
    a = _float_args(input=input, filters=filters)
    x, w = a["input"], a["filters"]
    spec = resolve_transpose(x.shape, w.shape, output_shape, strides, padding, dilations, data_format,
                             itemsize=x.itemsize)
    return from_nhwc(conv_backprop_input_nhwc(w, to_nhwc(x, data_format), spec), data_format)


@defvjp(conv2d_transpose, ("input", "filters"))
def conv2d_transpose_vjp(input, filters, output_shape, strides, padding, dilations, data_format) -> OpResult:
    """d input is the forward conv2d of g; d filters is conv2d's filter gradient with g as input."""
    y = conv2d_transpose(input, filters, output_shape, strides, padding, dilations, data_format)
    x, w = np.asarray(input), np.asarray(filters)
    spec = resolve_transpose(x.shape, w.shape, output_shape, strides, padding, dilations, data_format,
                             itemsize=x.itemsize)
    x_nhwc = to_nhwc(x, data_format)

    def pullback(g):
        g_nhwc = to_nhwc(g, data_format)
        d_input = from_nhwc(conv_nhwc(g_nhwc, w, spec), data_format)
        d_filters = conv_backprop_filter_nhwc(g_nhwc, x_nhwc, spec)
        return d_input, d_filters
    return y, pullback
