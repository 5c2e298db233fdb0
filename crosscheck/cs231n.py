"""Check a CS231n-convention implementation (``conv_forward_naive(x, w, b, conv_param)`` ...) against
TensorFlow: ``crosscheck check PATH_OR_MODULE --convention cs231n``.

The convention: NCHW inputs; conv weights ``(F, C, HH, WW)``; ``conv_param = {'stride', 'pad'}``
(symmetric zero padding); ``pool_param = {'pool_height', 'pool_width', 'stride'}``; ``bn_param =
{'mode', 'eps', 'momentum', 'running_mean', 'running_var'}``; ``dropout_param = {'p', 'mode', 'seed'}``
with ``p`` the probability of *keeping* a unit (the current assignment); forward functions return
``(out, cache)``, backward functions take ``(dout, cache)``.

Each function found is mapped onto a registry op through an *adapter*: a small object that offers
the op under npcnn.functional's signature (and ``vjp``) by calling the user's functions and
converting layouts (HWIO <-> (F, C, HH, WW), params dicts). Cases are the registry's Case, so the
TensorFlow oracle, tolerance policy, diagnosis, arbiter and reports are the ones ``crosscheck run``
uses. Three functions have no registry op and get a small, documented TensorFlow formulation here:
``softmax_loss`` (mean of ``tf.nn.sparse_softmax_cross_entropy_with_logits``), ``svm_loss`` (the
multi-class hinge ``sum_{j != y} max(0, x_j - x_y + 1) / N`` from tf ops under GradientTape) and
``dropout`` (no TF op can reproduce the user's random mask: checked against its own mask, plus a
binomial test of the kept fraction).

Only configurations the assignment allows are generated: ``(H + 2 pad - HH) % stride == 0`` for
conv, ``(H - pool_height) % stride == 0`` for pooling. Max-pool cases include ties in half of the
examples (TF's rule, the first maximum in row-major window order, is the spec).
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
import types
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from .case import (FAILING, IMPLEMENTATION_ERROR, MISMATCH, PASS, REFERENCE_ERROR, REFERENCE_UNSUPPORTED, Case,
                   Outcome, TensorDiff)
from .compare import compare
from .tolerance import tolerance

DTYPE = "float64"
SEEDS = st.integers(0, 2**31 - 1)


# ------------------------------------------------------------------------------------------ loading

class LoadError(Exception):
    """The user's file or module cannot be loaded (the message says why, without our traceback)."""


def load_user_code(target: str) -> types.ModuleType:
    """Import a ``.py`` file (by path) or a module (by dotted name)."""
    path = Path(target)
    try:
        if path.suffix == ".py" or path.exists():
            if not path.is_file():
                raise LoadError(f"{target}: no such file")
            name = f"crosscheck_user_{zlib.crc32(str(path.resolve()).encode()):08x}"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(path.resolve().parent))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(path.resolve().parent))
            return module
        return importlib.import_module(target)
    except LoadError:
        raise
    except SyntaxError as e:
        raise LoadError(f"{e.filename}:{e.lineno}: syntax error: {e.msg}\n  {(e.text or '').rstrip()}") from None
    except BaseException as e:  # an import error, or anything the module raises at import time
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        user = [t for t in tb if "importlib" not in t and "crosscheck/cs231n.py" not in t]
        raise LoadError(f"importing {target} raised {type(e).__name__}: {e}\n" + "".join(user[-6:])) from None


# ---------------------------------------------------------------------------------------- adapters

def _pair(fn_name: str, result, what="(out, cache)"):
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"{fn_name} must return {what}, got {type(result).__name__}")
    return result


def _grads(fn_name: str, result, n: int):
    if not isinstance(result, tuple) or len(result) != n:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise TypeError(f"{fn_name} must return {n} gradients, got {got}")
    return result


def conv_adapter(fwd, bwd, names):
    def call(input, filters, bias, strides, padding):
        conv_param = {"stride": int(strides[0]), "pad": int(padding[2][0])}
        return _pair(names[0], fwd(input.copy(), np.ascontiguousarray(filters.transpose(3, 2, 0, 1)), bias.copy(),
                                   conv_param))

    def conv2d(input, filters, bias=None, strides=1, padding="VALID", dilations=1, data_format="NCHW"):
        return call(input, filters, bias, strides, padding)[0]

    def vjp(op, input, filters, bias=None, strides=1, padding="VALID", dilations=1, data_format="NCHW"):
        out, cache = call(input, filters, bias, strides, padding)

        def pullback(dy):
            if bwd is None:      # a forward-only row: gradients are not judged
                return None, None, None
            dx, dw, db = _grads(names[1], bwd(dy.copy(), cache), 3)
            return dx, np.asarray(dw).transpose(2, 3, 1, 0), db
        return out, pullback
    return types.SimpleNamespace(conv2d=conv2d, vjp=vjp, __name__=names[0])


def pool_adapter(fwd, bwd, names):
    def call(input, ksize, strides):
        pool_param = {"pool_height": int(ksize[0]), "pool_width": int(ksize[1]), "stride": int(strides[0])}
        return _pair(names[0], fwd(input.copy(), pool_param))

    def max_pool2d(input, ksize, strides, padding="VALID", data_format="NCHW"):
        return call(input, ksize, strides)[0]

    def vjp(op, input, ksize, strides, padding="VALID", data_format="NCHW"):
        out, cache = call(input, ksize, strides)
        return out, lambda dy: (None if bwd is None else bwd(dy.copy(), cache),)
    return types.SimpleNamespace(max_pool2d=max_pool2d, vjp=vjp, __name__=names[0])


def _fold(d: int) -> tuple:
    """A (d1, d2) with d1 * d2 = d: affine_forward must flatten its input itself."""
    for k in (2, 3, 5):
        if d % k == 0 and d > k:
            return (k, d // k)
    return (d,)


def xs_shape(x) -> tuple:
    return (x.shape[0], *_fold(x.shape[1]))


def affine_adapter(fwd, bwd, names):
    def call(x, kernel, bias):
        xs = x.reshape(xs_shape(x))
        return _pair(names[0], fwd(xs.copy(), kernel.copy(), bias.copy()))

    def dense(x, kernel, bias=None):
        return call(x, kernel, bias)[0]

    def vjp(op, x, kernel, bias=None):
        out, cache = call(x, kernel, bias)

        def pullback(dy):
            if bwd is None:
                return None, None, None
            dx, dw, db = _grads(names[1], bwd(dy.copy(), cache), 3)
            dx = np.asarray(dx)
            if dx.shape != xs_shape(x):
                raise ValueError(f"{names[1]} returned dx of shape {dx.shape}, but {names[0]} was given x of "
                                 f"shape {xs_shape(x)}: dx must have x's shape")
            return dx.reshape(x.shape), dw, db
        return out, pullback
    return types.SimpleNamespace(dense=dense, vjp=vjp, __name__=names[0])


def relu_adapter(fwd, bwd, names):
    def relu(features):
        return _pair(names[0], fwd(features.copy()))[0]

    def vjp(op, features):
        out, cache = _pair(names[0], fwd(features.copy()))
        return out, lambda dy: (None if bwd is None else bwd(dy.copy(), cache),)
    return types.SimpleNamespace(relu=relu, vjp=vjp, __name__=names[0])


def norm_adapter(fwd, bwd, names, kind: str):
    """batchnorm / spatial_batchnorm (op batch_normalization), layernorm (layer_normalization),
    spatial_groupnorm (group_normalization with axis 1; gamma and beta shaped (1, C, 1, 1))."""
    def call(x, gamma, beta, params, moving_mean=None, moving_variance=None):
        eps = float(params.get("epsilon", 1e-5))
        if kind == "layernorm":
            return _pair(names[0], fwd(x.copy(), gamma.copy(), beta.copy(), {"eps": eps}))
        if kind == "groupnorm":
            c = x.shape[1]
            return _pair(names[0], fwd(x.copy(), gamma.reshape(1, c, 1, 1).copy(), beta.reshape(1, c, 1, 1).copy(),
                                       int(params["groups"]), {"eps": eps}))
        bn_param = {"mode": "train" if params.get("training", True) else "test", "eps": eps, "momentum": 0.9}
        if moving_mean is not None:
            bn_param.update(running_mean=moving_mean.copy(), running_var=moving_variance.copy())
        return _pair(names[0], fwd(x.copy(), gamma.copy(), beta.copy(), bn_param))

    def forward(x, gamma, beta, moving_mean=None, moving_variance=None, **params):
        return call(x, gamma, beta, params, moving_mean, moving_variance)[0]

    def vjp(op, x, gamma, beta, moving_mean=None, moving_variance=None, **params):
        out, cache = call(x, gamma, beta, params, moving_mean, moving_variance)

        def pullback(dy):
            if bwd is None:
                return None, None, None
            dx, dgamma, dbeta = _grads(names[1], bwd(dy.copy(), cache), 3)
            return dx, np.asarray(dgamma).reshape(gamma.shape), np.asarray(dbeta).reshape(beta.shape)
        return out, pullback
    op = {"batchnorm": "batch_normalization", "layernorm": "layer_normalization",
          "groupnorm": "group_normalization"}[kind]
    return types.SimpleNamespace(**{op: forward}, vjp=vjp, __name__=names[0])


# ----------------------------------------------------------------------------------------- cases

def _normal(rng, shape):
    return rng.standard_normal(tuple(shape))


@st.composite
def conv_cases(draw, backward: bool) -> Case:
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    if f == n:   # a batch size unequal to the filter count makes axis mix-ups (db over N) shape errors
        f += 1
    hh, ww = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    # the assignment asserts (H + 2 pad - HH) % stride == 0: draw the output size, then the input
    oh, ow = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    h, w = (oh - 1) * stride + hh - 2 * pad, (ow - 1) * stride + ww - 2 * pad
    if h < 1 or w < 1:
        pad = 0
        h, w = (oh - 1) * stride + hh, (ow - 1) * stride + ww
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    params = dict(strides=[stride, stride], padding=[[0, 0], [0, 0], [pad, pad], [pad, pad]], dilations=[1, 1],
                  data_format="NCHW")
    arrays = {"input": _normal(rng, (n, c, h, w)), "filters": _normal(rng, (hh, ww, c, f)),
              "bias": _normal(rng, (f,))}
    dy = _normal(rng, (n, f, oh, ow))  # TF's conv paths need dy even for a forward row
    return Case("conv2d", params, arrays, dy, DTYPE, seed)


@st.composite
def pool_cases(draw, backward: bool) -> Case:
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    oh, ow = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = (oh - 1) * stride + ph, (ow - 1) * stride + pw
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    size = n * c * h * w
    if draw(st.booleans()):   # ties: few distinct values
        x = rng.integers(-2, 3, size).astype(np.float64).reshape(n, c, h, w)
    else:
        x = np.linspace(-3.0, 3.0, size)[rng.permutation(size)].reshape(n, c, h, w)
    params = dict(ksize=[ph, pw], strides=[stride, stride], padding="VALID", data_format="NCHW")
    dy = _normal(rng, (n, c, oh, ow)) if backward else None
    return Case("max_pool2d", params, {"input": x}, dy, DTYPE, seed)


@st.composite
def affine_cases(draw, backward: bool) -> Case:
    n, d, m = draw(st.integers(1, 4)), draw(st.integers(1, 12)), draw(st.integers(1, 5))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    arrays = {"x": _normal(rng, (n, d)), "kernel": _normal(rng, (d, m)), "bias": _normal(rng, (m,))}
    return Case("dense", {}, arrays, _normal(rng, (n, m)) if backward else None, DTYPE, seed)


@st.composite
def relu_cases(draw, backward: bool) -> Case:
    shape = draw(st.sampled_from([(4, 5), (2, 3, 4, 4), (3, 7)]))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    return Case("relu", {}, {"features": _normal(rng, shape)}, _normal(rng, shape) if backward else None,
                DTYPE, seed)


@st.composite
def norm_cases(draw, backward: bool, kind: str) -> Case:
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    eps = draw(st.sampled_from([1e-5, 1e-3]))
    n = draw(st.integers(2, 5))
    if kind in ("batchnorm", "layernorm"):
        shape, c, axis = (n, draw(st.integers(2, 6))), None, -1
        c = shape[1]
    else:
        c = draw(st.integers(1, 3)) * (draw(st.integers(1, 3)) if kind == "groupnorm" else 1)
        shape, axis = (n, c, draw(st.integers(2, 4)), draw(st.integers(2, 5))), 1
    x = _normal(rng, shape) * 1.5 + 0.5
    arrays = {"x": x, "gamma": _normal(rng, (c,)), "beta": _normal(rng, (c,))}
    dy = _normal(rng, shape) if backward else None
    if kind == "layernorm":
        return Case("layer_normalization", dict(axis=-1, epsilon=eps), arrays, dy, DTYPE, seed)
    if kind == "groupnorm":
        groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
        return Case("group_normalization", dict(groups=groups, epsilon=eps, axis=1), arrays, dy, DTYPE, seed)
    training = True if backward else draw(st.booleans())
    arrays.update(moving_mean=_normal(rng, (c,)), moving_variance=rng.uniform(0.5, 2.0, (c,)))
    return Case("batch_normalization", dict(training=training, epsilon=eps, axis=axis), arrays, dy, DTYPE, seed)


@st.composite
def loss_cases(draw, op: str) -> Case:
    n, c = draw(st.integers(1, 6)), draw(st.integers(2, 6))
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    # large scores in some softmax examples: exp without subtracting the max overflows there
    scale = 1000.0 if op == "softmax_loss" and rng.random() < 0.4 else 1.0
    x = _normal(rng, (n, c)) * scale
    return Case(op, {}, {"x": x, "y": rng.integers(0, c, n)}, None, DTYPE, seed)


@st.composite
def dropout_cases(draw, backward: bool) -> Case:
    seed = draw(SEEDS)
    rng = np.random.default_rng(seed)
    p = draw(st.sampled_from([0.3, 0.5, 0.8]))
    mode = "train" if backward else draw(st.sampled_from(["train", "train", "test"]))
    shape = (40, 50)
    x = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)   # no zeros: out != 0 marks a kept unit
    return Case("dropout", {"p": p, "mode": mode, "seed": int(seed % 1000)}, {"x": x},
                _normal(rng, shape) if backward else None, DTYPE, seed)


# ----------------------------------------------------------------------------- custom references

def _tf():
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    return tf


def tf_softmax_loss(x, y):
    """mean_i sparse_softmax_cross_entropy(y_i, x_i) and its gradient, by GradientTape."""
    tf = _tf()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(y), logits=xt))
    return loss.numpy(), tape.gradient(loss, xt).numpy()


def tf_svm_loss(x, y):
    """Multi-class hinge loss, the CS231n definition, from tf ops under GradientTape:
    ``L = (1/N) sum_i sum_{j != y_i} max(0, x_ij - x_iy_i + 1)``."""
    tf = _tf()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        correct = tf.gather(xt, tf.constant(y), axis=1, batch_dims=1)[:, None]
        margins = tf.maximum(tf.zeros_like(xt), xt - correct + 1.0)
        not_y = 1.0 - tf.one_hot(tf.constant(y), x.shape[1], dtype=xt.dtype)
        loss = tf.reduce_sum(margins * not_y) / x.shape[0]
    return loss.numpy(), tape.gradient(loss, xt).numpy()


def _diff(case: Case, actual, expected, tensor: str, path: str, terms: int) -> TensorDiff:
    """compare() under the float64 tolerance policy, with the diagnosis of a mismatch attached."""
    from .diagnosis import diagnose_tensor
    tol = tolerance(DTYPE, terms, np.asarray(expected))
    d = compare(actual, expected, tol, tensor=tensor, path=path)
    if not d.passed:
        try:   # no registry op: only the hypotheses that need no OpInfo apply (sign, scale, NaN, ...)
            d.diagnosis = diagnose_tensor(None, case, d, actual, expected, tol)
        except Exception:
            pass
    return d


def _outcome(case: Case, diffs: list[TensorDiff], impl: str, paths: list[str], notes=None) -> Outcome:
    status = PASS if all(d.passed for d in diffs) else MISMATCH
    return Outcome(case, status, paths=paths, diffs=diffs, notes=list(notes or []), impl=impl)


def run_loss(fn, name: str, case: Case) -> Outcome:
    x, y = case.arrays["x"], case.arrays["y"]
    try:
        loss, dx = _pair(name, fn(x.copy(), y.copy()), "(loss, dx)")
        loss = np.asarray(loss, dtype=np.float64)
    except Exception:
        return Outcome(case, IMPLEMENTATION_ERROR, message=traceback.format_exc(), impl=name)
    ref = tf_softmax_loss if case.op == "softmax_loss" else tf_svm_loss
    path = "tape_sparse_softmax_cross_entropy_mean" if case.op == "softmax_loss" else "tape_multiclass_hinge"
    e_loss, e_dx = ref(x, y)
    c = x.shape[1]
    diffs = [_diff(case, loss.reshape(()) if loss.size == 1 else loss, e_loss, "loss", path, x.size),
             _diff(case, dx, e_dx, "d_x", path, c)]
    return _outcome(case, diffs, name, [path])


def run_dropout(fwd, bwd, names, case: Case) -> Outcome:
    """Forward: out == x * keep / p with keep = (out != 0), the keep fraction within 5 sigma of p
    (binomial), test mode the identity. Backward: dx == dout * keep / p with the same mask."""
    x, p = case.arrays["x"], case.params["p"]
    param = dict(case.params)
    try:
        out, cache = _pair(names[0], fwd(x.copy(), param))
        out = np.asarray(out)
        dx = np.asarray(bwd(case.dy.copy(), cache)) if bwd is not None else None
    except Exception:
        return Outcome(case, IMPLEMENTATION_ERROR, message=traceback.format_exc(), impl=names[-1])
    path = "own mask (no TF op draws the same random mask)"
    if case.params["mode"] == "test":
        return _outcome(case, [_diff(case, out, x, "y", path, 1)], names[0], [path])
    keep = out != 0
    frac, n = float(keep.mean()), keep.size
    sigma = np.sqrt(p * (1 - p) / n)
    notes = [f"kept fraction {frac:.3f} for keep probability p = {p} (binomial sd {sigma:.3f})"]
    diffs = []
    if dx is None:
        stat = TensorDiff(tensor="kept_fraction", path="binomial test, 5 sd", passed=abs(frac - p) <= 5 * sigma,
                          shape=(), expected_shape=(), atol=5 * sigma, rtol=0.0, max_abs_err=abs(frac - p),
                          mismatched=int(abs(frac - p) > 5 * sigma), total=1,
                          worst=[{"index": [], "actual": frac, "expected": p, "abs_err": abs(frac - p)}])
        if not stat.passed and abs(frac - (1 - p)) <= 5 * sigma:
            stat.diagnosis = [{"label": "scale-factor", "evidence": f"the kept fraction {frac:.3f} is 1 - p: p is "
                               "used as the drop probability; the convention keeps each unit with probability p"}]
        diffs.append(stat)
        y = np.where(keep, x / p, 0.0)
        diffs.append(_diff(case, out, y, "y", path, 1))
    else:
        e = np.where(keep, case.dy / p, 0.0)
        diffs.append(_diff(case, dx, e, "d_x", path, 1))
    return _outcome(case, diffs, names[-1], [path], notes)


# ----------------------------------------------------------------------------------------- specs

@dataclass(frozen=True)
class Spec:
    """One checkable function: its name, the forward it needs, how cases are drawn, how it runs."""
    name: str
    forward: str
    backward: str | None
    kind: str                      # "registry", "loss", "dropout"
    cases: Callable[[], object]    # () -> hypothesis strategy of Case
    adapter: Callable | None = None
    tensors: tuple = ()            # registry tensors this row is judged on


def _variants(base: str, suffixes=("_naive", "_fast", "_strides")):
    return [base + s for s in suffixes]


def _specs() -> list[Spec]:
    specs = []
    conv_fwds, conv_bwds = _variants("conv_forward"), _variants("conv_backward")
    for fwd in conv_fwds:
        specs.append(Spec(fwd, fwd, None, "registry", lambda: conv_cases(False), conv_adapter, ("y",)))
    for fwd, bwd in zip(conv_fwds, conv_bwds):
        specs.append(Spec(bwd, fwd, bwd, "registry", lambda: conv_cases(True), conv_adapter,
                          ("d_input", "d_filters", "d_bias")))
    for s in ("_naive", "_fast"):
        specs.append(Spec("max_pool_forward" + s, "max_pool_forward" + s, None, "registry",
                          lambda: pool_cases(False), pool_adapter, ("y",)))
        specs.append(Spec("max_pool_backward" + s, "max_pool_forward" + s, "max_pool_backward" + s, "registry",
                          lambda: pool_cases(True), pool_adapter, ("d_input",)))
    specs += [
        Spec("affine_forward", "affine_forward", None, "registry", lambda: affine_cases(False), affine_adapter, ("y",)),
        Spec("affine_backward", "affine_forward", "affine_backward", "registry", lambda: affine_cases(True),
             affine_adapter, ("d_x", "d_kernel", "d_bias")),
        Spec("relu_forward", "relu_forward", None, "registry", lambda: relu_cases(False), relu_adapter, ("y",)),
        Spec("relu_backward", "relu_forward", "relu_backward", "registry", lambda: relu_cases(True), relu_adapter,
             ("d_features",)),
        Spec("softmax_loss", "softmax_loss", None, "loss", lambda: loss_cases("softmax_loss")),
        Spec("svm_loss", "svm_loss", None, "loss", lambda: loss_cases("svm_loss")),
    ]
    grads = ("d_x", "d_gamma", "d_beta")
    for prefix, kind in (("batchnorm", "batchnorm"), ("spatial_batchnorm", "spatial_batchnorm"),
                         ("layernorm", "layernorm"), ("spatial_groupnorm", "groupnorm")):
        adapter_kind = "batchnorm" if kind == "spatial_batchnorm" else kind
        adapter = (lambda k: lambda f, b, n: norm_adapter(f, b, n, k))(adapter_kind)
        fwd = prefix + "_forward"
        specs.append(Spec(fwd, fwd, None, "registry", (lambda k: lambda: norm_cases(False, k))(kind), adapter, ("y",)))
        backs = [prefix + "_backward"] + (["batchnorm_backward_alt"] if prefix == "batchnorm" else [])
        for bwd in backs:
            specs.append(Spec(bwd, fwd, bwd, "registry", (lambda k: lambda: norm_cases(True, k))(kind), adapter, grads))
    specs += [Spec("dropout_forward", "dropout_forward", None, "dropout", lambda: dropout_cases(False)),
              Spec("dropout_backward", "dropout_forward", "dropout_backward", "dropout", lambda: dropout_cases(True))]
    return specs


SPECS = _specs()
FUNCTION_NAMES = [s.name for s in SPECS]


# ------------------------------------------------------------------------------------------- runs

@dataclass
class Row:
    """The verdict on one function: status (passed / mismatched / error / skipped), examples tried."""
    function: str
    status: str
    tried: int = 0
    failed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    message: str = ""

    @property
    def first_failure(self) -> Outcome | None:
        return next((o for o in self.outcomes if o.status in FAILING), None)


def run_spec(spec: Spec, module, case: Case) -> Outcome:
    fwd = getattr(module, spec.forward)
    bwd = getattr(module, spec.backward) if spec.backward else None
    if spec.kind == "loss":
        return run_loss(fwd, spec.name, case)
    if spec.kind == "dropout":
        return run_dropout(fwd, bwd, (spec.forward, spec.backward or spec.forward), case)
    from .runner import run_case
    adapter = spec.adapter(fwd, bwd, (spec.forward, spec.backward or spec.forward))
    outcome = run_case(case, adapter)
    outcome.impl = spec.name
    if outcome.diffs:
        outcome.diffs = [d for d in outcome.diffs if d.tensor in spec.tensors or d.path == "harness"]
        if outcome.status in (PASS, MISMATCH):
            outcome.status = PASS if all(d.passed for d in outcome.diffs if d.judged) else MISMATCH
    return outcome


def check_function(spec: Spec, module, examples: int, seed: int = 0, stop_after: int = 3) -> Row:
    """Run ``examples`` cases of one function; stops after ``stop_after`` failures."""
    from .fuzz import fuzz_outcomes
    row = Row(spec.name, "passed")

    def failures(outcomes):
        return sum(o.status in FAILING for o in outcomes)

    row.outcomes = fuzz_outcomes(spec.cases(), lambda case: run_spec(spec, module, case), examples=examples,
                                 seed_key=f"cs231n:{spec.name}:{seed}",
                                 stop=lambda outcomes: failures(outcomes) >= stop_after)
    row.tried, row.failed = len(row.outcomes), failures(row.outcomes)
    statuses = {o.status for o in row.outcomes}
    if IMPLEMENTATION_ERROR in statuses or REFERENCE_ERROR in statuses:
        row.status = "error"
    elif MISMATCH in statuses:
        row.status = "mismatched"
    elif statuses == {REFERENCE_UNSUPPORTED}:
        row.status = "reference-unsupported"
    return row


def check_module(module, examples: int = 10, seed: int = 0, only=None) -> list[Row]:
    """One Row per CS231n function found in ``module`` (a backward whose forward is missing is an
    error row); functions not present are not listed."""
    from .threads import limit_threads
    limit_threads()
    rows = []
    for spec in SPECS:
        if only and spec.name not in only:
            continue
        if not callable(getattr(module, spec.name, None)):
            continue
        if spec.backward and not callable(getattr(module, spec.forward, None)):
            rows.append(Row(spec.name, "error", message=f"{spec.name} needs {spec.forward} (its cache) but "
                                                       f"{spec.forward} is not defined"))
            continue
        rows.append(check_function(spec, module, examples, seed))
    return rows


def rows_ok(rows: list[Row]) -> bool:
    return all(r.status in ("passed", "reference-unsupported") for r in rows)
