"""Shared by the conv tests: independent references (loop convolution, TensorFlow's padding rules
written again), hypothesis strategies of valid convolutions, and layout and gradient helpers."""
import math

import numpy as np
from hypothesis import strategies as st

import npcnn
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
