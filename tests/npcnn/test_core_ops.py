"""dense, dropout, dropout_mask, flatten."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import npcnn
from npcnn.functional import dense, dropout, dropout_mask, flatten
from _vjp_check import check_vjp_against_fd  # (pytest puts this directory on sys.path)

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 3, 3), (3,)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_dense_matches_formula_and_finite_differences(x_shape, with_bias):
    x, kernel, bias = RNG.standard_normal(x_shape), RNG.standard_normal((3, 5)), RNG.standard_normal(5)
    arrays = [x, kernel, bias] if with_bias else [x, kernel]
    expected = np.einsum("...i,io->...o", x, kernel) + (bias if with_bias else 0)
    assert_allclose(dense(*arrays), expected, rtol=1e-13)
    check_vjp_against_fd("dense", arrays)


def test_dropout_mask_is_default_rng_uniforms_at_least_rate():
    mask = dropout_mask((3, 50), 0.3, seed=7)
    assert_array_equal(mask, np.random.default_rng(7).random((3, 50)) >= 0.3)
    assert_array_equal(dropout_mask((3, 50), 0.3, seed=7), mask)
    assert not np.array_equal(dropout_mask((3, 50), 0.3, seed=8), mask)
    assert dropout_mask((4, 4), 0.0, seed=1).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_scales_kept_values_and_gradient(dtype):
    x = RNG.standard_normal((4, 6)).astype(dtype)
    rate, seed = 0.25, 3
    keep = np.random.default_rng(seed).random(x.shape) >= rate
    y, pullback = npcnn.vjp("dropout", x, rate=rate, seed=seed)
    dy = RNG.standard_normal(y.shape).astype(dtype)
    (dx,) = pullback(dy)
    assert y.dtype == dx.dtype == dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-15
    assert_allclose(y, np.where(keep, x / (1 - rate), 0), rtol=rtol)
    assert_allclose(dx, np.where(keep, dy / (1 - rate), 0), rtol=rtol)
    assert_array_equal(dropout(x, rate, seed), y)


def test_dropout_vjp_matches_finite_differences():
    check_vjp_against_fd("dropout", [RNG.standard_normal((3, 5))], rate=0.4, seed=11)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_flatten_orders_like_keras_and_inverts_in_backward(data_format):
    import keras
    x = RNG.standard_normal((2, 3, 4, 5))
    layer = keras.layers.Flatten(data_format="channels_last" if data_format == "NHWC" else "channels_first",
                                 dtype="float64")
    y, pullback = npcnn.vjp("flatten", x, data_format=data_format)
    assert_array_equal(y, np.asarray(layer(x)))
    dy = RNG.standard_normal(y.shape)
    (dx,) = pullback(dy)
    assert dx.shape == x.shape
    # flatten is a permutation: its vjp puts every dy entry back where its x came from
    assert_array_equal(flatten(dx, data_format), dy)


@pytest.mark.parametrize("op, arrays, params", [
    ("dense", lambda: [RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4)), RNG.standard_normal(4)], {}),
    ("dropout", lambda: [RNG.standard_normal((2, 3))], dict(rate=0.5, seed=0)),
    ("flatten", lambda: [RNG.standard_normal((2, 3, 4, 5))], dict(data_format="NCHW")),
])
def test_float32_stays_float32(op, arrays, params):
    arrays = [a.astype(np.float32) for a in arrays()]
    y, pullback = npcnn.vjp(op, *arrays, **params)
    grads = pullback(RNG.standard_normal(y.shape).astype(np.float32))
    assert y.dtype == np.float32
    assert [g.dtype for g in grads] == [np.float32] * len(arrays)


@pytest.mark.parametrize("call, error, match", [
    (lambda: dense(np.zeros((2, 3)), np.zeros((4, 5))), ValueError, r"x's last axis .*\(2, 3\), kernel \(4, 5\)"),
    (lambda: dense(np.zeros((2, 3)), np.zeros(3)), ValueError, r"kernel must be 2-D"),
    (lambda: dense(np.zeros((2, 3)), np.zeros((3, 5)), np.zeros(4)), ValueError, r"bias must have shape \(5,\)"),
    (lambda: dense(np.zeros((2, 3)), np.zeros((3, 5), np.float32)), TypeError, "kernel=float32"),
    (lambda: dense(np.zeros((2, 3), int), np.zeros((3, 5))), TypeError, r"\bx must be float"),
    (lambda: dropout(np.zeros(3), 1.0, seed=0), ValueError, "rate"),
    (lambda: dropout(np.zeros(3), -0.1, seed=0), ValueError, "rate"),
    (lambda: dropout_mask((3,), 2, seed=0), ValueError, "rate"),
    (lambda: dropout(np.zeros(3, int), 0.5, seed=0), TypeError, r"\bx must be float"),
    (lambda: flatten(np.zeros((2, 3)), data_format="NWHC"), ValueError, "data_format"),
    (lambda: flatten(np.float64(1.0)), ValueError, "batch axis"),
    (lambda: flatten(np.zeros((2, 3), np.int64)), TypeError, r"\bx must be float"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
