"""softmax_cross_entropy_with_logits, sparse_softmax_cross_entropy_with_logits, mean_squared_error."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import npcnn
from crosscheck.finite_diff import numerical_vjp
from npcnn.functional import (mean_squared_error, softmax_cross_entropy_with_logits,
                              sparse_softmax_cross_entropy_with_logits)
from _vjp_check import check_vjp_against_fd  # (pytest puts this directory on sys.path)

RNG = np.random.default_rng(0)


def distributions(shape, axis=-1, seed=0):
    """Random labels that sum to 1 along ``axis``."""
    p = np.random.default_rng(seed).random(shape) + 0.1
    return p / p.sum(axis=axis, keepdims=True)


def test_public_values():
    # uniform logits with one-hot labels: the loss is log(classes)
    labels = np.eye(4)[[0, 3]]
    assert_allclose(softmax_cross_entropy_with_logits(labels, np.zeros((2, 4))), [np.log(4)] * 2, rtol=1e-15)
    assert_allclose(sparse_softmax_cross_entropy_with_logits(np.array([0, 3]), np.zeros((2, 4))),
                    [np.log(4)] * 2, rtol=1e-15)
    assert_allclose(mean_squared_error(np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[1.0, 1.0], [1.0, 0.0]])),
                    [0.5, 0.5], rtol=1e-15)


@pytest.mark.parametrize("shape, axis", [((3, 5), -1), ((2, 3, 4), 1), ((4, 3), 0)])
def test_softmax_cross_entropy_vjp_matches_finite_differences(shape, axis):
    labels = distributions(shape, axis)
    logits = RNG.standard_normal(shape) * 2
    check_vjp_against_fd("softmax_cross_entropy_with_logits", [labels, logits], axis=axis)


def test_softmax_cross_entropy_unnormalised_labels_follow_tensorflow(tf):
    # TF returns d_logits = dy * (softmax - labels) for any labels; the true derivative is
    # dy * (softmax * sum(labels) - labels). npcnn follows TF; d_labels = -dy * log_softmax is exact.
    labels = np.array([[0.5, 0.7, 0.3], [1.0, 2.0, 0.0]])
    logits = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]])
    dy = np.array([1.5, -0.7])
    softmax = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    tf_rule = dy[:, None] * (softmax - labels)
    true_derivative = dy[:, None] * (softmax * labels.sum(axis=-1, keepdims=True) - labels)
    d_labels, d_logits = npcnn.vjp("softmax_cross_entropy_with_logits", labels, logits)[1](dy)
    assert_allclose(d_logits, tf_rule, rtol=1e-14)
    assert_allclose(d_labels, -dy[:, None] * np.log(softmax), rtol=1e-14)
    assert not np.allclose(d_logits, true_derivative)
    numeric = numerical_vjp(lambda a: softmax_cross_entropy_with_logits(labels, a), [logits], dy)[0]
    assert_allclose(numeric, true_derivative, rtol=1e-6, atol=1e-8)

    lab_t, log_t = tf.constant(labels), tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch([lab_t, log_t])
        loss = tf.nn.softmax_cross_entropy_with_logits(lab_t, log_t)
    tf_d_labels, tf_d_logits = tape.gradient(loss, [lab_t, log_t], output_gradients=tf.constant(dy))
    assert_allclose(d_logits, tf_d_logits.numpy(), rtol=1e-14)
    assert_allclose(d_labels, tf_d_labels.numpy(), rtol=1e-14)


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 6), (7,)])
def test_sparse_softmax_cross_entropy_vjp(shape):
    labels = RNG.integers(0, shape[-1], size=shape[:-1])
    logits = RNG.standard_normal(shape) * 2
    y, pullback = npcnn.vjp("sparse_softmax_cross_entropy_with_logits", labels, logits)
    assert_allclose(y, softmax_cross_entropy_with_logits(np.eye(shape[-1])[labels], logits), rtol=1e-14)
    dy = RNG.standard_normal(y.shape)
    d_labels, d_logits = pullback(dy)
    assert d_labels is None
    f = lambda a: sparse_softmax_cross_entropy_with_logits(labels, a)  # noqa: E731
    assert_allclose(d_logits, numerical_vjp(f, [logits], dy)[0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (6,)])
def test_mean_squared_error_vjp_matches_finite_differences(shape):
    check_vjp_against_fd("mean_squared_error", [RNG.standard_normal(shape), RNG.standard_normal(shape)])


@pytest.mark.parametrize("op, make", [
    ("softmax_cross_entropy_with_logits", lambda x: (distributions(x.shape), x)),
    ("sparse_softmax_cross_entropy_with_logits", lambda x: (np.array([0, 2, 1]), x)),
    ("mean_squared_error", lambda x: (x[::-1].copy(), x)),
])
def test_float32_stays_float32(op, make):
    logits = RNG.standard_normal((3, 4)).astype(np.float32)
    arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in make(logits)]
    y, pullback = npcnn.vjp(op, *arrays)
    grads = pullback(RNG.standard_normal(y.shape).astype(np.float32))
    assert y.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads if g is not None)


LOGITS = np.zeros((2, 3))


@pytest.mark.parametrize("call, error, match", [
    (lambda: softmax_cross_entropy_with_logits(np.zeros((2, 4)), LOGITS), ValueError,
     r"labels and logits .*\(2, 4\) and \(2, 3\)"),
    (lambda: softmax_cross_entropy_with_logits(np.zeros((2, 3), np.float32), LOGITS), TypeError, "labels=float32"),
    (lambda: softmax_cross_entropy_with_logits(np.zeros((2, 3), int), LOGITS), TypeError, "labels"),
    (lambda: softmax_cross_entropy_with_logits(LOGITS, LOGITS, axis=2), ValueError, "axis=2"),
    (lambda: sparse_softmax_cross_entropy_with_logits(np.array([0, 3]), LOGITS), ValueError,
     r"labels must lie in \[0, 3\)"),
    (lambda: sparse_softmax_cross_entropy_with_logits(np.array([-1, 0]), LOGITS), ValueError, r"labels .*\[-1, 0\]"),
    (lambda: sparse_softmax_cross_entropy_with_logits(np.array([0.0, 1.0]), LOGITS), TypeError,
     "labels must be integer"),
    (lambda: sparse_softmax_cross_entropy_with_logits(np.array([[0, 1]]), LOGITS), ValueError,
     r"labels .*\(1, 2\), logits \(2, 3\)"),
    (lambda: sparse_softmax_cross_entropy_with_logits(np.array([0, 1]), LOGITS.astype(int)), TypeError, "logits"),
    (lambda: mean_squared_error(np.zeros((2, 3)), np.zeros((3, 2))), ValueError, r"y_true and y_pred .*\(2, 3\)"),
    (lambda: mean_squared_error(np.zeros(3), np.zeros(3, np.float32)), TypeError, "y_true=float64, y_pred=float32"),
    (lambda: mean_squared_error(np.float64(1.0), np.float64(2.0)), ValueError, "y_true and y_pred need"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
