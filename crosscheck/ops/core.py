"""dense, dropout and flatten, each described once."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import strategy_blocks as S
from ..case import Case
from ..opinfo import Call, OpInfo, PlainTF, RefPath, product
from ..params import Param
from ._common import DATA_FORMAT, bilinear_floor, error, ones, refused, tf_lib

KERAS_DENSE = "Keras Dense: kernel is (in_features, out_features) and bias (out_features,)"


# ------------------------------------------------------------------------------------------ dense

@st.composite
def dense_cases(draw, dtype: str, spellings: bool = True) -> Case:
    lead = draw(S.small_shapes(0, 2, 6))
    n_in, n_out = draw(st.integers(1, 16)), draw(st.integers(1, 16))
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"x": S.normal(rng, (*lead, n_in), dtype), "kernel": S.normal(rng, (n_in, n_out), dtype)}
    if S.pick(draw, "bias", ["given", "omitted"]) == "given":
        arrays["bias"] = S.normal(rng, (n_out,), dtype)
    return Case("dense", {}, arrays, S.normal(rng, (*lead, n_out), dtype), dtype, seed)


def dense_tape(call: Call) -> dict:
    T = tf_lib()

    def forward(x, kernel, bias=None):
        y = T.tf.tensordot(x, kernel, axes=1)
        return y if bias is None else y + bias
    return T.tape(forward, call, ("x", "kernel", "bias"))


def dense_terms(call: Call) -> dict:
    n_in, n_out = call.arrays["kernel"].shape
    rows = product(call.arrays["x"].shape[:-1])
    return {"y": n_in + 1, "d_x": n_out, "d_kernel": rows, "d_bias": rows}


def dense_errors() -> list:
    x, w = ones(2, 3), ones(3, 4)
    return [error("x's last axis unequal kernel's first", "kernel", {"x": x, "kernel": ones(4, 5)}),
            error("0-D x", "x", {"x": np.float32(1.0), "kernel": w}),
            refused("kernel not 2-D", "kernel", KERAS_DENSE, {"x": x, "kernel": ones(3)}),
            refused("bias of the wrong shape", "bias", KERAS_DENSE, {"x": x, "kernel": w, "bias": ones(1)}),
            error("mixed dtypes", "kernel", {"x": x, "kernel": w.astype(np.float64)})]


DENSE = OpInfo(
    name="dense", description="x @ kernel + bias over the last axis of x (Keras Dense without activation)",
    arrays=("x", "kernel", "bias"), differentiable=("x", "kernel", "bias"), optional_arrays=("bias",),
    outputs=("y",), params={}, strategy=dense_cases,
    features=lambda case: [f"{case.arrays['x'].ndim}-D x"] + (["bias"] if "bias" in case.arrays else []),
    paths=(RefPath("tape", dense_tape),),
    plain_tf=PlainTF(lambda call: "tf.tensordot(x, kernel, 1)" + (" + bias" if "bias" in call.arrays else ""),
                     lambda call: {}),
    error_inputs=dense_errors, tolerance_class="accumulation",
    terms=dense_terms, scale_floor=bilinear_floor("x", "kernel"))


# ---------------------------------------------------------------------------------------- dropout

DROPOUT_PARAMS = {"rate": Param("drop probability in [0, 1)", "value", forms=("0.0", "0.5")),
                  "seed": Param("mask seed: the keep mask is default_rng(seed).random(shape) >= rate", "value")}


@st.composite
def dropout_cases(draw, dtype: str, spellings: bool = True) -> Case:
    shape = draw(S.small_shapes(0, 4))
    rate = {"0.0": 0.0, "0.5": 0.5, "other": None}[S.pick(draw, "rate", ["0.0", "0.5", "other"])]
    rate = draw(st.sampled_from([0.1, 0.25, 0.9])) if rate is None else rate
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    return Case("dropout", dict(rate=rate, seed=draw(st.integers(0, 2**31 - 1))), {"x": S.normal(rng, shape, dtype)},
                S.normal(rng, shape, dtype), dtype, seed)


def keep_mask(shape, rate: float, seed) -> np.ndarray:
    """The documented mask (TensorFlow's RNG differs, so the reference applies this one)."""
    return np.random.default_rng(seed).random(tuple(shape)) >= rate


def dropout_tape(call: Call) -> dict:
    """TF applies the documented keep mask and the 1 / (1 - rate) scale."""
    T = tf_lib()
    rate = float(call.params["rate"])
    keep = keep_mask(call.arrays["x"].shape, rate, call.params["seed"]).astype(call.arrays["x"].dtype)

    def forward(x):
        return x * T.tf.constant(1.0 / (1.0 - rate), dtype=x.dtype) * T.tf.constant(keep)
    return T.tape(forward, call, ("x",))


def dropout_errors() -> list:
    x = ones(4, 5)
    return [error("rate 1", "rate", {"x": x}, rate=1.0, seed=0),
            error("negative rate", "rate", {"x": x}, rate=-0.1, seed=0),
            error("rate as a string", "rate", {"x": x}, rate="a", seed=0),
            error("seed as a string", "seed", {"x": x}, rate=0.5, seed="x"),
            error("integer x", "x", {"x": np.ones((4, 5), np.int32)}, rate=0.5, seed=0)]


DROPOUT = OpInfo(
    name="dropout", description="inverted dropout with the documented seeded mask (default_rng(seed).random(shape) >= rate)",
    arrays=("x",), differentiable=("x",), outputs=("y",),
    params=DROPOUT_PARAMS, strategy=dropout_cases,
    features=lambda case: [f"rate {case.params['rate']}"], paths=(RefPath("tape", dropout_tape),),
    plain_tf=PlainTF("tf.nn.dropout(x, {params})", lambda call: {"rate": call.params.get("rate"),
                                                                 "seed": call.params.get("seed")},
                     lambda call: "TensorFlow's random mask is not the documented NumPy one: the snippet uses "
                                  "crosscheck's oracle"),
    error_inputs=dropout_errors, tolerance_class="elementwise",
    )


# ---------------------------------------------------------------------------------------- flatten

@st.composite
def flatten_cases(draw, dtype: str, spellings: bool = True) -> Case:
    shape = draw(S.small_shapes(1, 4, 6))
    call = {}
    _, value = draw(S.choice_param("data_format", DATA_FORMAT, ["NHWC", "NCHW"], spellings))
    S.spelled(call, "data_format", value)
    seed = draw(S.SEEDS)
    rng = np.random.default_rng(seed)
    out = (shape[0], product(shape[1:]))
    return Case("flatten", call, {"x": S.normal(rng, shape, dtype)}, S.normal(rng, out, dtype), dtype, seed)


def flatten_tape(call: Call) -> dict:
    """Keras Flatten: a channels-first input of rank >= 3 is moved to channels-last first."""
    T = tf_lib()
    tf = T.tf

    def forward(x):
        if call.data_format == "NCHW" and len(x.shape) >= 3:
            x = tf.transpose(x, [0, *range(2, len(x.shape)), 1])
        return tf.reshape(x, [int(x.shape[0]), -1])
    return T.tape(forward, call, ("x",))


_KERAS_FORMAT = {"NHWC": "channels_last", "NCHW": "channels_first"}


def flatten_errors() -> list:
    return [error("0-D x", "x", {"x": np.float32(1.0)}),
            error("unknown data_format", "data_format", {"x": ones(2, 3, 4)}, data_format="NCWH")]


FLATTEN = OpInfo(
    name="flatten", description="reshape to (batch, -1); channels-first moved to channels-last first, as Keras Flatten",
    arrays=("x",), differentiable=("x",), outputs=("y",),
    params={"data_format": DATA_FORMAT}, strategy=flatten_cases,
    features=lambda case: [f"{case.arrays['x'].ndim}-D {case.params.get('data_format', 'NHWC')}"],
    paths=(RefPath("tape", flatten_tape),),
    plain_tf=PlainTF("keras.layers.Flatten({params}, dtype=x.dtype)(x)",
                     lambda call: {"data_format": _KERAS_FORMAT.get(call.params.get("data_format", "NHWC"),
                                                                   call.params.get("data_format"))}),
    error_inputs=flatten_errors, tolerance_class="elementwise",
    )

OPS = (DENSE, DROPOUT, FLATTEN)
