"""Dropout layer classes in the ``layers`` convention (``Layer_Dropout(rate)``, ``Dropout(p)``): a random
forward cannot be compared with TensorFlow (no op draws the same mask) nor with finite differences of
itself, so it is judged by its own mask, as CS231n's dropout functions are
(crosscheck.check.cs231n.dropout_run): the forward must be ``x * keep / p_keep`` with ``keep = out !=
0`` and keep a fraction of units within 5 binomial standard deviations of ``p_keep``; the backward
must be ``dout * keep / p_keep`` with the forward's own mask. Whether the constructor's rate is the
probability of keeping or of dropping a unit is told from the numbers (a note).

    examine_dropout  a class -> a DropoutEntry, or None (its name does not say dropout, or its
                     constructor has no rate parameter)
    entry_run        one case: the forward and the backward of a fresh object, as one row's tensors
    plan_spec        the Spec of a dropout plan
"""
from __future__ import annotations

import inspect
import types
from dataclasses import dataclass

import numpy as np

from ..case import IMPLEMENTATION_ERROR, MISMATCH, PASS, Case, Outcome
from . import cases as C
from .cs231n import dropout_run
from .layer_access import (
    GRAD_DICTS,
    TRAINING_NAMES,
    find_path,
    forward_output,
    get_path,
)
from .layer_declaration import INPUT_GRAD_NAMES
from .run import Spec, Variant, runs_in_worker

DROPOUT_OP = "dropout"
RATE_NAMES = ("rate", "p", "drop_rate", "dropout_rate", "dropout", "drop_prob", "p_drop", "prob", "keep_prob",
              "keep_rate", "p_keep", "ratio", "probability")
VARIANTS = (Variant("keep", "dropout: its rate is the probability of keeping a unit"),
            Variant("drop", "dropout: its rate is the probability of dropping a unit"))
NOTE = "a random forward: judged by its own mask, not against TensorFlow"


@dataclass
class DropoutEntry:
    name: str
    cls: type
    rate: str          # the constructor's parameter that takes the rate
    forward: str
    backward: str
    training: str = ""   # the forward's training-flag parameter, if any


def examine_dropout(cls, forward: str, backward: str) -> DropoutEntry | None:
    if "dropout" not in cls.__name__.lower():
        return None
    try:
        params = list(inspect.signature(cls).parameters)
        fwd_params = list(inspect.signature(getattr(cls, forward)).parameters)[1:]
    except (TypeError, ValueError):
        return None
    rate = next((p for p in params if p.lower() in RATE_NAMES), None)
    if rate is None:
        return None
    training = next((p for p in fwd_params if p.lower() in TRAINING_NAMES), "")
    return DropoutEntry(cls.__name__, cls, rate, forward, backward, training)


def _functions(entry: DropoutEntry):
    """The class as CS231n's ``dropout_forward(x, dropout_param) -> (out, cache)`` and
    ``dropout_backward(dout, cache) -> dx`` (the cache: the object)."""
    def dropout_forward(x, dropout_param):
        np.random.seed(int(dropout_param["seed"]))
        obj = entry.cls(**{entry.rate: dropout_param["p"]})
        method = getattr(obj, entry.forward)
        train = dropout_param.get("mode", "train") == "train"
        returned = method(x, **({entry.training: train} if entry.training else {}))
        return forward_output(obj, returned), obj

    def dropout_backward(dout, obj):
        result = getattr(obj, entry.backward)(dout)
        dx = result[0] if isinstance(result, (tuple, list)) and result else result
        if not isinstance(dx, np.ndarray):
            path = find_path(obj, INPUT_GRAD_NAMES, dicts=GRAD_DICTS)
            dx = get_path(obj, path) if path else None
        return dx
    return types.SimpleNamespace(dropout_forward=dropout_forward, dropout_backward=dropout_backward)


def plan_fields(entry: DropoutEntry) -> dict:
    return {"name": str.__str__(entry.name), "op": DROPOUT_OP, "layout": "NCHW",
            "self_check": {"test_mode": bool(entry.training)}}


def plan_spec(plan, run=None) -> Spec:
    """Training-mode cases; with a training flag also test-mode ones (the forward must be the identity)."""
    splits = ({"mode": "train"}, {"mode": "test"}) if plan.self_check.get("test_mode") else ()
    return Spec(plan.name, (), lambda o: C.dropout_cases(o.get("mode", "train") == "train", o.get("mode")),
                run or runs_in_worker, ("y", "kept_fraction", "d_x"), variants=VARIANTS, group="dropout_rate",
                note=NOTE, splits=splits)


def entry_run(entry: DropoutEntry):
    forward_only, both = dropout_run("dropout_forward", None), dropout_run("dropout_forward", "dropout_backward")

    def run(module, case: Case, options: dict) -> Outcome:
        functions = _functions(entry)
        first = forward_only(functions, case, options)
        if case.params["mode"] == "test":   # the identity: nothing to back-propagate through a mask
            first.impl = entry.name
            return first
        second = both(functions, case, options)
        raised = next((o for o in (first, second) if o.status == IMPLEMENTATION_ERROR), None)
        if raised is not None:
            raised.impl = entry.name
            return raised
        first.diffs += [d for d in second.diffs if d.tensor == "d_x"]
        first.status = PASS if all(d.passed for d in first.diffs if d.judged) else MISMATCH
        first.impl = entry.name
        return first
    return run
