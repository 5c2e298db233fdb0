"""relu, leaky_relu, elu, sigmoid, tanh, softmax, log_softmax: formulas, kinks, stability, vjps."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import npcnn
from npcnn.functional import elu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from _vjp_check import check_vjp_against_fd  # (pytest puts this directory on sys.path)
from crosscheck.registry import FAMILY


def away_from_zero(shape, seed=0):
    """Random values with |x| >= 0.1, so the FD step never crosses a kink."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return x + 0.1 * np.sign(x)


ACTIVATION_OPS = sorted(op for op, family in FAMILY.items() if family == "activations")


@pytest.mark.parametrize("op, params", [(op, {}) for op in ACTIVATION_OPS] + [
    ("leaky_relu", dict(alpha=0.05)), ("softmax", dict(axis=0)), ("log_softmax", dict(axis=1))])
def test_vjp_matches_finite_differences(op, params):
    check_vjp_against_fd(op, [away_from_zero((3, 4, 5)) * 2], **params)


def test_formulas():
    x = away_from_zero((4, 6), seed=3) * 3
    assert_array_equal(relu(x), np.where(x > 0, x, 0))
    assert_allclose(elu(x), np.where(x > 0, x, np.exp(x) - 1), rtol=1e-14)
    assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    assert_allclose(tanh(x), np.tanh(x), rtol=1e-15)
    e = np.exp(x)
    assert_allclose(softmax(x), e / e.sum(axis=-1, keepdims=True), rtol=1e-14)
    assert_allclose(softmax(x, axis=0), e / e.sum(axis=0, keepdims=True), rtol=1e-14)
    assert_allclose(log_softmax(x), np.log(e / e.sum(axis=-1, keepdims=True)), rtol=1e-13, atol=1e-14)


def test_leaky_relu_uses_tensorflows_float32_alpha(tf):
    # TF's LeakyRelu keeps alpha in a float32 attribute: float64 inputs use float32(0.2)
    x = np.array([-1.0, -3.0, 2.0])
    expected = np.array([-float(np.float32(0.2)), -3 * float(np.float32(0.2)), 2.0])
    assert_array_equal(leaky_relu(x), expected)
    assert_array_equal(tf.nn.leaky_relu(x).numpy(), expected)


def test_gradients_at_the_kink_follow_tensorflow(tf):
    x = np.array([0.0, -0.0, 1.0, -1.0])
    dy = np.array([3.0, 5.0, 7.0, 11.0])
    alpha = float(np.float32(0.2))
    expected = {"relu": [0, 0, 7, 0], "leaky_relu": [3 * alpha, 5 * alpha, 7, 11 * alpha],
                "elu": [3, 5, 7, 11 * np.exp(-1)]}
    for op, want in expected.items():
        (dx,) = npcnn.vjp(op, x)[1](dy)
        assert_allclose(dx, want, rtol=1e-15, err_msg=op)
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = getattr(tf.nn, op)(xt)
        assert_allclose(tape.gradient(y, xt, output_gradients=tf.constant(dy)).numpy(), want, rtol=1e-15, err_msg=op)


def test_sigmoid_and_softmax_are_stable_for_huge_inputs():
    x = np.array([[1000.0, 0.0, -1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert_array_equal(sigmoid(x), [[1.0, 0.5, 0.0]])
        assert_array_equal(softmax(x), [[1.0, 0.0, 0.0]])
        assert_array_equal(log_softmax(x), [[0.0, -1000.0, -2000.0]])
        (dx,) = npcnn.vjp("log_softmax", x)[1](np.array([[1.0, 2.0, 3.0]]))
    assert_allclose(dx, [[1 - 6, 2, 3]], rtol=1e-15)


def test_softmax_input_gradient_is_not_trivial_for_random_upstream():
    # with dy = ones the softmax input gradient is exactly 0; a random dy must give a nonzero one
    x = away_from_zero((2, 5))
    (dx,) = npcnn.vjp("softmax", x)[1](np.random.default_rng(4).standard_normal(x.shape))
    assert np.abs(dx).max() > 1e-3
    assert_allclose(dx.sum(axis=-1), 0, atol=1e-15)


@pytest.mark.parametrize("op", ACTIVATION_OPS)
def test_float32_stays_float32(op):
    x = away_from_zero((3, 4)).astype(np.float32)
    y, pullback = npcnn.vjp(op, x)
    (dx,) = pullback(np.random.default_rng(0).standard_normal(y.shape).astype(np.float32))
    assert y.dtype == np.float32 and dx.dtype == np.float32


@pytest.mark.parametrize("call, error, match", [
    (lambda: relu(np.arange(3)), TypeError, "features"),
    (lambda: leaky_relu([1, 2]), TypeError, "features"),
    (lambda: elu(np.ones(2, np.float16)), TypeError, "features"),
    (lambda: sigmoid(np.arange(2)), TypeError, r"\bx\b"),
    (lambda: tanh(np.arange(2)), TypeError, r"\bx\b"),
    (lambda: softmax(np.arange(2)), TypeError, "logits"),
    (lambda: softmax(np.ones((2, 3)), axis=2), ValueError, r"axis=2 .*logits of shape \(2, 3\)"),
    (lambda: log_softmax(np.ones((2, 3)), axis=-3), ValueError, r"axis=-3 .*logits"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
