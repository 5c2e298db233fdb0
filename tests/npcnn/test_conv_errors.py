"""Bad arguments to the conv family: a ValueError/TypeError whose message names the argument and the
shapes involved (never an IndexError or a NumPy broadcast error)."""
import re

import numpy as np
import pytest

import npcnn
import npcnn.functional as F

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 5, 5, 4))          # NHWC
W = rng.standard_normal((3, 3, 4, 6))          # HWIO
DY = rng.standard_normal((2, 3, 3, 6))         # conv2d(X, W) VALID
DW_F = rng.standard_normal((3, 3, 4, 2))       # depthwise [kh, kw, in, mult]
X32 = X.astype(np.float32)


def shape_re(shape):
    return re.escape(str(tuple(shape)))


CASES = {
    # ranks
    "input rank": (lambda: F.conv2d(X[0], W), ValueError, [r"input must be 4-D \(NHWC\)", shape_re(X[0].shape)]),
    "input rank 5": (lambda: F.conv2d(X[None], W), ValueError, [r"input must be 4-D", shape_re(X[None].shape)]),
    "filters rank": (lambda: F.conv2d(X, W[0]), ValueError, [r"filters must be 4-D", shape_re(W[0].shape)]),
    "depthwise input rank": (lambda: F.depthwise_conv2d(X[0], DW_F), ValueError, [r"input must be 4-D", shape_re(X[0].shape)]),
    "depthwise filter rank": (lambda: F.depthwise_conv2d(X, DW_F[0]), ValueError,
                              [r"filter must be 4-D \[kh, kw, in, multiplier\]", shape_re(DW_F[0].shape)]),
    "transpose input rank": (lambda: F.conv2d_transpose(DY[0], W, X.shape), ValueError,
                             [r"input must be 4-D", shape_re(DY[0].shape)]),
    "transpose filters rank": (lambda: F.conv2d_transpose(DY, W[0], X.shape), ValueError,
                               [r"filters must be 4-D \[kh, kw, out, in\]", shape_re(W[0].shape)]),
    "backprop_filter input rank": (lambda: F.conv2d_backprop_filter(X[0], W.shape, DY), ValueError,
                                   [r"input must be 4-D", shape_re(X[0].shape)]),
    # channels and groups
    "channel mismatch": (lambda: F.conv2d(X, W[:, :, :3]), ValueError,
                         [r"input channels \(4", shape_re(X.shape), r"filters in-channels \(3", shape_re((3, 3, 3, 6))]),
    "channel mismatch NCHW": (lambda: F.conv2d(X.transpose(0, 3, 1, 2), W[:, :, :3], data_format="NCHW"), ValueError,
                              [r"input channels \(4", shape_re((2, 4, 5, 5)), r"filters in-channels \(3"]),
    "out channels vs groups": (lambda: F.conv2d(X, W[:, :, :2, :5]), ValueError,
                               [r"filters out-channels \(5", shape_re((3, 3, 2, 5)), r"groups=2"]),
    "depthwise in-channels": (lambda: F.depthwise_conv2d(X, DW_F[:, :, :3]), ValueError,
                              [r"filter in-channels \(3", shape_re((3, 3, 3, 2)), r"input channels \(4", shape_re(X.shape)]),
    "transpose channels": (lambda: F.conv2d_transpose(DY[..., :5], W, X.shape), ValueError,
                           [r"input channels \(5", shape_re((2, 3, 3, 5)), r"filters\[3\]", shape_re(W.shape)]),
    "empty height, VALID": (lambda: F.conv2d(X[:, :0], W), ValueError, [r"input", shape_re((2, 0, 5, 4)), "window larger"]),
    "no input channels": (lambda: F.conv2d(X[..., :0], W[:, :, :0]), ValueError, [r"filters", "in-channels"]),
    "empty kernel": (lambda: F.conv2d(X, W[:0]), ValueError, [r"filters", "non-empty kernel"]),
    # strides and dilations
    "stride 0": (lambda: F.conv2d(X, W, strides=0), ValueError, [r"strides must be >= 1", r"\(0, 0\)"]),
    "stride negative": (lambda: F.conv2d(X, W, strides=(1, -2)), ValueError, [r"strides must be >= 1", r"\(1, -2\)"]),
    "stride 3 entries": (lambda: F.conv2d(X, W, strides=[1, 2, 3]), ValueError, [r"strides must have 1, 2 or 4 entries"]),
    "stride float": (lambda: F.conv2d(X, W, strides=1.5), TypeError, [r"strides must be an int"]),
    "stride 4-form batch": (lambda: F.conv2d(X, W, strides=[2, 1, 1, 1]), ValueError,
                            [r"strides=\[2, 1, 1, 1\] in NHWC: the batch and channel entries must be 1"]),
    "dilation 0": (lambda: F.conv2d(X, W, dilations=0), ValueError, [r"dilations must be >= 1"]),
    "dilation pair of floats": (lambda: F.conv2d(X, W, dilations=(1.0, 2.0)), TypeError, [r"dilations must contain ints"]),
    "dilation 4-form NCHW": (lambda: F.conv2d(X.transpose(0, 3, 1, 2), W, dilations=[1, 2, 2, 1], data_format="NCHW"),
                             ValueError, [r"dilations=\[1, 2, 2, 1\] in NCHW"]),
    "depthwise stride 0": (lambda: F.depthwise_conv2d(X, DW_F, strides=0), ValueError, [r"strides must be >= 1"]),
    "transpose dilation 0": (lambda: F.conv2d_transpose(DY, W, X.shape, dilations=0), ValueError,
                             [r"dilations must be >= 1"]),
    # window vs padded input
    "window too large": (lambda: F.conv2d(X, W, dilations=3), ValueError,
                         [r"input shape " + shape_re(X.shape), r"filters shape " + shape_re(W.shape),
                          r"window larger than the padded input along H", r"5 < dilated window 7"]),
    "window too large W": (lambda: F.conv2d(X[:, :, :2], W, padding=[[0, 0], [0, 0]]), ValueError,
                           [r"along W", shape_re((2, 5, 2, 4))]),
    "backprop_input window": (lambda: F.conv2d_backprop_input((2, 2, 2, 4), W, DY), ValueError,
                              [r"input_sizes shape \(2, 2, 2, 4\)", r"window larger"]),
    # padding
    "padding unknown": (lambda: F.conv2d(X, W, padding="full"), ValueError, [r"padding must be 'SAME', 'VALID'", "'full'"]),
    "padding 3 pairs": (lambda: F.conv2d(X, W, padding=[[1, 1]] * 3), ValueError, [r"explicit padding must be"]),
    "padding 1 pair": (lambda: F.conv2d(X, W, padding=[[1, 1]]), ValueError, [r"explicit padding must be"]),
    "padding flat": (lambda: F.conv2d(X, W, padding=[1, 1]), TypeError, [r"padding must be a string or a list"]),
    "padding negative": (lambda: F.conv2d(X, W, padding=[[1, -1], [0, 0]]), ValueError, [r"padding must be non-negative"]),
    "padding batch NHWC": (lambda: F.conv2d(X, W, padding=[[1, 0], [1, 1], [1, 1], [0, 0]]), ValueError,
                           [r"padding=.* in NHWC: the batch and channel pairs must be \[0, 0\]"]),
    "padding channel NHWC": (lambda: F.conv2d(X, W, padding=[[0, 0], [1, 1], [1, 1], [0, 2]]), ValueError,
                             [r"in NHWC: the batch and channel pairs"]),
    "padding channel NCHW": (lambda: F.conv2d(X.transpose(0, 3, 1, 2), W, padding=[[0, 0], [0, 1], [1, 1], [1, 1]],
                                              data_format="NCHW"), ValueError, [r"in NCHW: the batch and channel pairs"]),
    "depthwise padding": (lambda: F.depthwise_conv2d(X, DW_F, padding="full"), ValueError, [r"padding must be"]),
    "backprop_filter padding": (lambda: F.conv2d_backprop_filter(X, W.shape, DY, padding=[[0, -1], [0, 0]]),
                                ValueError, [r"padding must be non-negative"]),
    # dtypes
    "int input": (lambda: F.conv2d(X.astype(np.int64), W), TypeError,
                  [r"input must be float32 or float64, got dtype int64", shape_re(X.shape)]),
    "int filters": (lambda: F.conv2d(X, W.astype(np.int32)), TypeError, [r"filters must be float32 or float64, got dtype int32"]),
    "complex input": (lambda: F.conv2d(X.astype(np.complex128), W), TypeError, [r"input must be float32 or float64"]),
    "float16 filters": (lambda: F.conv2d(X, W.astype(np.float16)), TypeError, [r"filters must be float32 or float64"]),
    "int bias": (lambda: F.conv2d(X, W, np.zeros(6, int)), TypeError, [r"bias must be float32 or float64"]),
    "mixed dtypes": (lambda: F.conv2d(X32, W), TypeError, [r"input=float32", r"filters=float64"]),
    "mixed bias dtype": (lambda: F.conv2d(X, W, np.zeros(6, np.float32)), TypeError, [r"bias=float32"]),
    "depthwise int": (lambda: F.depthwise_conv2d(X.astype(np.int64), DW_F), TypeError, [r"input must be float32"]),
    "depthwise mixed": (lambda: F.depthwise_conv2d(X32, DW_F), TypeError, [r"input=float32", r"filter=float64"]),
    "transpose complex": (lambda: F.conv2d_transpose(DY.astype(complex), W, X.shape), TypeError, [r"input must be float32"]),
    "transpose mixed": (lambda: F.conv2d_transpose(DY.astype(np.float32), W, X.shape), TypeError, [r"input=float32"]),
    "backprop_input mixed": (lambda: F.conv2d_backprop_input(X.shape, W.astype(np.float32), DY), TypeError,
                             [r"filters=float32", r"out_backprop=float64"]),
    "backprop_filter int": (lambda: F.conv2d_backprop_filter(X, W.shape, DY.astype(int)), TypeError,
                            [r"out_backprop must be float32 or float64"]),
    # bias
    "bias length": (lambda: F.conv2d(X, W, np.zeros(5)), ValueError, [r"bias must have shape \(6,\)", r"got \(5,\)"]),
    "bias 2-D": (lambda: F.conv2d(X, W, np.zeros((1, 6))), ValueError, [r"bias must be 1-D", shape_re((1, 6))]),
    # out_backprop and shape arguments
    "backprop_input dy shape": (lambda: F.conv2d_backprop_input(X.shape, W, DY[..., :5]), ValueError,
                                [r"out_backprop must have shape " + shape_re(DY.shape), r"got " + shape_re((2, 3, 3, 5))]),
    "backprop_filter dy shape": (lambda: F.conv2d_backprop_filter(X, W.shape, DY[:, :2]), ValueError,
                                 [r"out_backprop must have shape " + shape_re(DY.shape), shape_re((2, 2, 3, 6))]),
    "backprop_input dy NCHW": (lambda: F.conv2d_backprop_input((2, 4, 5, 5), W, DY, data_format="NCHW"), ValueError,
                               [r"out_backprop must have shape \(2, 6, 3, 3\)", r"NCHW"]),
    "input_sizes 3 ints": (lambda: F.conv2d_backprop_input((2, 5, 5), W, DY), ValueError,
                           [r"input_sizes must be 4 ints, the channels \(NHWC\) positive", r"\(2, 5, 5\)"]),
    "input_sizes float": (lambda: F.conv2d_backprop_input((2, 5.5, 5, 4), W, DY), TypeError,
                          [r"input_sizes must be a sequence of 4 ints"]),
    "filter_sizes negative": (lambda: F.conv2d_backprop_filter(X, (3, 3, 4, -6), DY), ValueError,
                              [r"filter_sizes must be 4 ints, each at least"]),
    "filter_sizes text": (lambda: F.conv2d_backprop_filter(X, "3x3", DY), TypeError, [r"filter_sizes must be a sequence"]),
    "backprop_filter channel": (lambda: F.conv2d_backprop_filter(X, (3, 3, 3, 6), DY), ValueError,
                                [r"filter_sizes in-channels \(3", shape_re((3, 3, 3, 6))]),
    # conv2d_transpose output_shape
    "transpose unreachable": (lambda: F.conv2d_transpose(DY, W, (2, 9, 7, 4), strides=2, padding="VALID"), ValueError,
                              [r"output_shape \(2, 9, 7, 4\)", r"not reachable from input shape " + shape_re(DY.shape),
                               r"allowed output sizes H: 7\.\.8, W: 7\.\.8"]),
    "transpose too small": (lambda: F.conv2d_transpose(DY, W, (2, 1, 7, 4), strides=2, padding="VALID"), ValueError,
                            [r"output_shape \(2, 1, 7, 4\)", r"allowed output sizes H: 7\.\.8"]),
    "transpose SAME range": (lambda: F.conv2d_transpose(DY, W, (2, 4, 6, 4), strides=2, padding="SAME"), ValueError,
                             [r"allowed output sizes H: 5\.\.6, W: 5\.\.6"]),
    "transpose batch": (lambda: F.conv2d_transpose(DY, W, (3, 5, 5, 4)), ValueError,
                        [r"output_shape \(3, 5, 5, 4\)", r"batch 2"]),
    "transpose out channels": (lambda: F.conv2d_transpose(DY, W, (2, 5, 5, 3)), ValueError,
                               [r"output_shape channels \(3", shape_re((2, 5, 5, 3)), r"filters\[2\]", shape_re(W.shape)]),
    "transpose output_shape rank": (lambda: F.conv2d_transpose(DY, W, (2, 5, 5)), ValueError,
                                    [r"output_shape must be 4 ints, the channels \(NHWC\) positive"]),
    "transpose output_shape float": (lambda: F.conv2d_transpose(DY, W, (2, 5.0, 5, 4)), TypeError,
                                     [r"output_shape must be a sequence of 4 ints"]),
    # data_format
    "data_format lowercase": (lambda: F.conv2d(X, W, data_format="nhwc"), ValueError, [r"data_format must be 'NHWC' or 'NCHW'"]),
    "data_format other": (lambda: F.depthwise_conv2d(X, DW_F, data_format="NCWH"), ValueError, [r"data_format must be"]),
    "data_format transpose": (lambda: F.conv2d_transpose(DY, W, X.shape, data_format="channels_last"), ValueError,
                              [r"data_format must be"]),
    "data_format backprop_input": (lambda: F.conv2d_backprop_input(X.shape, W, DY, data_format=None), ValueError,
                                   [r"data_format must be"]),
    "data_format backprop_filter": (lambda: F.conv2d_backprop_filter(X, W.shape, DY, data_format="HWC"), ValueError,
                                    [r"data_format must be"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_argument_is_named(name):
    call, error, patterns = CASES[name]
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error, f"{name}: {type(info.value).__name__}: {info.value}"
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), f"{name}: {pattern!r} not in {str(info.value)!r}"


VJP_OPS = {  # op: (arrays, params)
    "conv2d": ((X, W), {}),
    "conv2d+bias": ((X, W, np.zeros(6)), {}),
    "depthwise_conv2d": ((X, DW_F), dict(strides=2, padding="SAME")),
    "conv2d_transpose": ((DY, W), dict(output_shape=X.shape, padding="VALID")),
    "conv2d_backprop_input": ((W, DY), dict(input_sizes=X.shape)),
    "conv2d_backprop_filter": ((X, DY), dict(filter_sizes=W.shape)),
}


@pytest.mark.parametrize("op", list(VJP_OPS))
def test_pullback_rejects_dy_of_wrong_shape_and_dtype(op):
    arrays, params = VJP_OPS[op]
    name = op.split("+")[0]
    y, pullback = npcnn.vjp(name, *arrays, **params)
    bad_shape = y.shape[:-1] + (y.shape[-1] + 1,)
    with pytest.raises(ValueError, match=rf"dy for {name} must have the output's shape {shape_re(y.shape)}, "
                                         rf"got {shape_re(bad_shape)}"):
        pullback(np.zeros(bad_shape))
    with pytest.raises(TypeError, match=rf"dy for {name} must have the output's dtype float64, got float32"):
        pullback(np.zeros(y.shape, np.float32))


@pytest.mark.parametrize("fn", [
    lambda x: F.conv2d(x, W, padding="SAME"),
    lambda x: F.conv2d(X[:, :0], W, padding="SAME")[:0],          # an empty height, as in TensorFlow
    lambda x: F.conv2d(X, W[..., :0], padding="SAME")[:0],        # no output channels
    lambda x: F.conv2d_backprop_input([0, 5, 5, 4], W, np.zeros((0, 5, 5, W.shape[3]), x.dtype), padding="SAME"),
    lambda x: F.depthwise_conv2d(x, DW_F, padding="SAME"),
])
def test_an_empty_batch_gives_an_empty_result_as_in_tensorflow(fn):
    y = fn(X[:0])
    assert y.shape[0] == 0 and y.dtype == X.dtype


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_an_empty_axis_whose_windows_read_only_padding_is_computed_as_in_tensorflow(fmt):
    """TF computes conv2d over an empty H when the pads cover the window (each output reads only
    padding), and its backprop ops and conv2d_transpose with input_sizes / output_shape H = 0."""
    w = np.ones((1, 1, 2, 2))
    pads = [[0, 0], [2, 2], [0, 0], [0, 0]] if fmt == "NHWC" else [[0, 0], [0, 0], [2, 2], [0, 0]]
    x_shape, y_shape = ((1, 0, 3, 2), (1, 4, 3, 2)) if fmt == "NHWC" else ((1, 2, 0, 3), (1, 2, 4, 3))
    y, pullback = npcnn.vjp("conv2d", np.ones(x_shape), w, padding=pads, data_format=fmt)
    assert y.shape == y_shape and not y.any()
    dx, dw = pullback(np.ones(y_shape))
    assert dx.shape == x_shape and dw.shape == w.shape and not dw.any()
    assert F.conv2d_backprop_input(x_shape, w, np.ones(y_shape), padding=pads, data_format=fmt).shape == x_shape
    assert F.conv2d_transpose(np.ones(y_shape), w, x_shape, padding=pads, data_format=fmt).shape == x_shape
    with pytest.raises(ValueError, match="not reachable"):       # pads (1, 0) do not cover a 1x1 window twice
        F.conv2d_transpose(np.ones(y_shape), w, x_shape, padding=[[0, 0], [1, 0], [0, 0], [0, 0]] if fmt == "NHWC"
                           else [[0, 0], [0, 0], [1, 0], [0, 0]], data_format=fmt)
    no_channels = (1, 0, 3, 0) if fmt == "NHWC" else (1, 0, 0, 3)
    with pytest.raises(ValueError, match=f"channels \\({fmt}\\) positive"):
        F.conv2d_backprop_input(no_channels, w, np.ones(y_shape), padding=pads, data_format=fmt)


def test_depthwise_zero_multiplier_is_an_empty_result_as_in_tf():
    y = F.depthwise_conv2d(X, DW_F[..., :0])
    assert y.shape == (X.shape[0], X.shape[1] - 2, X.shape[2] - 2, 0)   # a VALID 3x3 window
