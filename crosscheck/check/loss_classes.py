"""Loss classes in the ``layers`` convention: a class whose name says it is a loss (``SoftmaxCrossEntropy``,
``CrossEntropyLoss``, the "Neural Networks from Scratch" ``Loss_CategoricalCrossentropy`` and
``Activation_Softmax_Loss_CategoricalCrossentropy``, ``Loss_BinaryCrossentropy``, ``MSELoss``), checked
against TensorFlow without glue.

    examine_loss  a class -> a LossEntry (how to call it), a Problem, or None (its name says no loss).
                  What it computes is told by its behaviour on a probe (its loss compared with each
                  kind's reference, per sample, averaged or summed), its name deciding only where no
                  kind matches: softmax cross-entropy of logits, cross-entropy of probabilities,
                  binary cross-entropy of probabilities, mean squared error. Labels as class indices
                  (N,) or one-hot (N, C): whichever the forward takes (both: cases alternate)
    entry_run     one case: a fresh object, ``forward(x, labels)`` (and ``calculate(x, labels)`` when
                  the forward gives per-sample losses and the class has it), its backward called the
                  way its parameters say (``backward()``, ``backward(dvalues, y_true)`` with the
                  forward's stored output or else its input as ``dvalues``, ``backward(dout)`` with
                  1.0), the gradient returned or left in ``self.dinputs``/``self.dx``; the loss and the
                  input gradient against the mean loss's, by GradientTape
    plan_spec     the Spec of a loss plan: the batch mean/sum convention told from the numbers
                  (crosscheck.check.conventions)

Runs in the check worker (the user's code is called); the plans carry plain values only.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from ..case import IMPLEMENTATION_ERROR, Case, Outcome
from ..ops._common import tf_lib
from ..tracebacks import user_traceback
from . import cases as C
from .conventions import BATCH_MEAN
from .cs231n import label_instability
from .layer_access import GRAD_DICTS, find_path, get_path
from .layer_declaration import INPUT_GRAD_NAMES
from .run import Guard, Spec, modified_outcome, outcome_of, own_diff, runs_in_worker

SOFTMAX_CE, CE_PROBS, BCE, MSE = ("softmax_cross_entropy", "categorical_cross_entropy", "binary_cross_entropy",
                                  "mean_squared_error")
LOSS_OPS = (SOFTMAX_CE, CE_PROBS, BCE, MSE)
WHAT = {SOFTMAX_CE: "softmax cross-entropy of logits", CE_PROBS: "cross-entropy of probabilities",
        BCE: "binary cross-entropy of probabilities", MSE: "mean squared error"}
PATHS = {SOFTMAX_CE: "tape_sparse_softmax_cross_entropy_mean", CE_PROBS: "tape_cross_entropy_of_probabilities_mean",
         BCE: "tape_binary_cross_entropy_mean", MSE: "tape_mean_squared_error_mean"}
LABEL_NAMES = ("y", "y_true", "labels", "label", "targets", "target", "t", "y_batch", "true", "truth", "gt")
PROBABILITY_NAMES = ("y_pred", "probs", "probabilities", "predictions", "prediction", "y_hat", "yhat", "p", "a",
                     "output", "outputs", "activations", "dvalues", "softmax_outputs")
LOSS_ATTRIBUTES = ("loss", "cost", "loss_value")   # where a forward that returns None leaves the loss
CLIPS = (1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15)   # eps of np.clip(p, eps, 1 - eps) or np.log(p + eps) before the log


@dataclass
class LossEntry:
    """How to call one loss class: ``kind`` (one of LOSS_OPS), ``labels`` the formats its forward takes
    ("index", "onehot"; "target" for BCE and MSE), ``per_sample`` (its loss is a vector of per-sample
    losses), ``calculate`` (the loss is ``calculate(x, labels)``), ``clip`` (the eps its probabilities
    are clipped to before the log, told from a probe; 0.0: none), ``offset`` (the eps added to them
    before the log: ``-log(p + eps)``), ``note`` for the row."""
    name: str
    cls: type
    kind: str
    forward: str
    backward: str
    labels: tuple
    per_sample: bool = False
    calculate: bool = False
    clip: float = 0.0
    offset: float = 0.0
    note: str = ""
    labels_first: bool = False   # forward(y_true, y_pred): the labels' parameter comes first (Keras's order)


@dataclass
class LossProblem:
    """Why a loss class cannot be checked: ``verdict`` "cannot-check" (what to declare is in ``why``)."""
    name: str
    why: str
    verdict: str = "cannot-check"


# ------------------------------------------------------------------------------------ references

def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference(kind: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per-sample losses (N,), the gradient of their mean with respect to ``x``), by GradientTape;
    ``y`` class indices (N,) for the cross-entropies, targets of ``x``'s shape for BCE and MSE."""
    tf = tf_lib().tf
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        if kind == SOFTMAX_CE:
            per = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(y), logits=xt)
        elif kind == CE_PROBS:
            per = -tf.math.log(tf.gather(xt, tf.constant(y), axis=1, batch_dims=1))
        elif kind == BCE:
            per = -tf.reduce_mean(y * tf.math.log(xt) + (1 - y) * tf.math.log(1 - xt), axis=-1)
        else:
            per = tf.reduce_mean(tf.square(xt - y), axis=-1)
        loss = tf.reduce_mean(per)
    return per.numpy(), tape.gradient(loss, xt).numpy()


def _labels(kind: str, y: np.ndarray, fmt: str, classes: int):
    return np.eye(classes)[y] if fmt == "onehot" and kind in (SOFTMAX_CE, CE_PROBS) else y


# ----------------------------------------------------------------------------------- calling it

def _params(fn) -> list:
    return [p for p in inspect.signature(fn).parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def call_loss(entry: LossEntry, x: np.ndarray, labels, guard: Guard | None = None, backward: bool = True):
    """(loss, gradient with respect to x) of a fresh object of the entry's class (None without ``backward``)."""
    guard = guard or Guard()
    obj = entry.cls()
    forward = getattr(obj, entry.forward)
    names = tuple(p.name for p in _params(forward))[:2] or ("x", "labels")

    def in_order(a):
        return (labels, a) if entry.labels_first else (a, labels)
    returned = guard.call(forward, names, *in_order(x))
    if entry.calculate:
        returned = guard.call(obj.calculate, names, *in_order(np.array(x, copy=True)))
    if isinstance(returned, (tuple, list)) and returned:   # (loss, probabilities)
        returned = returned[0]
    if returned is None:
        returned = next((v for v in (getattr(obj, a, None) for a in LOSS_ATTRIBUTES)
                         if isinstance(v, (float, np.floating, np.ndarray))), None)
    loss = None if returned is None else np.asarray(returned, dtype=np.float64)
    if loss is not None and not entry.per_sample:
        loss = loss.reshape(()) if loss.size == 1 else loss
    if not backward:
        return loss, None
    backward = getattr(obj, entry.backward)
    args = []
    for p in _params(backward):
        if p.name.lower() in LABEL_NAMES:
            args.append(labels)
        elif len(_params(backward)) == 1 and p.name.lower() not in PROBABILITY_NAMES:
            args.append(1.0)   # an upstream gradient of the loss
        else:   # "dvalues": what the forward stored as its output (softmax's), else the forward's input
            stored = getattr(obj, "output", None)
            args.append(np.array(stored if isinstance(stored, np.ndarray) and stored.shape == x.shape else x,
                                 copy=True))
    result = backward(*args)
    dx = result[0] if isinstance(result, (tuple, list)) and result else result
    if not isinstance(dx, np.ndarray):
        path = find_path(obj, INPUT_GRAD_NAMES, dicts=GRAD_DICTS)
        dx = get_path(obj, path) if path else None
    return loss, dx


# ------------------------------------------------------------------------------------- discovery

def is_loss_name(cls) -> bool:
    name = cls.__name__.lower().replace("_", "")
    return "loss" in name or "crossentropy" in name or name in ("mse", "bce", "cce", "nll")


def _name_kind(cls, forward: str) -> str | None:
    name = cls.__name__.lower().replace("_", "")
    first = next((p.name.lower() for p in _params(getattr(cls, forward))[1:] if p.name.lower() not in LABEL_NAMES), "")
    if "binary" in name or "bce" in name:
        return BCE
    if "meansquared" in name or "mse" in name or "squarederror" in name:
        return MSE
    if "softmax" in name or first in ("logits", "scores", "z"):
        return SOFTMAX_CE
    if any(k in name for k in ("crossentropy", "cce", "nll", "logloss")):
        return CE_PROBS if first in PROBABILITY_NAMES else SOFTMAX_CE
    return None


def _probe(kind: str):
    """(x, y as indices or targets) a kind's probe: probabilities for every kind but MSE (a
    softmax cross-entropy takes them as logits)."""
    rng = np.random.default_rng(5)
    if kind in (SOFTMAX_CE, CE_PROBS):
        return _softmax(rng.standard_normal((3, 4))), np.array([2, 0, 3])
    if kind == BCE:
        return rng.uniform(0.1, 0.9, (3, 2)), rng.integers(0, 2, (3, 2)).astype(np.float64)
    return rng.standard_normal((3, 2)), rng.standard_normal((3, 2))


def _matches(loss, per: np.ndarray) -> bool:
    if loss is None or not np.all(np.isfinite(loss)):
        return False
    for expected in (per, per.mean(), per.sum()):
        if np.shape(loss) == np.shape(expected) and np.allclose(loss, expected, rtol=1e-6, atol=1e-9):
            return True
    return False


def _try(entry: LossEntry, x, labels):
    try:
        with np.errstate(all="ignore"):
            return call_loss(entry, np.array(x, copy=True), labels, backward=False)[0]
    except Exception:   # noqa: BLE001 - the user's forward refused this probe (its backward is the cases' to judge)
        return None


def examine_loss(cls, forward: str, backward: str):
    """A LossEntry for a class whose name says it is a loss, a LossProblem when it cannot be called as
    written, or None for any other class."""
    if not is_loss_name(cls):
        return None
    name = cls.__name__
    try:
        needs = [p.name for p in _params(cls)]
        fwd_params = _params(getattr(cls, forward))[1:]
    except (TypeError, ValueError):
        return None
    if needs:
        return LossProblem(name, f"{name}: a loss class whose constructor needs {', '.join(needs)}: crosscheck builds "
                                 f"loss classes with no arguments (give them defaults)")
    if len(fwd_params) != 2:
        return LossProblem(name, f"{name}: a loss class whose {forward} takes "
                                 f"({', '.join(p.name for p in fwd_params)}): crosscheck calls {forward}(predictions, "
                                 f"labels)")
    if _abstract(cls, forward):
        return LossProblem(name, f"{name}: its {forward} raises NotImplementedError (an abstract base class?): "
                                 f"nothing to check", "error")
    by_name = _name_kind(cls, forward)
    kinds = [k for k in LOSS_OPS if k != by_name]
    first, second = (p.name.lower() for p in fwd_params)
    labels_first = first in LABEL_NAMES and second not in LABEL_NAMES
    for kind in ([by_name] if by_name else []) + kinds:
        x, y = _probe(kind)
        formats = ("index", "onehot") if kind in (SOFTMAX_CE, CE_PROBS) else ("target",)
        per = reference(kind, x, y)[0]
        entry = LossEntry(name, cls, kind, forward, backward, formats, calculate=hasattr(cls, "calculate"),
                          labels_first=labels_first)
        taken = [f for f in formats if _matches(_loss_of(entry, x, _labels(kind, y, f, x.shape[1]), per), per)]
        if taken:
            return _named_otherwise(_finish(entry, taken, x, y), by_name)
    if by_name is None:
        return LossProblem(name, f"{name}: its name says a loss, but its loss matches none of "
                                 f"{', '.join(WHAT.values())} on a probe (and its name does not say which)", "error")
    x, y = _probe(by_name)
    formats = ("index", "onehot") if by_name in (SOFTMAX_CE, CE_PROBS) else ("target",)
    entry = LossEntry(name, cls, by_name, forward, backward, formats, calculate=hasattr(cls, "calculate"),
                      labels_first=labels_first)
    taken = [f for f in formats if _loss_of(entry, x, _labels(by_name, y, f, x.shape[1]), None) is not None]
    return _finish(entry, taken or list(formats[:1]), x, y)


_FAMILY = {SOFTMAX_CE: "cross-entropy", CE_PROBS: "cross-entropy", BCE: BCE, MSE: MSE}


def _named_otherwise(entry: LossEntry, by_name: str | None) -> LossEntry:
    """``entry`` with a note when its name says another kind of loss than the one its numbers matched
    (a cross-entropy's logits or probabilities are told by the numbers alone: no note)."""
    if by_name is not None and _FAMILY[by_name] != _FAMILY[entry.kind]:
        said = f"{entry.name}'s name says {WHAT[by_name]}, but its loss is {WHAT[entry.kind]}: checked as that"
        entry.note = f"{said}; {entry.note}" if entry.note else said
    return entry


def _abstract(cls, forward: str) -> bool:
    """Whether the forward raises NotImplementedError on a probe (a base class's placeholder)."""
    x, y = _probe(CE_PROBS)
    try:
        getattr(cls(), forward)(x, y)
    except NotImplementedError:
        return True
    except Exception:   # noqa: BLE001 - it refused this probe: other inputs are tried
        return False
    return False


def _loss_of(entry: LossEntry, x, labels, per):
    """The entry's loss on a probe (per sample when the forward gives a vector and the class has no
    ``calculate``); the entry's ``calculate``/``per_sample`` set to what the value says."""
    entry.calculate, entry.per_sample = False, True
    value = _try(entry, x, labels)
    if value is not None and np.ndim(value) == 1 and np.size(value) == len(x) and hasattr(entry.cls, "calculate"):
        entry.calculate, entry.per_sample = True, False
        return _try(entry, x, labels)
    entry.per_sample = value is not None and np.ndim(value) == 1 and np.size(value) == len(x) and len(x) > 1
    return value


def _finish(entry: LossEntry, taken: list, x, y) -> LossEntry:
    entry.labels = tuple(taken)
    _loss_of(entry, x, _labels(entry.kind, y, taken[0], x.shape[1]), None)
    if entry.kind in (SOFTMAX_CE, CE_PROBS):
        entry.offset = _log_offset(entry, x, y, taken[0])
    if entry.kind == SOFTMAX_CE and not entry.offset:   # a score 40 below the others: a probability of 4e-18
        far = np.array([[0.0, -40.0, 0.0]])
        value = _try(entry, far, _labels(entry.kind, np.array([1]), taken[0], 3))
        true = float(reference(SOFTMAX_CE, far, np.array([1]))[0][0])
        if value is not None and np.size(value) == 1 and abs(float(np.ravel(value)[0]) - true) > 1e-6:
            entry.clip = next((eps for eps in CLIPS if abs(float(np.ravel(value)[0]) + np.log(eps)) < 1e-6), 0.0)
    if entry.clip:   # the kind is said in the report's path; only a convention is a note
        entry.note = (f"probabilities clipped to [{entry.clip:g}, 1 - {entry.clip:g}] before the log: a sample's loss "
                      f"is capped at {-np.log(entry.clip):.1f} (compared with the clipped loss there)")
    if entry.offset:
        entry.note = (f"adds {entry.offset:g} to the probabilities before the log (-log(p + {entry.offset:g})): the loss "
                      f"is compared with that")
    return entry


def _misfit(actual: np.ndarray, expected: np.ndarray) -> tuple[bool, float]:
    """(whether ``actual`` is far from every multiple of ``expected`` (a missing 1/N leaves it a
    multiple), its largest difference from ``expected``): the smaller is the better reference."""
    scale = float(np.vdot(actual, expected) / max(float(np.vdot(expected, expected)), 1e-300))
    off = float(np.linalg.norm(actual - scale * expected)) > 1e-9 * max(float(np.linalg.norm(actual)), 1e-300)
    return off, float(np.abs(actual - expected).max())


def _probabilities(kind: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The probability of each sample's class: of softmax(x) for logits, of x itself otherwise."""
    return (_softmax(x) if kind == SOFTMAX_CE else x)[np.arange(len(x)), y]


def _log_offset(entry: LossEntry, x, y, fmt: str) -> float:
    """The eps a cross-entropy adds to its probabilities before the log (``np.log(p + 1e-7)``, the
    "Deep Learning from Scratch" cross_entropy_error), told from the probe's loss; 0.0 for none."""
    value = _try(entry, x, _labels(entry.kind, y, fmt, x.shape[1]))
    if value is None or not np.all(np.isfinite(value)):
        return 0.0
    got = float(np.mean(value)) if entry.per_sample else float(np.ravel(value)[0])
    p = _probabilities(entry.kind, x, y)

    def fits(per):
        return any(np.isclose(got, r, rtol=1e-12, atol=0.0) for r in (per.mean(), per.sum()))
    if fits(-np.log(p)):
        return 0.0
    return next((eps for eps in CLIPS if fits(-np.log(p + eps))), 0.0)


# ------------------------------------------------------------------------------------- the specs

def plan_fields(entry) -> dict:
    """The plain values of a loss entry's plan (crosscheck.check.target.LayerPlan fields)."""
    if isinstance(entry, LossProblem):
        return {"name": entry.name, "problem": entry.why, "verdict": entry.verdict}
    return {"name": str.__str__(entry.name), "op": entry.kind, "layout": "NCHW",
            "self_check": {"note": str.__str__(entry.note), "labels": tuple(str.__str__(f) for f in entry.labels)}}


@st.composite
def loss_class_cases(draw, kind: str, scale=None) -> Case:
    """Cases of a loss kind: logits (of magnitude ``scale``: 1000 makes exp overflow unless the max is
    subtracted, as for CS231n's softmax_loss) and class indices; probabilities (rows summing to 1, or
    in (0.02, 0.98) for BCE) away from 0 and 1."""
    if kind == SOFTMAX_CE:
        case = draw(C.loss_cases(kind, scale))
        x, y = case.arrays["x"], case.arrays["y"]
        if np.abs(x).max() > 100 and np.array_equal(y, x.argmax(axis=1)):
            # every probability saturated: a loss of exactly 0 and a gradient of ~1e-200 tell no batch
            # convention apart; one sample labelled off its top score keeps both of order 1
            y = y.copy()
            y[0] = (y[0] + 1) % x.shape[1]
            case = Case(case.op, case.params, {"x": x, "y": y}, case.dy, case.dtype, case.seed)
        return case
    n, c = draw(st.integers(1, 6)), draw(st.integers(2, 6) if kind == CE_PROBS else st.integers(1, 4))
    seed = draw(C.SEEDS)
    rng = np.random.default_rng(seed)
    if kind == CE_PROBS:
        x, y = _softmax(rng.standard_normal((n, c)) * 1.5), rng.integers(0, c, n)
    elif kind == BCE:
        x, y = rng.uniform(0.02, 0.98, (n, c)), rng.integers(0, 2, (n, c)).astype(np.float64)
    else:
        x, y = rng.standard_normal((n, c)), rng.standard_normal((n, c))
    return Case(kind, {}, {"x": x, "y": y}, None, C.DTYPE, seed)


def plan_spec(plan, run=None) -> Spec:
    """Cases split between the label formats the forward takes and, for logits, scores of magnitude 1
    and 1000 (every run draws each)."""
    scales = (1.0, 1000.0) if plan.op == SOFTMAX_CE else (None,)
    splits = tuple({"labels": f, "scale": s} for f in plan.self_check.get("labels", ("index",)) for s in scales)
    return Spec(plan.name, (), lambda o: loss_class_cases(plan.op, o.get("scale")), run or runs_in_worker,
                ("loss", "d_x"), detect=(BATCH_MEAN,), note=plan.self_check.get("note", ""), splits=splits)


def entry_run(entry: LossEntry):
    def run(module, case: Case, options: dict) -> Outcome:
        x, y = case.arrays["x"], case.arrays["y"]
        fmt = options.get("labels", entry.labels[0])

        def fn(x_, y_, guard=None):
            return call_loss(entry, x_, _labels(entry.kind, y_, fmt, x_.shape[1]), guard)
        guard = Guard()
        try:
            with np.errstate(all="ignore"):
                loss, dx = fn(x.copy(), y.copy(), guard)
        except Exception as exc:   # noqa: BLE001 - the user's code raised
            return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(exc), impl=entry.name)
        per, e_dx = reference(entry.kind, x, y)
        path = PATHS[entry.kind] + (f" (labels {fmt})" if len(entry.labels) > 1 else "")
        if entry.clip:
            p = _softmax(x)[np.arange(len(x)), y]
            per = np.where((p < entry.clip) | (p > 1 - entry.clip), -np.log(np.clip(p, entry.clip, 1 - entry.clip)),
                           per)
        if entry.offset:
            p = _probabilities(entry.kind, x, y)
            per = -np.log(p + entry.offset)
            if entry.kind == CE_PROBS and dx is not None and np.shape(dx) == x.shape:   # its own loss's gradient?
                own = np.zeros_like(x)
                own[np.arange(len(x)), y] = -1.0 / (p + entry.offset) / len(x)
                e_dx = min((e_dx, own), key=lambda e: _misfit(np.asarray(dx, dtype=np.float64), e))
            path += f" of -log(p + {entry.offset:g})"
        e_loss = per if entry.per_sample else per.mean()
        diffs = [own_diff(case, loss, e_loss, "loss", path, x.size), own_diff(case, dx, e_dx, "d_x", path, x.shape[1])]
        if entry.kind == SOFTMAX_CE and loss is not None and any(not d.passed for d in diffs):
            label_instability(diffs, fn, x, y)
        return modified_outcome(outcome_of(case, diffs, entry.name, [path]), guard.modified)
    return run
