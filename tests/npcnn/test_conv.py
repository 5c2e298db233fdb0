"""conv2d, depthwise_conv2d, conv2d_transpose, conv2d_backprop_input/filter in NumPy alone: forward values
against an independent loop reference, gradients against float64 finite differences, and the relations
between the ops (layouts, dtypes, batch chunking). TensorFlow's side: test_conv_vs_tensorflow.py."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import npcnn
import npcnn.functional as F
import npcnn.functional.im2col as im2col
# (pytest puts this directory on sys.path)
from _conv_cases import assert_grads_match_fd, conv_cases, conv_vjp, depthwise_cases, loop_conv2d, nchw, nhwc


# ---------------------------------------------------------------- public facts

def test_cs231n_conv_forward_naive_case():
    """The CS231n assignment's conv_forward_naive check (NCHW, stride 2, pad 1), against a loop reference."""
    x = np.linspace(-0.1, 0.5, num=96).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=144).reshape(3, 3, 4, 4)  # (F, C, HH, WW)
    b = np.linspace(-0.1, 0.2, num=3)
    y = F.conv2d(x, w.transpose(2, 3, 1, 0), b, strides=2, padding=[[1, 1], [1, 1]], data_format="NCHW")
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.empty((2, 3, 2, 2))
    for f in range(3):
        for i in range(2):
            for j in range(2):
                expected[:, f, i, j] = (xp[:, :, 2 * i:2 * i + 4, 2 * j:2 * j + 4] * w[f]).sum(axis=(1, 2, 3)) + b[f]
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-14)


def test_2017_seed_strided_same_uses_top_left():
    """3x3 input, 1x1 kernel, stride 3, SAME: no padding is needed, so the window sits on x[0, 0]."""
    x = np.array([[1., 2, 3], [4, 5, 6], [7, 8, 0]]).reshape(1, 3, 3, 1)
    w = np.array([[10.]]).reshape(1, 1, 1, 1)
    y, pullback = npcnn.vjp("conv2d", x, w, strides=3, padding="SAME")
    np.testing.assert_array_equal(y, [[[[10.]]]])
    dx, dw = pullback(np.array([[[[100.]]]]))
    np.testing.assert_array_equal(dw, [[[[100.]]]])
    expected_dx = np.zeros((1, 3, 3, 1))
    expected_dx[0, 0, 0, 0] = 1000.
    np.testing.assert_array_equal(dx, expected_dx)


# ---------------------------------------------------------------- forward against the loop reference

@given(conv_cases(max_groups=3))
def test_conv2d_forward_matches_loop_reference(case):
    x, w, bias, params, _ = case
    expected = loop_conv2d(x, w, params["strides"], params["padding"], params["dilations"])
    if bias is not None:
        expected = expected + bias
    np.testing.assert_allclose(F.conv2d(x, w, bias, **params), expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- finite differences (float64)

@given(conv_cases(), st.booleans())
def test_conv2d_vjp_finite_differences(case, use_nchw):
    x, w, bias, params, rng = case
    fmt = "NCHW" if use_nchw else "NHWC"
    xin = nchw(x) if use_nchw else x
    y, pullback = conv_vjp(xin, w, bias, params, fmt)
    dy = rng.standard_normal(y.shape)
    arrays = [xin, w] if bias is None else [xin, w, bias]

    def f(*a):
        return F.conv2d(a[0], a[1], a[2] if len(a) == 3 else None, data_format=fmt, **params)
    assert_grads_match_fd(f, arrays, pullback(dy), dy)


@pytest.mark.parametrize("strides, dilations, padding", [
    ((2, 3), (2, 3), "SAME"),
    ((3, 2), (3, 1), "VALID"),
    ((2, 2), (2, 2), [[5, 0], [0, 6]]),  # pads larger than the kernel
    ((1, 1), (3, 3), [[0, 3], [4, 1]]),
])
def test_conv2d_vjp_dilated_strided(strides, dilations, padding):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 7, 8, 2)), rng.standard_normal((2, 3, 2, 3)), rng.standard_normal(3)
    params = dict(strides=strides, dilations=dilations, padding=padding)
    y, pullback = npcnn.vjp("conv2d", x, w, b, **params)
    dy = rng.standard_normal(y.shape)
    assert_grads_match_fd(lambda *a: F.conv2d(*a, **params), [x, w, b], pullback(dy), dy)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_conv2d_vjp_grouped_dilated_strided(data_format):
    """A fixed grouped case (groups = 3), so groups x dilation x stride x layout is always exercised."""
    rng = np.random.default_rng(17)
    x, w, b = rng.standard_normal((2, 7, 6, 6)), rng.standard_normal((2, 2, 2, 6)), rng.standard_normal(6)
    if data_format == "NCHW":
        x = nchw(x)
    params = dict(strides=(2, 3), dilations=(2, 1), padding=[[1, 4], [2, 0]], data_format=data_format)
    y, pullback = npcnn.vjp("conv2d", x, w, b, **params)
    dy = rng.standard_normal(y.shape)
    assert_grads_match_fd(lambda *a: F.conv2d(*a, **params), [x, w, b], pullback(dy), dy)


@given(depthwise_cases(), st.booleans())
def test_depthwise_conv2d_forward_and_vjp(case, use_nchw):
    x, filt, params, rng = case
    c, mult = filt.shape[2:]
    # channel c * mult + m is input channel c convolved with filt[:, :, c, m] (tf.nn.depthwise_conv2d's documented layout)
    expected = np.concatenate([loop_conv2d(x[..., ci:ci + 1], filt[:, :, ci:ci + 1, :], params["strides"],
                                           params["padding"], params["dilations"]) for ci in range(c)], axis=-1)
    fmt = "NCHW" if use_nchw else "NHWC"
    xin = nchw(x) if use_nchw else x
    y, pullback = npcnn.vjp("depthwise_conv2d", xin, filt, data_format=fmt, **params)
    np.testing.assert_allclose(nhwc(y) if use_nchw else y, expected, rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    assert_grads_match_fd(lambda a, b: F.depthwise_conv2d(a, b, data_format=fmt, **params),
                          [xin, filt], pullback(dy), dy)


def transpose_range(m, k, s, d, padding_axis):
    """Sizes n with conv output m (tf.nn.conv2d_transpose's rule; explicit pads from out = (n + b + a - k_eff) // s + 1)."""
    k_eff = (k - 1) * d + 1
    if padding_axis == "SAME":
        return range((m - 1) * s + 1, m * s + 1)
    before, after = (0, 0) if padding_axis == "VALID" else padding_axis
    low = (m - 1) * s + k_eff - before - after
    return range(max(low, 1), low + s)


@pytest.mark.parametrize("padding", ["SAME", "VALID", [[2, 0], [1, 3]]])
@pytest.mark.parametrize("strides, dilations", [((2, 3), (1, 1)), ((3, 2), (2, 1))])
def test_conv2d_transpose_vjp_every_reachable_output_shape(padding, strides, dilations):
    rng = np.random.default_rng(3)
    kh, kw, cout, cin = 2, 3, 2, 3
    m_h, m_w = 2, 3
    w = rng.standard_normal((kh, kw, cout, cin))
    x = rng.standard_normal((1, m_h, m_w, cin))
    per_axis = (padding, padding) if isinstance(padding, str) else padding
    h_range = transpose_range(m_h, kh, strides[0], dilations[0], per_axis[0])
    w_range = transpose_range(m_w, kw, strides[1], dilations[1], per_axis[1])
    assert len(h_range) == strides[0] and len(w_range) == strides[1]
    for oh in h_range:
        for ow in w_range:
            params = dict(output_shape=(1, oh, ow, cout), strides=strides, padding=padding, dilations=dilations)
            y, pullback = npcnn.vjp("conv2d_transpose", x, w, **params)
            assert y.shape == (1, oh, ow, cout)
            # conv2d_transpose(dy, w, x.shape) is conv2d's input gradient
            _, conv_pullback = npcnn.vjp("conv2d", rng.standard_normal((1, oh, ow, cout)), w, strides=strides, padding=padding, dilations=dilations)
            np.testing.assert_allclose(y, conv_pullback(x)[0], rtol=1e-12, atol=1e-12)
            dy = rng.standard_normal(y.shape)
            assert_grads_match_fd(lambda a, b: F.conv2d_transpose(a, b, **params), [x, w], pullback(dy), dy)


@given(conv_cases())
def test_conv2d_transpose_vjp_finite_differences(case):
    x, w, _, params, rng = case
    y = F.conv2d(x, w, **params)
    # the transpose's input is a conv output; its filters are conv2d's HWIO, read as [h, w, out, in]
    tparams = dict(output_shape=x.shape, **params)
    out, pullback = npcnn.vjp("conv2d_transpose", y, w, **tparams)
    g = rng.standard_normal(out.shape)
    assert_grads_match_fd(lambda a, b: F.conv2d_transpose(a, b, **tparams), [y, w], pullback(g), g)


@given(conv_cases(), st.booleans())
def test_conv2d_backprop_input_vjp_finite_differences(case, use_nchw):
    x, w, _, params, rng = case
    fmt = "NCHW" if use_nchw else "NHWC"
    y = F.conv2d(x, w, **params)
    dy = rng.standard_normal(nchw(y).shape if use_nchw else y.shape)
    sizes = nchw(x).shape if use_nchw else x.shape
    kw_ = dict(input_sizes=sizes, data_format=fmt, **params)
    out, pullback = npcnn.vjp("conv2d_backprop_input", w, dy, **kw_)
    assert out.shape == sizes
    g = rng.standard_normal(out.shape)
    assert_grads_match_fd(lambda a, b: F.conv2d_backprop_input(filters=a, out_backprop=b, **kw_),
                          [w, dy], pullback(g), g)


@given(conv_cases(), st.booleans())
def test_conv2d_backprop_filter_vjp_finite_differences(case, use_nchw):
    x, w, _, params, rng = case
    fmt = "NCHW" if use_nchw else "NHWC"
    y = F.conv2d(x, w, **params)
    xin = nchw(x) if use_nchw else x
    dy = rng.standard_normal(nchw(y).shape if use_nchw else y.shape)
    kw_ = dict(filter_sizes=w.shape, data_format=fmt, **params)
    out, pullback = npcnn.vjp("conv2d_backprop_filter", xin, dy, **kw_)
    assert out.shape == w.shape
    g = rng.standard_normal(out.shape)
    assert_grads_match_fd(lambda a, b: F.conv2d_backprop_filter(input=a, out_backprop=b, **kw_),
                          [xin, dy], pullback(g), g)


# ---------------------------------------------------------------- relations between the ops

@given(conv_cases(max_groups=3))
def test_backprop_ops_and_transpose_equal_the_vjp(case):
    x, w, bias, params, rng = case
    y, pullback = conv_vjp(x, w, bias, params)
    dy = rng.standard_normal(y.shape)
    grads = pullback(dy)
    dx, dw = grads[:2]
    np.testing.assert_array_equal(F.conv2d_backprop_input(x.shape, w, dy, **params), dx)
    np.testing.assert_array_equal(F.conv2d_backprop_filter(x, w.shape, dy, **params), dw)
    np.testing.assert_array_equal(F.conv2d_transpose(dy, w, x.shape, **params), dx)
    if bias is not None:
        np.testing.assert_allclose(grads[2], dy.sum(axis=(0, 1, 2)), rtol=1e-12)


@given(conv_cases(max_groups=3))
def test_nchw_equals_nhwc_transposed(case):
    x, w, bias, params, rng = case
    y, pullback = conv_vjp(x, w, bias, params)
    y_c, pullback_c = conv_vjp(nchw(x), w, bias, params, "NCHW")
    np.testing.assert_allclose(y_c, nchw(y), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    grads, grads_c = pullback(dy), pullback_c(nchw(dy))
    np.testing.assert_allclose(grads_c[0], nchw(grads[0]), rtol=1e-12, atol=1e-12)
    for a, b in zip(grads[1:], grads_c[1:]):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.conv2d_transpose(nchw(dy), w, nchw(x).shape, data_format="NCHW", **params),
                               nchw(grads[0]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.conv2d_backprop_filter(nchw(x), w.shape, nchw(dy), data_format="NCHW", **params),
                               grads[1], rtol=1e-12, atol=1e-12)


@given(conv_cases(max_groups=3, dtype=np.float32))
def test_float32_in_float32_out(case):
    x, w, bias, params, rng = case
    y, pullback = conv_vjp(x, w, bias, params)
    assert y.dtype == np.float32
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for grad in pullback(dy):
        assert grad.dtype == np.float32
    for out in (F.conv2d_backprop_input(x.shape, w, dy, **params), F.conv2d_backprop_filter(x, w.shape, dy, **params),
                F.conv2d_transpose(dy, w, x.shape, **params)):
        assert out.dtype == np.float32
    y64 = F.conv2d(x.astype(np.float64), w.astype(np.float64),
                   None if bias is None else bias.astype(np.float64), **params)
    np.testing.assert_allclose(y, y64, rtol=1e-4, atol=1e-4 * np.sqrt(w.size))
    # every vjp rule, in float32
    depthwise_filter = rng.standard_normal(w.shape[:2] + (x.shape[3], 2)).astype(np.float32)
    for op, arrays, kw in [
            ("depthwise_conv2d", (x, depthwise_filter), {}),
            ("conv2d_transpose", (dy, w), dict(output_shape=x.shape)),
            ("conv2d_backprop_input", (w, dy), dict(input_sizes=x.shape)),
            ("conv2d_backprop_filter", (x, dy), dict(filter_sizes=w.shape))]:
        out, pb = npcnn.vjp(op, *arrays, **kw, **params)
        assert out.dtype == np.float32, op
        for grad in pb(rng.standard_normal(out.shape).astype(np.float32)):
            assert grad.dtype == np.float32, op


@pytest.mark.parametrize("limit", ["IM2COL_BUDGET_BYTES", "GEMM_BLOCK_BYTES"])
@given(case=conv_cases(max_groups=2))
def test_batch_chunking_gives_the_same_result(limit, case):
    """One sample per chunk: over the memory budget (the vjp recomputes each chunk's im2col matrix for
    the filter gradient) or over the cache block only (the vjp keeps one matrix per chunk)."""
    x, w, bias, params, rng = case
    x = np.concatenate([x, rng.standard_normal(x.shape)])  # at least two samples
    y, pullback = conv_vjp(x, w, bias, params)
    dy = rng.standard_normal(y.shape)
    grads = pullback(dy)
    saved = getattr(im2col, limit)
    setattr(im2col, limit, 1)  # one sample per chunk
    try:
        chunks = im2col.batch_chunks(x.shape[0], 8)
        assert len(chunks) == x.shape[0]
        y_c, pullback_c = conv_vjp(x, w, bias, params)
        grads_c = pullback_c(dy)
        bpi = F.conv2d_backprop_input(x.shape, w, dy, **params)
        bpf = F.conv2d_backprop_filter(x, w.shape, dy, **params)
    finally:
        setattr(im2col, limit, saved)
    np.testing.assert_allclose(y_c, y, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, grads_c):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bpi, grads[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bpf, grads[1], rtol=1e-12, atol=1e-12)


def test_the_vjp_keeps_one_im2col_matrix_per_chunk_within_the_budget(monkeypatch):
    x, w = np.random.default_rng(0).standard_normal((3, 5, 5, 2)), np.ones((3, 3, 2, 4))
    monkeypatch.setattr(im2col, "GEMM_BLOCK_BYTES", 1)
    spec = F.conv.resolve_conv(x.shape, w.shape, 1, "SAME", 1, "NHWC", itemsize=x.itemsize)
    kept = []
    F.conv.conv_nhwc(x, w, spec, keep=kept)
    assert [c.shape for c in kept] == [(25, 18)] * 3
    for limit in ("IM2COL_BUDGET_BYTES", "IM2COL_KEEP_BYTES"):
        with monkeypatch.context() as patched:
            patched.setattr(im2col, limit, 3 * 25 * 18 * 8 - 1)   # the three do not fit
            kept = []
            F.conv.conv_nhwc(x, w, spec, keep=kept)
            assert kept == [], limit


@pytest.mark.parametrize("kernel", [(1, 1), (3, 3)])
def test_depthwise_with_multiplier_0_has_an_empty_output_and_a_zero_input_gradient(kernel):
    """No output channel reads the input: its gradient is exactly 0 (not what the memory held)."""
    x = np.random.default_rng(3).standard_normal((2, 5, 5, 4))
    y, pullback = npcnn.vjp("depthwise_conv2d", x, np.ones((*kernel, 4, 0)), padding="SAME")
    assert y.shape == (2, 5, 5, 0)
    dx, df = pullback(np.ones(y.shape))
    assert dx.shape == x.shape and not dx.any() and df.shape == (*kernel, 4, 0)


def test_conv2d_transpose_padding_defaults_to_same_as_tensorflow():
    # tf.nn.conv2d_transpose(input, filters, output_shape, strides, padding="SAME"): 3 -> 5 or 6 with stride 2
    rng = np.random.default_rng(0)
    dy, w = rng.standard_normal((1, 3, 3, 3)), rng.standard_normal((3, 3, 2, 3))
    np.testing.assert_array_equal(F.conv2d_transpose(dy, w, (1, 6, 5, 2), strides=2),
                                  F.conv2d_transpose(dy, w, (1, 6, 5, 2), strides=2, padding="SAME"))
    with pytest.raises(ValueError, match="padding 'SAME'"):
        F.conv2d_transpose(dy, w, (1, 7, 7, 2), strides=2)     # VALID's size, not SAME's
