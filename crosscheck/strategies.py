"""Hypothesis strategies that build valid :class:`~crosscheck.case.Case` s by construction (no filtering).

Every strategy takes the dtype ("float32" or "float64") and draws the *configuration* (shapes,
strides, paddings, dilations, groups, layout) with hypothesis, so failures shrink to small
configurations; the array *values* come from ``np.random.default_rng(seed)`` with a drawn seed
(random-normal inputs, random upstream gradients), which keeps generation fast.

Sizes follow issue 3: batch 1-4, H and W 1-24 (not necessarily square), channels 1-8, kernels 1-5,
strides 1-4 per axis, dilations 1-3, padding VALID / SAME / explicit asymmetric pairs (pads may
exceed the kernel where TensorFlow allows it). Output sizes come from :mod:`npcnn.padding`, the one
place that states TensorFlow's rules.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from npcnn import padding as P

from .case import Case

MAX_HW = 24
MAX_BATCH = 4
MAX_CHANNELS = 8
MAX_EXPLICIT_PAD = 6
SEEDS = st.integers(0, 2**32 - 1)
FORMATS = st.sampled_from(["NHWC", "NCHW"])


# ----------------------------------------------------------------------------------------- helpers

def normal(rng: np.random.Generator, shape, dtype: str) -> np.ndarray:
    return rng.standard_normal(tuple(shape)).astype(dtype)


def distinct(rng: np.random.Generator, shape, dtype: str) -> np.ndarray:
    """Tie-free values: a random permutation of evenly spaced numbers in [-3, 3]."""
    n = int(np.prod(shape))
    return np.linspace(-3.0, 3.0, max(n, 1))[rng.permutation(n)].reshape(shape).astype(dtype)


def nhwc_to(shape, data_format: str) -> list[int]:
    n, h, w, c = shape
    return [int(v) for v in ((n, h, w, c) if data_format == "NHWC" else (n, c, h, w))]


def tf_padding(pads, data_format: str):
    """Explicit ((top, bottom), (left, right)) in TensorFlow's 4-pair form for ``data_format``."""
    (t, b), (l, r) = pads
    spatial = [[int(t), int(b)], [int(l), int(r)]]
    return [[0, 0], *spatial, [0, 0]] if data_format == "NHWC" else [[0, 0], [0, 0], *spatial]


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a sliding-window op: input size, kernel, stride, dilation and the padding
    (``"SAME"``, ``"VALID"`` or an explicit ``(before, after)``)."""
    size: int
    k: int
    s: int
    d: int
    pad: object


@st.composite
def axis(draw, mode: str, *, dilate: bool = True, pad_below_window: bool = False,
         max_k: int = 5) -> Axis:
    """An axis valid under ``mode`` by construction: VALID draws the size from ``[k_eff, 24]``,
    explicit draws the pads first and then a size that the padded window fits."""
    k = draw(st.integers(1, max_k))
    s = draw(st.integers(1, 4))
    d = draw(st.integers(1, 3)) if dilate else 1
    k_eff = P.effective_kernel(k, d)
    if mode == "SAME":
        return Axis(draw(st.integers(1, MAX_HW)), k, s, d, "SAME")
    if mode == "VALID":
        return Axis(draw(st.integers(k_eff, MAX_HW)), k, s, d, "VALID")
    top_pad = k - 1 if pad_below_window else MAX_EXPLICIT_PAD
    before, after = draw(st.integers(0, top_pad)), draw(st.integers(0, top_pad))
    size = draw(st.integers(max(1, k_eff - before - after), MAX_HW))
    return Axis(size, k, s, d, (before, after))


def _padding_param(h: Axis, w: Axis, data_format: str):
    if isinstance(h.pad, str):
        return h.pad
    return tf_padding((h.pad, w.pad), data_format)


def _geometry(h: Axis, w: Axis) -> P.WindowGeometry:
    pad = h.pad if isinstance(h.pad, str) else (h.pad, w.pad)
    return P.window_geometry((h.size, w.size), (h.k, w.k), (h.s, w.s), (h.d, w.d), pad)


@dataclass(frozen=True)
class ConvConfig:
    """A conv2d drawn by :func:`conv_configs`; shapes are NHWC / HWIO."""
    x_shape: tuple
    w_shape: tuple
    y_shape: tuple
    params: dict      # strides, padding, dilations, data_format (JSON-able)
    data_format: str
    groups: int


@st.composite
def conv_configs(draw, *, grouped: bool = True, dilate: bool = True) -> ConvConfig:
    groups = draw(st.sampled_from([1, 1, 2, 4])) if grouped else 1
    cin_g = draw(st.integers(1, MAX_CHANNELS // groups))
    cout_g = draw(st.integers(1, MAX_CHANNELS // groups))
    n = draw(st.integers(1, MAX_BATCH))
    mode = draw(st.sampled_from(["VALID", "SAME", "EXPLICIT"]))
    h, w = draw(axis(mode, dilate=dilate)), draw(axis(mode, dilate=dilate))
    fmt = draw(FORMATS)
    geom = _geometry(h, w)
    params = dict(strides=[h.s, w.s], padding=_padding_param(h, w, fmt), dilations=[h.d, w.d],
                  data_format=fmt)
    return ConvConfig(x_shape=(n, h.size, w.size, cin_g * groups), w_shape=(h.k, w.k, cin_g, cout_g * groups),
                      y_shape=(n, *geom.out, cout_g * groups), params=params, data_format=fmt, groups=groups)


# ------------------------------------------------------------------------------------------ convs

@st.composite
def conv2d_cases(draw, dtype: str) -> Case:
    cfg = draw(conv_configs())
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    fmt = cfg.data_format
    arrays = {"input": normal(rng, nhwc_to(cfg.x_shape, fmt), dtype), "filters": normal(rng, cfg.w_shape, dtype)}
    if draw(st.booleans()):
        arrays["bias"] = normal(rng, cfg.w_shape[3:], dtype)
    dy = normal(rng, nhwc_to(cfg.y_shape, fmt), dtype)
    return Case("conv2d", dict(cfg.params), arrays, dy, dtype, seed)


@st.composite
def conv2d_backprop_input_cases(draw, dtype: str) -> Case:
    cfg = draw(conv_configs())
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    fmt = cfg.data_format
    arrays = {"filters": normal(rng, cfg.w_shape, dtype),
              "out_backprop": normal(rng, nhwc_to(cfg.y_shape, fmt), dtype)}
    params = dict(input_sizes=nhwc_to(cfg.x_shape, fmt), **cfg.params)
    return Case("conv2d_backprop_input", params, arrays, normal(rng, nhwc_to(cfg.x_shape, fmt), dtype), dtype, seed)


@st.composite
def conv2d_backprop_filter_cases(draw, dtype: str) -> Case:
    cfg = draw(conv_configs())
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    fmt = cfg.data_format
    arrays = {"input": normal(rng, nhwc_to(cfg.x_shape, fmt), dtype),
              "out_backprop": normal(rng, nhwc_to(cfg.y_shape, fmt), dtype)}
    params = dict(filter_sizes=[int(v) for v in cfg.w_shape], **cfg.params)
    return Case("conv2d_backprop_filter", params, arrays, normal(rng, cfg.w_shape, dtype), dtype, seed)


@st.composite
def conv2d_transpose_cases(draw, dtype: str) -> Case:
    """The transpose of a drawn conv2d: its input is the conv's output, its output_shape the conv's
    input (one of the several sizes conv2d_transpose allows for stride > 1)."""
    cfg = draw(conv_configs())
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    fmt = cfg.data_format
    arrays = {"input": normal(rng, nhwc_to(cfg.y_shape, fmt), dtype), "filters": normal(rng, cfg.w_shape, dtype)}
    params = dict(output_shape=nhwc_to(cfg.x_shape, fmt), **cfg.params)
    return Case("conv2d_transpose", params, arrays, normal(rng, nhwc_to(cfg.x_shape, fmt), dtype), dtype, seed)


@st.composite
def depthwise_conv2d_cases(draw, dtype: str) -> Case:
    c = draw(st.integers(1, MAX_CHANNELS))
    mult = draw(st.integers(1, 3))
    n = draw(st.integers(1, MAX_BATCH))
    mode = draw(st.sampled_from(["VALID", "SAME", "EXPLICIT"]))
    h, w = draw(axis(mode)), draw(axis(mode))
    fmt = draw(FORMATS)
    geom = _geometry(h, w)
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    params = dict(strides=[h.s, w.s], padding=_padding_param(h, w, fmt), dilations=[h.d, w.d], data_format=fmt)
    arrays = {"input": normal(rng, nhwc_to((n, h.size, w.size, c), fmt), dtype),
              "filter": normal(rng, (h.k, w.k, c, mult), dtype)}
    dy = normal(rng, nhwc_to((n, *geom.out, c * mult), fmt), dtype)
    return Case("depthwise_conv2d", params, arrays, dy, dtype, seed)


# ---------------------------------------------------------------------------------------- pooling

@st.composite
def max_pool2d_cases(draw, dtype: str) -> Case:
    """Tie-free inputs; explicit pads are each smaller than the window (TensorFlow's rule)."""
    n, c = draw(st.integers(1, MAX_BATCH)), draw(st.integers(1, MAX_CHANNELS))
    mode = draw(st.sampled_from(["VALID", "SAME", "EXPLICIT"]))
    h, w = draw(axis(mode, dilate=False, pad_below_window=True)), draw(axis(mode, dilate=False, pad_below_window=True))
    fmt = draw(FORMATS)
    geom = _geometry(h, w)
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    params = dict(ksize=[h.k, w.k], strides=[h.s, w.s], padding=_padding_param(h, w, fmt), data_format=fmt)
    arrays = {"input": distinct(rng, nhwc_to((n, h.size, w.size, c), fmt), dtype)}
    return Case("max_pool2d", params, arrays, normal(rng, nhwc_to((n, *geom.out, c), fmt), dtype), dtype, seed)


@st.composite
def avg_pool2d_cases(draw, dtype: str) -> Case:
    n, c = draw(st.integers(1, MAX_BATCH)), draw(st.integers(1, MAX_CHANNELS))
    mode = draw(st.sampled_from(["VALID", "SAME"]))
    h, w = draw(axis(mode, dilate=False)), draw(axis(mode, dilate=False))
    fmt = draw(FORMATS)
    geom = _geometry(h, w)
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    params = dict(ksize=[h.k, w.k], strides=[h.s, w.s], padding=mode, data_format=fmt)
    arrays = {"input": normal(rng, nhwc_to((n, h.size, w.size, c), fmt), dtype)}
    return Case("avg_pool2d", params, arrays, normal(rng, nhwc_to((n, *geom.out, c), fmt), dtype), dtype, seed)


@st.composite
def global_avg_pool2d_cases(draw, dtype: str) -> Case:
    shape = (draw(st.integers(1, MAX_BATCH)), draw(st.integers(1, MAX_HW)), draw(st.integers(1, MAX_HW)),
             draw(st.integers(1, MAX_CHANNELS)))
    fmt, keepdims = draw(FORMATS), draw(st.booleans())
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    out = (shape[0], 1, 1, shape[3]) if keepdims else (shape[0], shape[3])
    out = nhwc_to(out, fmt) if keepdims else out
    arrays = {"input": normal(rng, nhwc_to(shape, fmt), dtype)}
    return Case("global_avg_pool2d", dict(data_format=fmt, keepdims=keepdims), arrays, normal(rng, out, dtype),
                dtype, seed)


# ------------------------------------------------------------------------------ elementwise, dense

def small_shapes(min_rank: int = 1, max_rank: int = 4, max_side: int = 8):
    return st.lists(st.integers(1, max_side), min_size=min_rank, max_size=max_rank).map(tuple)


@st.composite
def unary_cases(draw, dtype: str, op: str, arg: str, params_strategy=None) -> Case:
    shape = draw(small_shapes())
    params = draw(params_strategy) if params_strategy is not None else {}
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    # scaled so that sigmoid/tanh/elu see both their linear and saturated ranges
    x = (normal(rng, shape, dtype) * dtype_type(dtype)(2.0)).astype(dtype)
    return Case(op, params, {arg: x}, normal(rng, shape, dtype), dtype, seed)


def dtype_type(dtype: str):
    return np.dtype(dtype).type


@st.composite
def dense_cases(draw, dtype: str) -> Case:
    lead = draw(small_shapes(1, 2, 6))
    n_in, n_out = draw(st.integers(1, 16)), draw(st.integers(1, 16))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"x": normal(rng, (*lead, n_in), dtype), "kernel": normal(rng, (n_in, n_out), dtype)}
    if draw(st.booleans()):
        arrays["bias"] = normal(rng, (n_out,), dtype)
    return Case("dense", {}, arrays, normal(rng, (*lead, n_out), dtype), dtype, seed)


@st.composite
def dropout_cases(draw, dtype: str) -> Case:
    shape = draw(small_shapes())
    rate = draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9]))
    mask_seed = draw(st.integers(0, 2**31 - 1))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    return Case("dropout", dict(rate=rate, seed=mask_seed), {"x": normal(rng, shape, dtype)},
                normal(rng, shape, dtype), dtype, seed)


@st.composite
def flatten_cases(draw, dtype: str) -> Case:
    shape = draw(small_shapes(4, 4, 6))
    fmt = draw(FORMATS)
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    out = (shape[0], int(np.prod(shape[1:])))
    return Case("flatten", dict(data_format=fmt), {"x": normal(rng, shape, dtype)}, normal(rng, out, dtype),
                dtype, seed)


# ---------------------------------------------------------------------------- softmax and losses

def _drop_axis(shape, axis_: int) -> tuple:
    return tuple(v for i, v in enumerate(shape) if i != axis_ % len(shape))


@st.composite
def softmax_cases(draw, dtype: str, op: str) -> Case:
    shape = draw(small_shapes(1, 3, 10))
    ax = draw(st.integers(-len(shape), len(shape) - 1))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    logits = (normal(rng, shape, dtype) * dtype_type(dtype)(3.0)).astype(dtype)
    return Case(op, dict(axis=ax), {"logits": logits}, normal(rng, shape, dtype), dtype, seed)


def probabilities(rng, shape, axis_: int, dtype: str) -> np.ndarray:
    """Random probability distributions along ``axis_`` (each slice sums to 1)."""
    e = np.exp(rng.standard_normal(shape) * 2.0)
    return (e / e.sum(axis=axis_, keepdims=True)).astype(dtype)


@st.composite
def softmax_cross_entropy_cases(draw, dtype: str) -> Case:
    shape = draw(small_shapes(1, 3, 10))
    ax = draw(st.integers(-len(shape), len(shape) - 1))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"labels": probabilities(rng, shape, ax, dtype),
              "logits": (normal(rng, shape, dtype) * dtype_type(dtype)(3.0)).astype(dtype)}
    return Case("softmax_cross_entropy_with_logits", dict(axis=ax), arrays,
                normal(rng, _drop_axis(shape, ax), dtype), dtype, seed)


@st.composite
def sparse_softmax_cross_entropy_cases(draw, dtype: str) -> Case:
    shape = draw(small_shapes(2, 3, 10))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"labels": rng.integers(0, shape[-1], size=shape[:-1]).astype(np.int64),
              "logits": (normal(rng, shape, dtype) * dtype_type(dtype)(3.0)).astype(dtype)}
    return Case("sparse_softmax_cross_entropy_with_logits", {}, arrays, normal(rng, shape[:-1], dtype), dtype, seed)


@st.composite
def mean_squared_error_cases(draw, dtype: str) -> Case:
    shape = draw(small_shapes(1, 3, 10))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"y_true": normal(rng, shape, dtype), "y_pred": normal(rng, shape, dtype)}
    return Case("mean_squared_error", {}, arrays, normal(rng, shape[:-1], dtype), dtype, seed)


# --------------------------------------------------------------------------------- normalization
# Every normalised group holds at least 3 elements: with 2, the input gradient is a difference of
# nearly equal numbers of relative size epsilon / variance, so any two correct float32
# implementations disagree in its leading digits (docs/tolerances.md).

MIN_GROUP = 3


@st.composite
def _shape_with_count(draw, rank: int, reduced: tuple, max_side: int = 6) -> tuple:
    """A shape of ``rank`` whose ``reduced`` axes hold at least MIN_GROUP elements in total."""
    shape = [draw(st.integers(1, max_side)) for _ in range(rank)]
    first = reduced[0] % rank
    rest = int(np.prod([shape[a % rank] for a in reduced[1:]])) if len(reduced) > 1 else 1
    shape[first] = max(shape[first], -(-MIN_GROUP // rest))
    return tuple(shape)


@st.composite
def batch_normalization_cases(draw, dtype: str) -> Case:
    rank = draw(st.sampled_from([2, 4]))
    ax = draw(st.sampled_from([-1, 1])) if rank == 4 else -1
    reduced = tuple(a for a in range(rank) if a != ax % rank)
    shape = draw(_shape_with_count(rank, reduced))
    training = draw(st.booleans())
    epsilon = draw(st.sampled_from([1e-3, 1e-5]))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    c = shape[ax]
    arrays = {"x": (normal(rng, shape, dtype) * dtype_type(dtype)(1.5) + dtype_type(dtype)(0.5)).astype(dtype),
              "gamma": normal(rng, (c,), dtype), "beta": normal(rng, (c,), dtype),
              "moving_mean": normal(rng, (c,), dtype),
              "moving_variance": rng.uniform(0.5, 2.0, (c,)).astype(dtype)}
    params = dict(training=training, epsilon=epsilon, axis=ax)
    return Case("batch_normalization", params, arrays, normal(rng, shape, dtype), dtype, seed)


@st.composite
def layer_normalization_cases(draw, dtype: str) -> Case:
    rank = draw(st.integers(2, 4))
    ax = draw(st.integers(-rank, rank - 1))
    shape = draw(_shape_with_count(rank, (ax,)))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    c = shape[ax]
    arrays = {"x": normal(rng, shape, dtype), "gamma": normal(rng, (c,), dtype), "beta": normal(rng, (c,), dtype)}
    params = dict(axis=ax, epsilon=draw(st.sampled_from([1e-3, 1e-5])))
    return Case("layer_normalization", params, arrays, normal(rng, shape, dtype), dtype, seed)


@st.composite
def group_normalization_cases(draw, dtype: str) -> Case:
    rank = draw(st.integers(2, 4))
    groups = draw(st.integers(1, 4))
    per_group = draw(st.integers(1, 3))
    spatial = [draw(st.integers(1, 6)) for _ in range(rank - 2)]
    if per_group * int(np.prod(spatial)) < MIN_GROUP:
        per_group = -(-MIN_GROUP // int(np.prod(spatial)))
    shape = (draw(st.integers(1, MAX_BATCH)), *spatial, groups * per_group)
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    c = shape[-1]
    arrays = {"x": normal(rng, shape, dtype), "gamma": normal(rng, (c,), dtype), "beta": normal(rng, (c,), dtype)}
    params = dict(groups=groups, epsilon=draw(st.sampled_from([1e-3, 1e-5])), axis=-1)
    return Case("group_normalization", params, arrays, normal(rng, shape, dtype), dtype, seed)


@st.composite
def moments_cases(draw, dtype: str) -> Case:
    shape = draw(small_shapes(1, 4, 8))
    axes = sorted(draw(st.sets(st.integers(0, len(shape) - 1), min_size=1)))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    params = dict(axes=axes, keepdims=draw(st.booleans()))
    return Case("moments", params, {"x": normal(rng, shape, dtype)}, None, dtype, seed)
