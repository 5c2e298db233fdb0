"""batch_normalization, group_normalization, layer_normalization, moments: Keras (float64) and FD."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import npcnn
from npcnn.functional import batch_normalization, group_normalization, layer_normalization, moments
from _vjp_check import check_vjp_against_fd  # (pytest puts this directory on sys.path)

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def keras():
    import keras
    return keras


def inputs(shape, param_shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) * 2 + 0.5, rng.standard_normal(param_shape), rng.standard_normal(param_shape)


def keras_vjp(layer, x, dy, **call):
    """A float64 Keras layer's output and gradients for x, gamma, beta (gamma/beta already assigned)."""
    import tensorflow as tf
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = layer(xv, **call)
    grads = tape.gradient(y, [xv, layer.gamma, layer.beta], output_gradients=tf.constant(dy))
    return [y.numpy()] + [g.numpy() for g in grads]


def test_moments_are_mean_and_biased_variance():
    mean, var = moments(np.array([1.0, 2.0, 3.0, 4.0]), axes=0)
    assert_allclose([mean, var], [2.5, 1.25], rtol=1e-15)
    x = RNG.standard_normal((3, 4, 5))
    mean, var = moments(x, axes=(0, 2), keepdims=True)
    assert mean.shape == var.shape == (1, 4, 1)
    assert_allclose(var, x.var(axis=(0, 2), keepdims=True), rtol=1e-13)


@pytest.mark.parametrize("shape, axis", [((4, 3, 3, 2), -1), ((3, 2, 3, 4), 1), ((6, 3), -1)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_normalization_matches_keras_and_finite_differences(keras, shape, axis, training):
    c = shape[axis]
    x, gamma, beta = inputs(shape, (c,))
    moving_mean, moving_var = RNG.standard_normal(c), RNG.random(c) + 0.5
    params = dict(moving_mean=moving_mean, moving_variance=moving_var, training=training, axis=axis)
    check_vjp_against_fd("batch_normalization", [x, gamma, beta], **params)

    layer = keras.layers.BatchNormalization(axis=axis, epsilon=1e-3, dtype="float64")
    layer.build(shape)
    for var, value in ((layer.gamma, gamma), (layer.beta, beta), (layer.moving_mean, moving_mean),
                       (layer.moving_variance, moving_var)):
        var.assign(value)
    y, pullback = npcnn.vjp("batch_normalization", x, gamma, beta, **params)
    dy = RNG.standard_normal(shape)
    for name, ours, theirs in zip(("y", "d_x", "d_gamma", "d_beta"), [y, *pullback(dy)],
                                  keras_vjp(layer, x, dy, training=training)):
        assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=name)


def test_batch_normalization_training_formula():
    x, gamma, beta = inputs((5, 4, 3), (3,))
    mean, var = x.mean(axis=(0, 1)), x.var(axis=(0, 1))
    expected = gamma * (x - mean) / np.sqrt(var + 1e-3) + beta
    assert_allclose(batch_normalization(x, gamma, beta), expected, rtol=1e-13)


@pytest.mark.parametrize("shape, axis, groups", [
    ((2, 3, 3, 4), -1, 2), ((2, 3, 3, 4), -1, 1), ((2, 3, 3, 4), -1, 4),
    ((2, 6, 2, 3), 1, 3), ((3, 6), -1, 2),
])
def test_group_normalization_matches_keras_and_finite_differences(keras, shape, axis, groups):
    x, gamma, beta = inputs(shape, (shape[axis],))
    check_vjp_against_fd("group_normalization", [x, gamma, beta], groups=groups, axis=axis)

    layer = keras.layers.GroupNormalization(groups, axis=axis, epsilon=1e-3, dtype="float64")
    layer.build(shape)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    y, pullback = npcnn.vjp("group_normalization", x, gamma, beta, groups=groups, axis=axis)
    dy = RNG.standard_normal(shape)
    for name, ours, theirs in zip(("y", "d_x", "d_gamma", "d_beta"), [y, *pullback(dy)], keras_vjp(layer, x, dy)):
        assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("shape, axis", [((3, 5), -1), ((2, 3, 4, 2), -1), ((2, 3, 4, 2), (1, 2)), ((2, 4, 3), 1)])
def test_layer_normalization_matches_keras_and_finite_differences(keras, shape, axis):
    axes = (axis,) if isinstance(axis, int) else axis
    param_shape = tuple(shape[a] for a in axes)
    x, gamma, beta = inputs(shape, param_shape)
    check_vjp_against_fd("layer_normalization", [x, gamma, beta], axis=axis)

    layer = keras.layers.LayerNormalization(axis=axis, epsilon=1e-3, dtype="float64")
    layer.build(shape)
    layer.gamma.assign(gamma.reshape(layer.gamma.shape))
    layer.beta.assign(beta.reshape(layer.beta.shape))
    y, pullback = npcnn.vjp("layer_normalization", x, gamma, beta, axis=axis)
    dy = RNG.standard_normal(shape)
    dx, dgamma, dbeta = pullback(dy)
    k_y, k_dx, k_dgamma, k_dbeta = keras_vjp(layer, x, dy)
    assert_allclose(y, k_y, rtol=1e-10, atol=1e-12)
    assert_allclose(dx, k_dx, rtol=1e-10, atol=1e-12)
    assert_allclose(dgamma, k_dgamma.reshape(param_shape), rtol=1e-10, atol=1e-12)
    assert_allclose(dbeta, k_dbeta.reshape(param_shape), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op, params", [
    ("batch_normalization", dict(axis=1)),
    ("batch_normalization", dict(training=False, moving_mean=np.zeros(3, np.float32),
                                 moving_variance=np.ones(3, np.float32), axis=1)),
    ("group_normalization", dict(groups=3, axis=1)),
    ("layer_normalization", dict(axis=(1, 2, 3))),
])
def test_float32_stays_float32(op, params):
    x = RNG.standard_normal((2, 3, 4, 4)).astype(np.float32)
    pshape = (3, 4, 4) if op == "layer_normalization" else (3,)
    gamma, beta = np.ones(pshape, np.float32), np.zeros(pshape, np.float32)
    y, pullback = npcnn.vjp(op, x, gamma, beta, **params)
    grads = pullback(RNG.standard_normal(y.shape).astype(np.float32))
    assert y.dtype == np.float32
    assert [g.dtype for g in grads] == [np.float32] * 3
    assert [g.shape for g in grads] == [x.shape, pshape, pshape]


X = np.zeros((2, 3, 4))
C4 = np.ones(4)


@pytest.mark.parametrize("call, error, match", [
    (lambda: batch_normalization(X, np.ones(3), C4), ValueError, r"gamma must have shape \(4,\).*\(2, 3, 4\)"),
    (lambda: batch_normalization(X, C4, C4, training=False), ValueError, "moving_mean and moving_variance"),
    (lambda: batch_normalization(X, C4, C4, moving_mean=C4, training=False), ValueError, "needs moving_variance"),
    (lambda: batch_normalization(X, C4, C4, axis=3), ValueError, r"axis=3 is out of range"),
    (lambda: batch_normalization(X, C4, C4, axis=(1, 2)), TypeError, "axis must be one int"),
    (lambda: batch_normalization(X, C4.astype(np.float32), C4), TypeError, "gamma=float32"),
    (lambda: batch_normalization(X.astype(int), C4, C4), TypeError, r"\bx must be float"),
    (lambda: batch_normalization(X, C4, C4, epsilon=-1.0), ValueError, "epsilon"),
    (lambda: layer_normalization(X, C4, C4, epsilon="1e-3"), TypeError, "epsilon"),
    (lambda: group_normalization(X, C4, C4, groups=3), ValueError, r"groups=3 .*channel count 4"),
    (lambda: group_normalization(X, C4, C4, groups=0), ValueError, "groups=0"),
    (lambda: group_normalization(X, C4, C4, groups=2, axis=0), ValueError, "batch axis"),
    (lambda: group_normalization(X, C4, np.ones(2), groups=2), ValueError, r"beta must have shape \(4,\)"),
    (lambda: group_normalization(np.zeros(4), C4, C4, groups=2), ValueError, r"x must have a batch axis"),
    (lambda: layer_normalization(X, np.ones((3, 4)), np.ones((3, 4)), axis=(1, 1)), ValueError, "repeats"),
    (lambda: layer_normalization(X, C4, C4, axis=(1, 2)), ValueError, r"gamma must have shape \(3, 4\)"),
    (lambda: moments(X, axes=5), ValueError, "axes=5"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
