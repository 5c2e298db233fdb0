"""max_pool2d, avg_pool2d, global_avg_pool2d: public facts, TensorFlow's rules, finite differences."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import npcnn
from npcnn.functional import avg_pool2d, global_avg_pool2d, max_pool2d
from _vjp_check import check_vjp_against_fd  # (pytest puts this directory on sys.path)


def tf_pool_vjp(tf, op, x, dy, ksize, strides, padding):
    """TensorFlow's output and input gradient (NHWC) for an upstream gradient ``dy``."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = op(xt, ksize, strides, padding)
    return y.numpy(), tape.gradient(y, xt, output_gradients=tf.constant(dy)).numpy()


def tie_free(shape, seed=0):
    """A random permutation of ``k / size``: values at least ``1 / size`` (>> the FD step) apart.

    Kept within [0, 1) so central-difference round-off (~ |f| * 1e-16 / eps) stays below 1e-9.
    """
    size = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(size).reshape(shape) / size


def nhwc(x2d):
    return np.asarray(x2d, dtype=np.float64)[None, :, :, None]


def test_max_pool_cs231n_forward_naive_check():
    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=int(np.prod(x_shape))).reshape(x_shape)
    expected = np.array([[[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                          [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                          [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
                         [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                          [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                          [[0.32631579, 0.34105263], [0.38526316, 0.4]]]])
    out = max_pool2d(x, ksize=2, strides=2, data_format="NCHW")
    rel_error = np.max(np.abs(out - expected) / np.maximum(1e-8, np.abs(out) + np.abs(expected)))
    assert rel_error < 1e-7


def test_max_pool_ties_send_whole_gradient_to_first_max_and_overlaps_add(tf):
    # 2x2 windows, stride 1: every window holds two or three 2s
    x = nhwc([[1, 2, 2],
              [2, 0, 2],
              [1, 2, 1]])
    dy = nhwc([[1, 10],
               [100, 1000]])
    # first max in row-major window order: (0,1), (0,1), (1,0), (1,2)
    expected_dx = nhwc([[0, 11, 0],
                        [100, 0, 1000],
                        [0, 0, 0]])
    y, pullback = npcnn.vjp("max_pool2d", x, ksize=2, strides=1, padding="VALID")
    assert_array_equal(y, np.full((1, 2, 2, 1), 2.0))
    assert_array_equal(pullback(dy)[0], expected_dx)
    tf_y, tf_dx = tf_pool_vjp(tf, tf.nn.max_pool2d, x, dy, 2, 1, "VALID")
    assert_array_equal(tf_y, y)
    assert_array_equal(tf_dx, expected_dx)


def test_max_pool_nan_follows_tensorflow(tf):
    # windows (2x2, stride 2): [1, nan; 2, 0] -> 2; [nan, 1; 2, nan] -> 2 but TF's gradient stays on
    # the leading NaN (nothing compares greater than it); all NaN -> the lowest finite value.
    x = nhwc([[1, np.nan, np.nan, 1, np.nan, np.nan],
              [2, 0, 2, np.nan, np.nan, np.nan]])
    dy = nhwc([[10, 20, 30]])
    expected_y = nhwc([[2, 2, np.finfo(np.float64).min]])
    expected_dx = nhwc([[0, 0, 20, 0, 30, 0],
                        [10, 0, 0, 0, 0, 0]])
    y, pullback = npcnn.vjp("max_pool2d", x, ksize=2, strides=2)
    assert_array_equal(y, expected_y)
    assert_array_equal(pullback(dy)[0], expected_dx)
    tf_y, tf_dx = tf_pool_vjp(tf, tf.nn.max_pool2d, x, dy, 2, 2, "VALID")
    assert_array_equal(tf_y, expected_y)
    assert_array_equal(tf_dx, expected_dx)


def test_max_pool_padding_is_never_the_maximum():
    x = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    same = max_pool2d(x, ksize=3, strides=1, padding="SAME")[0, :, :, 0]
    explicit = max_pool2d(x, ksize=2, strides=1, padding=[[1, 1], [1, 1]])[0, :, :, 0]
    assert_array_equal(same, [[-1, -1, -2], [-1, -1, -2], [-4, -4, -5]])
    assert_array_equal(explicit, [[-1, -1, -2, -3], [-1, -1, -2, -3], [-4, -4, -5, -6], [-7, -7, -8, -9]])


def test_avg_pool_same_divides_by_valid_cells(tf):
    x = nhwc([[1, 2, 3],
              [4, 5, 6],
              [7, 8, 9]])
    # 2x2 stride 2 SAME pads one row/column at the bottom/right: windows of 4, 2, 2 and 1 cells
    expected_y = nhwc([[(1 + 2 + 4 + 5) / 4, (3 + 6) / 2],
                       [(7 + 8) / 2, 9 / 1]])
    dy = nhwc([[4, 6],
               [10, 5]])
    expected_dx = nhwc([[1, 1, 3],
                        [1, 1, 3],
                        [5, 5, 5]])
    y, pullback = npcnn.vjp("avg_pool2d", x, ksize=2, strides=2, padding="SAME")
    assert_allclose(y, expected_y, rtol=1e-15)
    assert_allclose(pullback(dy)[0], expected_dx, rtol=1e-15)
    tf_y, tf_dx = tf_pool_vjp(tf, tf.nn.avg_pool2d, x, dy, 2, 2, "SAME")
    assert_allclose(tf_y, expected_y, rtol=1e-15)
    assert_allclose(tf_dx, expected_dx, rtol=1e-15)


POOL_CONFIGS = [
    dict(ksize=2, strides=2, padding="VALID"),
    dict(ksize=(3, 2), strides=1, padding="VALID"),
    dict(ksize=3, strides=(2, 1), padding="SAME"),
    dict(ksize=(2, 3), strides=2, padding="SAME"),
]


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
@pytest.mark.parametrize("config", POOL_CONFIGS + [
    dict(ksize=3, strides=2, padding=[[1, 2], [0, 1]]),
    dict(ksize=(2, 3), strides=1, padding="TF4"),
], ids=str)
def test_max_pool_vjp_matches_finite_differences(config, data_format):
    config = dict(config)
    if config["padding"] == "TF4":
        config["padding"] = ([[0, 0], [1, 0], [2, 1], [0, 0]] if data_format == "NHWC"
                             else [[0, 0], [0, 0], [1, 0], [2, 1]])
    check_vjp_against_fd("max_pool2d", [tie_free((2, 5, 6, 2) if data_format == "NHWC" else (2, 2, 5, 6))],
                         data_format=data_format, **config)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
@pytest.mark.parametrize("config", POOL_CONFIGS, ids=str)
def test_avg_pool_vjp_matches_finite_differences(config, data_format):
    x = np.random.default_rng(2).standard_normal((2, 5, 6, 2) if data_format == "NHWC" else (2, 2, 5, 6))
    check_vjp_against_fd("avg_pool2d", [x], data_format=data_format, **config)


@st.composite
def pool_cases(draw, explicit_ok=True):
    """A valid pooling configuration (small shapes): (op params, NHWC input shape)."""
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    paddings = ["VALID", "SAME", "EXPLICIT"] if explicit_ok else ["VALID", "SAME"]
    kind = draw(st.sampled_from(paddings))
    pads = ((draw(st.integers(0, kh - 1)), draw(st.integers(0, kh - 1))),
            (draw(st.integers(0, kw - 1)), draw(st.integers(0, kw - 1))))
    extra_h, extra_w = (sum(pads[0]), sum(pads[1])) if kind == "EXPLICIT" else (0, 0)
    # VALID / explicit need the padded input to hold one window; SAME needs nothing
    low_h, low_w = (1, 1) if kind == "SAME" else (max(1, kh - extra_h), max(1, kw - extra_w))
    h, w = draw(st.integers(low_h, low_h + 4)), draw(st.integers(low_w, low_w + 4))
    params = dict(ksize=(kh, kw), strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                  padding=pads if kind == "EXPLICIT" else kind,
                  data_format=draw(st.sampled_from(["NHWC", "NCHW"])))
    return params, (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 2)))


def in_layout(shape, data_format):
    n, h, w, c = shape
    return shape if data_format == "NHWC" else (n, c, h, w)


@given(pool_cases())
def test_max_pool_vjp_matches_finite_differences_on_random_geometry(case):
    params, shape = case
    check_vjp_against_fd("max_pool2d", [tie_free(in_layout(shape, params["data_format"]))], **params)


@given(pool_cases(explicit_ok=False))
def test_avg_pool_vjp_matches_finite_differences_on_random_geometry(case):
    params, shape = case
    x = np.random.default_rng(0).standard_normal(in_layout(shape, params["data_format"]))
    check_vjp_against_fd("avg_pool2d", [x], **params)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_avg_pool_forward_and_vjp(data_format, keepdims):
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5))
    axes = (1, 2) if data_format == "NHWC" else (2, 3)
    y = global_avg_pool2d(x, data_format=data_format, keepdims=keepdims)
    assert_allclose(y, x.mean(axis=axes, keepdims=keepdims), rtol=1e-14)
    check_vjp_against_fd("global_avg_pool2d", [x], data_format=data_format, keepdims=keepdims)


@pytest.mark.parametrize("op, params", [
    ("max_pool2d", dict(ksize=2, strides=1, padding=[[1, 0], [1, 1]])),
    ("avg_pool2d", dict(ksize=3, strides=2, padding="SAME")),
    ("global_avg_pool2d", dict(keepdims=True)),
])
@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_float32_stays_float32(op, params, data_format):
    x = tie_free((2, 4, 5, 3)).astype(np.float32)
    y, pullback = npcnn.vjp(op, x, data_format=data_format, **params)
    (dx,) = pullback(np.random.default_rng(0).standard_normal(y.shape).astype(np.float32))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert dx.shape == x.shape


X = np.zeros((1, 4, 4, 2))


@pytest.mark.parametrize("call, error, match", [
    (lambda: max_pool2d(X.astype(np.int32), 2, 2), TypeError, "input"),
    (lambda: avg_pool2d(X.astype(np.float16), 2, 2), TypeError, "input"),
    (lambda: max_pool2d(X[0], 2, 2), ValueError, r"input must be 4-D .*\(4, 4, 2\)"),
    (lambda: max_pool2d(X, 5, 1, "VALID"), ValueError, r"input shape \(1, 4, 4, 2\).*ksize \(5, 5\)"),
    (lambda: avg_pool2d(X, (2, 5), 1, "VALID"), ValueError, r"input shape .*ksize \(2, 5\)"),
    (lambda: max_pool2d(X, 2, 1, [[2, 0], [0, 0]]), ValueError, r"padding .* smaller than the window"),
    (lambda: max_pool2d(X, (3, 2), 1, [[0, 0], [1, 2]]), ValueError, r"padding .*along W"),
    (lambda: avg_pool2d(X, 2, 1, [[1, 1], [1, 1]]), ValueError, r"padding must be 'VALID' or 'SAME'.*avg_pool2d"),
    (lambda: max_pool2d(X, 0, 1), ValueError, "ksize"),
    (lambda: avg_pool2d(X, 2, 0), ValueError, "strides"),
    (lambda: max_pool2d(X, 2, 2, data_format="NCWH"), ValueError, "data_format"),
    (lambda: global_avg_pool2d(X[0]), ValueError, r"input must be 4-D"),
    (lambda: global_avg_pool2d(X, data_format="HWC"), ValueError, "data_format"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()

