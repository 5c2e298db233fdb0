"""Every op of ``npcnn.functional``, described once, as data (PyTorch's OpInfo is the model).

An :class:`OpInfo` says how to generate valid cases (``strategy``), which arguments are arrays
(in vjp order) and which of them have gradients, which TensorFlow paths compute its reference,
and how many terms each output element accumulates (for the tolerance policy). Tests, the CLI,
benchmarks and reports iterate :data:`OPS`. Adding an op means: one npcnn function, its backward
rule, one entry here and one reference function in :mod:`crosscheck.oracle.tf_oracle`.

Importing this module does not import TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from npcnn.padding import spatial_pair

from . import strategies as S
from .case import Case

Terms = Callable[[Case], dict]


@dataclass(frozen=True)
class OpInfo:
    """One op, as data.

    name: the function's name in the implementation module (and in ``vjp``).
    arrays: its array arguments in vjp order (passed positionally to ``vjp``).
    differentiable: the arrays that have gradients (``d_<name>`` tensors).
    strategy: ``strategy(dtype)`` -> hypothesis strategy of Case.
    tf_paths: names of the TensorFlow paths that compute the reference.
    tolerance_class: "accumulation" (sums of products), "elementwise", "reduction" or "normalization".
    description: one line.
    params_doc: keyword parameter -> what it means.
    terms: ``terms(case)`` -> {tensor: number of accumulated terms per element} (default 1).
    extra_arrays: array arguments that are inputs but not differentiated (passed by keyword).
    outputs: names of the forward outputs ("y", or e.g. ("mean", "variance") for a tuple).
    filter_tensors: tensors laid out as HWIO filters (channel map over their last axis).
    scale_floor: ``scale_floor(case)`` -> {tensor: lower bound of the tolerance's scale} for tensors
        that are small differences of larger terms (a normalisation's input gradient).
    """
    name: str
    arrays: tuple[str, ...]
    differentiable: tuple[str, ...]
    strategy: Callable[[str], object]
    tf_paths: tuple[str, ...]
    tolerance_class: str
    description: str
    params_doc: dict[str, str] = field(default_factory=dict)
    terms: Terms | None = None
    extra_arrays: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ("y",)
    filter_tensors: tuple[str, ...] = ()
    scale_floor: Terms | None = None

    def tensor_terms(self, case: Case) -> dict:
        return self.terms(case) if self.terms is not None else {}

    def tensor_scale_floor(self, case: Case) -> dict:
        return self.scale_floor(case) if self.scale_floor is not None else {}


# ------------------------------------------------------------------------------- term counting

def _hw(shape, fmt: str):
    return (shape[1], shape[2]) if fmt == "NHWC" else (shape[2], shape[3])


def _channels(shape, fmt: str) -> int:
    return shape[3] if fmt == "NHWC" else shape[1]


def _taps(k, s) -> int:
    """How many output positions (per axis product) read one input cell: at most ceil(k / s)."""
    return int(np.prod([-(-ki // si) for ki, si in zip(k, s)]))


def _conv_pairs(case: Case):
    fmt = case.params.get("data_format", "NHWC")
    return fmt, spatial_pair(case.params.get("strides", 1), "strides", fmt)


def conv_terms(x_shape, w_shape, y_shape, fmt: str, strides) -> dict:
    """Terms of y = conv(x, w), dx, dw: kh*kw*cin_g; ceil(kh/sh)*ceil(kw/sw)*cout_g; N*OH*OW."""
    kh, kw, cg, cout = w_shape
    groups = _channels(x_shape, fmt) // cg
    n_out = y_shape[0] * int(np.prod(_hw(y_shape, fmt)))
    return {"y": kh * kw * cg + 1, "dx": _taps((kh, kw), strides) * (cout // groups), "dw": n_out}


def _conv2d_terms(case: Case) -> dict:
    fmt, strides = _conv_pairs(case)
    t = conv_terms(case.arrays["input"].shape, case.arrays["filters"].shape, case.dy.shape, fmt, strides)
    return {"y": t["y"], "d_input": t["dx"], "d_filters": t["dw"], "d_bias": t["dw"]}


def _backprop_input_terms(case: Case) -> dict:
    fmt, strides = _conv_pairs(case)
    dyc = case.arrays["out_backprop"].shape
    t = conv_terms(case.params["input_sizes"], case.arrays["filters"].shape, dyc, fmt, strides)
    return {"y": t["dx"], "d_filters": t["dw"], "d_out_backprop": t["y"]}


def _backprop_filter_terms(case: Case) -> dict:
    fmt, strides = _conv_pairs(case)
    t = conv_terms(case.arrays["input"].shape, case.params["filter_sizes"], case.arrays["out_backprop"].shape,
                   fmt, strides)
    return {"y": t["dw"], "d_input": t["dx"], "d_out_backprop": t["y"]}


def _transpose_terms(case: Case) -> dict:
    fmt, strides = _conv_pairs(case)
    t = conv_terms(case.params["output_shape"], case.arrays["filters"].shape, case.arrays["input"].shape,
                   fmt, strides)
    return {"y": t["dx"], "d_input": t["y"], "d_filters": t["dw"]}


def _depthwise_terms(case: Case) -> dict:
    fmt, strides = _conv_pairs(case)
    kh, kw, c, mult = case.arrays["filter"].shape
    n_out = case.dy.shape[0] * int(np.prod(_hw(case.dy.shape, fmt)))
    return {"y": kh * kw, "d_input": _taps((kh, kw), strides) * mult, "d_filter": n_out}


def _pool_terms(case: Case) -> dict:
    fmt = case.params.get("data_format", "NHWC")
    k = spatial_pair(case.params["ksize"], "ksize", fmt)
    s = spatial_pair(case.params.get("strides", 1), "strides", fmt)
    return {"y": int(np.prod(k)), "d_input": _taps(k, s)}


def _global_pool_terms(case: Case) -> dict:
    fmt = case.params.get("data_format", "NHWC")
    return {"y": int(np.prod(_hw(case.arrays["input"].shape, fmt)))}


def _dense_terms(case: Case) -> dict:
    n_in, n_out = case.arrays["kernel"].shape
    rows = int(np.prod(case.arrays["x"].shape[:-1]))
    return {"y": n_in + 1, "d_x": n_out, "d_kernel": rows, "d_bias": rows}


def _axis_terms(arg: str):
    def terms(case: Case) -> dict:
        a = case.arrays[arg]
        n = a.shape[case.params.get("axis", -1)] if a.ndim else 1
        return {"y": n, "d_" + arg: n, "d_labels": n}
    return terms


def _last_axis_terms(case: Case) -> dict:
    a = case.arrays.get("logits", case.arrays.get("y_pred"))
    n = a.shape[-1] if a.ndim else 1
    return {"y": n, "d_logits": n, "d_y_true": 1, "d_y_pred": 1}


def _count(shape, reduced) -> int:
    return int(np.prod([shape[a] for a in reduced])) if reduced else 1


def _batch_norm_terms(case: Case) -> dict:
    x = case.arrays["x"]
    ax = int(case.params.get("axis", -1)) % x.ndim
    n = _count(x.shape, [i for i in range(x.ndim) if i != ax])
    return {"y": n, "d_x": n, "d_gamma": n, "d_beta": n}


def _layer_norm_terms(case: Case) -> dict:
    x = case.arrays["x"]
    axis = case.params.get("axis", -1)
    axes = [int(a) % x.ndim for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
    n = _count(x.shape, axes)
    rows = x.size // max(n, 1)
    return {"y": n, "d_x": n, "d_gamma": rows, "d_beta": rows}


def _group_norm_terms(case: Case) -> dict:
    x = case.arrays["x"]
    per_example = x.size // x.shape[0]
    n = per_example // int(case.params["groups"])
    rows = x.size // x.shape[-1]
    return {"y": n, "d_x": n, "d_gamma": rows, "d_beta": rows}


def _normalized_dx_floor(reduce_axes_of):
    """d_x of a normalisation is (gamma / std) * (dy - two projections of dy): a difference of terms of
    size rms(dy) * max|gamma| / min std, whatever the size of the result."""
    def floor(case: Case) -> dict:
        x = case.arrays["x"].astype(np.float64)
        if case.op == "batch_normalization" and not case.params.get("training", True):
            var = case.arrays["moving_variance"].astype(np.float64)
        else:
            var = reduce_axes_of(case, x)
        inv_std = 1.0 / np.sqrt(np.min(var) + float(case.params.get("epsilon", 1e-3)))
        g = float(np.max(np.abs(case.arrays["gamma"]))) if case.arrays["gamma"].size else 0.0
        # d_gamma and d_beta sum terms dy * xhat and dy (xhat has unit rms) per channel
        return {"d_x": _rms(case.dy) * g * inv_std, "d_gamma": _rms(case.dy), "d_beta": _rms(case.dy)}
    return floor


def _rms(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.mean(np.square(a)))) if a.size else 0.0


def _dy_floor(tensor: str):
    """Gradients of saturating ops are differences of terms of size |dy| (tanh: dy - dy*t^2;
    sigmoid: dy*s - dy*s^2; log_softmax and the cross-entropies: dy - dy*softmax), so their rounding
    error follows rms(dy) even where the result is nearly zero."""
    return lambda case: {tensor: _rms(case.dy)}


def _bilinear_floor(first: str, second: str) -> Terms:
    """For y = first (*) second (a conv or a matmul, linear in each), one term of an element is a
    product of typical size rms(first) * rms(second); the gradients pair dy with the other array.
    A sum that cancels below the size of one of its terms has no relative accuracy left, whatever
    the summation order (a 1x1x1x1 filter gradient summing 4 products of size 0.6 came out at 1e-3)."""
    def floor(case: Case) -> dict:
        a, b = _rms(case.arrays[first]), _rms(case.arrays[second])
        floors = {"y": a * b}
        if case.dy is not None:
            g = _rms(case.dy)
            floors.update({"d_" + first: g * b, "d_" + second: g * a, "d_bias": g})
        return floors
    return floor


def _global_pool_floor(case: Case) -> dict:
    """One term of the mean is x / n."""
    fmt = case.params.get("data_format", "NHWC")
    n = int(np.prod(_hw(case.arrays["input"].shape, fmt)))
    return {"y": _rms(case.arrays["input"]) / n}


def _moments_floor(case: Case) -> dict:
    """As the global mean: one term of the mean is x / n, one of the biased variance (x - mean)^2 / n."""
    x = case.arrays["x"]
    n = _count(x.shape, [int(a) % x.ndim for a in case.params["axes"]])
    return {"mean": _rms(x) / n, "variance": _rms(x) ** 2 / n}


def _log_softmax_floor(case: Case) -> dict:
    """log_softmax = logits - logsumexp, and the cross-entropies sum labels * that: terms of the size
    of the logits (a loss near 0, or log_softmax over one class, is their cancellation); their
    d_logits are dy - dy * softmax: terms of size |dy|."""
    f = {"y": _rms(case.arrays["logits"]), "d_labels": _rms(case.arrays["logits"])}
    if case.dy is not None:
        f["d_logits"] = _rms(case.dy)
    return f


def _softmax_floor(case: Case) -> dict:
    """softmax's d_logits = y * (dy - sum(dy * y)): terms of size |y * dy| (all of d_logits is rounding
    noise when the class axis has length 1, since then y = 1 and the two terms cancel exactly)."""
    x = case.arrays["logits"].astype(np.float64)
    ax = int(case.params.get("axis", -1))
    e = np.exp(x - x.max(axis=ax, keepdims=True))
    y = e / e.sum(axis=ax, keepdims=True)
    return {"d_logits": _rms(y * case.dy)}


def _bn_var(case: Case, x):
    ax = int(case.params.get("axis", -1)) % x.ndim
    return x.var(axis=tuple(i for i in range(x.ndim) if i != ax))


def _ln_var(case: Case, x):
    axis = case.params.get("axis", -1)
    return x.var(axis=tuple(int(a) % x.ndim for a in (axis if isinstance(axis, (list, tuple)) else [axis])))


def _gn_var(case: Case, x):
    groups = int(case.params["groups"])
    moved = np.moveaxis(x, int(case.params.get("axis", -1)), -1)
    grouped = moved.reshape(*moved.shape[:-1], groups, moved.shape[-1] // groups)
    return grouped.var(axis=tuple(i for i in range(1, grouped.ndim) if i != grouped.ndim - 2))


def _moments_terms(case: Case) -> dict:
    x = case.arrays["x"]
    n = _count(x.shape, [int(a) % x.ndim for a in case.params["axes"]])
    return {"mean": n, "variance": n}


# ---------------------------------------------------------------------------------------- docs

_CONV_PARAMS = {
    "strides": "[sh, sw] (also an int or TF's 4-element form)",
    "padding": "'VALID', 'SAME' or explicit pairs in TF's 4-pair form for data_format",
    "dilations": "[dh, dw]",
    "data_format": "'NHWC' or 'NCHW' (arrays are stored in this layout)",
}
_POOL_PARAMS = {"ksize": "[kh, kw]", "strides": "[sh, sw]", "padding": "'VALID', 'SAME' (max_pool2d: also "
                "explicit pairs, each smaller than the window)", "data_format": "'NHWC' or 'NCHW'"}
_TAPE = ("tape",)


def _op(name, arrays, differentiable, strategy, tolerance_class, description, params_doc=None, terms=None,
        tf_paths=_TAPE, **kw) -> OpInfo:
    return OpInfo(name=name, arrays=tuple(arrays), differentiable=tuple(differentiable), strategy=strategy,
                  tf_paths=tuple(tf_paths), tolerance_class=tolerance_class, description=description,
                  params_doc=dict(params_doc or {}), terms=terms, **kw)


def _unary_strategy(op: str, arg: str, params=None):
    return lambda dtype: S.unary_cases(dtype, op, arg, params)


_ALL = [
    _op("conv2d", ("input", "filters", "bias"), ("input", "filters", "bias"), S.conv2d_cases, "accumulation",
        "2-D convolution (cross-correlation) with optional bias, grouped when in_channels > filter in-channels",
        _CONV_PARAMS, _conv2d_terms, scale_floor=_bilinear_floor("input", "filters"),
        tf_paths=("tape", "backprop_ops", "tf_conv2d_transpose", "keras_conv2d_transpose"),
        filter_tensors=("d_filters",)),
    _op("conv2d_backprop_input", ("filters", "out_backprop"), ("filters", "out_backprop"),
        S.conv2d_backprop_input_cases, "accumulation", "input gradient of conv2d, as a forward op",
        {"input_sizes": "shape of the conv input, in data_format", **_CONV_PARAMS}, _backprop_input_terms,
        filter_tensors=("d_filters",), scale_floor=_bilinear_floor("filters", "out_backprop")),
    _op("conv2d_backprop_filter", ("input", "out_backprop"), ("input", "out_backprop"),
        S.conv2d_backprop_filter_cases, "accumulation", "filter gradient of conv2d, as a forward op",
        {"filter_sizes": "[kh, kw, in/groups, out]", **_CONV_PARAMS}, _backprop_filter_terms,
        filter_tensors=("y",), scale_floor=_bilinear_floor("input", "out_backprop")),
    _op("conv2d_transpose", ("input", "filters"), ("input", "filters"), S.conv2d_transpose_cases,
        "accumulation", "transposed convolution; filters [h, w, out, in]",
        {"output_shape": "the conv input's shape, in data_format", **_CONV_PARAMS}, _transpose_terms,
        filter_tensors=("d_filters",), scale_floor=_bilinear_floor("input", "filters")),
    _op("depthwise_conv2d", ("input", "filter"), ("input", "filter"), S.depthwise_conv2d_cases, "accumulation",
        "depthwise convolution; filter [kh, kw, in, multiplier], output channel c*multiplier+m",
        _CONV_PARAMS, _depthwise_terms, filter_tensors=("d_filter",),
        scale_floor=_bilinear_floor("input", "filter")),
    _op("max_pool2d", ("input",), ("input",), S.max_pool2d_cases, "reduction",
        "max pooling (tie-free inputs; TF gives a tied gradient to the first maximum)", _POOL_PARAMS, _pool_terms),
    _op("avg_pool2d", ("input",), ("input",), S.avg_pool2d_cases, "reduction",
        "average pooling; SAME divides by the valid cells only", _POOL_PARAMS, _pool_terms,
        tf_paths=("tape", "tape_avg_pool_as_conv")),
    _op("global_avg_pool2d", ("input",), ("input",), S.global_avg_pool2d_cases, "reduction",
        "mean over the spatial axes", {"data_format": "'NHWC' or 'NCHW'", "keepdims": "keep 1x1 spatial axes"},
        _global_pool_terms, scale_floor=_global_pool_floor),
    _op("dense", ("x", "kernel", "bias"), ("x", "kernel", "bias"), S.dense_cases, "accumulation",
        "x @ kernel + bias over the last axis of x", {}, _dense_terms, scale_floor=_bilinear_floor("x", "kernel")),
    _op("relu", ("features",), ("features",), _unary_strategy("relu", "features"), "elementwise",
        "max(features, 0)"),
    _op("leaky_relu", ("features",), ("features",),
        _unary_strategy("leaky_relu", "features", S.st.fixed_dictionaries(
            {"alpha": S.st.sampled_from([0.01, 0.2, 0.5])})),
        "elementwise", "features if > 0 else alpha * features", {"alpha": "negative slope"}),
    _op("elu", ("features",), ("features",), _unary_strategy("elu", "features"), "elementwise",
        "features if > 0 else exp(features) - 1"),
    _op("sigmoid", ("x",), ("x",), _unary_strategy("sigmoid", "x"), "elementwise", "1 / (1 + exp(-x))",
        scale_floor=_dy_floor("d_x")),
    _op("tanh", ("x",), ("x",), _unary_strategy("tanh", "x"), "elementwise", "hyperbolic tangent",
        scale_floor=_dy_floor("d_x")),
    _op("softmax", ("logits",), ("logits",), lambda dtype: S.softmax_cases(dtype, "softmax"),
        "reduction", "softmax along axis",
        {"axis": "the class axis"}, _axis_terms("logits"), scale_floor=_softmax_floor),
    _op("log_softmax", ("logits",), ("logits",), lambda dtype: S.softmax_cases(dtype, "log_softmax"),
        "reduction", "log of softmax along axis", {"axis": "the class axis"}, _axis_terms("logits"),
        scale_floor=_log_softmax_floor),
    _op("softmax_cross_entropy_with_logits", ("labels", "logits"), ("labels", "logits"),
        S.softmax_cross_entropy_cases, "reduction",
        "per-example cross-entropy of probability labels and logits along axis", {"axis": "the class axis"},
        _axis_terms("logits"), scale_floor=_log_softmax_floor),
    _op("sparse_softmax_cross_entropy_with_logits", ("labels", "logits"), ("logits",),
        S.sparse_softmax_cross_entropy_cases, "reduction",
        "per-example cross-entropy of integer labels and logits (classes last)", {}, _last_axis_terms,
        scale_floor=_log_softmax_floor),
    _op("mean_squared_error", ("y_true", "y_pred"), ("y_true", "y_pred"), S.mean_squared_error_cases,
        "reduction", "mean over the last axis of (y_true - y_pred)^2, as keras.losses.mean_squared_error",
        {}, _last_axis_terms),
    _op("batch_normalization", ("x", "gamma", "beta"), ("x", "gamma", "beta"), S.batch_normalization_cases,
        "normalization", "batch normalization (training: batch statistics, biased variance; else moving)",
        {"training": "use batch statistics", "epsilon": "added to the variance",
         "axis": "the channel axis", "moving_mean": "array (C,), used when training=False",
         "moving_variance": "array (C,), used when training=False"}, _batch_norm_terms,
        scale_floor=_normalized_dx_floor(_bn_var),
        extra_arrays=("moving_mean", "moving_variance")),
    _op("layer_normalization", ("x", "gamma", "beta"), ("x", "gamma", "beta"), S.layer_normalization_cases,
        "normalization", "layer normalization over axis (Keras LayerNormalization)",
        {"axis": "the normalised axis", "epsilon": "added to the variance"}, _layer_norm_terms,
        scale_floor=_normalized_dx_floor(_ln_var)),
    _op("group_normalization", ("x", "gamma", "beta"), ("x", "gamma", "beta"), S.group_normalization_cases,
        "normalization", "group normalization (Keras GroupNormalization), channels last",
        {"groups": "number of channel groups", "epsilon": "added to the variance", "axis": "the channel axis"},
        _group_norm_terms, scale_floor=_normalized_dx_floor(_gn_var)),
    _op("dropout", ("x",), ("x",), S.dropout_cases, "elementwise",
        "inverted dropout with npcnn's seeded mask (default_rng(seed).random(shape) >= rate)",
        {"rate": "drop probability in [0, 1)", "seed": "mask seed"}),
    _op("flatten", ("x",), ("x",), S.flatten_cases, "elementwise",
        "reshape to (batch, -1); NCHW moved to channels-last first, as Keras Flatten",
        {"data_format": "'NHWC' or 'NCHW'"}),
    _op("moments", ("x",), (), S.moments_cases, "reduction", "mean and biased variance over axes (forward only)",
        {"axes": "axes to reduce", "keepdims": "keep reduced axes"}, _moments_terms, outputs=("mean", "variance"),
        scale_floor=_moments_floor),
]

OPS: dict[str, OpInfo] = {info.name: info for info in _ALL}

# Public names of npcnn.functional that are not ops compared against TensorFlow, and why.
NOT_OPS = {
    "vjp": "the gradient entry point, used by every op's check",
    "dropout_mask": "dropout's mask from NumPy's RNG, which TensorFlow cannot reproduce; checked through dropout",
}


def get_op(name: str) -> OpInfo:
    try:
        return OPS[name]
    except KeyError:
        raise ValueError(f"unknown op {name!r}; known ops: {', '.join(sorted(OPS))}") from None
