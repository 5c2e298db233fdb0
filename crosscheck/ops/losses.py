"""Losses: softmax_cross_entropy_with_logits, sparse_softmax_cross_entropy_with_logits and
mean_squared_error, as TensorFlow / Keras compute them (per example, no reduction)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import strategy_blocks as S
from ..case import Case
from ..opinfo import Call, OpInfo, PlainTF, RefPath
from ._common import axis_param, error, ones, tf_lib
from .activations import EXTREME_SCALE, _axis_terms, log_softmax_floor


def _drop_axis(shape, axis: int) -> tuple:
    return tuple(v for i, v in enumerate(shape) if i != axis % len(shape))


def _span_features(case: Case) -> list[str]:
    x = case.arrays["logits"]
    limit = 100 if case.dtype == "float32" else 1000
    feats = [f"{x.ndim}-D logits"]
    if x.size and float(np.ptp(x)) > limit:
        feats.append(f"logits span > {limit}")
    return feats


@st.composite
def softmax_cross_entropy_cases(draw, dtype: str, spellings: bool = True, *, scale: float = 3.0) -> Case:
    shape = draw(S.small_shapes(1, 3, 10))
    form = S.axis_form(draw, "axis", len(shape), spellings)
    use_default = form == "default"
    ax = -1 if use_default else S.draw_axis(draw, form, len(shape))
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"labels": S.probabilities(rng, shape, ax, dtype), "logits": S.normal(rng, shape, dtype, scale)}
    return Case("softmax_cross_entropy_with_logits", {} if use_default else {"axis": ax}, arrays,
                S.normal(rng, _drop_axis(shape, ax), dtype), dtype, seed)


@st.composite
def sparse_cases(draw, dtype: str, spellings: bool = True, *, scale: float = 3.0) -> Case:
    """Logits (..., classes) of rank 1-3: a 1-D logits vector has a scalar label."""
    shape = draw(S.small_shapes(1, 3, 10))
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    labels = np.asarray(rng.integers(0, shape[-1], size=shape[:-1])).astype(np.int64)
    arrays = {"labels": labels, "logits": S.normal(rng, shape, dtype, scale)}
    return Case("sparse_softmax_cross_entropy_with_logits", {}, arrays, S.normal(rng, shape[:-1], dtype), dtype, seed)


@st.composite
def mean_squared_error_cases(draw, dtype: str, spellings: bool = True) -> Case:
    shape = draw(S.small_shapes(1, 3, 10))
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"y_true": S.normal(rng, shape, dtype), "y_pred": S.normal(rng, shape, dtype)}
    return Case("mean_squared_error", {}, arrays, S.normal(rng, shape[:-1], dtype), dtype, seed)


def sce_tape(call: Call) -> dict:
    """quirk sce-negative-axis: TF fails on negative axes other than -1, so the axis goes in non-negative."""
    T = tf_lib()
    ax = int(call.params["axis"])
    ax = ax % call.arrays["logits"].ndim if ax < -1 else ax
    return T.tape(lambda labels, logits: T.tf.nn.softmax_cross_entropy_with_logits(labels, logits, axis=ax),
                  call, ("labels", "logits"))


def sparse_tape(call: Call) -> dict:
    T = tf_lib()
    return T.tape(lambda labels, logits: T.tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits),
                  call, ("logits",))


def mse_tape(call: Call) -> dict:
    T = tf_lib()
    import keras  # deferred: imports TensorFlow (Keras)
    return T.tape(lambda y_true, y_pred: keras.losses.mean_squared_error(y_true, y_pred), call, ("y_true", "y_pred"))


def _last_axis_terms(call: Call) -> dict:
    a = call.arrays.get("logits", call.arrays.get("y_pred"))
    n = a.shape[-1] if a.ndim else 1
    return {"y": n, "d_logits": n, "d_y_true": 1, "d_y_pred": 1}


def sce_errors() -> list:
    x = ones(2, 3)
    return [error("labels and logits of unbroadcastable shapes", "labels", {"labels": ones(2, 3), "logits": ones(2, 4)}),
            error("axis equal to the rank", "axis", {"labels": x, "logits": x}, axis=2),
            error("0-D logits", "logits", {"labels": np.float32(1.0), "logits": np.float32(1.0)}),
            error("integer labels and logits", "labels", {"labels": np.ones((2, 3), np.int32),
                                                          "logits": np.ones((2, 3), np.int32)})]


def sparse_errors() -> list:
    x = ones(2, 3)
    return [error("label >= classes", "labels", {"labels": np.array([1, 3]), "logits": x}),
            error("negative label", "labels", {"labels": np.array([-1, 0]), "logits": x}),
            error("float labels", "labels", {"labels": np.array([1.0, 0.0]), "logits": x}),
            error("labels of the wrong shape", "labels", {"labels": np.array([1, 0, 1]), "logits": x}),
            error("0-D logits", "logits", {"labels": np.int64(0), "logits": np.float32(1.0)}),
            error("integer logits", "logits", {"labels": np.array([1, 0]), "logits": np.ones((2, 3), np.int32)})]


def mse_errors() -> list:
    return [error("unbroadcastable shapes", "y_pred", {"y_true": ones(2, 3), "y_pred": ones(2, 4)}),
            error("0-D inputs", "y_true", {"y_true": np.float32(1.0), "y_pred": np.float32(2.0)})]


def _loss_op(name, description, arrays, differentiable, strategy, extreme, features, path, source, params, errors,
             terms, floor) -> OpInfo:
    return OpInfo(name=name, description=description, arrays=arrays, differentiable=differentiable,
                  outputs=("y",),
                  params=params, strategy=strategy, extreme=extreme,
                  features=features,
                  paths=(RefPath("tape", path),),
                  plain_tf=PlainTF(source, lambda call: {k: call.params.get(k) for k in params}),
                  error_inputs=errors,
                  tolerance_class="reduction",
                  terms=terms, scale_floor=floor)


SOFTMAX_CROSS_ENTROPY = _loss_op(
    "softmax_cross_entropy_with_logits", "per-example cross-entropy of probability labels and logits along axis",
    ("labels", "logits"), ("labels", "logits"), softmax_cross_entropy_cases,
    lambda dtype, spellings=True: softmax_cross_entropy_cases(dtype, spellings, scale=EXTREME_SCALE[dtype]), _span_features, sce_tape,
    "tf.nn.softmax_cross_entropy_with_logits(labels, logits, {params})", {"axis": axis_param()}, sce_errors,
    _axis_terms, log_softmax_floor)

SPARSE_SOFTMAX_CROSS_ENTROPY = _loss_op(
    "sparse_softmax_cross_entropy_with_logits", "per-example cross-entropy of integer labels and logits (classes last)",
    ("labels", "logits"), ("logits",), sparse_cases, lambda dtype, spellings=True: sparse_cases(dtype, spellings, scale=EXTREME_SCALE[dtype]),
    _span_features, sparse_tape, "tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)", {},
    sparse_errors, _last_axis_terms, log_softmax_floor)

MEAN_SQUARED_ERROR = _loss_op(
    "mean_squared_error", "mean over the last axis of (y_true - y_pred)^2, as keras.losses.mean_squared_error",
    ("y_true", "y_pred"), ("y_true", "y_pred"), mean_squared_error_cases, None,
    lambda case: [f"{case.arrays['y_pred'].ndim}-D"], mse_tape, "keras.losses.mean_squared_error(y_true, y_pred)",
    {}, mse_errors, _last_axis_terms, None)

OPS = (SOFTMAX_CROSS_ENTROPY, SPARSE_SOFTMAX_CROSS_ENTROPY, MEAN_SQUARED_ERROR)
