"""``--convention cs231n``: CS231n assignment-2 functions (``conv_forward_naive(x, w, b, conv_param)``, ...).

The convention: NCHW inputs; conv weights ``(F, C, HH, WW)``; ``conv_param = {'stride', 'pad'}``
(symmetric zero padding); ``pool_param = {'pool_height', 'pool_width', 'stride'}``; ``bn_param =
{'mode', 'eps', 'momentum', 'running_mean', 'running_var'}``; ``dropout_param = {'p', 'mode', 'seed'}``;
forward functions return ``(out, cache)``, backward functions take ``(dout, cache)``. Only
configurations the assignment allows are generated (``(H + 2 pad - HH) % stride == 0``,
``(H - pool_height) % stride == 0``).

Year conventions, detected per file (``--cs231n-year`` pins what it can): dropout's ``p`` is the
probability of *dropping* a unit in the 2016-17 assignments and of *keeping* it from 2018; group
norm's gamma and beta are ``(1, C, 1, 1)`` in some years' code and ``(C,)`` in others.

Each function is mapped onto a registry op through an adapter (layouts and parameter dicts
converted), so the TensorFlow oracle, tolerance, diagnosis and reports are the ones ``crosscheck
run`` uses. ``softmax_loss`` and ``svm_loss`` (the mean over the batch of TF's sparse softmax
cross-entropy / of the multiclass hinge, by GradientTape) and dropout (the user's own mask, whose
kept fraction is tested binomially) have references of their own here.
"""
from __future__ import annotations

import dataclasses
import types

import numpy as np

from ..case import IMPLEMENTATION_ERROR, PASS, Case, Outcome, TensorDiff
from ..compare import NONE_NOTE
from ..ops._common import tf_lib
from ..runner import run_case
from ..tracebacks import user_traceback
from . import cases as C
from .cs231n_reference import TEMPLATE_CACHE, on_its_own, template_forward
from .run import Guard, Spec, Variant, WrongShape, grads, modified_outcome, outcome_of, own_diff, pair

TENSORS_CONV = ("d_input", "d_filters", "d_bias")
MODES = ({"training": True}, {"training": False})   # batch norm forward: train and test mode
DROPOUT = (Variant("keep", "dropout: p is the probability of keeping a unit (the assignments from 2018)"),
           Variant("drop", "dropout: p is the probability of dropping a unit (the 2016-17 assignments)"))
GROUPNORM = (Variant("(1, C, 1, 1)", "group norm: gamma and beta shaped (1, C, 1, 1)"),
             Variant("(C,)", "group norm: gamma and beta shaped (C,) (the docstring of other assignment years)"))


def pins_for_year(year: int | None) -> dict:
    """What ``--cs231n-year`` decides: dropout's meaning of p (group norm's gamma stays detected)."""
    return {} if year is None else {"dropout_p": "drop" if year <= 2017 else "keep"}


def _none_or(value, convert):
    return None if value is None else convert(np.asarray(value))


# ---------------------------------------------------------------------------------------- adapters

def conv_adapter(fwd, bwd, names, guard: Guard):
    def call(input, filters, bias, strides, padding):
        conv_param = {"stride": int(strides[0]), "pad": int(padding[2][0])}
        w = np.ascontiguousarray(filters.transpose(3, 2, 0, 1))
        return pair(names[0], guard.call(fwd, ("x", "w", "b", "conv_param"), input, w, bias, conv_param))

    def conv2d(input, filters, bias=None, strides=1, padding="VALID", dilations=1, data_format="NCHW"):
        return call(input, filters, bias, strides, padding)[0]

    def vjp(op, input, filters, bias=None, strides=1, padding="VALID", dilations=1, data_format="NCHW"):
        out, cache = call(input, filters, bias, strides, padding)

        def pullback(dy):
            if bwd is None:      # a forward-only row: gradients are not judged
                return None, None, None
            dx, dw, db = grads(names[1], guard.call(lambda d: bwd(d, cache), ("dout",), dy), 3)
            return dx, _none_or(dw, lambda a: a.transpose(2, 3, 1, 0)), db
        return out, pullback
    return types.SimpleNamespace(conv2d=conv2d, vjp=vjp, __name__=names[0])


def pool_adapter(fwd, bwd, names, guard: Guard):
    def call(input, ksize, strides):
        pool_param = {"pool_height": int(ksize[0]), "pool_width": int(ksize[1]), "stride": int(strides[0])}
        return pair(names[0], guard.call(fwd, ("x", "pool_param"), input, pool_param))

    def max_pool2d(input, ksize, strides, padding="VALID", data_format="NCHW"):
        return call(input, ksize, strides)[0]

    def vjp(op, input, ksize, strides, padding="VALID", data_format="NCHW"):
        out, cache = call(input, ksize, strides)
        return out, lambda dy: (None if bwd is None else guard.call(lambda d: bwd(d, cache), ("dout",), dy),)
    return types.SimpleNamespace(max_pool2d=max_pool2d, vjp=vjp, __name__=names[0])


def _fold(d: int) -> tuple:
    """A (d1, d2) with d1 * d2 = d: affine_forward must flatten its input itself."""
    for k in (2, 3, 5):
        if d % k == 0 and d > k:
            return (k, d // k)
    return (d,)


def xs_shape(x) -> tuple:
    return (x.shape[0], *_fold(x.shape[1]))


def affine_adapter(fwd, bwd, names, guard: Guard):
    def call(x, kernel, bias):
        return pair(names[0], guard.call(fwd, ("x", "w", "b"), x.reshape(xs_shape(x)), kernel, bias))

    def dense(x, kernel, bias=None):
        return call(x, kernel, bias)[0]

    def vjp(op, x, kernel, bias=None):
        out, cache = call(x, kernel, bias)

        def pullback(dy):
            if bwd is None:
                return None, None, None
            dx, dw, db = grads(names[1], guard.call(lambda d: bwd(d, cache), ("dout",), dy), 3)
            if dx is not None and np.shape(dx) != xs_shape(x):
                raise WrongShape(f"{names[1]} returned dx of shape {np.shape(dx)}, but {names[0]} was given x of "
                                 f"shape {xs_shape(x)}: dx must have x's shape")
            return _none_or(dx, lambda a: a.reshape(x.shape)), dw, db
        return out, pullback
    return types.SimpleNamespace(dense=dense, vjp=vjp, __name__=names[0])


def relu_adapter(fwd, bwd, names, guard: Guard):
    def relu(features):
        return pair(names[0], guard.call(fwd, ("x",), features))[0]

    def vjp(op, features):
        out, cache = pair(names[0], guard.call(fwd, ("x",), features))
        return out, lambda dy: (None if bwd is None else guard.call(lambda d: bwd(d, cache), ("dout",), dy),)
    return types.SimpleNamespace(relu=relu, vjp=vjp, __name__=names[0])


def norm_adapter(fwd, bwd, names, guard: Guard, kind: str, variant: str = ""):
    """batchnorm / spatial_batchnorm (op batch_normalization), layernorm (layer_normalization),
    groupnorm (group_normalization with axis 1; gamma and beta shaped by ``variant``)."""
    def call(x, gamma, beta, params, moving_mean=None, moving_variance=None):
        eps = float(params.get("epsilon", 1e-5))
        if kind == "layernorm":
            return pair(names[0], guard.call(fwd, ("x", "gamma", "beta", "ln_param"), x, gamma, beta, {"eps": eps}))
        if kind == "groupnorm":
            shape = (1, x.shape[1], 1, 1) if variant == "(1, C, 1, 1)" else (x.shape[1],)
            return pair(names[0], guard.call(fwd, ("x", "gamma", "beta", "G", "gn_param"), x, gamma.reshape(shape),
                                             beta.reshape(shape), int(params["groups"]), {"eps": eps}))
        bn_param = {"mode": "train" if params.get("training", True) else "test", "eps": eps, "momentum": 0.9}
        if moving_mean is not None:
            bn_param.update(running_mean=moving_mean.copy(), running_var=moving_variance.copy())
        # bn_param is the function's to write (running statistics); x, gamma and beta are not
        return pair(names[0], guard.call(fwd, ("x", "gamma", "beta", None), x, gamma, beta, bn_param))

    def forward(x, gamma, beta, moving_mean=None, moving_variance=None, **params):
        return call(x, gamma, beta, params, moving_mean, moving_variance)[0]

    def vjp(op, x, gamma, beta, moving_mean=None, moving_variance=None, **params):
        out, cache = call(x, gamma, beta, params, moving_mean, moving_variance)

        def pullback(dy):
            if bwd is None:
                return None, None, None
            dx, dgamma, dbeta = grads(names[1], guard.call(lambda d: bwd(d, cache), ("dout",), dy), 3)
            return (dx, _none_or(dgamma, lambda a: a.reshape(gamma.shape) if a.size == gamma.size else a),
                    _none_or(dbeta, lambda a: a.reshape(beta.shape) if a.size == beta.size else a))
        return out, pullback
    op = {"batchnorm": "batch_normalization", "layernorm": "layer_normalization",
          "groupnorm": "group_normalization"}[kind]
    return types.SimpleNamespace(**{op: forward}, vjp=vjp, __name__=names[0])


# ----------------------------------------------------------------------------------------- runs

def registry_run(adapter, names, judged, template: bool = False, **adapter_kw):
    """Run one case through ``crosscheck.runner.run_case`` with the user's functions behind ``adapter``;
    the Outcome keeps the ``judged`` tensors (and the harness's own checks). ``template``: a backward
    whose forward's cache the assignment fixes: its cache comes from crosscheck's reference forward
    (crosscheck.check.cs231n_reference.template_forward), the user's forward need not exist."""
    def run(module, case: Case, options: dict) -> Outcome:
        guard = Guard()
        bwd = getattr(module, names[1]) if len(names) > 1 else None
        notes: list[str] = []
        if template and bwd is not None:
            fwd = template_forward(names[0], getattr(module, names[0], None), notes)
        else:
            fwd = getattr(module, names[0])
        kw = dict(adapter_kw)
        if "variant" in options:
            kw["variant"] = options["variant"]
        outcome = run_case(case, adapter(fwd, bwd, names, guard, **kw))
        outcome.impl = names[-1]
        outcome.notes += [n for n in notes if n not in outcome.notes]
        if outcome.diffs:
            outcome.diffs = [d for d in outcome.diffs if keep_diff(d, judged)]
            if outcome.status != IMPLEMENTATION_ERROR:
                outcome.status = PASS if all(d.passed for d in outcome.diffs if d.judged) else "mismatch"
        own = [name for name in guard.modified if (name == "dout") == (bwd is not None)]
        return modified_outcome(outcome, own)
    return run


def keep_diff(d, judged) -> bool:
    """A row is judged on its own tensors; a backward row also on the forward output its cache came
    from when that has no value or the wrong shape (its gradients are then not judged, so the row
    must not pass)."""
    if d.tensor in judged:
        return True     # (an input written to is the Guard's to report, under the user's argument names)
    if d.tensor == "vjp:y" and "y" not in judged and not d.passed:
        return d.note == NONE_NOTE or tuple(d.shape) != tuple(d.expected_shape)
    return False




def tf_softmax_loss(x, y):
    """mean_i sparse_softmax_cross_entropy(y_i, x_i) and its gradient, by GradientTape."""
    tf = tf_lib().tf
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(y), logits=xt))
    return loss.numpy(), tape.gradient(loss, xt).numpy()


def tf_svm_loss(x, y):
    """Multi-class hinge loss, the CS231n definition, from tf ops under GradientTape:
    ``L = (1/N) sum_i sum_{j != y_i} max(0, x_ij - x_iy_i + 1)``."""
    tf = tf_lib().tf
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        correct = tf.gather(xt, tf.constant(y), axis=1, batch_dims=1)[:, None]
        margins = tf.maximum(tf.zeros_like(xt), xt - correct + 1.0)
        not_y = 1.0 - tf.one_hot(tf.constant(y), x.shape[1], dtype=xt.dtype)
        loss = tf.reduce_sum(margins * not_y) / x.shape[0]
    return loss.numpy(), tape.gradient(loss, xt).numpy()


MAGNITUDES = (1, 3, 10, 30, 100, 300, 1000, 3000)


def _finite(fn, x, y) -> bool:
    try:
        with np.errstate(all="ignore"):
            loss, dx = fn(x, y.copy())
    except Exception:
        return False
    return bool(np.all(np.isfinite(np.asarray(loss, dtype=np.float64)))
                and (dx is None or np.all(np.isfinite(np.asarray(dx, dtype=np.float64)))))


def instability(fn, x, y) -> tuple[str, int] | None:
    """("numerically-unstable" | "log-underflow", the smallest magnitude at which the user's loss or
    gradient stops being finite), or None. A softmax loss is shift-invariant: one that fails on
    ``x + c`` does not subtract the row max before exp; one that survives every shift but fails on
    ``x * m`` (large gaps between scores) takes the log of a probability that underflowed to 0."""
    base = x / max(float(np.max(np.abs(x))), 1e-12)
    for m in MAGNITUDES:
        if not _finite(fn, base + m, y):
            return "numerically-unstable", m
    for m in MAGNITUDES:
        if not _finite(fn, base * m, y):
            return "log-underflow", m
    return None


UNSTABLE_WHY = {
    "numerically-unstable": "exp overflows when every score is shifted by that much: the row's max is not "
                            "subtracted before exp",
    "log-underflow": "fine under any shift, but a gap of that size between scores makes a probability underflow "
                     "to 0 before its log is taken (take log-probabilities as shifted - log(sum(exp(shifted))))",
}


def label_instability(diffs: list, fn, x, y) -> None:
    """Give each failing diff of a softmax loss the instability ``fn`` shows on rescaled scores, if any
    (in place of the generic numerically-unstable entry)."""
    found = instability(fn, x, y)
    if found is None:
        return
    label, magnitude = found
    for d in diffs:
        if not d.passed:
            d.diagnosis = [e for e in d.diagnosis if e["label"] != "numerically-unstable"] + [
                {"label": label, "evidence": f"unstable for scores of magnitude ~{magnitude}: {UNSTABLE_WHY[label]}"}]


def loss_run(name: str):
    def run(module, case: Case, options: dict) -> Outcome:
        fn = getattr(module, name)
        x, y = case.arrays["x"], case.arrays["y"]
        guard = Guard()
        try:
            with np.errstate(all="ignore"):
                loss, dx = pair(name, guard.call(fn, ("x", "y"), x.copy(), y.copy()), "(loss, dx)")
        except Exception as exc:
            return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(exc), impl=name)
        ref = tf_softmax_loss if name == "softmax_loss" else tf_svm_loss
        path = "tape_sparse_softmax_cross_entropy_mean" if name == "softmax_loss" else "tape_multiclass_hinge"
        e_loss, e_dx = ref(x, y)
        loss = None if loss is None else np.asarray(loss, dtype=np.float64)
        diffs = [own_diff(case, None if loss is None else loss.reshape(()) if loss.size == 1 else loss, e_loss,
                          "loss", path, x.size),
                 own_diff(case, dx, e_dx, "d_x", path, x.shape[1])]
        if any(not d.passed for d in diffs) and loss is not None:
            label_instability(diffs, fn, x, y)
        return modified_outcome(outcome_of(case, diffs, name, [path]), guard.modified)
    return run


def dropout_run(fwd_name: str, bwd_name: str | None):
    """Forward: out == x * keep / p_keep with keep = (out != 0), the kept fraction within 5 sigma of
    p_keep (binomial), test mode the identity. Backward: dx == dout * keep / p_keep, the same mask.
    ``options["variant"]``: "keep" (p keeps a unit) or "drop" (p drops it)."""
    def run(module, case: Case, options: dict) -> Outcome:
        fwd = getattr(module, fwd_name)
        bwd = getattr(module, bwd_name) if bwd_name else None
        x, p = case.arrays["x"], float(case.params["p"])
        keep_p = p if options.get("variant", "keep") == "keep" else 1 - p
        guard = Guard()
        try:
            out, cache = pair(fwd_name, guard.call(fwd, ("x", "dropout_param"), x.copy(), dict(case.params)))
            out = None if out is None else np.asarray(out)
            dx = (guard.call(lambda d: bwd(d, cache), ("dout",), case.dy.copy()) if bwd is not None else None)
        except Exception as exc:
            return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(exc), impl=bwd_name or fwd_name)
        path = "own mask (no TensorFlow op draws the same random mask)"
        name = bwd_name or fwd_name
        if out is None:
            return outcome_of(case, [own_diff(case, None, x, "y", path, 1)], name, [path])
        if case.params["mode"] == "test":
            return modified_outcome(outcome_of(case, [own_diff(case, out, x, "y", path, 1)], name, [path]),
                                    guard.modified)
        keep = out != 0
        frac, n = float(keep.mean()), keep.size
        sigma = np.sqrt(keep_p * (1 - keep_p) / n)
        notes = [f"kept fraction {frac:.3f} for keep probability {keep_p} (binomial sd {sigma:.3f})"]
        diffs = []
        if bwd is None:
            stat = TensorDiff(tensor="kept_fraction", path="own binomial test, 5 sd", passed=abs(frac - keep_p) <= 5 * sigma,
                              shape=(), expected_shape=(), atol=5 * sigma, rtol=0.0, max_abs_err=abs(frac - keep_p),
                              mismatched=int(abs(frac - keep_p) > 5 * sigma), total=1,
                              worst=[{"index": [], "actual": frac, "expected": keep_p, "abs_err": abs(frac - keep_p)}])
            if not stat.passed and abs(frac - (1 - keep_p)) <= 5 * sigma:
                stat.diagnosis = [{"label": "scale-factor", "evidence": f"the kept fraction {frac:.3f} is 1 - "
                                   f"{keep_p}: p is read the other way round than the convention checked"}]
            diffs += [stat, own_diff(case, out, np.where(keep, x / keep_p, 0.0), "y", path, 1)]
        else:
            diffs.append(own_diff(case, dx, np.where(keep, case.dy / keep_p, 0.0), "d_x", path, 1))
        return modified_outcome(outcome_of(case, diffs, name, [path], notes), guard.modified)
    return run


# ----------------------------------------------------------------------------------------- specs

def _suffixed(base: str, suffixes=("_naive", "_fast", "_strides")):
    return [base + s for s in suffixes]


def specs() -> list[Spec]:
    out = []
    for fwd, bwd in zip(_suffixed("conv_forward"), _suffixed("conv_backward")):
        out.append(Spec(fwd, (fwd,), lambda o: C.conv_cases(), registry_run(conv_adapter, (fwd,), ("y",)), ("y",)))
        out.append(Spec(bwd, _requires(fwd, bwd), lambda o: C.conv_cases(),
                        registry_run(conv_adapter, (fwd, bwd), TENSORS_CONV, template=fwd in TEMPLATE_CACHE),
                        TENSORS_CONV))
    for s in ("_naive", "_fast"):
        fwd, bwd = "max_pool_forward" + s, "max_pool_backward" + s
        out.append(Spec(fwd, (fwd,), lambda o: C.pool_cases(), registry_run(pool_adapter, (fwd,), ("y",)), ("y",)))
        out.append(Spec(bwd, _requires(fwd, bwd), lambda o: C.pool_split_cases(C.Supports(), "NCHW", o),
                        registry_run(pool_adapter, (fwd, bwd), ("d_input",), template=fwd in TEMPLATE_CACHE),
                        ("d_input",), ties=True, splits=C.MAX_POOL_SPLITS))
    out += [
        Spec("affine_forward", ("affine_forward",), lambda o: C.affine_cases(),
             registry_run(affine_adapter, ("affine_forward",), ("y",)), ("y",)),
        Spec("affine_backward", ("affine_backward",), lambda o: C.affine_cases(),
             registry_run(affine_adapter, ("affine_forward", "affine_backward"), ("d_x", "d_kernel", "d_bias"),
                          template=True), ("d_x", "d_kernel", "d_bias")),
        Spec("relu_forward", ("relu_forward",), lambda o: C.elementwise_cases(),
             registry_run(relu_adapter, ("relu_forward",), ("y",)), ("y",)),
        Spec("relu_backward", ("relu_backward",), lambda o: C.elementwise_cases(),
             registry_run(relu_adapter, ("relu_forward", "relu_backward"), ("d_features",), template=True),
             ("d_features",)),
        Spec("softmax_loss", ("softmax_loss",), lambda o: C.loss_cases("softmax_loss"), loss_run("softmax_loss"),
             ("loss", "d_x"), detect=("batch-mean",)),
        Spec("svm_loss", ("svm_loss",), lambda o: C.loss_cases("svm_loss"), loss_run("svm_loss"), ("loss", "d_x"),
             detect=("batch-mean",)),
    ]
    judged = ("d_x", "d_gamma", "d_beta")
    for prefix, kind in (("batchnorm", "batchnorm"), ("spatial_batchnorm", "spatial_batchnorm"),
                         ("layernorm", "layernorm"), ("spatial_groupnorm", "groupnorm")):
        adapter_kind = "batchnorm" if kind == "spatial_batchnorm" else kind
        variants, group = (GROUPNORM, "groupnorm_gamma") if kind == "groupnorm" else ((), "")
        fwd = prefix + "_forward"
        cases = (lambda k: lambda o: C.norm_cases(k, training=o.get("training")))(kind)
        out.append(Spec(fwd, (fwd,), cases, registry_run(norm_adapter, (fwd,), ("y",), kind=adapter_kind), ("y",),
                        variants=variants, group=group, splits=MODES if "batchnorm" in kind else ()))
        for bwd in [prefix + "_backward"] + (["batchnorm_backward_alt"] if prefix == "batchnorm" else []):
            train_cases = (lambda k: lambda o: C.norm_cases(k, training=True))(kind)
            out.append(Spec(bwd, (fwd, bwd), train_cases,
                            registry_run(norm_adapter, (fwd, bwd), judged, kind=adapter_kind), judged,
                            variants=variants, group=group))
    out += [Spec("dropout_forward", ("dropout_forward",), lambda o: C.dropout_cases(False, o.get("mode")),
                 dropout_run("dropout_forward", None), ("y", "kept_fraction"), variants=DROPOUT, group="dropout_p",
                 splits=({"mode": "train"}, {"mode": "train"}, {"mode": "test"})),
            Spec("dropout_backward", ("dropout_forward", "dropout_backward"), lambda o: C.dropout_cases(True),
                 dropout_run("dropout_forward", "dropout_backward"), ("d_x",), variants=DROPOUT, group="dropout_p")]
    return _on_their_own(out)


def _requires(fwd: str, bwd: str) -> tuple:
    """What a backward row needs defined: its forward too, unless the template fixes that one's cache
    (then crosscheck's reference forward makes it)."""
    return (bwd,) if fwd in TEMPLATE_CACHE else (fwd, bwd)


def _on_their_own(specs_: list[Spec]) -> list[Spec]:
    """Each spec's run with the user's template forwards its function calls swapped for the
    references (crosscheck.check.cs231n_reference.on_its_own); a backward still gets its own forward."""
    names = [s.name for s in specs_]
    return [dataclasses.replace(s, run=on_its_own(s.run, s.name, _runs(s), names)) for s in specs_]


def _runs(spec: Spec) -> tuple:
    """The user's functions a spec's run calls itself besides its own: a backward's forward."""
    if "_backward" not in spec.name:
        return ()
    forward = spec.name.replace("_backward_alt", "_forward").replace("_backward", "_forward")
    return (forward,)


SPECS = specs()
FUNCTION_NAMES = [s.name for s in SPECS]
