"""Normalization: batch_normalization, layer_normalization, group_normalization (Keras semantics:
biased variance, ``(x - mean) * rsqrt(var + epsilon) * gamma + beta``) and moments.

Every normalised group holds at least 3 elements: with 2, the input gradient is a difference of
nearly equal numbers of relative size epsilon / variance, so any two correct float32
implementations disagree in its leading digits (docs/tolerances.md).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import strategy_blocks as S
from ..case import Case
from ..opinfo import Call, OpInfo, PlainTF, RefPath, product, rms
from ..params import AXIS_FORMS, Param
from ._common import error, ones, refused, tf_lib

MIN_GROUP = 3
EPSILON = Param("added to the variance (0 allowed)", "value", 1e-3, ("1e-05", "0.0"))
KERAS_AXIS = "Keras normalization layers raise ValueError for an axis outside the input's rank"
KERAS_GAMMA = "Keras normalization layers' gamma and beta have the normalised axis' shape"


def _axes_list(axis, ndim: int) -> list[int]:
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return sorted(int(a) % ndim for a in axes)


def _count(shape, axes) -> int:
    return product([shape[a] for a in axes])


@S.reused
@st.composite
def _shape_with_count(draw, rank: int, reduced: tuple, max_side: int = 6) -> tuple:
    """A shape of ``rank`` whose ``reduced`` axes hold at least MIN_GROUP elements in total."""
    shape = [draw(st.integers(1, max_side)) for _ in range(rank)]
    first = reduced[0] % rank
    rest = product([shape[a % rank] for a in reduced[1:]])
    shape[first] = max(shape[first], -(-MIN_GROUP // rest))
    return tuple(shape)


def _x(rng, shape, dtype):
    return (S.normal(rng, shape, dtype, 1.5) + np.asarray(0.5, dtype)).astype(dtype)


# ---------------------------------------------------------------------------- batch normalization

BN_PARAMS = {"training": Param("use batch statistics (else moving_mean / moving_variance)", "value", True,
                               ("True", "False")),
             "epsilon": EPSILON,
             "axis": Param("the channel axis", "axis", -1, AXIS_FORMS)}


@st.composite
def batch_normalization_cases(draw, dtype: str, spellings: bool = True) -> Case:
    # rank 1: one cell per channel, no axis to reduce (Keras accepts it). Checked with moving statistics
    # only: with its own batch statistics a lone cell normalises to exactly 0, so y = beta, while
    # TensorFlow's x * inv + (beta - mean * inv) leaves the rounding of x * inv (inv = gamma / sqrt(eps)),
    # which the cancellation-free tolerance of y does not cover.
    rank = draw(st.sampled_from([2, 3, 4, 1]))
    call = {}
    form = S.axis_form(draw, "axis", rank, spellings)
    # channels last or (rank >= 3) channels first; a rank-1 input's one axis written as 0
    ax = min(1, rank - 1) if form == "non-negative" else -1
    if form != "default":
        call["axis"] = ax
    reduced = tuple(a for a in range(rank) if a != ax % rank)
    shape = draw(_shape_with_count(rank, reduced)) if reduced else (draw(st.integers(1, 6)),)
    moving = S.pick(draw, "moving_mean", ["given", "omitted"]) if rank > 1 else "given"
    if rank == 1:
        training, value = draw(S.choice_param("training", BN_PARAMS["training"], [False], spellings=False))
    else:
        training, value = draw(S.choice_param("training", BN_PARAMS["training"],
                                              [True, False] if moving == "given" else [True], spellings))
    S.spelled(call, "training", value)
    _, value = draw(S.choice_param("epsilon", EPSILON, [1e-3, 1e-5, 0.0], spellings))
    S.spelled(call, "epsilon", value)
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    c = shape[ax]
    arrays = {"x": _x(rng, shape, dtype), "gamma": S.normal(rng, (c,), dtype), "beta": S.normal(rng, (c,), dtype)}
    if moving == "given":
        arrays.update(moving_mean=S.normal(rng, (c,), dtype), moving_variance=rng.uniform(0.5, 2.0, (c,)).astype(dtype))
    return Case("batch_normalization", call, arrays, S.normal(rng, shape, dtype), dtype, seed)


def _bshape(ndim: int, axes, shape) -> list[int]:
    return [shape[i] if i in axes else 1 for i in range(ndim)]


def batch_norm_tape(call: Call) -> dict:
    """tf.nn.moments (biased variance) + tf.nn.batch_normalization, taped through the statistics in
    training; the moving statistics (not differentiated) in inference."""
    T = tf_lib()
    tf = T.tf
    x = call.arrays["x"]
    ax = int(call.params["axis"]) % x.ndim
    eps = float(call.params["epsilon"])
    training = bool(call.params["training"])
    reduce_axes = [i for i in range(x.ndim) if i != ax]
    bshape = _bshape(x.ndim, [ax], x.shape)
    arrays = {k: call.arrays[k] for k in ("x", "gamma", "beta")}

    def forward(x, gamma, beta):
        if training:
            mean, var = tf.nn.moments(x, reduce_axes, keepdims=True)
        else:
            mean = tf.reshape(tf.constant(call.arrays["moving_mean"]), bshape)
            var = tf.reshape(tf.constant(call.arrays["moving_variance"]), bshape)
        return tf.nn.batch_normalization(x, mean, var, tf.reshape(beta, bshape), tf.reshape(gamma, bshape), eps)
    return T.tape(forward, call, ("x", "gamma", "beta"), arrays)


def batch_norm_errors() -> list:
    x, c = ones(4, 3), ones(3)
    a = {"x": x, "gamma": c, "beta": c}
    return [refused("axis equal to the rank", "axis", KERAS_AXIS, a, axis=2),
            refused("axis as a string", "axis", KERAS_AXIS, a, axis="1"),
            refused("two axes", "axis", "npcnn's batch_normalization normalises per one channel axis (an int)", a,
                    axis=[0, 1]),
            refused("gamma of the wrong length", "gamma", KERAS_GAMMA, {**a, "gamma": ones(4)}),
            refused("training=False without moving statistics", "moving_mean",
                    "inference normalises with the moving statistics, which must be given", a, training=False),
            refused("negative epsilon", "epsilon", "Keras: epsilon is a small positive float added to the variance", a,
                    epsilon=-1.0),
            refused("integer x", "x", "the normalization layers compute in floating point",
                    {"x": np.ones((4, 3), np.int32), "gamma": c, "beta": c})]


def _bn_var(call: Call, x):
    ax = int(call.params["axis"]) % x.ndim
    return x.var(axis=tuple(i for i in range(x.ndim) if i != ax))


def _ln_var(call: Call, x):
    return x.var(axis=tuple(_axes_list(call.params["axis"], x.ndim)))


def _gn_var(call: Call, x):
    groups = int(call.params["groups"])
    moved = np.moveaxis(x, int(call.params["axis"]), -1)
    grouped = moved.reshape(*moved.shape[:-1], groups, moved.shape[-1] // groups)
    return grouped.var(axis=tuple(i for i in range(1, grouped.ndim) if i != grouped.ndim - 2))


def normalized_dx_floor(variance_of):
    """d_x of a normalisation is (gamma / std) * (dy - two projections of dy): a difference of terms of
    size rms(dy) * max|gamma| / min std, whatever the size of the result."""
    def floor(call: Call) -> dict:
        if call.dy is None:
            return {}
        x = call.arrays["x"].astype(np.float64)
        if call.op == "batch_normalization" and not call.params["training"]:
            var = call.arrays["moving_variance"].astype(np.float64)
        else:
            var = variance_of(call, x)
        inv_std = 1.0 / np.sqrt(np.min(var) + float(call.params["epsilon"]))
        g = float(np.max(np.abs(call.arrays["gamma"]))) if call.arrays["gamma"].size else 0.0
        # d_gamma and d_beta sum terms dy * xhat and dy (xhat has unit rms) per channel
        return {"d_x": rms(call.dy) * g * inv_std, "d_gamma": rms(call.dy), "d_beta": rms(call.dy)}
    return floor


def batch_norm_terms(call: Call) -> dict:
    x = call.arrays["x"]
    ax = int(call.params["axis"]) % x.ndim
    n = _count(x.shape, [i for i in range(x.ndim) if i != ax])
    return {"y": n, "d_x": n, "d_gamma": n, "d_beta": n}


def norm_features(case: Case) -> list[str]:
    feats = [f"{case.arrays['x'].ndim}-D"]
    if case.op == "batch_normalization" and "moving_mean" in case.arrays:
        feats.append("moving statistics given")
    return feats


# ---------------------------------------------------------------------------- layer normalization

LN_PARAMS = {"axis": Param("the normalised axis or axes", "axis", -1, AXIS_FORMS + ("list",)), "epsilon": EPSILON}


@st.composite
def layer_normalization_cases(draw, dtype: str, spellings: bool = True) -> Case:
    rank = draw(st.integers(2, 4))
    form = S.axis_form(draw, "axis", rank, spellings, extra=("list",) if spellings else ())
    if form == "default":
        axes, call = [-1], {}
    elif form == "list":
        axes = sorted(draw(st.sets(st.integers(1, rank - 1), min_size=1)))
        call = {"axis": axes}
    else:
        axes = [S.draw_axis(draw, form, rank)]
        call = {"axis": axes[0]}
    shape = draw(_shape_with_count(rank, tuple(axes)))
    _, value = draw(S.choice_param("epsilon", EPSILON, [1e-3, 1e-5, 0.0], spellings))
    S.spelled(call, "epsilon", value)
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    pshape = tuple(shape[a] for a in _axes_list(axes, rank))
    arrays = {"x": _x(rng, shape, dtype), "gamma": S.normal(rng, pshape, dtype),
              "beta": S.normal(rng, pshape, dtype)}
    return Case("layer_normalization", call, arrays, S.normal(rng, shape, dtype), dtype, seed)


def layer_norm_tape(call: Call) -> dict:
    """Keras LayerNormalization's formula: moments over ``axis``, (x - mean) * rsqrt(var + eps)."""
    T = tf_lib()
    tf = T.tf
    x = call.arrays["x"]
    axes = _axes_list(call.params["axis"], x.ndim)
    eps = float(call.params["epsilon"])
    bshape = _bshape(x.ndim, axes, x.shape)

    def forward(x, gamma, beta):
        mean, var = tf.nn.moments(x, axes, keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + eps) * tf.reshape(gamma, bshape) + tf.reshape(beta, bshape)
    return T.tape(forward, call, ("x", "gamma", "beta"))


def layer_norm_terms(call: Call) -> dict:
    x = call.arrays["x"]
    n = _count(x.shape, _axes_list(call.params["axis"], x.ndim))
    return {"y": n, "d_x": n, "d_gamma": x.size // max(n, 1), "d_beta": x.size // max(n, 1)}


def layer_norm_errors() -> list:
    x, c = ones(4, 3), ones(3)
    a = {"x": x, "gamma": c, "beta": c}
    return [refused("axis equal to the rank", "axis", KERAS_AXIS, a, axis=2),
            refused("a repeated axis", "axis", "Keras LayerNormalization: duplicate axes are an error", a, axis=[1, -1]),
            refused("axis as a float", "axis", KERAS_AXIS, a, axis=1.5),
            refused("gamma of the wrong shape", "gamma", KERAS_GAMMA, {**a, "gamma": ones(4)})]


# ---------------------------------------------------------------------------- group normalization

GN_PARAMS = {"groups": Param("number of channel groups (divides the channel count)", "value", forms=()),
             "epsilon": EPSILON,
             "axis": Param("the channel axis (not the batch axis)", "axis", -1, AXIS_FORMS)}


@st.composite
def group_normalization_cases(draw, dtype: str, spellings: bool = True) -> Case:
    rank = draw(st.integers(2, 4))
    groups, per_group = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    spatial = [draw(st.integers(1, 6)) for _ in range(rank - 2)]
    if per_group * product(spatial) < MIN_GROUP:
        per_group = -(-MIN_GROUP // product(spatial))
    c = groups * per_group
    form = S.axis_form(draw, "axis", rank, spellings)
    first = form == "non-negative" and rank > 2          # channels first; axis 1 of a 2-D x is its last
    shape = (draw(st.integers(1, S.MAX_BATCH)), *((c, *spatial) if first else (*spatial, c)))
    call = {"groups": groups}
    if form != "default":
        call["axis"] = 1 if form == "non-negative" else -1
    _, value = draw(S.choice_param("epsilon", EPSILON, [1e-3, 1e-5, 0.0], spellings))
    S.spelled(call, "epsilon", value)
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"x": _x(rng, shape, dtype), "gamma": S.normal(rng, (c,), dtype), "beta": S.normal(rng, (c,), dtype)}
    return Case("group_normalization", call, arrays, S.normal(rng, shape, dtype), dtype, seed)


def group_norm_tape(call: Call) -> dict:
    """Keras GroupNormalization's formula: channels split into ``groups``; per example and group,
    moments over the other non-batch axes and the group's channels."""
    T = tf_lib()
    tf = T.tf
    x = call.arrays["x"]
    groups, eps = int(call.params["groups"]), float(call.params["epsilon"])
    ax = int(call.params["axis"]) % x.ndim
    c = x.shape[ax]

    def forward(x, gamma, beta):
        moved = tf.experimental.numpy.moveaxis(x, ax, -1)
        shape = [int(v) for v in moved.shape]
        grouped = tf.reshape(moved, [*shape[:-1], groups, c // groups])
        axes = [i for i in range(1, len(shape) + 1) if i != len(shape) - 1]
        mean, var = tf.nn.moments(grouped, axes, keepdims=True)
        normed = tf.reshape((grouped - mean) * tf.math.rsqrt(var + eps), shape) * gamma + beta
        return tf.experimental.numpy.moveaxis(normed, -1, ax)
    return T.tape(forward, call, ("x", "gamma", "beta"))


def group_norm_terms(call: Call) -> dict:
    x = call.arrays["x"]
    n = (x.size // max(x.shape[0], 1)) // int(call.params["groups"])
    rows = x.size // max(x.shape[int(call.params["axis"])], 1)
    return {"y": n, "d_x": n, "d_gamma": rows, "d_beta": rows}


def group_norm_errors() -> list:
    x, c = ones(2, 3, 4), ones(4)
    a = {"x": x, "gamma": c, "beta": c}
    rule = "Keras GroupNormalization: groups must divide the channel count"
    return [refused("groups not dividing the channels", "groups", rule, a, groups=3),
            refused("groups 0", "groups", rule, a, groups=0),
            refused("groups as a float", "groups", rule, a, groups=2.0),
            refused("axis 0 (the batch axis)", "axis", "Keras GroupNormalization normalises within each example", a,
                    groups=2, axis=0),
            refused("axis equal to the rank", "axis", KERAS_AXIS, a, groups=2, axis=3),
            refused("gamma of the wrong length", "gamma", KERAS_GAMMA, {**a, "gamma": ones(3)}, groups=2)]


# ---------------------------------------------------------------------------------------- moments

MOMENTS_PARAMS = {"axes": Param("axes to reduce", "value", forms=()),
                  "keepdims": Param("keep reduced axes", "value", False, ("False", "True"))}


@st.composite
def moments_cases(draw, dtype: str, spellings: bool = True) -> Case:
    shape = draw(S.small_shapes(1, 4, 8))
    axes = sorted(draw(st.sets(st.integers(0, len(shape) - 1), min_size=1)))
    if spellings and draw(st.booleans()):
        axes = [a - len(shape) for a in axes]
    call = {"axes": axes}
    _, value = draw(S.choice_param("keepdims", MOMENTS_PARAMS["keepdims"], [False, True], spellings))
    S.spelled(call, "keepdims", value)
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    return Case("moments", call, {"x": S.normal(rng, shape, dtype)}, None, dtype, seed)


def moments_path(call: Call) -> dict:
    tf = tf_lib().tf
    mean, var = tf.nn.moments(tf.constant(call.arrays["x"]), list(call.params["axes"]),
                              keepdims=bool(call.params["keepdims"]))
    return {"mean": mean.numpy(), "variance": var.numpy()}


def moments_terms(call: Call) -> dict:
    x = call.arrays["x"]
    n = _count(x.shape, [int(a) % x.ndim for a in call.params["axes"]])
    return {"mean": n, "variance": n}


def moments_floor(call: Call) -> dict:
    """As the global mean: one term of the mean is x / n, one of the biased variance (x - mean)^2 / n."""
    x = call.arrays["x"]
    n = max(_count(x.shape, [int(a) % x.ndim for a in call.params["axes"]]), 1)
    return {"mean": rms(x) / n, "variance": rms(x) ** 2 / n}


def moments_errors() -> list:
    x = ones(2, 3)
    return [error("axis out of range", "axes", {"x": x}, axes=[2]),
            error("a repeated axis", "axes", {"x": x}, axes=[0, 0]),
            error("axes as strings", "axes", {"x": x}, axes=["a"]),
            error("axes as a float", "axes", {"x": x}, axes=1.5),
            error("no axes (nothing reduced)", "axes", {"x": x}, axes=[])]


# ------------------------------------------------------------------------------------- the ops

# ------------------------------------------------------------------------- well-known mistakes

def _normalize_tape(call: Call, stats_axes, eps_outside: bool = False, stats=None, affine: bool = True) -> dict:
    """y = gamma * (x - mean) / sqrt(var + eps) + beta (or / (sqrt(var) + eps)), statistics over
    ``stats_axes`` (or the given ``stats``), gamma and beta broadcast along the case's channel axis;
    taped, so the mistake's gradients come too."""
    T = tf_lib()
    tf = T.tf
    x = call.arrays["x"]
    eps = float(call.params["epsilon"])
    if call.op == "layer_normalization":
        pshape = _bshape(x.ndim, _axes_list(call.params["axis"], x.ndim), x.shape)
    else:
        ax = int(call.params["axis"]) % x.ndim
        pshape = _bshape(x.ndim, [ax], x.shape)

    def forward(x, gamma, beta):
        if stats is None:
            mean, var = tf.nn.moments(x, stats_axes, keepdims=True)
        else:
            mean, var = (tf.constant(s) for s in stats)
        xhat = (x - mean) / (tf.sqrt(var) + eps) if eps_outside else (x - mean) * tf.math.rsqrt(var + eps)
        return xhat * tf.reshape(gamma, pshape) + tf.reshape(beta, pshape) if affine else xhat
    return T.tape(forward, call, ("x", "gamma", "beta"), {k: call.arrays[k] for k in ("x", "gamma", "beta")})


def _group_axes_tape(call: Call, per_pixel: bool, eps_outside: bool) -> dict:
    """Group norm with its statistics per pixel (over the group's channels only) or with eps outside
    the sqrt."""
    T = tf_lib()
    tf = T.tf
    x = call.arrays["x"]
    groups, eps = int(call.params["groups"]), float(call.params["epsilon"])
    ax = int(call.params["axis"]) % x.ndim
    c = x.shape[ax]

    def forward(x, gamma, beta):
        moved = tf.experimental.numpy.moveaxis(x, ax, -1)
        shape = [int(v) for v in moved.shape]
        grouped = tf.reshape(moved, [*shape[:-1], groups, c // groups])
        axes = [len(shape)] if per_pixel else [i for i in range(1, len(shape) + 1) if i != len(shape) - 1]
        mean, var = tf.nn.moments(grouped, axes, keepdims=True)
        xhat = (grouped - mean) / (tf.sqrt(var) + eps) if eps_outside else (grouped - mean) * tf.math.rsqrt(var + eps)
        return tf.experimental.numpy.moveaxis(tf.reshape(xhat, shape) * gamma + beta, -1, ax)
    return T.tape(forward, call, ("x", "gamma", "beta"))


def mistakes(call: Call) -> dict:
    """Wrong normalisations students write, each as TensorFlow computes it on this case."""
    x = call.arrays["x"]
    out = {}
    if call.op == "group_normalization":
        out["eps-outside-sqrt"] = ("divides by sqrt(var) + eps instead of sqrt(var + eps)",
                                   _group_axes_tape(call, per_pixel=False, eps_outside=True))
        if x.ndim > 2 and int(np.prod(x.shape[1:-1] if int(call.params["axis"]) % x.ndim == x.ndim - 1
                                      else x.shape[2:])) > 1:
            out["wrong-statistics-axes"] = ("statistics per pixel (over each group's channels only), not over the "
                                            "group's channels and H and W", _group_axes_tape(call, True, False))
        return out
    if call.op == "layer_normalization":
        axes = _axes_list(call.params["axis"], x.ndim)
        out["eps-outside-sqrt"] = ("divides by sqrt(var) + eps instead of sqrt(var + eps)",
                                   _normalize_tape(call, axes, eps_outside=True))
        return out
    ax = int(call.params["axis"]) % x.ndim
    reduce_axes = [i for i in range(x.ndim) if i != ax]
    if call.params["training"]:
        out["eps-outside-sqrt"] = ("divides by sqrt(var) + eps instead of sqrt(var + eps)",
                                   _normalize_tape(call, reduce_axes, eps_outside=True))
        if x.ndim > 2:
            out["wrong-statistics-axes"] = ("statistics over the batch axis only (per channel and pixel), not "
                                            "over the batch and the spatial axes", _normalize_tape(call, [0]))
    else:
        pshape = _bshape(x.ndim, [ax], x.shape)
        moving = tuple(call.arrays[k].reshape(pshape) for k in ("moving_mean", "moving_variance"))
        out["eps-outside-sqrt"] = ("divides by sqrt(var) + eps instead of sqrt(var + eps)",
                                   _normalize_tape(call, reduce_axes, eps_outside=True, stats=moving))
        out["bn-test-without-affine"] = ("test mode returns the normalised x without gamma and beta",
                                         _normalize_tape(call, reduce_axes, stats=moving, affine=False))
        out["bn-test-batch-statistics"] = ("test mode normalises with the batch's own mean and variance instead "
                                           "of the running statistics", _normalize_tape(call, reduce_axes))
    return out


def _norm_op(name, description, params, strategy, path, errors, terms, floor, extra=()) -> OpInfo:
    return OpInfo(name=name, description=description, arrays=("x", "gamma", "beta"),
                  differentiable=("x", "gamma", "beta"),
                  optional_arrays=extra, extra_arrays=extra,
                  outputs=("y",), params=params, strategy=strategy,


                  features=norm_features,
                  paths=(RefPath("tape", path),),
                  mistakes=mistakes, error_inputs=errors,
                  tolerance_class="normalization", terms=terms, scale_floor=floor)


BATCH_NORMALIZATION = _norm_op(
    "batch_normalization", "batch normalization (training: batch statistics, biased variance; else moving)",
    BN_PARAMS, batch_normalization_cases, batch_norm_tape, batch_norm_errors, batch_norm_terms,
    normalized_dx_floor(_bn_var), extra=("moving_mean", "moving_variance"))
LAYER_NORMALIZATION = _norm_op(
    "layer_normalization", "layer normalization over axis (Keras LayerNormalization)", LN_PARAMS,
    layer_normalization_cases, layer_norm_tape, layer_norm_errors, layer_norm_terms, normalized_dx_floor(_ln_var))
GROUP_NORMALIZATION = _norm_op(
    "group_normalization", "group normalization (Keras GroupNormalization)", GN_PARAMS, group_normalization_cases,
    group_norm_tape, group_norm_errors, group_norm_terms, normalized_dx_floor(_gn_var))

MOMENTS = OpInfo(
    name="moments", description="mean and biased variance over axes (forward only)", arrays=("x",), differentiable=(),
    outputs=("mean", "variance"), params=MOMENTS_PARAMS,
    strategy=moments_cases,
    features=lambda case: [f"{case.arrays['x'].ndim}-D", "negative axes" if min(case.params["axes"]) < 0 else
                           "non-negative axes"],
    paths=(RefPath("tape", moments_path),),
    plain_tf=PlainTF("tf.nn.moments(x, {params})", lambda call: {"axes": call.params.get("axes"),
                                                                 "keepdims": call.params.get("keepdims", False)}),
    error_inputs=moments_errors, tolerance_class="reduction", terms=moments_terms,
    scale_floor=moments_floor)

OPS = (BATCH_NORMALIZATION, LAYER_NORMALIZATION, GROUP_NORMALIZATION, MOMENTS)
