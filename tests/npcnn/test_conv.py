"""conv2d, depthwise_conv2d, conv2d_transpose, conv2d_backprop_input/filter: forward values against an
independent loop reference and TensorFlow, gradients against float64 finite differences and TensorFlow,
and the relations between the ops (layouts, dtypes, batch chunking)."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import npcnn
import npcnn.functional as F
import npcnn.functional.im2col as im2col
from crosscheck.finite_diff import numerical_vjp


# ---------------------------------------------------------------- independent references (formulas)

def same_pads(n, k, s, d):
    """TensorFlow's SAME rule (ceil(in / s) outputs, the odd pad cell after), written independently of npcnn.padding."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def explicit_pads(padding, x_hw, k_hw, s_hw, d_hw):
    """((t, b), (l, r)) for "SAME", "VALID" or explicit pairs."""
    if padding == "VALID":
        return (0, 0), (0, 0)
    if padding == "SAME":
        return tuple(same_pads(n, k, s, d) for n, k, s, d in zip(x_hw, k_hw, s_hw, d_hw))
    return tuple(tuple(p) for p in padding)


def loop_conv2d(x, w, strides, padding, dilations):
    """Direct-sum grouped conv, NHWC x HWIO, one loop over output positions (a test oracle only)."""
    n, h, wd, c = x.shape
    kh, kw, cg, cout = w.shape
    g = c // cg
    og = cout // g
    (t, b), (l, r) = explicit_pads(padding, (h, wd), (kh, kw), strides, dilations)
    xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    (sh, sw), (dh, dw) = strides, dilations
    oh = (h + t + b - (kh - 1) * dh - 1) // sh + 1
    ow = (wd + l + r - (kw - 1) * dw - 1) // sw + 1
    y = np.zeros((n, oh, ow, cout), x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * sh:i * sh + (kh - 1) * dh + 1:dh, j * sw:j * sw + (kw - 1) * dw + 1:dw, :]
            for gi in range(g):
                y[:, i, j, gi * og:(gi + 1) * og] = np.einsum(
                    "nhwc,hwco->no", patch[..., gi * cg:(gi + 1) * cg], w[..., gi * og:(gi + 1) * og])
    return y


def nchw(a):
    # a C-contiguous copy: numerical_vjp perturbs arrays through reshape(-1), which copies a strided view
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def nhwc(a):
    return a.transpose(0, 2, 3, 1)


def assert_grads_match_fd(f, arrays, grads, dy):
    """Analytic vjp against central differences; atol covers float64 round-off of <f, dy> / eps."""
    numeric = numerical_vjp(f, arrays, dy)
    assert len(grads) == len(numeric)
    for k, (a, n) in enumerate(zip(grads, numeric)):
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-6, err_msg=f"gradient of array {k}")


# ---------------------------------------------------------------- strategies

paddings = st.one_of(st.just("SAME"), st.just("VALID"),
                     st.tuples(st.tuples(st.integers(0, 4), st.integers(0, 4)),
                               st.tuples(st.integers(0, 4), st.integers(0, 4))))


def fitting_size(draw, k_eff, before, after):
    """A spatial size that the (dilated) window fits, by construction."""
    return max(1, k_eff - before - after) + draw(st.integers(0, 4))


@st.composite
def conv_cases(draw, max_groups=2, dtype=np.float64):
    """(x NHWC, w HWIO, bias or None, params) for a valid grouped/strided/dilated conv2d."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    g = draw(st.integers(1, max_groups))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    d = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    padding = draw(paddings)
    pads = ((0, 0), (0, 0)) if isinstance(padding, str) else padding
    h = fitting_size(draw, (kh - 1) * d[0] + 1, *pads[0])
    wd = fitting_size(draw, (kw - 1) * d[1] + 1, *pads[1])
    n = draw(st.integers(1, 2))
    x = rng.standard_normal((n, h, wd, g * cg)).astype(dtype)
    w = rng.standard_normal((kh, kw, cg, g * og)).astype(dtype)
    bias = rng.standard_normal(g * og).astype(dtype) if draw(st.booleans()) else None
    params = dict(strides=s, padding=[list(p) for p in padding] if not isinstance(padding, str) else padding,
                  dilations=d)
    return x, w, bias, params, rng


def conv_vjp(x, w, bias, params, data_format="NHWC"):
    arrays = (x, w) if bias is None else (x, w, bias)
    return npcnn.vjp("conv2d", *arrays, data_format=data_format, **params)


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


@st.composite
def depthwise_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c, mult = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    d = draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    padding = draw(paddings)
    pads = ((0, 0), (0, 0)) if isinstance(padding, str) else padding
    h = fitting_size(draw, (kh - 1) * d[0] + 1, *pads[0])
    wd = fitting_size(draw, (kw - 1) * d[1] + 1, *pads[1])
    x = rng.standard_normal((draw(st.integers(1, 2)), h, wd, c))
    f = rng.standard_normal((kh, kw, c, mult))
    return x, f, dict(strides=s, padding=padding, dilations=d), rng


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
    spec = F.conv.resolve_conv(x.shape, w.shape, 1, "SAME", 1, "NHWC")
    kept = []
    F.conv.conv_nhwc(x, w, spec, keep=kept)
    assert [c.shape for c in kept] == [(25, 18)] * 3
    monkeypatch.setattr(im2col, "IM2COL_BUDGET_BYTES", 3 * 25 * 18 * 8 - 1)   # the three do not fit
    kept = []
    F.conv.conv_nhwc(x, w, spec, keep=kept)
    assert kept == []


# ---------------------------------------------------------------- TensorFlow spot checks

@pytest.fixture(scope="module")
def tf():
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TF already initialised by another test module
    return tf


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


@pytest.mark.parametrize("kernel", [(1, 1), (3, 3)])
def test_depthwise_with_multiplier_0_has_an_empty_output_and_a_zero_input_gradient(kernel):
    """No output channel reads the input: its gradient is exactly 0 (not what the memory held)."""
    x = np.random.default_rng(3).standard_normal((2, 5, 5, 4))
    y, pullback = npcnn.vjp("depthwise_conv2d", x, np.ones((*kernel, 4, 0)), padding="SAME")
    assert y.shape == (2, 5, 5, 0)
    dx, df = pullback(np.ones(y.shape))
    assert dx.shape == x.shape and not dx.any() and df.shape == (*kernel, 4, 0)


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


def test_conv2d_transpose_padding_defaults_to_same_as_tensorflow():
    # tf.nn.conv2d_transpose(input, filters, output_shape, strides, padding="SAME"): 3 -> 5 or 6 with stride 2
    rng = np.random.default_rng(0)
    dy, w = rng.standard_normal((1, 3, 3, 3)), rng.standard_normal((3, 3, 2, 3))
    np.testing.assert_array_equal(F.conv2d_transpose(dy, w, (1, 6, 5, 2), strides=2),
                                  F.conv2d_transpose(dy, w, (1, 6, 5, 2), strides=2, padding="SAME"))
    with pytest.raises(ValueError, match="padding 'SAME'"):
        F.conv2d_transpose(dy, w, (1, 7, 7, 2), strides=2)     # VALID's size, not SAME's
