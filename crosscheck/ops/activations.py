"""Element-wise activations and softmax: relu, leaky_relu, elu, sigmoid, tanh, softmax, log_softmax.

TensorFlow's kernels are the spec at the kinks (relu'(0) = 0, leaky_relu'(0) = alpha); extreme
cases put exact zeros on the kinks and large magnitudes on the saturating and overflowing
branches (logits spanning more than 100 in float32 and 1000 in float64, where a softmax that
subtracts anything but the max overflows).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import strategy_blocks as S
from ..case import Case
from ..opinfo import Call, OpInfo, PlainTF, RefPath, rms
from ..params import Param
from ._common import axis_param, dy_floor, error, ones, tf_lib

#: the largest |x| of extreme cases: beyond float32's exp overflow (88) and float64's (709)
EXTREME_SCALE = {"float32": 60.0, "float64": 600.0}


def _shape_features(case: Case) -> list[str]:
    x = next(iter(case.arrays.values()))
    feats = [f"{x.ndim}-D"]
    if x.size and (x == 0).any():
        feats.append("exact zeros")
    if x.size and float(np.max(np.abs(x))) > 50:
        feats.append("|x| > 50")
    return feats


@st.composite
def unary_cases(draw, dtype: str, spellings: bool = True, *, op: str, arg: str, params=None, scale: float = 2.0,
                special=None) -> Case:
    """Any shape up to 4-D; ``scale`` sets the magnitudes; ``special`` values replace a quarter of the cells."""
    shape = draw(S.small_shapes(0, 4))
    call = {}
    for name, (param, choices) in (params or {}).items():
        _, value = draw(S.choice_param(name, param, choices, spellings))
        S.spelled(call, name, value)
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    x = S.normal(rng, shape, dtype, scale)
    if special is not None:
        x = S.with_special_values(rng, x, special)
    return Case(op, call, {arg: x}, S.normal(rng, shape, dtype), dtype, seed)


def unary_op(name: str, arg: str, description: str, tf_source: str, tf_fn, *, params=None, choices=None,
             kink: str = "", extreme_values=None, floor=None,
             errors=None, mistakes=None) -> OpInfo:
    """An element-wise op ``tf_fn(x, **params)`` on its one array ``arg``."""
    params, choices = params or {}, choices or {}
    drawn = {k: (params[k], choices[k]) for k in params}

    def strategy(dtype, spellings=True):
        return unary_cases(dtype, spellings, op=name, arg=arg, params=drawn)

    def extreme(dtype, spellings=True):
        return unary_cases(dtype, spellings, op=name, arg=arg, params=drawn, scale=EXTREME_SCALE[dtype],
                           special=extreme_values)

    def tape(call: Call) -> dict:
        T = tf_lib()
        kwargs = {k: call.params[k] for k in params}
        return T.tape(lambda **t: tf_fn(T.tf, t[arg], **kwargs), call, (arg,))

    def kinks(call: Call) -> str:
        x = call.arrays[arg]
        n = int(np.count_nonzero(x == 0)) if kink else 0
        return f"{n} elements sit on the kink at 0, where {kink}" if n else ""

    return OpInfo(name=name, description=description, arrays=(arg,), differentiable=(arg,),
                  outputs=("y",), params=params,
                  strategy=strategy, extreme=extreme, features=_shape_features, paths=(RefPath("tape", tape),),
                  plain_tf=PlainTF(tf_source, lambda call: {k: call.params.get(k) for k in params}),
                  kinks=kinks if kink else None, mistakes=mistakes,
                  error_inputs=errors or (lambda: _unary_errors(arg)), tolerance_class="elementwise",
                  scale_floor=floor)


def _unary_errors(arg: str) -> list:
    return [error("None input", arg, {arg: None}),
            error("string input", arg, {arg: np.array(["a", "b"])})]


def _float_only_errors(arg: str):
    return lambda: _unary_errors(arg) + [error("integer input", arg, {arg: np.ones(3, np.int32)})]


def relu_mistakes(call: Call) -> dict:
    """ReLU backward with the mask taken from dy, or the mask alone."""
    if call.dy is None:
        return {}
    x, dy = call.arrays["features"], call.dy
    return {"relu-mask-from-upstream": ("masked with dy > 0 instead of features > 0", {"d_features": dy * (dy > 0)}),
            "upstream-gradient-dropped": ("the mask features > 0 itself, not multiplied by dy",
                                          {"d_features": (x > 0).astype(dy.dtype)})}


ALPHA = Param("negative slope (TF stores it as float32)", "value", 0.2, ("0.01", "0.5"))

RELU = unary_op("relu", "features", "max(features, 0); TF's gradient at 0 is 0", "tf.nn.relu(features)",
                lambda tf, x: tf.nn.relu(x), kink="TF's subgradient 0 is the spec", extreme_values=[0.0, -0.0],
                mistakes=relu_mistakes)
LEAKY_RELU = unary_op("leaky_relu", "features", "features if > 0 else alpha * features",
                      "tf.nn.leaky_relu(features, {params})", lambda tf, x, alpha: tf.nn.leaky_relu(x, alpha=alpha),
                      params={"alpha": ALPHA}, choices={"alpha": [0.01, 0.5]},
                      kink="TF's subgradient alpha is the spec", extreme_values=[0.0, -0.0])
def elu_floor(call) -> dict:
    """Below 0, TensorFlow computes y = exp(x) - 1 (quirk elu-exp-minus-one) and the gradient as
    dy * (y + 1): both are differences of terms of size exp(x) and |dy|, whatever their result."""
    x = np.asarray(call.arrays["features"], np.float64)
    negative = x[x < 0]
    floors = {"y": rms(np.exp(negative)) if negative.size else 0.0}
    if call.dy is not None:
        floors["d_features"] = rms(call.dy)
    return floors


ELU = unary_op("elu", "features", "features if > 0 else exp(features) - 1", "tf.nn.elu(features)",
               lambda tf, x: tf.nn.elu(x), extreme_values=[0.0, -0.0], errors=_float_only_errors("features"),
               floor=elu_floor,
               kink="the second derivative jumps (finite differences are first-order accurate only); TF's "
                    "gradient 1 is the spec")
SIGMOID = unary_op("sigmoid", "x", "1 / (1 + exp(-x))", "tf.math.sigmoid(x)", lambda tf, x: tf.math.sigmoid(x),
                   floor=dy_floor("d_x"), errors=_float_only_errors("x"))
SOFTPLUS = unary_op("softplus", "features", "log(1 + exp(features)); its gradient is sigmoid(features)",
                    "tf.math.softplus(features)", lambda tf, x: tf.math.softplus(x),
                    floor=dy_floor("d_features"), errors=_float_only_errors("features"))
TANH = unary_op("tanh", "x", "hyperbolic tangent", "tf.math.tanh(x)", lambda tf, x: tf.math.tanh(x),
                floor=dy_floor("d_x"), errors=_float_only_errors("x"))


# -------------------------------------------------------------------------------------- softmax

@st.composite
def softmax_cases(draw, dtype: str, spellings: bool = True, *, op: str, scale: float = 3.0) -> Case:
    shape = draw(S.small_shapes(1, 3, 10))
    call = {}
    form = S.axis_form(draw, "axis", len(shape), spellings)
    if form != "default":
        call["axis"] = S.draw_axis(draw, form, len(shape))
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    return Case(op, call, {"logits": S.normal(rng, shape, dtype, scale)}, S.normal(rng, shape, dtype), dtype, seed)


def softmax_features(case: Case) -> list[str]:
    x = case.arrays["logits"]
    axis = case.params.get("axis", -1)
    span = float(np.max(np.ptp(x, axis=axis))) if x.size else 0.0
    return [f"{x.ndim}-D"] + ([f"logits span > {100 if case.dtype == 'float32' else 1000}"]
                               if span > (100 if case.dtype == "float32" else 1000) else [])


def _axis_terms(call: Call) -> dict:
    x = call.arrays["logits"]
    n = x.shape[int(call.params["axis"])] if x.ndim else 1
    return {"y": n, "d_logits": n, "d_labels": n}


def softmax_floor(call: Call) -> dict:
    """softmax's d_logits = y * (dy - sum(dy * y)): terms of size |y * dy| (all of d_logits is rounding
    noise when the class axis has length 1, since then y = 1 and the two terms cancel exactly)."""
    x = call.arrays["logits"].astype(np.float64)
    ax = int(call.params["axis"])
    e = np.exp(x - x.max(axis=ax, keepdims=True))
    y = e / e.sum(axis=ax, keepdims=True)
    return {"d_logits": rms(y * call.dy)} if call.dy is not None else {}


def log_softmax_floor(call: Call) -> dict:
    """log_softmax = logits - logsumexp, and the cross-entropies sum labels * that: terms of the size
    of the logits (a loss near 0, or log_softmax over one class, is their cancellation); their
    d_logits are dy - dy * softmax: terms of size |dy|."""
    f = {"y": rms(call.arrays["logits"]), "d_labels": rms(call.arrays["logits"])}
    if call.dy is not None:
        f["d_logits"] = rms(call.dy)
    return f


def _softmax_errors() -> list:
    x = ones(2, 3)
    return [error("axis equal to the rank", "axis", {"logits": x}, axis=2),
            error("axis below -rank", "axis", {"logits": x}, axis=-3),
            error("axis as a string", "axis", {"logits": x}, axis="1"),
            error("axis as a float", "axis", {"logits": x}, axis=1.0),
            error("0-D logits", "logits", {"logits": np.float32(1.0)}),
            error("integer logits", "logits", {"logits": np.ones((2, 3), np.int32)})]


def softmax_op(name: str, description: str, tf_name: str, floor) -> OpInfo:
    def tape(call: Call) -> dict:
        T = tf_lib()
        fn = getattr(T.tf.nn, tf_name)
        return T.tape(lambda logits: fn(logits, axis=call.params["axis"]), call, ("logits",))

    return OpInfo(name=name, description=description, arrays=("logits",), differentiable=("logits",),
                  outputs=("y",),
                  params={"axis": axis_param()},
                  strategy=lambda dtype, spellings=True: softmax_cases(dtype, spellings, op=name),
                  extreme=lambda dtype, spellings=True: softmax_cases(dtype, spellings, op=name, scale=EXTREME_SCALE[dtype]),
                  features=softmax_features, paths=(RefPath("tape", tape),),
                  plain_tf=PlainTF(f"tf.nn.{tf_name}(logits, {{params}})", lambda call: {"axis": call.params.get("axis")}),
                  error_inputs=_softmax_errors, tolerance_class="reduction",
                  terms=_axis_terms, scale_floor=floor)


SOFTMAX = softmax_op("softmax", "softmax along axis", "softmax", softmax_floor)
LOG_SOFTMAX = softmax_op("log_softmax", "log of softmax along axis", "log_softmax", log_softmax_floor)

OPS = (RELU, LEAKY_RELU, ELU, SIGMOID, SOFTPLUS, TANH, SOFTMAX, LOG_SOFTMAX)
