"""``crosscheck check FILE --convention NAME``: users' own code, in their own conventions.

    loading.py          import a file (as part of its package), a Python 2 hint, an import timeout
    target.py           what the command's process knows of the user's code (plain values), the specs
    worker.py           the worker that imports the user's file and runs every case (TensorFlow too)
    cases.py            cases limited to what a convention (or a layer's ``supports``) allows
    run.py              the run: Spec -> Row (verdict, causes, smallest examples, notes), tie rules
    causes.py           a failing case's likely causes; the row-level evidence that decides between them
    conventions.py      conventions told from the numbers (gradients averaged over the batch), or declared
    dependencies.py     the notes naming the user's other functions a row ran
    cs231n.py           --convention cs231n (CS231n assignment-2 functions)
    deeplearning_ai.py  --convention deeplearning-ai (Coursera "Convolutional Neural Networks: Step by Step")
    cs231n_reference.py the template forwards whose cache the assignment fixes: each cs231n function on its own
    layer_declaration.py  crosscheck.Layer (a declared layer class), Config, the names discovery knows
    discovery.py        layer classes found without declarations (op, constructor, weights, layouts)
    layer_probe.py      a layer class run on probe sizes: its constructor's meaning, its layouts
    layer_access.py     attribute paths, weight and activation layouts, a forward's output kept in self.output
    dense_activation.py a class with sized weights whose name says no layer op: dense + the activation its forward applies
    layers.py           --convention layers: a layer class run on its op's cases
    loss_classes.py     loss classes told by behaviour, against TensorFlow by GradientTape
    dropout_class.py    dropout classes judged by their own mask
    declared.py         crosscheck.Layer options checked against the op and the class they declare
    untied_bias.py      a conv with one bias per output position: TensorFlow and its own forward judge it
    scaled.py           a scaled activation declared with scale=(a, b): TensorFlow's op of b x, times a
    identify.py         which op a forward computes, told by its behaviour (scaled activations fitted)
    self_consistency.py the backward against float64 finite differences of the code's own forward
    self_examine.py     which classes and function pairs are judged that way; their Specs
    self_checked.py     building, running and reaching into them (in the worker)
    notebook.py         a notebook (.ipynb) or its .py export, loaded cell by cell
    auto_convention.py  --convention auto: the convention told from what the code defines
    deeplearning_ai_reference.py  reference helpers: each deeplearning-ai function checked on its own
    jupyter.py          crosscheck.check(...): check functions in the running process (a notebook)
    result_html.py      its verdict table, as HTML and as text

Every convention maps the user's functions onto registry ops through small adapters, so the
TensorFlow oracle, the tolerance policy, diagnosis and reports are those of ``crosscheck run``.
The command imports the user's file only in its worker; its own process gets a :class:`Target`
(plain values) back and draws the cases, which run in the worker.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from ..case import Outcome
from ..isolation import CALL_TIMEOUT
from ..replay import case_from_dict
from . import cs231n
from .conventions import apply_conventions, conventions_of
from .loading import CallTimeout, LoadError, load_user_code  # noqa: F401
from .run import VERDICTS, Row, Spec, check_module, followed_variant, rows_ok  # noqa: F401
from .target import CONVENTIONS, LayerPlan, Target, examine, specs_for  # noqa: F401

if TYPE_CHECKING:   # for annotations only: crosscheck.check.worker imports this package
    from .worker import CheckWorker


def function_names(convention: str) -> list[str]:
    """The names of a convention's checkable functions (none for ``layers``: they come from the module)."""
    return [s.name for s in specs_for(convention)] if convention != "layers" else []


def check_target(code: types.ModuleType | Target, convention: str = "cs231n", examples: int = 10, seed: int = 0,
                 only: Collection[str] | None = None, ties: str = "note", year: int | None = None,
                 timeout: float | None = CALL_TIMEOUT, worker: CheckWorker | None = None,
                 on_outcome: Callable[[str, Outcome], object] | None = None, expect: Collection[str] = ()) -> list[Row]:
    """Rows for every function (or layer) of ``convention`` that the user's code defines (only those
    named in ``only``, if given). ``code``: the imported module (its cases run in this process), or
    the Target a started crosscheck.check.worker.CheckWorker of the file reported (``worker.examined``;
    every case then runs in ``worker``, where a crash or a hang of the user's code costs that case
    only, and this process never touches the user's objects). ``on_outcome(function, outcome)`` is
    called on every judged case as it comes. ``expect``: conventions the code follows (``"batch-mean"``,
    crosscheck.check.conventions.KNOWN), expected of every function instead of TensorFlow's."""
    if isinstance(code, Target):
        if worker is None:
            raise ValueError("check_target: a Target's cases run in the worker that examined the file; give worker=")
        target, specs, module = code, specs_for(code.convention, code), None
    else:
        target, specs = examine(code, convention)
        module = code
    pinned = cs231n.pins_for_year(year) if target.convention == "cs231n" else {}
    if expect:
        expect, problem = conventions_of(expect, "expect")
        if problem:
            raise ValueError(problem)
        specs = [dataclasses.replace(s, conventions=tuple(dict.fromkeys((*s.conventions, *expect)))) for s in specs]
    return check_module(module, specs, examples=examples, seed=seed, only=only, ties=ties, pinned=pinned,
                        timeout=timeout, worker=worker, on_outcome=on_outcome, defined=target.defined)


def rerun(replay_path: str | os.PathLike[str], module: types.ModuleType) -> Outcome:
    """The Outcome of the function a ``crosscheck check`` replay file names, on its saved case."""
    doc = json.loads(Path(replay_path).read_text())
    info = doc.get("check")
    if not info:
        raise ValueError(f"{replay_path} is not a `crosscheck check` case (no 'check' entry); use crosscheck replay")
    specs = {s.name: s for spec in specs_for(info["convention"], module) for s in (spec, spec.self_check)
             if isinstance(s, Spec)}
    spec = specs.get(info["function"])
    if spec is None:
        raise ValueError(f"{info['function']} is not a {info['convention']} function of this module")
    options = {"ties": info.get("ties", "note")}
    if spec.variants:   # the variant the code follows, told as the run told it (unless the year pins it)
        pinned = cs231n.pins_for_year(info.get("year"))
        options["variant"] = followed_variant(spec, module, options, pinned=pinned)[0].key
    outcome = spec.run(module, case_from_dict(doc["case"]), options)
    # what the run declared (--expect, a Layer's conventions) is expected here too: one case is enough
    (judged,), _ = apply_conventions(spec, [outcome], tuple(info.get("expect") or ()))
    return judged


class _CallablePackage(types.ModuleType):
    """``crosscheck.check`` is this package and, called, crosscheck/check/jupyter.py's ``check``:
    ``crosscheck.check(conv_forward)`` in a notebook."""

    def __call__(self, code, *args, **kwargs):
        from .jupyter import check  # deferred: imports this package's modules; only when called
        return check(code, *args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
