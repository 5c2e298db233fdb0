"""The convolutions: conv2d, conv2d_backprop_input, conv2d_backprop_filter, conv2d_transpose and
depthwise_conv2d, each described once (strategy, TF paths, geometry, plain call, errors, terms).

Layouts are TensorFlow's: activations NHWC or NCHW (``data_format``), conv2d filters HWIO
``[kh, kw, in / groups, out]``, conv2d_transpose filters ``[kh, kw, out, in]`` (the HWIO filters
of the conv it transposes), depthwise filters ``[kh, kw, in, multiplier]``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from .. import geometry as G
from .. import strategy_blocks as S
from ..case import Case
from ..opinfo import Call, OpInfo, PlainTF, RefPath, taps
from ..params import Param
from ._common import (CONV_PARAMS, bilinear_floor, empty_axis_features, nhwc_only, tf_lib, tf_pad, tf_spatial,
                      tf_spatial_pair)
from .conv_errors import (backprop_filter_errors, backprop_input_errors, conv2d_errors, depthwise_errors,
                          transpose_errors)

#: tf.nn.conv2d_transpose's padding defaults to "SAME" (TF's other convolutions have no default)
TRANSPOSE_PARAMS = {**CONV_PARAMS, "padding": dataclasses.replace(CONV_PARAMS["padding"], default="SAME")}


# --------------------------------------------------------------------------------- geometry

def conv_window(call: Call) -> G.WindowArgs:
    x_name, w_name = call.info.window_operands
    x, w = G.shape_of(call, x_name), G.shape_of(call, w_name)
    return G.WindowArgs(G.spatial_shape(x, call.data_format), tuple(w[:2]), tuple(call.params["strides"]),
                        tuple(call.params["dilations"]), call.params["padding"])


def conv_features(call: Call) -> list[str]:
    x_name, w_name = call.info.window_operands
    x, w = G.shape_of(call, x_name), G.shape_of(call, w_name)
    feats = []
    if x[0] == 0:
        feats.append("batch 0")
    feats += empty_axis_features(G.spatial_shape(x, call.data_format), call.params["padding"])
    if call.op == "depthwise_conv2d" and w[3] == 0:
        feats.append("channel multiplier 0")
    if max(call.params["dilations"]) > 1:
        feats.append("dilated")
    groups = G.conv_groups(call)
    if call.op != "depthwise_conv2d" and groups > 1:
        feats.append("grouped, 1 channel per group" if w[2] == 1 else "grouped")
    if G.channels(x, call.data_format) >= 16:
        feats.append(">= 16 input channels")
    if "bias" in call.arrays:
        feats.append("bias")
    if call.params["strides"][0] != call.params["strides"][1]:
        feats.append("unequal strides")
    return feats


# ---------------------------------------------------------------------------------- strategies

@dataclass(frozen=True)
class ConvShapes:
    """A drawn conv2d: NHWC input and output shapes, HWIO filters, the window and the call's params."""
    x: tuple
    w: tuple
    y: tuple
    cfg: S.WindowConfig
    groups: int


@S.reused
@st.composite
def conv_shapes(draw, spellings: bool = True, grouped: bool = True, params: dict = CONV_PARAMS) -> ConvShapes:
    cfg = draw(S.window_config(params, spellings))
    groups = draw(S.sampled(S.allowed("groups") or (1, 1, 2, 4))) if grouped else 1
    if groups == 1:
        cin_g, cout = draw(S.channel_counts()), draw(S.channel_counts())
    else:
        allowed = tuple(c // groups for c in (S.allowed("channels") or ()) if c % groups == 0)
        cin_g = draw(S.sampled(allowed)) if allowed else draw(st.integers(1, S.MAX_CHANNELS // groups))
        cout = groups * draw(st.integers(1, S.MAX_CHANNELS // groups))
    n = draw(S.batches())
    return ConvShapes((n, *cfg.in_sizes, cin_g * groups), (*cfg.window, cin_g, cout), (n, *cfg.out, cout), cfg, groups)


def _values(draw, dtype):
    seed = draw(S.SEEDS)
    return seed, np.random.default_rng(seed)


@st.composite
def conv2d_cases(draw, dtype: str, spellings: bool = True) -> Case:
    c = draw(conv_shapes(spellings))
    seed, rng = _values(draw, dtype)
    fmt = c.cfg.data_format
    arrays = {"input": S.normal(rng, S.layout(c.x, fmt), dtype), "filters": S.normal(rng, c.w, dtype)}
    if S.pick(draw, "bias", ["given", "omitted"]) == "given":
        arrays["bias"] = S.normal(rng, c.w[3:], dtype)
    return Case("conv2d", dict(c.cfg.params), arrays, S.normal(rng, S.layout(c.y, fmt), dtype), dtype, seed)


def conv2d_large(dtype: str) -> tuple:
    """Two realistic sizes, 3x3 SAME with bias: 16 x 64 x 64 x 64 -> 32 channels (151 MB of float32
    im2col) and a CIFAR training batch, 32 x 32 x 32 x 32 -> 64 (38 MB)."""
    return (_conv2d_sized((16, 64, 64, 64), 32, dtype), _conv2d_sized((32, 32, 32, 32), 64, dtype))


@st.composite
def _conv2d_sized(draw, x_nhwc: tuple, out_channels: int, dtype: str) -> Case:
    fmt = draw(st.sampled_from(["NHWC", "NCHW"]))
    seed, rng = _values(draw, dtype)
    arrays = {"input": S.normal(rng, S.layout(x_nhwc, fmt), dtype),
              "filters": S.normal(rng, (3, 3, x_nhwc[3], out_channels), dtype),
              "bias": S.normal(rng, (out_channels,), dtype)}
    params = {"strides": [1, 1], "padding": "SAME", "dilations": [1, 1], "data_format": fmt}
    y_nhwc = (*x_nhwc[:3], out_channels)
    return Case("conv2d", params, arrays, S.normal(rng, S.layout(y_nhwc, fmt), dtype), dtype, seed)


@st.composite
def depthwise_large(draw, dtype: str) -> Case:
    """4 x 64 x 64 x 64, 3x3, multiplier 2: a MiB per example."""
    seed, rng = _values(draw, dtype)
    arrays = {"input": S.normal(rng, (4, 64, 64, 64), dtype), "filter": S.normal(rng, (3, 3, 64, 2), dtype)}
    params = {"strides": [1, 1], "padding": "SAME", "dilations": [1, 1], "data_format": "NHWC"}
    return Case("depthwise_conv2d", params, arrays, S.normal(rng, (4, 64, 64, 128), dtype), dtype, seed)


@st.composite
def conv2d_backprop_input_cases(draw, dtype: str, spellings: bool = True) -> Case:
    c = draw(conv_shapes(spellings))
    seed, rng = _values(draw, dtype)
    fmt = c.cfg.data_format
    arrays = {"filters": S.normal(rng, c.w, dtype), "out_backprop": S.normal(rng, S.layout(c.y, fmt), dtype)}
    params = dict(input_sizes=S.layout(c.x, fmt), **c.cfg.params)
    return Case("conv2d_backprop_input", params, arrays, S.normal(rng, S.layout(c.x, fmt), dtype), dtype, seed)


@st.composite
def conv2d_backprop_filter_cases(draw, dtype: str, spellings: bool = True) -> Case:
    c = draw(conv_shapes(spellings))
    seed, rng = _values(draw, dtype)
    fmt = c.cfg.data_format
    arrays = {"input": S.normal(rng, S.layout(c.x, fmt), dtype),
              "out_backprop": S.normal(rng, S.layout(c.y, fmt), dtype)}
    params = dict(filter_sizes=[int(v) for v in c.w], **c.cfg.params)
    return Case("conv2d_backprop_filter", params, arrays, S.normal(rng, c.w, dtype), dtype, seed)


@st.composite
def conv2d_transpose_cases(draw, dtype: str, spellings: bool = True) -> Case:
    """The transpose of a drawn conv2d: its input is the conv's output, its output_shape the conv's
    input (one of the several sizes conv2d_transpose allows for stride > 1)."""
    c = draw(conv_shapes(spellings, params=TRANSPOSE_PARAMS))
    seed, rng = _values(draw, dtype)
    fmt = c.cfg.data_format
    arrays = {"input": S.normal(rng, S.layout(c.y, fmt), dtype), "filters": S.normal(rng, c.w, dtype)}
    params = dict(output_shape=S.layout(c.x, fmt), **c.cfg.params)
    return Case("conv2d_transpose", params, arrays, S.normal(rng, S.layout(c.x, fmt), dtype), dtype, seed)


@st.composite
def depthwise_conv2d_cases(draw, dtype: str, spellings: bool = True) -> Case:
    cfg = draw(S.window_config(CONV_PARAMS, spellings))
    # multiplier 0 (an empty output, as TF allows) in about 1 case in 10; 0 last so shrinking prefers 1
    c, mult, n = draw(S.channel_counts()), draw(S.sampled(S.allowed("multiplier") or (1, 2, 3) * 3 + (0,))), draw(S.batches())
    seed, rng = _values(draw, dtype)
    fmt = cfg.data_format
    arrays = {"input": S.normal(rng, S.layout((n, *cfg.in_sizes, c), fmt), dtype),
              "filter": S.normal(rng, (*cfg.window, c, mult), dtype)}
    dy = S.normal(rng, S.layout((n, *cfg.out, c * mult), fmt), dtype)
    return Case("depthwise_conv2d", dict(cfg.params), arrays, dy, dtype, seed)


# ---------------------------------------------------------------------------- reference paths

def _setup(call: Call):
    x_name, w_name = call.info.window_operands
    return tf_lib().conv_setup(G.shape_of(call, x_name), G.shape_of(call, w_name), call)


def conv2d_tape(call: Call) -> dict:
    """tf.nn.conv2d (+ bias) under GradientTape."""
    T, g = tf_lib(), _setup(call)

    def forward(input, filters, bias=None):
        y = T.conv_nhwc(T.to_nhwc(input, g.fmt), filters, g)
        return T.from_nhwc(y if bias is None else T.tf.nn.bias_add(y, bias), g.fmt)
    return T.tape(forward, call, ("input", "filters", "bias"))


def conv2d_backprop_ops(call: Call) -> dict:
    """d_input and d_filters from tf.compat.v1.nn.conv2d_backprop_input / _filter; d_bias = sum(dy)."""
    T, g = tf_lib(), _setup(call)
    dy = T.nhwc_constant(call.dy, g.fmt)
    w = call.arrays["filters"]
    out = {"d_input": T.nhwc_result(T.backprop_input_nhwc(w, dy, g), g.fmt),
           "d_filters": T.backprop_filter_nhwc(T.nhwc_constant(call.arrays["input"], g.fmt), dy, g).numpy()}
    if "bias" in call.arrays:
        out["d_bias"] = T.tf.reduce_sum(dy, axis=T.sizes([0, 1, 2])).numpy()
    return out


def conv2d_transpose_path(call: Call) -> dict:
    """d_input as tf.nn.conv2d_transpose(dy, filters) onto the input's shape."""
    T, g = tf_lib(), _setup(call)
    dy = T.nhwc_constant(call.dy, g.fmt)
    return {"d_input": T.nhwc_result(T.conv_transpose_nhwc(dy, call.arrays["filters"], g), g.fmt)}


def keras_path(call: Call) -> dict:
    """d_input from Keras's Conv2DTranspose with the filters as its kernel (what its call computes)."""
    T, g = tf_lib(), _setup(call)
    dy = T.nhwc_constant(call.dy, g.fmt)
    return {"d_input": T.nhwc_result(T.keras_conv2d_transpose(dy, call.arrays["filters"], g), g.fmt)}


def keras_applies(call: Call) -> str:
    g = _setup(call)
    out = G.spatial_shape(call.dy.shape, g.fmt)
    kernel = G.effective_window(call.arrays["filters"].shape[:2], g.dilations)
    return tf_lib().keras_output_padding(g, out, kernel)[1]


def needs_dy(call: Call) -> str:
    return "" if call.dy is not None else "a gradient-only path (no dy)"


def backprop_input_tape(call: Call) -> dict:
    T, g = tf_lib(), _setup(call)

    def forward(filters, out_backprop):
        return T.from_nhwc(T.backprop_input_nhwc(filters, T.to_nhwc(out_backprop, g.fmt), g), g.fmt)
    return T.tape(forward, call, ("filters", "out_backprop"))


def backprop_filter_tape(call: Call) -> dict:
    T, g = tf_lib(), _setup(call)

    def forward(input, out_backprop):
        return T.backprop_filter_nhwc(T.to_nhwc(input, g.fmt), T.to_nhwc(out_backprop, g.fmt), g)
    return T.tape(forward, call, ("input", "out_backprop"))


def transpose_tape(call: Call) -> dict:
    """tf.nn.conv2d_transpose: filters [h, w, out, in] are the HWIO filters of the conv2d that maps
    output_shape back to the input's shape."""
    T, g = tf_lib(), _setup(call)

    def forward(input, filters):
        return T.from_nhwc(T.conv_transpose_nhwc(T.to_nhwc(input, g.fmt), filters, g), g.fmt)
    return T.tape(forward, call, ("input", "filters"))


def depthwise_tape(call: Call) -> dict:
    """tf.nn.depthwise_conv2d, undilated on a zero-dilated filter (quirks dilated-conv-gradient,
    depthwise-strided-dilated-size); tf.nn.conv2d per channel for unequal strides, empty batches
    and a zero channel multiplier (quirks depthwise-unequal-strides,
    depthwise-empty-batch-filter-gradient, depthwise-zero-multiplier-gradient)."""
    T = tf_lib()
    tf = T.tf
    fmt, strides, dilations = call.data_format, call.params["strides"], call.params["dilations"]
    pad = T.tf_padding(call.params["padding"])
    c = call.arrays["filter"].shape[2]
    per_channel = any(call.holds(q) for q in ("depthwise-unequal-strides", "depthwise-empty-batch-filter-gradient",
                                                 "depthwise-zero-multiplier-gradient"))
    g = T.ConvSetup("NHWC", [1, 1, 1, c], [1, 1, 1, 1], tuple(strides), tuple(dilations), pad, c)

    def forward(input, filter):
        x = T.to_nhwc(input, fmt)
        if per_channel:
            kh, kw, _, mult = (int(v) for v in filter.shape)
            y = T.conv_nhwc(x, tf.reshape(filter, [kh, kw, 1, c * mult]), g)
        else:
            y = tf.nn.depthwise_conv2d(x, T.zero_dilate(filter, dilations), [1, *strides, 1], pad)
        return T.from_nhwc(y, fmt)
    return T.tape(forward, call, ("input", "filter"))


# ------------------------------------------------------------------------------------ plain TF

def _plain_conv_params(call: Call, **extra) -> dict:
    p = call.params
    return {**extra, "strides": tf_spatial(p.get("strides")), "padding": tf_pad(p.get("padding")),
            "dilations": tf_spatial(p.get("dilations")), "data_format": p.get("data_format", "NHWC")}


def plain_conv_works(call: Call) -> str:
    for quirk in ("nchw-float64", "dilated-conv-gradient", "grouped-conv-gradient", "depthwise-unequal-strides",
                  "depthwise-strided-dilated-size", "depthwise-empty-batch-filter-gradient",
                  "depthwise-zero-multiplier-gradient", "empty-output-filter-gradient"):
        if call.holds(quirk):
            return f"quirk {quirk}: the oracle builds this case's reference another TF way"
    return nhwc_only(call)


def _plain_depthwise_params(call: Call) -> dict:
    p = call.params
    return {"strides": tf_spatial(p.get("strides")), "padding": tf_pad(p.get("padding")),
            "dilations": tf_spatial_pair(p.get("dilations")), "data_format": p.get("data_format", "NHWC")}


# ----------------------------------------------------------------------------------- tolerance

def conv_terms(x_shape, w_shape, y_shape, fmt: str, strides) -> dict:
    """Terms of y = conv(x, w), dx, dw: kh*kw*cin_g; ceil(kh/sh)*ceil(kw/sw)*cout_g; N*OH*OW."""
    kh, kw, cg, cout = w_shape
    groups = max(1, G.channels(x_shape, fmt) // cg)
    n_out = y_shape[0] * int(np.prod(G.spatial_shape(y_shape, fmt)))
    return {"y": kh * kw * cg + 1, "dx": taps((kh, kw), strides) * (cout // groups), "dw": n_out}


def conv2d_terms(call: Call) -> dict:
    t = conv_terms(call.arrays["input"].shape, call.arrays["filters"].shape, call.dy.shape, call.data_format,
                   call.params["strides"]) if call.dy is not None else {"y": 1, "dx": 1, "dw": 1}
    return {"y": t["y"], "d_input": t["dx"], "d_filters": t["dw"], "d_bias": t["dw"]}


def backprop_input_terms(call: Call) -> dict:
    t = conv_terms(call.params["input_sizes"], call.arrays["filters"].shape, call.arrays["out_backprop"].shape,
                   call.data_format, call.params["strides"])
    return {"y": t["dx"], "d_filters": t["dw"], "d_out_backprop": t["y"]}


def backprop_filter_terms(call: Call) -> dict:
    t = conv_terms(call.arrays["input"].shape, call.params["filter_sizes"], call.arrays["out_backprop"].shape,
                   call.data_format, call.params["strides"])
    return {"y": t["dw"], "d_input": t["dx"], "d_out_backprop": t["y"]}


def transpose_terms(call: Call) -> dict:
    t = conv_terms(call.params["output_shape"], call.arrays["filters"].shape, call.arrays["input"].shape,
                   call.data_format, call.params["strides"])
    return {"y": t["dx"], "d_input": t["y"], "d_filters": t["dw"]}


def depthwise_terms(call: Call) -> dict:
    kh, kw, _, mult = call.arrays["filter"].shape
    shape = call.dy.shape if call.dy is not None else call.arrays["input"].shape
    n_out = shape[0] * int(np.prod(G.spatial_shape(shape, call.data_format)))
    return {"y": kh * kw, "d_input": taps((kh, kw), call.params["strides"]) * mult, "d_filter": n_out}


# ------------------------------------------------------------------------------------- the ops

def _conv_op(name, description, arrays, strategy, paths, plain, errors, terms, floor, filters, filter_tensors,
             operands, extra_params=None, optional=(), large=None, conv_params=CONV_PARAMS) -> OpInfo:
    return OpInfo(name=name, description=description, arrays=arrays, differentiable=arrays, optional_arrays=optional,
                  outputs=("y",),
                  params={**(extra_params or {}), **conv_params}, strategy=strategy, large=large,
                  features=conv_features, paths=paths, geometry=conv_window, window_operands=operands, filter_arrays=filters,
                  filter_tensors=filter_tensors, plain_tf=plain,
                  error_inputs=errors,
                  tolerance_class="accumulation", terms=terms, scale_floor=floor)


CONV2D = _conv_op(
    "conv2d", "2-D convolution (cross-correlation) with optional bias, grouped when in_channels > filter in-channels",
    ("input", "filters", "bias"), conv2d_cases,
    (RefPath("tape", conv2d_tape),
     RefPath("backprop_ops", conv2d_backprop_ops, ("d_input", "d_filters", "d_bias"), needs_dy),
     RefPath("tf_conv2d_transpose", conv2d_transpose_path, ("d_input",), needs_dy),
     RefPath("keras_conv2d_transpose", keras_path, ("d_input",), lambda c: needs_dy(c) or keras_applies(c))),
    PlainTF(lambda call: ("tf.nn.bias_add(tf.nn.conv2d(input, filters, {params}), bias)" if "bias" in call.arrays
                          else "tf.nn.conv2d(input, filters, {params})"),
            _plain_conv_params, plain_conv_works),
    conv2d_errors, conv2d_terms, bilinear_floor("input", "filters"), ("filters",), ("d_filters",), ("input", "filters"),
    optional=("bias",), large=conv2d_large)

CONV2D_BACKPROP_INPUT = _conv_op(
    "conv2d_backprop_input", "input gradient of conv2d, as a forward op", ("filters", "out_backprop"),
    conv2d_backprop_input_cases, (RefPath("tape", backprop_input_tape),),
    PlainTF("tf.compat.v1.nn.conv2d_backprop_input(filters=filters, out_backprop=out_backprop, {params})",
            lambda call: _plain_conv_params(call, input_sizes=call.params.get("input_sizes")), plain_conv_works),
    backprop_input_errors, backprop_input_terms, bilinear_floor("filters", "out_backprop"), ("filters",),
    ("d_filters",), ("input_sizes", "filters"), extra_params={"input_sizes": Param("the conv input's shape, 4 ints in data_format", "shape",
                                                       forms=("list",))})

CONV2D_BACKPROP_FILTER = _conv_op(
    "conv2d_backprop_filter", "filter gradient of conv2d, as a forward op", ("input", "out_backprop"),
    conv2d_backprop_filter_cases, (RefPath("tape", backprop_filter_tape),),
    PlainTF("tf.compat.v1.nn.conv2d_backprop_filter(input, out_backprop=out_backprop, {params})",
            lambda call: _plain_conv_params(call, filter_sizes=call.params.get("filter_sizes")), plain_conv_works),
    backprop_filter_errors, backprop_filter_terms, bilinear_floor("input", "out_backprop"),
    (), ("y",), ("input", "filter_sizes"),
    extra_params={"filter_sizes": Param("[kh, kw, in / groups, out]", "shape", forms=("list",))})

CONV2D_TRANSPOSE = _conv_op(
    "conv2d_transpose", "transposed convolution; filters [h, w, out, in]", ("input", "filters"),
    conv2d_transpose_cases, (RefPath("tape", transpose_tape),),
    PlainTF("tf.nn.conv2d_transpose(input, filters, {params})",
            lambda call: _plain_conv_params(call, output_shape=call.params.get("output_shape")), plain_conv_works),
    transpose_errors, transpose_terms, bilinear_floor("input", "filters"), ("filters",), ("d_filters",),
    ("output_shape", "filters"), extra_params={"output_shape": Param("the conv input's shape, 4 ints in data_format", "shape", forms=("list",))},
    conv_params=TRANSPOSE_PARAMS)

DEPTHWISE_CONV2D = _conv_op(
    "depthwise_conv2d", "depthwise convolution; filter [kh, kw, in, multiplier], output channel c*multiplier+m",
    ("input", "filter"), depthwise_conv2d_cases, (RefPath("tape", depthwise_tape),),
    PlainTF("tf.nn.depthwise_conv2d(input, filter, {params})", _plain_depthwise_params, plain_conv_works),
    depthwise_errors, depthwise_terms, bilinear_floor("input", "filter"), ("filter",), ("d_filter",),
    ("input", "filter"), large=depthwise_large)

OPS = (CONV2D, CONV2D_BACKPROP_INPUT, CONV2D_BACKPROP_FILTER, CONV2D_TRANSPOSE, DEPTHWISE_CONV2D)
