"""``--convention deeplearning-ai``: the Coursera "Convolutional Neural Networks: Step by Step" functions.

The convention: NHWC activations ``(m, n_H, n_W, n_C)``; ``W (f, f, n_C_prev, n_C)`` (HWIO, as
TensorFlow's); ``b (1, 1, 1, n_C)``; ``hparameters = {"stride", "pad"}`` for convolutions (symmetric
zero padding, output ``int((n_H_prev - f + 2 pad) / stride) + 1``) and ``{"f", "stride"}`` for
pooling (VALID); ``conv_forward`` and ``pool_forward`` return ``(output, cache)``;
``conv_backward(dZ, cache) -> (dA_prev, dW, db)``; ``pool_backward(dA, cache, mode)``. The helpers
``zero_pad``, ``conv_single_step``, ``create_mask_from_window`` and ``distribute_value`` are checked
against TensorFlow's own ops (``tf.pad``, a product sum, ``tf.equal(x, reduce_max(x))``, ``tf.fill``).

Each function is checked on its own (crosscheck/check/deeplearning_ai_reference.py): the other
convention functions it calls are crosscheck's references while it runs, and a backward's cache
comes from the reference forward.

The assignment's max-pool backward uses ``create_mask_from_window``, which gives the whole
gradient to every tied maximum: on cases with ties that is reported as a tie-rule note.
"""
from __future__ import annotations

import types

import numpy as np
from hypothesis import strategies as st

from ..case import IMPLEMENTATION_ERROR, Case, Outcome
from ..ops._common import tf_lib
from ..tracebacks import user_traceback
from . import cases as C
from .cs231n import registry_run
from .deeplearning_ai_reference import on_its_own
from .run import Guard, Spec, grads, modified_outcome, outcome_of, own_diff, pair

SUPPORTS = C.Supports(square=True, stride_divides=False, in_channels=(1, 2, 3), out_channels=(1, 2, 3))


def _tf():
    return tf_lib().tf


# ---------------------------------------------------------------------------------------- adapters

def conv_adapter(fwd, bwd, names, guard: Guard):
    def call(input, filters, bias, strides, padding):
        hparameters = {"stride": int(strides[0]), "pad": int(padding[1][0])}
        b = bias.reshape(1, 1, 1, -1)
        return pair(names[0], guard.call(fwd, ("A_prev", "W", "b", "hparameters"), input, filters, b, hparameters))

    def conv2d(input, filters, bias=None, strides=1, padding="VALID", dilations=1, data_format="NHWC"):
        return call(input, filters, bias, strides, padding)[0]

    def vjp(op, input, filters, bias=None, strides=1, padding="VALID", dilations=1, data_format="NHWC"):
        z, cache = call(input, filters, bias, strides, padding)

        def pullback(dy):
            if bwd is None:
                return None, None, None
            da, dw, db = grads(names[1], guard.call(lambda d: bwd(d, cache), ("dZ",), dy), 3)
            return da, dw, None if db is None else np.asarray(db).reshape(-1) if np.size(db) == bias.size else db
        return z, pullback
    return types.SimpleNamespace(conv2d=conv2d, vjp=vjp, __name__=names[0])


def pool_adapter(fwd, bwd, names, guard: Guard, mode: str = "max"):
    op = "max_pool2d" if mode == "max" else "avg_pool2d"

    def call(input, ksize, strides):
        hparameters = {"f": int(ksize[0]), "stride": int(strides[0])}
        return pair(names[0], guard.call(lambda a, h: fwd(a, h, mode=mode), ("A_prev", "hparameters"), input,
                                         hparameters))

    def pool(input, ksize, strides, padding="VALID", data_format="NHWC"):
        return call(input, ksize, strides)[0]

    def vjp(op_name, input, ksize, strides, padding="VALID", data_format="NHWC"):
        a, cache = call(input, ksize, strides)
        return a, lambda dy: (None if bwd is None else guard.call(lambda d: bwd(d, cache, mode=mode), ("dA",), dy),)
    return types.SimpleNamespace(**{op: pool}, vjp=vjp, __name__=names[0])


# ------------------------------------------------------------------------------ the small helpers

@st.composite
def pad_cases(draw) -> Case:
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 3)))
    seed = draw(C.SEEDS)
    rng = np.random.default_rng(seed)
    return Case("zero_pad", {"pad": draw(st.integers(0, 3))}, {"X": rng.standard_normal(shape)}, None, C.DTYPE, seed)


@st.composite
def step_cases(draw) -> Case:
    f, c = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    seed = draw(C.SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"a_slice_prev": rng.standard_normal((f, f, c)), "W": rng.standard_normal((f, f, c)),
              "b": rng.standard_normal((1, 1, 1))}
    return Case("conv_single_step", {}, arrays, None, C.DTYPE, seed)


@st.composite
def window_cases(draw) -> Case:
    f = draw(st.integers(1, 4))
    seed = draw(C.SEEDS)
    rng = np.random.default_rng(seed)
    x = (C.tie_values if draw(st.booleans()) else C.distinct_values)(rng, f * f).reshape(f, f)
    return Case("create_mask_from_window", {}, {"x": x}, None, C.DTYPE, seed)


@st.composite
def distribute_cases(draw) -> Case:
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    seed = draw(C.SEEDS)
    rng = np.random.default_rng(seed)
    return Case("distribute_value", {"shape": list(shape)}, {"dz": np.asarray(rng.standard_normal())}, None,
                C.DTYPE, seed)


def helper_run(name: str):
    """zero_pad, conv_single_step, create_mask_from_window, distribute_value against TF's own ops."""
    def reference(case: Case):
        tf = _tf()
        a, p = case.arrays, case.params
        if name == "zero_pad":
            return tf.pad(a["X"], [[0, 0], [p["pad"]] * 2, [p["pad"]] * 2, [0, 0]]).numpy()
        if name == "conv_single_step":
            return (tf.reduce_sum(a["a_slice_prev"] * a["W"]) + tf.reshape(a["b"], [])).numpy()
        if name == "create_mask_from_window":
            return tf.equal(a["x"], tf.reduce_max(a["x"])).numpy()
        return tf.fill(p["shape"], a["dz"] / float(np.prod(p["shape"]))).numpy()

    def run(module, case: Case, options: dict) -> Outcome:
        fn = getattr(module, name)
        guard = Guard()
        args = list(case.arrays.values()) + ([case.params["pad"]] if name == "zero_pad" else []) + (
            [tuple(case.params["shape"])] if name == "distribute_value" else [])
        names = list(case.arrays) + (["pad"] if name == "zero_pad" else []) + (["shape"] if name == "distribute_value"
                                                                              else [])
        try:
            out = guard.call(fn, tuple(names), *[np.array(a, copy=True) if isinstance(a, np.ndarray) else a
                                                 for a in args])
        except Exception as exc:
            return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(exc), impl=name)
        expected = reference(case)
        # a mask is compared as numbers (True = 1): cast to bool, any nonzero at the maximum (the window's
        # value there, x * (x == x.max())) would pass, and pool_backward would scale its gradient by it
        path = f"tf ({name})"
        diff = own_diff(case, None if out is None else np.asarray(out, dtype=np.float64),
                        np.asarray(expected, dtype=np.float64), "y", path, int(np.size(case.arrays.get("W", 1))))
        return modified_outcome(outcome_of(case, [diff], name, [path]), guard.modified)
    return run


# ----------------------------------------------------------------------------------------- specs

def _specs() -> list[Spec]:
    conv = lambda o: C.conv_cases(SUPPORTS, layout="NHWC")  # noqa: E731
    pool = lambda o: C.pool_split_cases(SUPPORTS, "NHWC", o)  # noqa: E731
    out = [Spec(n, (n,), c, on_its_own(helper_run(n), n), ("y",)) for n, c in (
        ("zero_pad", lambda o: pad_cases()), ("conv_single_step", lambda o: step_cases()),
        ("create_mask_from_window", lambda o: window_cases()), ("distribute_value", lambda o: distribute_cases()))]
    out += [
        Spec("conv_forward", ("conv_forward",), conv,
             on_its_own(registry_run(conv_adapter, ("conv_forward",), ("y",)), "conv_forward"), ("y",)),
        Spec("conv_backward", ("conv_backward",), conv,
             on_its_own(registry_run(conv_adapter, ("conv_forward", "conv_backward"), ("d_input", "d_filters", "d_bias")),
                        "conv_backward", forward="conv_forward"),
             ("d_input", "d_filters", "d_bias")),
        Spec("pool_forward", ("pool_forward",), pool, on_its_own(_pool_run("pool_forward", None), "pool_forward"),
             ("y",), splits=C.POOL_SPLITS),
        Spec("pool_backward", ("pool_backward",), pool,
             on_its_own(_pool_run("pool_forward", "pool_backward"), "pool_backward", forward="pool_forward"),
             ("d_input",), ties=True, splits=C.POOL_SPLITS),
    ]
    return out


def _pool_run(fwd: str, bwd: str | None):
    """The pool case's op says the mode: max_pool2d -> mode="max", avg_pool2d -> mode="average"."""
    names = (fwd,) if bwd is None else (fwd, bwd)
    judged = ("y",) if bwd is None else ("d_input",)
    runs = {op: registry_run(pool_adapter, names, judged, mode=mode)
            for op, mode in (("max_pool2d", "max"), ("avg_pool2d", "average"))}
    return lambda module, case, options: runs[case.op](module, case, options)


SPECS = _specs()
FUNCTION_NAMES = [s.name for s in SPECS]
