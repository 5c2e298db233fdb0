"""Cases for users' own code: registry Cases drawn only from the configurations a convention (or a
layer's declared ``supports``) allows, in float64.

The arrays are stored as the registry op expects them (NCHW or NHWC activations as the case says,
HWIO filters); each convention's adapter converts them to the user's layout. Values come from a
drawn seed, as in crosscheck's own strategies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from ..case import Case
from ..registry import OPS

DTYPE = "float64"
SEEDS = st.integers(0, 2**31 - 1)


@dataclass(frozen=True)
class Supports:
    """What the code under test handles; generation draws only that.

    kernel_sizes: allowed kernel heights and widths; square: kh == kw; strides; pads: symmetric zero
    pads; stride_divides: ``(H + 2 pad - k) % stride == 0`` (the CS231n assignment asserts it);
    batch: False for code that takes one example (no batch axis); in_channels / out_channels: the
    allowed channel counts; gradients: which of ``input``, ``filters``/``kernel``, ``bias`` the code
    computes (a first layer often has no input gradient); bias: whether the op has a bias at all.
    """
    kernel_sizes: tuple = (3, 2, 4, 1)      # the first is hypothesis's simplest draw: not a 1x1 that hides bugs
    square: bool = False
    strides: tuple = (1, 2, 3)
    pads: tuple = (0, 1, 2)
    stride_divides: bool = True
    batch: bool = True
    in_channels: tuple = (1, 2, 3)
    out_channels: tuple = (1, 2, 3, 4)
    gradients: tuple = ("input", "filters", "bias")
    bias: bool = True
    pool_sizes: tuple = (2, 3, 1)
    features: tuple = tuple(range(1, 13))
    padding: str = "symmetric"
    extra: dict = field(default_factory=dict)


PADDINGS = ("symmetric", "same", "same-top")


def _batch(draw, supports: Supports, largest: int = 3) -> int:
    """A batch size within ``supports.batch`` (True: 1 to ``largest``; False: 1, no batch axis)."""
    if supports.batch is True:
        return draw(st.integers(1, largest))
    if supports.batch is False:
        return 1
    sizes = (supports.batch,) if isinstance(supports.batch, int) else tuple(supports.batch)
    return draw(st.sampled_from(sizes))


def same_pads(size: int, kernel: int, stride: int, extra_first: bool) -> tuple[int, int]:
    """SAME padding of one axis: (before, after), the output ceil(size / stride)."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    small = total // 2
    return (total - small, small) if extra_first else (small, total - small)


def _normal(rng, shape):
    return rng.standard_normal(tuple(shape))


def to_layout(shape_nhwc, layout: str) -> tuple:
    n, h, w, c = shape_nhwc
    return (n, c, h, w) if layout == "NCHW" else (n, h, w, c)


@st.composite
def conv_cases(draw, supports: Supports = Supports(), layout: str = "NCHW") -> Case:
    """A conv2d with symmetric zero padding; the output size is drawn first when the stride must
    divide the padded input."""
    n = _batch(draw, supports)
    c, f = draw(st.sampled_from(supports.in_channels)), draw(st.sampled_from(supports.out_channels))
    if f == n and f + 1 in supports.out_channels:   # a batch unequal to the filter count: axis mix-ups show
        f += 1
    kh = draw(st.sampled_from(supports.kernel_sizes))
    kw = kh if supports.square else draw(st.sampled_from(supports.kernel_sizes))
    stride, pad = draw(st.sampled_from(supports.strides)), draw(st.sampled_from(supports.pads))
    oh, ow = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pads = None
    if supports.padding != "symmetric":   # SAME: the input drawn, the pads follow from it
        h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
        pads = (same_pads(h, kh, stride, supports.padding == "same-top"),
                same_pads(w, kw, stride, supports.padding == "same-top"))
        oh, ow = -(-h // stride), -(-w // stride)
    elif supports.stride_divides:
        h, w = (oh - 1) * stride + kh - 2 * pad, (ow - 1) * stride + kw - 2 * pad
        if h < 1 or w < 1:
            pad = min(supports.pads)
            h, w = (oh - 1) * stride + kh - 2 * pad, (ow - 1) * stride + kw - 2 * pad
        if h < 1 or w < 1:   # every pad allowed is too large for this output: a larger output
            oh, ow = max(oh, -(-(1 - kh + 2 * pad) // stride) + 1), max(ow, -(-(1 - kw + 2 * pad) // stride) + 1)
            h, w = (oh - 1) * stride + kh - 2 * pad, (ow - 1) * stride + kw - 2 * pad
    else:
        h = draw(st.integers(max(1, kh - 2 * pad), 9))
        w = draw(st.integers(max(1, kw - 2 * pad), 9))
        oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    ph, pw = pads or ((pad, pad), (pad, pad))
    padding = ([[0, 0], list(ph), list(pw), [0, 0]] if layout == "NHWC" else [[0, 0], [0, 0], list(ph), list(pw)])
    params = dict(strides=[stride, stride], padding=padding, dilations=[1, 1], data_format=layout)
    arrays = {"input": _normal(rng, to_layout((n, h, w, c), layout)), "filters": _normal(rng, (kh, kw, c, f))}
    if supports.bias:
        arrays["bias"] = _normal(rng, (f,))
    return Case("conv2d", params, arrays, _normal(rng, to_layout((n, oh, ow, f), layout)), DTYPE, seed)


def tie_values(rng, size: int) -> np.ndarray:
    """Few distinct values: most windows hold a tied maximum."""
    return rng.integers(-2, 3, size).astype(np.float64)


def distinct_values(rng, size: int) -> np.ndarray:
    return np.linspace(-3.0, 3.0, size)[rng.permutation(size)]


@st.composite
def pool_cases(draw, supports: Supports = Supports(), layout: str = "NCHW", ties: bool | None = None,
               op: str = "max_pool2d") -> Case:
    """A VALID pool whose stride divides the input; ``ties``: True / False / None (drawn)."""
    n = _batch(draw, supports)
    c = draw(st.sampled_from(supports.in_channels))
    tied = draw(st.booleans()) if ties is None else ties
    sizes = [k for k in supports.pool_sizes if k > 1 or not tied] or list(supports.pool_sizes)  # a 1x1 window has no tie
    ph = draw(st.sampled_from(sizes))
    pw = ph if supports.square else draw(st.sampled_from(sizes))
    stride = draw(st.sampled_from(supports.strides))
    oh, ow = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = (oh - 1) * stride + ph, (ow - 1) * stride + pw
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    size = n * c * h * w
    values = (tie_values if tied else distinct_values)(rng, size)
    x = values.reshape((n, h, w, c))
    if tied and ph * pw > 1:   # at least the first window of every channel holds a tied maximum
        second = (0, 1) if pw > 1 else (1, 0)
        x[:, 0, 0] = x[:, second[0], second[1]] = x[:, :ph, :pw].max(axis=(1, 2))
    x = np.ascontiguousarray(x if layout == "NHWC" else x.transpose(0, 3, 1, 2))
    params = dict(ksize=[ph, pw], strides=[stride, stride], padding="VALID", data_format=layout)
    return Case(op, params, {"input": x}, _normal(rng, to_layout((n, oh, ow, c), layout)), DTYPE, seed)


MAX_POOL_SPLITS = ({"op": "max_pool2d", "tied": False}, {"op": "max_pool2d", "tied": True})
POOL_SPLITS = MAX_POOL_SPLITS + ({"op": "avg_pool2d", "tied": False},)


def pool_split_cases(supports: Supports, layout: str, options: dict, op: str = "max_pool2d"):
    """pool_cases for a split of ``MAX_POOL_SPLITS`` / ``POOL_SPLITS`` (``op`` when none is given)."""
    return pool_cases(supports, layout, ties=options.get("tied"), op=options.get("op", op))


@st.composite
def affine_cases(draw, supports: Supports = Supports()) -> Case:
    n = _batch(draw, supports, largest=4)
    d, m = draw(st.sampled_from(supports.features)), draw(st.integers(1, 5))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"x": _normal(rng, (n, d)), "kernel": _normal(rng, (d, m))}
    if supports.bias:
        arrays["bias"] = _normal(rng, (m,))
    return Case("dense", {}, arrays, _normal(rng, (n, m)), DTYPE, seed)


@st.composite
def elementwise_cases(draw, shapes=((4, 5), (2, 3, 4, 4), (3, 7)), op: str = "relu") -> Case:
    """An element-wise op of the registry (relu, sigmoid, tanh, ...) on one of ``shapes``, its
    parameters left to their defaults."""
    shape = draw(st.sampled_from(list(shapes)))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    return Case(op, {}, {OPS[op].arrays[0]: _normal(rng, shape)}, _normal(rng, shape), DTYPE, seed)


@st.composite
def norm_cases(draw, kind: str, training=None) -> Case:
    """batchnorm / spatial_batchnorm / layernorm / groupnorm cases (NCHW for the spatial ones)."""
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    eps = draw(st.sampled_from([1e-5, 1e-3]))
    n = draw(st.integers(2, 5))
    if kind in ("batchnorm", "layernorm"):
        shape = (n, draw(st.integers(2, 6)))
        c, axis = shape[1], -1
    else:
        c = draw(st.integers(1, 3)) * (draw(st.integers(1, 3)) if kind == "groupnorm" else 1)
        h, w = draw(st.integers(2, 4)), draw(st.integers(2, 5))
        if kind == "spatial_batchnorm" and h == w:   # non-square: statistics over the wrong axes show
            w += 1
        shape, axis = (n, c, h, w), 1
    x = _normal(rng, shape) * 1.5 + 0.5
    arrays = {"x": x, "gamma": _normal(rng, (c,)), "beta": _normal(rng, (c,))}
    dy = _normal(rng, shape)
    if kind == "layernorm":
        return Case("layer_normalization", dict(axis=-1, epsilon=eps), arrays, dy, DTYPE, seed)
    if kind == "groupnorm":
        groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
        return Case("group_normalization", dict(groups=groups, epsilon=eps, axis=1), arrays, dy, DTYPE, seed)
    training = draw(st.booleans()) if training is None else training
    arrays.update(moving_mean=_normal(rng, (c,)), moving_variance=rng.uniform(0.5, 2.0, (c,)))
    return Case("batch_normalization", dict(training=training, epsilon=eps, axis=axis), arrays, dy, DTYPE, seed)


@st.composite
def loss_cases(draw, op: str, scale=None) -> Case:
    """Scores (N, C) and labels; some softmax cases have scores of magnitude 1000 (exp overflows
    there unless the max is subtracted)."""
    n, c = draw(st.integers(1, 6)), draw(st.integers(2, 6))
    if scale is None:
        scale = draw(st.sampled_from([1.0, 1000.0])) if op == "softmax_loss" else 1.0
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    x = _normal(rng, (n, c)) * scale
    return Case(op, {}, {"x": x, "y": rng.integers(0, c, n)}, None, DTYPE, seed)


@st.composite
def dropout_cases(draw, backward: bool, mode: str | None = None) -> Case:
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    p = draw(st.sampled_from([0.3, 0.5, 0.8]))
    mode = "train" if backward else mode or draw(st.sampled_from(["train", "train", "test"]))
    shape = (40, 50)
    x = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)   # no zeros: out != 0 marks a kept unit
    return Case("dropout", {"p": p, "mode": mode, "seed": int(seed % 1000)}, {"x": x},
                _normal(rng, shape) if backward else None, DTYPE, seed)
