"""conv2d, depthwise_conv2d, conv2d_transpose and conv2d_backprop_input/filter against TensorFlow:
forward values and gradients on fixed cases (spot checks beside crosscheck's fuzzed comparison)."""
import numpy as np
import pytest

import npcnn
import npcnn.functional as F
from _conv_cases import nchw, nhwc  # (pytest puts this directory on sys.path)


def tf_padding(padding):
    return padding if isinstance(padding, str) else [[0, 0], *padding, [0, 0]]


def test_cs231n_case_against_tensorflow(tf):
    x = np.linspace(-0.1, 0.5, num=96).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=144).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    expected = nchw(tf.nn.conv2d(nhwc(x), w.transpose(2, 3, 1, 0), 2, [[0, 0], [1, 1], [1, 1], [0, 0]]).numpy() + b)
    y = F.conv2d(x, w.transpose(2, 3, 1, 0), b, strides=2, padding=[[1, 1], [1, 1]], data_format="NCHW")
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-14)


FORWARD_CASES = [  # x shape NHWC, w shape HWIO, strides, padding, dilations
    ((2, 9, 8, 3), (3, 3, 3, 4), (2, 2), "SAME", (2, 2)),
    ((1, 11, 10, 2), (2, 3, 2, 3), (3, 2), "VALID", (2, 3)),
    ((2, 7, 7, 2), (3, 2, 2, 2), (2, 3), [[3, 0], [1, 4]], (3, 2)),
    ((1, 3, 3, 1), (1, 1, 1, 1), (3, 3), "SAME", (1, 1)),
    ((2, 6, 5, 4), (2, 2, 2, 6), (2, 1), "SAME", (1, 1)),  # groups = 2
]


@pytest.mark.parametrize("x_shape, w_shape, strides, padding, dilations", FORWARD_CASES)
def test_conv2d_forward_against_tensorflow(tf, x_shape, w_shape, strides, padding, dilations):
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    if x_shape[3] == w_shape[2]:
        expected = tf.nn.conv2d(x, w, strides, tf_padding(padding), dilations=dilations).numpy()
    else:
        expected = tf_grouped(tf, lambda xg, wg: tf.nn.conv2d(xg, wg, strides, tf_padding(padding),
                                                               dilations=dilations), x, w)
    np.testing.assert_allclose(F.conv2d(x, w, strides=strides, padding=padding, dilations=dilations),
                               expected, rtol=1e-10, atol=1e-12)


def tf_grouped(tf, op, x, w):
    """TF's grouped-conv gradients fail on CPU (quirk grouped-conv-gradient, docs/tf-defects.md), so run TF once per group and concatenate."""
    cg, g = w.shape[2], x.shape[3] // w.shape[2]
    og = w.shape[3] // g
    return np.concatenate([np.asarray(op(x[..., i * cg:(i + 1) * cg], w[..., i * og:(i + 1) * og]))
                           for i in range(g)], axis=-1)


GRAD_CASES = [  # undilated: TF's dilated gradients fail on CPU (quirk dilated-conv-gradient, docs/tf-defects.md)
    ((2, 7, 6, 3), (3, 3, 3, 4), (2, 2), "SAME", 1),
    ((1, 8, 9, 2), (2, 3, 2, 3), (3, 2), "VALID", 1),
    ((2, 5, 6, 2), (3, 2, 2, 2), (2, 3), [[4, 0], [1, 3]], 1),
    ((2, 6, 5, 4), (2, 2, 2, 6), (2, 1), "SAME", 2),
    ((1, 7, 7, 3), (3, 3, 1, 6), (2, 2), [[0, 2], [2, 1]], 3),
]


@pytest.mark.parametrize("x_shape, w_shape, strides, padding, groups", GRAD_CASES)
def test_conv2d_gradients_against_tensorflow(tf, x_shape, w_shape, strides, padding, groups):
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[3])
    y, pullback = npcnn.vjp("conv2d", x, w, b, strides=strides, padding=padding)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = pullback(dy)
    cg, og = w_shape[2], w_shape[3] // groups
    for gi in range(groups):
        xs, ws = slice(gi * cg, (gi + 1) * cg), slice(gi * og, (gi + 1) * og)
        xt, wt = tf.constant(x[..., xs]), tf.constant(w[..., ws])
        with tf.GradientTape() as tape:
            tape.watch([xt, wt])
            yt = tf.nn.conv2d(xt, wt, strides, tf_padding(padding))
        tdx, tdw = tape.gradient(yt, [xt, wt], output_gradients=tf.constant(dy[..., ws]))
        np.testing.assert_allclose(y[..., ws], yt.numpy() + b[ws], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx[..., xs], tdx.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dw[..., ws], tdw.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, dy.sum(axis=(0, 1, 2)), rtol=1e-12)


@pytest.mark.parametrize("x_shape, mult, strides, padding", [
    ((2, 6, 7, 3), 2, (2, 2), "SAME"), ((1, 7, 6, 2), 3, (1, 1), "VALID"), ((2, 5, 5, 2), 1, (2, 2), [[2, 1], [0, 3]])])
def test_depthwise_against_tensorflow(tf, x_shape, mult, strides, padding):
    """Equal strides only: TF's CPU DepthwiseConv2dNative rejects unequal row and column strides."""
    rng = np.random.default_rng(9)
    x, f = rng.standard_normal(x_shape), rng.standard_normal((3, 2, x_shape[3], mult))
    y, pullback = npcnn.vjp("depthwise_conv2d", x, f, strides=strides, padding=padding)
    dy = rng.standard_normal(y.shape)
    xt, ft = tf.constant(x), tf.constant(f)
    with tf.GradientTape() as tape:
        tape.watch([xt, ft])
        yt = tf.nn.depthwise_conv2d(xt, ft, [1, *strides, 1], tf_padding(padding))
    tdx, tdf = tape.gradient(yt, [xt, ft], output_gradients=tf.constant(dy))
    for mine, theirs in zip((y, *pullback(dy)), (yt, tdx, tdf)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("padding", ["SAME", "VALID", [[1, 2], [3, 0]]])
def test_transpose_and_backprop_ops_against_tensorflow(tf, padding):
    rng = np.random.default_rng(13)
    x_shape, w = (2, 8, 7, 3), rng.standard_normal((3, 2, 3, 4))
    x = rng.standard_normal(x_shape)
    y = F.conv2d(x, w, strides=(2, 3), padding=padding)
    dy = rng.standard_normal(y.shape)
    tpad = tf_padding(padding)
    np.testing.assert_allclose(F.conv2d_transpose(dy, w, x_shape, strides=(2, 3), padding=padding),
                               tf.nn.conv2d_transpose(dy, w, x_shape, (2, 3), tpad).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.conv2d_backprop_input(x_shape, w, dy, strides=(2, 3), padding=padding),
                               tf.compat.v1.nn.conv2d_backprop_input(x_shape, w, dy, [1, 2, 3, 1], tpad).numpy(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.conv2d_backprop_filter(x, w.shape, dy, strides=(2, 3), padding=padding),
                               tf.compat.v1.nn.conv2d_backprop_filter(x, w.shape, dy, [1, 2, 3, 1], tpad).numpy(),
                               rtol=1e-10, atol=1e-12)
