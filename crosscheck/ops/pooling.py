"""Pooling: max_pool2d, avg_pool2d and global_avg_pool2d, each described once.

max_pool2d's TensorFlow rules are the spec: a tied maximum's gradient goes to the first maximum in
row-major window order; NaN is ignored by the forward (quirk maxpool-nan-gradient for its
gradient); explicit pads must each be smaller than the window. avg_pool2d takes VALID/SAME only
and divides by the number of valid (unpadded) cells.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st

from .. import geometry as G
from .. import strategy_blocks as S
from ..case import Case
from ..opinfo import Call, OpInfo, PlainTF, RefPath, product, rms, taps
from ..params import Param
from ._common import (DATA_FORMAT, empty_axis_features, error, nhwc_only, ones, pool_params, tf_lib, tf_pad, tf_spatial,
                      window_errors)

MAX_POOL_PARAMS = pool_params(explicit=True)
AVG_POOL_PARAMS = pool_params(explicit=False)


def pool_window(call: Call) -> G.WindowArgs:
    x = call.arrays["input"]
    return G.WindowArgs(G.spatial_shape(x.shape, call.data_format), tuple(call.params["ksize"]),
                        tuple(call.params["strides"]), (1, 1), call.params["padding"],
                        pads_below_window=call.op == "max_pool2d")


def pool_features(call: Call) -> list[str]:
    x = call.arrays["input"]
    feats = ["batch 0"] if x.shape[0] == 0 else []
    win = pool_window(call)
    feats += empty_axis_features(win.in_sizes, win.padding)
    if any(k > n for k, n in zip(win.window, win.in_sizes)):
        feats.append("window wider than the input")
    if any(s > k for s, k in zip(win.strides, win.window)):
        feats.append("stride larger than the window")
    if call.op == "max_pool2d" and x.size:
        if np.isnan(x).any():
            feats.append("NaN inputs")
        if tied_windows(call):
            feats.append("tied maxima")
    return feats


# ---------------------------------------------------------------------------------- strategies

@st.composite
def pool_cases(draw, dtype: str, spellings: bool = True, *, op: str, values=None) -> Case:
    params = MAX_POOL_PARAMS if op == "max_pool2d" else AVG_POOL_PARAMS
    cfg = draw(S.window_config(params, spellings, window_param="ksize", pads_below_window=op == "max_pool2d"))
    n, c = draw(S.batches()), draw(S.channel_counts())
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    shape = S.layout((n, *cfg.in_sizes, c), cfg.data_format)
    x = (values or (S.distinct if op == "max_pool2d" else S.normal))(rng, shape, dtype)
    dy = S.normal(rng, S.layout((n, *cfg.out, c), cfg.data_format), dtype)
    return Case(op, dict(cfg.params), {"input": x}, dy, dtype, seed)


def tied_values(rng, shape, dtype):
    """Few distinct values (ties in most windows), some -inf and NaN: the branches of TF's scan."""
    x = rng.integers(-2, 3, size=shape).astype(dtype)
    special = rng.random(shape)
    x[special < 0.08] = -np.inf
    x[(special >= 0.08) & (special < 0.14)] = np.nan
    return x


@st.composite
def pool_large(draw, dtype: str, op: str) -> Case:
    """8 x 64 x 64 x 64, 3x3 windows, stride 2, SAME: a MiB per example."""
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    x = (S.distinct if op == "max_pool2d" else S.normal)(rng, (8, 64, 64, 64), dtype)
    params = {"ksize": [3, 3], "strides": [2, 2], "padding": "SAME", "data_format": "NHWC"}
    return Case(op, params, {"input": x}, S.normal(rng, (8, 32, 32, 64), dtype), dtype, seed)


def max_pool_extreme(dtype: str, spellings: bool = True):
    return pool_cases(dtype, spellings, op="max_pool2d", values=tied_values)


@st.composite
def global_avg_pool2d_cases(draw, dtype: str, spellings: bool = True) -> Case:
    shape = (draw(S.batches()), draw(st.integers(1, S.MAX_HW)), draw(st.integers(1, S.MAX_HW)),
             draw(S.channel_counts()))
    params = {}
    fmt, value = draw(S.choice_param("data_format", DATA_FORMAT, ["NHWC", "NCHW"], spellings))
    S.spelled(params, "data_format", value)
    keepdims, value = draw(S.choice_param("keepdims", GLOBAL_PARAMS["keepdims"], [False, True], spellings))
    S.spelled(params, "keepdims", value)
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    out = S.layout((shape[0], 1, 1, shape[3]), fmt) if keepdims else [shape[0], shape[3]]
    return Case("global_avg_pool2d", params, {"input": S.normal(rng, S.layout(shape, fmt), dtype)},
                S.normal(rng, out, dtype), dtype, seed)


# ---------------------------------------------------------------------------- reference paths

def _pool_tape(call: Call, pool) -> dict:
    T = tf_lib()
    fmt, ksize, strides = call.data_format, list(call.params["ksize"]), list(call.params["strides"])
    pad = T.tf_padding(call.params["padding"])
    return T.tape(lambda input: T.from_nhwc(pool(T.to_nhwc(input, fmt), ksize, strides, pad), fmt), call, ("input",))


def max_pool_tape(call: Call) -> dict:
    return _pool_tape(call, tf_lib().tf.nn.max_pool2d)


def avg_pool_tape(call: Call) -> dict:
    """tf.nn.avg_pool2d; its d_input is left out where TF's AvgPoolGrad is wrong (quirk
    avg-pool-grad-same-window): path tape_avg_pool_as_conv alone judges d_input there."""
    out = _pool_tape(call, tf_lib().tf.nn.avg_pool2d)
    if call.holds("avg-pool-grad-same-window"):
        out.pop("d_input", None)
    return out


def avg_pool_as_conv_tape(call: Call) -> dict:
    """The same pooling as a ones-kernel tf.nn.conv2d divided by the valid-cell counts."""
    return _pool_tape(call, tf_lib().avg_pool_as_conv)


def global_tape(call: Call) -> dict:
    T = tf_lib()
    axes = list(G.spatial_axes(call.data_format))
    return T.tape(lambda input: T.tf.reduce_mean(input, axis=axes, keepdims=bool(call.params["keepdims"])),
                  call, ("input",))


# ------------------------------------------------------------------------------------ plain TF

def _plain_pool_params(call: Call) -> dict:
    p = call.params
    return {"ksize": tf_spatial(p.get("ksize")), "strides": tf_spatial(p.get("strides")),
            "padding": tf_pad(p.get("padding")), "data_format": p.get("data_format", "NHWC")}


def plain_avg_works(call: Call) -> str:
    if call.holds("avg-pool-grad-same-window"):
        return "quirk avg-pool-grad-same-window: TF's own gradient is wrong here"
    return nhwc_only(call)


_KERAS_FORMAT = {"NHWC": "channels_last", "NCHW": "channels_first"}


def _plain_global_params(call: Call) -> dict:
    fmt = call.params.get("data_format", "NHWC")
    return {"data_format": _KERAS_FORMAT.get(fmt, fmt), "keepdims": call.params.get("keepdims", False)}


# -------------------------------------------------------------------------------- error inputs

def _pool_errors(op: str) -> list:
    x = ones(1, 5, 5, 2)
    base = {"ksize": 2, "strides": 1, "padding": "SAME"}
    out = window_errors({"input": x}, base, dilations=False, window="ksize", explicit=op == "max_pool2d") + [
        error("input not 4-D", "input", {"input": ones(5, 5, 2)}, **base),
        error("window larger than the input (VALID)", "input", {"input": ones(1, 2, 2, 2)}, ksize=3, strides=1,
              padding="VALID"),
        error("integer input", "input", {"input": np.ones((1, 5, 5, 2), np.int32)}, **base),
        error("empty batch", "input", {"input": ones(0, 5, 5, 2)}, **base),
        error("empty height (SAME)", "input", {"input": ones(1, 0, 5, 2)}, **base),
        error("no channels", "input", {"input": ones(1, 5, 5, 0)}, **base),
    ]
    if op == "max_pool2d":
        out.append(error("explicit pad as wide as the window", "padding", {"input": x},
                         **{**base, "padding": [[0, 0], [2, 0], [0, 0], [0, 0]]}))
    return out


def global_errors() -> list:
    x = ones(2, 3, 4, 2)
    return [error("input not 4-D", "input", {"input": ones(2, 3, 4)}),
            error("unknown data_format", "data_format", {"input": x}, data_format="NCWH"),
            error("empty batch", "input", {"input": ones(0, 3, 4, 2)})]


# ----------------------------------------------------------------------------------- tolerance

def pool_terms(call: Call) -> dict:
    k, s = call.params["ksize"], call.params["strides"]
    return {"y": product(k), "d_input": taps(k, s)}


def global_terms(call: Call) -> dict:
    return {"y": product(G.spatial_shape(call.arrays["input"].shape, call.data_format))}


def global_floor(call: Call) -> dict:
    """One term of the mean is x / n."""
    n = product(G.spatial_shape(call.arrays["input"].shape, call.data_format))
    return {"y": rms(call.arrays["input"]) / max(n, 1)}


def tied_windows(call: Call) -> int:
    """How many windows have tied maxima (crosscheck's own NumPy, from its geometry)."""
    return int(max_pool_tie_gradient(call, "all")[1])


def max_pool_tie_gradient(call: Call, policy: str):
    """max-pool input gradient under a tie ``policy`` ("first", TF's; "all", "split", "last") and the
    number of windows with tied maxima; NumPy over kernel offsets, from crosscheck's geometry."""
    fmt = call.data_format
    x = call.arrays["input"].astype(np.float64)
    dy = np.ones(G.to_layout((x.shape[0], *pool_window(call).resolve().out, G.channels(x.shape, fmt)), fmt)) \
        if call.dy is None else call.dy.astype(np.float64)
    if fmt == "NCHW":
        x, dy = x.transpose(0, 2, 3, 1), dy.transpose(0, 2, 3, 1)
    win = pool_window(call).resolve()
    (t, b), (l, r) = win.pads
    xp = np.full((x.shape[0], x.shape[1] + t + b, x.shape[2] + l + r, x.shape[3]), -np.inf)
    xp[:, t:t + x.shape[1], l:l + x.shape[2]] = np.where(np.isnan(x), -np.inf, x)
    (kh, kw), (sh, sw), (oh, ow) = win.window, win.strides, win.out
    cells = np.stack([xp[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
                      for i in range(kh) for j in range(kw)], axis=3)      # (N, OH, OW, K, C)
    hit = cells == cells.max(axis=3, keepdims=True)
    count = hit.sum(axis=3)
    ties = int((count > 1).sum())
    order = np.arange(kh * kw)[None, None, None, :, None]
    if policy == "first":
        weight = (order == np.where(hit, order, kh * kw).min(axis=3, keepdims=True)).astype(np.float64)
    elif policy == "last":
        weight = (order == np.where(hit, order, -1).max(axis=3, keepdims=True)).astype(np.float64)
    elif policy == "split":
        weight = hit / np.maximum(count, 1)[:, :, :, None, :]
    else:
        weight = hit.astype(np.float64)
    weight = weight * dy[:, :, :, None, :]
    gp = np.zeros(xp.shape)
    for k in range(kh * kw):
        i, j = divmod(k, kw)
        gp[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += weight[:, :, :, k]
    g = gp[:, t:t + x.shape[1], l:l + x.shape[2]]
    return (g.transpose(0, 3, 1, 2) if fmt == "NCHW" else g), ties


def max_pool_overwrite_gradient(call: Call, policy: str, whole_window: bool = False) -> np.ndarray:
    """The input gradient of code that writes each window's gradient with ``=`` instead of ``+=``
    (windows in row-major order, later ones overwrite shared cells), under a tie ``policy``;
    ``whole_window``: the whole window is assigned (its non-maximum cells get 0)."""
    fmt = call.data_format
    x = call.arrays["input"].astype(np.float64)
    dy = call.dy.astype(np.float64)
    if fmt == "NCHW":
        x, dy = x.transpose(0, 2, 3, 1), dy.transpose(0, 2, 3, 1)
    win = pool_window(call).resolve()
    (t, b), (l, r) = win.pads
    xp = np.full((x.shape[0], x.shape[1] + t + b, x.shape[2] + l + r, x.shape[3]), -np.inf)
    xp[:, t:t + x.shape[1], l:l + x.shape[2]] = np.where(np.isnan(x), -np.inf, x)
    (kh, kw), (sh, sw), (oh, ow) = win.window, win.strides, win.out
    gp = np.zeros(xp.shape)
    for i in range(oh):
        for j in range(ow):
            window = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw]          # (N, kh, kw, C)
            flat = window.reshape(window.shape[0], kh * kw, -1)
            hit = flat == flat.max(axis=1, keepdims=True)
            if policy == "first":
                hit = np.arange(kh * kw)[None, :, None] == hit.argmax(axis=1)[:, None, :]
            share = np.where(hit, dy[:, i, j][:, None, :], 0.0).reshape(window.shape)
            region = gp[:, i * sh:i * sh + kh, j * sw:j * sw + kw]
            if whole_window:   # dx[window] = mask * dout: the other cells of the window become 0 too
                region[...] = share
            else:              # dx[argmax] = dout: the last window to write a cell wins
                region[...] = np.where(hit.reshape(window.shape), share, region)
    g = gp[:, t:t + x.shape[1], l:l + x.shape[2]]
    return g.transpose(0, 3, 1, 2) if fmt == "NCHW" else g


def mistakes(call: Call) -> dict:
    """Max-pool gradients that forget dy, or are written with ``=`` where windows overlap (TF's tie
    rule, or every tied maximum)."""
    if call.op != "max_pool2d" or call.dy is None:
        return {}
    ones = call.with_case(dataclasses.replace(call.case, dy=np.ones_like(call.dy)))
    found = {"upstream-gradient-dropped": ("d_input is the mask of the maxima, not multiplied by dy",
                                           {"d_input": max_pool_tape(ones)["d_input"]})}
    win = pool_window(call).resolve()
    if any(s < k for s, k in zip(win.strides, win.window)):
        found["pool-overwrites-overlap"] = (
            f"dx written with = instead of += where windows overlap (stride {win.strides} < window {win.window})",
            {f"d_input@{policy}{'-window' if whole else ''}": max_pool_overwrite_gradient(call, policy, whole)
             for policy in ("first", "all") for whole in (False, True)})
    return found


def max_pool_kinks(call: Call) -> str:
    ties = tied_windows(call)
    return (f"{ties} windows have tied maxima, where max-pool has no derivative (TensorFlow's first-maximum rule "
            "is the spec)") if ties else ""


# ------------------------------------------------------------------------------------- the ops

def _pool_op(name, description, params, strategy, extreme, paths, plain, kinks=None, mistakes=None) -> OpInfo:
    return OpInfo(name=name, description=description, arrays=("input",), params=params,
                  strategy=strategy, extreme=extreme, large=lambda dtype: pool_large(dtype, name),
                  features=pool_features, paths=paths, geometry=pool_window, window_operands=("input", None),
                  plain_tf=plain, kinks=kinks, mistakes=mistakes,
                  error_inputs=lambda: _pool_errors(name), tolerance_class="reduction", terms=pool_terms)


MAX_POOL2D = _pool_op(
    "max_pool2d", "max pooling; a tied maximum's gradient goes to the first one (TF's rule)", MAX_POOL_PARAMS,
    lambda dtype, spellings=True: pool_cases(dtype, spellings, op="max_pool2d"), max_pool_extreme,
    (RefPath("tape", max_pool_tape),),
    PlainTF("tf.nn.max_pool2d(input, {params})", _plain_pool_params, nhwc_only), max_pool_kinks, mistakes)

AVG_POOL2D = _pool_op(
    "avg_pool2d", "average pooling; SAME divides by the valid cells only", AVG_POOL_PARAMS,
    lambda dtype, spellings=True: pool_cases(dtype, spellings, op="avg_pool2d"),
    None,
    (RefPath("tape", avg_pool_tape), RefPath("tape_avg_pool_as_conv", avg_pool_as_conv_tape)),
    PlainTF("tf.nn.avg_pool2d(input, {params})", _plain_pool_params, plain_avg_works))

GLOBAL_PARAMS = {"data_format": DATA_FORMAT,
                 "keepdims": Param("keep 1x1 spatial axes", "value", False, ("False", "True"))}

GLOBAL_AVG_POOL2D = OpInfo(
    name="global_avg_pool2d", description="mean over the spatial axes (Keras GlobalAveragePooling2D)",
    arrays=("input",), differentiable=("input",),
    outputs=("y",), params=GLOBAL_PARAMS, strategy=global_avg_pool2d_cases,
    features=lambda case: ["batch 0"] if case.arrays["input"].shape[0] == 0 else [],
    paths=(RefPath("tape", global_tape),),
    plain_tf=PlainTF("keras.layers.GlobalAveragePooling2D({params}, dtype=input.dtype)(input)", _plain_global_params),
    error_inputs=global_errors, tolerance_class="reduction",
    terms=global_terms, scale_floor=global_floor)

OPS = (MAX_POOL2D, AVG_POOL2D, GLOBAL_AVG_POOL2D)
