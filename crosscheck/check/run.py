"""The run of ``crosscheck check``: each checkable function (a :class:`Spec`) on generated cases,
through the one fuzz driver, turned into a :class:`Row` with a verdict.

Verdicts: ``passed``; ``passed-with-note`` (correct under a documented convention that is not
TensorFlow's: a max-pool tie rule, a year's dropout or group-norm convention, no input gradient);
``failed`` (wrong values or shapes, a raise on a valid input, a modified input); ``not-implemented``
(a stub: None, ``pass`` or zeros where the reference is not); ``cannot-check`` (crosscheck could
not call the code: the message says what to declare; never a claim that the code is wrong); ``error`` (the function cannot be
checked: its forward is missing). Every distinct failure is kept, grouped by its likely cause, with
the smallest example of each cause.

Max-pool backward functions are judged on tie-free cases; cases with tied maxima are judged
separately and labelled by the rule the code follows. TensorFlow's rule (the first maximum) passes;
another recognised rule is a note, or a failure with ``ties="tf"``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..case import (FAILING, IMPLEMENTATION_CRASH, IMPLEMENTATION_ERROR, IMPLEMENTATION_TIMEOUT, MISMATCH, OWN_PATH,
                    PASS, REFERENCE_CRASH, Case, Outcome, TensorDiff)
from ..compare import NONE_NOTE, ZERO_NOTE, compare
from ..diagnosis import diagnose_tensor
from ..fuzz import fuzz_outcomes
from ..isolation import WorkerCrash, WorkerTimeout
from ..ops.pooling import tied_windows
from ..registry import get_op
from ..runner import modified_diffs
from ..supervision import crash_message
from ..threads import limit_threads
from ..tolerance import tolerance
from ..tracebacks import INSIDE_CROSSCHECK, ConventionError, user_traceback
from .causes import decided_causes
from .causes import case_size as _case_size
from .conventions import apply_conventions
from .dependencies import dependency_notes
from .loading import CallTimeout, time_limit
from .self_consistency import CANNOT_JUDGE

#: starts the line of an outcome's message that says what to declare when crosscheck cannot call the code
DECLARE = "what to declare: "
VERDICTS = ("passed", "passed-with-note", "failed", "not-implemented", "cannot-check", "error")
TIE_RULES = {"all": "full gradient to every tied maximum", "split": "split equally", "last": "last maximum",
             "first": "first maximum"}
TIE_ADVICE = {
    "all": "not a valid subgradient (a window with k tied maxima passes on k times its gradient); it changes "
           "training wherever windows tie, e.g. all-zero windows after a ReLU",
    "split": "a valid subgradient (a convex combination of the tied cells); it differs from TensorFlow only at "
             "exact ties, which real-valued data rarely has (all-zero windows after a ReLU do)",
    "last": "a valid subgradient; it differs from TensorFlow only at exact ties",
}


@dataclass(frozen=True)
class Variant:
    """A documented convention of one function (a year's meaning of an argument): ``key`` is passed to
    the spec's runner; ``note`` is shown when the code follows it."""
    key: str
    note: str


@dataclass(frozen=True)
class Spec:
    """One checkable function: its name, the functions it needs, its cases and how to run one case.

    ``cases(options)`` -> hypothesis strategy of Case; ``run(module, case, options)`` -> Outcome;
    ``judged``: the tensors this row is judged on; ``ties``: a max-pool backward; ``variants``:
    conventions to detect (the first is the default), under the name ``group``; ``conventions`` /
    ``detect``: conventions declared / told from the numbers (crosscheck.check.conventions); ``splits``: option
    sets (e.g. train and test mode, tied and tie-free windows) that each get a share of the examples,
    so a short run still draws every one. ``note``: stated in the row (what its forward was
    identified as); ``self_check``: the Spec of the self-consistency verdict given beside this one
    (crosscheck.check.self_examine), or "self" for a row that is that verdict itself."""
    name: str
    requires: tuple
    cases: Callable
    run: Callable
    judged: tuple
    ties: bool = False
    variants: tuple = ()
    group: str = ""
    splits: tuple = ()
    verdict: str = "error"   # the row of a spec that cannot run (``run`` None): "error" or "cannot-check"
    note: str = ""
    self_check: object = None
    conventions: tuple = ()     # declared (crosscheck.check.conventions.KNOWN): what the code is expected to follow
    detect: tuple = ()          # conventions told from the numbers (a note, not a failure)


def runs_in_worker(module, case: Case, options: dict) -> Outcome:
    """The ``run`` of a Spec drawn from a plan (plain values): its cases run in the check worker that
    examined the user's code, never here."""
    raise RuntimeError(f"{case.op}: a case of code described by its plan runs in the check worker that examined it "
                       "(worker=...)")


@dataclass
class Row:
    """The verdict on one function."""
    function: str
    verdict: str = "passed"
    tried: int = 0
    failing: int = 0
    causes: dict = field(default_factory=dict)      # likely cause -> number of failing cases
    examples: dict = field(default_factory=dict)    # likely cause -> the smallest failing Outcome
    notes: list = field(default_factory=list)
    message: str = ""
    outcomes: list = field(default_factory=list)
    self_consistency: str = ""    # the backward against finite differences of the code's own forward
    accepted: list = field(default_factory=list)   # indexes into outcomes: differ from TF, accepted by a convention
    beside: list = field(default_factory=list)     # rows judged beside this one (its self-consistency verdict's)

    @property
    def first_failure(self) -> Outcome | None:
        return next(iter(self.examples.values()), None)

    def to_dict(self) -> dict:
        return {"name": self.function, "verdict": self.verdict, "examples": self.tried, "failing": self.failing,
                "causes": dict(self.causes), "notes": list(self.notes),
                **({"self_consistency": self.self_consistency} if self.self_consistency else {})}


# ------------------------------------------------------------------------------ calling user code

class Guard:
    """Call the user's code and record which arguments it wrote into (a name None: the function's to write)."""

    def __init__(self):
        self.modified: list[str] = []

    def call(self, fn, names: tuple, *args):
        snapshots = [np.array(a, copy=True) if isinstance(a, np.ndarray) else copy.deepcopy(a) for a in args]
        result = fn(*args)
        for name, before, after in zip(names, snapshots, args):
            if name is None:
                continue
            if isinstance(before, np.ndarray):
                same = isinstance(after, np.ndarray) and after.shape == before.shape and np.array_equal(
                    after, before, equal_nan=True)
            else:
                same = _same_value(before, after)
            if not same and name not in self.modified:
                self.modified.append(name)
        return result


def _same_value(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b, equal_nan=True)
    try:
        return bool(a == b)
    except Exception:
        return True


class WrongReturn(ConventionError, TypeError):
    """The user's function returned something else than its convention says (cause "output-type")."""


class WrongShape(ConventionError, ValueError):
    """The user's function returned an array of a shape its convention rules out (cause "shape-mismatch")."""




def pair(fn_name: str, result, what="(out, cache)"):
    if not isinstance(result, tuple) or len(result) != 2:
        raise WrongReturn(f"{fn_name} must return {what}, got {type(result).__name__}")
    return result


def grads(fn_name: str, result, n: int):
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise WrongReturn(f"{fn_name} must return {n} gradients, got {got}")
    return tuple(result)


# ------------------------------------------------------------------------------------ comparing

def own_diff(case: Case, actual, expected, tensor: str, path: str, terms: int) -> TensorDiff:
    """compare() under the float64 tolerance policy for a reference crosscheck builds itself (a
    function with no registry op), with the diagnosis of a mismatch attached."""
    tol = tolerance(case.dtype, terms, np.asarray(expected))
    d = compare(actual, expected, tol, tensor=tensor, path=path)
    if not d.passed and actual is not None:
        try:   # no registry op: only the hypotheses that need no OpInfo apply (sign, scale, NaN, ...)
            d.diagnosis = diagnose_tensor(None, case, d, actual, expected, tol)
        except Exception:
            pass
        if path.startswith(OWN_PATH):
            for e in d.diagnosis:
                e["evidence"] = e["evidence"].replace("TensorFlow's", "the reference's").replace(
                    "TensorFlow gives", "the reference gives")
    return d


def outcome_of(case: Case, diffs: list[TensorDiff], impl: str, paths: list[str], notes=None) -> Outcome:
    status = PASS if all(d.passed for d in diffs if d.judged) else MISMATCH
    return Outcome(case, status, paths=paths, diffs=diffs, notes=list(notes or []), impl=impl)


def modified_outcome(outcome: Outcome, modified: list) -> Outcome:
    """Add a failing entry per argument the user's code wrote into."""
    if modified:
        outcome.diffs = modified_diffs(modified) + outcome.diffs
        if outcome.status == PASS:
            outcome.status = MISMATCH
    return outcome


# -------------------------------------------------------------------------------- classifying

def tie_rule(outcome: Outcome) -> str | None:
    """The tie rule a failing max-pool gradient follows ("all", "split", "last"), if diagnosis found one."""
    for d in outcome.failures:
        for e in d.diagnosis:
            if e.get("rule"):
                return e["rule"]
    return None


def has_ties(case: Case) -> bool:
    return case.op == "max_pool2d" and tied_windows(get_op("max_pool2d").resolve(case)) > 0


def not_implemented(outcome: Outcome) -> bool:
    """A stub: NotImplementedError, None where a result belongs, or zeros where the reference is not."""
    if outcome.status == IMPLEMENTATION_ERROR:
        text = outcome.message.strip()
        if not text or INSIDE_CROSSCHECK in text:   # crosscheck's own failure is never the user's stub
            return False
        return "NotImplementedError" in text or "NoneType" in text.splitlines()[-1]
    failures = outcome.failures
    return bool(failures) and all(d.note in (NONE_NOTE, ZERO_NOTE) for d in failures)


def stub_message(outcome: Outcome) -> str:
    """What makes ``outcome`` look like starter code, with the user's traceback for a raise."""
    if outcome.status == IMPLEMENTATION_ERROR:
        return "raises where a result belongs (starter code?):\n" + outcome.message.rstrip()
    what = {NONE_NOTE: "None", ZERO_NOTE: "all zeros"}
    parts = [f"{d.tensor}: {what[d.note]}" for d in outcome.failures if d.note in what]
    return f"returns {', '.join(parts)} where TensorFlow's result is not (starter code?)"


def judge(spec: Spec, outcomes: list[Outcome], ties: str = "note", expect=()) -> Row:
    """The Row of ``outcomes``: verdict, causes with their smallest example, notes. ``expect``:
    conventions declared for the whole run (``--expect``)."""
    judged, convention_notes = apply_conventions(spec, outcomes, expect)
    row = Row(spec.name, tried=len(judged), outcomes=judged, notes=convention_notes)
    row.accepted = [i for i, (o, j) in enumerate(zip(outcomes, judged)) if o.status in FAILING and j.status == PASS]
    stubs, uncallable, counted = [], [], []
    for i, o in enumerate(judged):
        if o.status == PASS:
            continue
        if o.status == IMPLEMENTATION_ERROR and INSIDE_CROSSCHECK in o.message:   # crosscheck's adapter raised
            uncallable.append(o)
            continue
        if not_implemented(o):
            stubs.append(o)
            continue
        rule = tie_rule(o) if spec.ties and has_ties(o.case) else None
        if rule is not None and ties != "tf" and all(d.tensor == "d_input" for d in o.failures):
            note = f"tie rule: {TIE_RULES[rule]} (TensorFlow gives the gradient to the first maximum): {TIE_ADVICE[rule]}"
            if note not in row.notes:
                row.notes.append(note)
            row.accepted.append(i)
            continue
        counted.append(o)
    row.failing = len(counted)
    for o, causes in decided_causes(counted):
        for cause in causes:
            row.causes[cause] = row.causes.get(cause, 0) + 1
            best = row.examples.get(cause)
            if best is None or _case_size(o) < _case_size(best):
                row.examples[cause] = o
    # every gradient left out, each once (a first layer's input gradient, a parameter's in a self-consistency row)
    for note in dict.fromkeys(d.note for o in judged for d in o.diffs if not d.judged and "does not compute" in d.note):
        row.notes.append(note + ": not judged")
    if row.failing:
        row.verdict = "failed"
    elif uncallable:
        row.verdict = "cannot-check"
        row.message = cannot_check_message(spec.name, uncallable[0])
    elif stubs:
        row.verdict = "not-implemented"
        row.message = stub_message(stubs[0])
    elif row.notes:
        row.verdict = "passed-with-note"
    return row


def cannot_check_message(name: str, outcome: Outcome) -> str:
    """The first line: what crosscheck's adapter raised on, and what to declare; then its traceback."""
    lines = outcome.message.strip().splitlines()
    raised = next((line for line in reversed(lines) if not line.startswith(DECLARE) and line.strip()), "")
    declare = next((line[len(DECLARE):] for line in lines if line.startswith(DECLARE)),
                   "how to call it (crosscheck.Layer for a layer class, crosscheck.check_op for a function)")
    return (f"crosscheck could not call {name} as written ({raised.strip()}; not a bug in your code): "
            f"declare {declare}\n" + outcome.message)


# ------------------------------------------------------------------------------------ the run

def run_spec_cases(spec: Spec, module, options: dict, examples: int, seed: int, stop_after: int | None = None,
                   timeout: float | None = None, worker=None, on_outcome=None):
    """The outcomes of ``examples`` cases, shared out over ``spec.splits`` (at least one each);
    ``on_outcome(outcome)`` is called on each as it comes."""
    if spec.splits:
        outcomes = []
        for i, split in enumerate(spec.splits):
            share = max(1, (examples + i) // len(spec.splits))
            outcomes += run_split(spec, module, {**options, **split}, share, seed, stop_after, timeout, worker,
                                  on_outcome)
            if stop_after and sum(o.status in FAILING for o in outcomes) >= stop_after:
                break
        return outcomes
    return run_split(spec, module, options, examples, seed, stop_after, timeout, worker, on_outcome)


def run_split(spec: Spec, module, options: dict, examples: int, seed: int, stop_after: int | None,
              timeout: float | None, worker=None, on_outcome=None):

    def failures(outcomes):
        return sum(o.status in FAILING for o in outcomes)
    stop = (lambda outcomes: failures(outcomes) >= stop_after) if stop_after else None
    return fuzz_outcomes(spec.cases(options), lambda case: timed_run(spec, module, case, options, timeout, worker),
                         examples=examples, seed_key=f"check:{spec.name}:{sorted(options.items())}:{seed}", stop=stop,
                         on_outcome=on_outcome)


def timed_run(spec: Spec, module, case: Case, options: dict, timeout: float | None, worker=None) -> Outcome:
    """``spec.run`` with a time limit, in ``worker`` (a crosscheck.check.worker.CheckWorker) when given:
    a call that does not return is an implementation-timeout, a crash an implementation-crash."""
    try:
        if worker is not None:
            return worker.run(spec.name, case, options)
        with time_limit(timeout, f"{spec.name} on this case"):
            return spec.run(module, case, options)
    except CallTimeout as e:
        return Outcome(case, IMPLEMENTATION_TIMEOUT, message=f"{e} (an endless loop?)", impl=spec.name)
    except WorkerTimeout as e:
        return Outcome(case, IMPLEMENTATION_TIMEOUT, message=f"{spec.name}: {e} (an endless loop?)", impl=spec.name)
    except WorkerCrash as e:
        if worker is not None and worker.in_tensorflow():   # TensorFlow, not the user's code, took the worker down
            return Outcome(case, REFERENCE_CRASH, impl=spec.name, message=crash_message(
                {"how": str(e).rsplit(": ", 1)[-1], "line": "(its output went to the worker's stderr)"}))
        return Outcome(case, IMPLEMENTATION_CRASH, message=f"{spec.name}: {e}", impl=spec.name)
    except Exception as e:   # crosscheck's own adapter failed in the worker: its traceback says where
        return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(e), impl=spec.name)


def check_spec(spec: Spec, module, examples: int = 10, seed: int = 0, ties: str = "note",
               pinned: dict | None = None, timeout: float | None = None, worker=None, on_outcome=None) -> Row:
    """Run one function's cases; a function with year variants is first probed under each (unless
    the variant is pinned) and checked under the one it follows."""
    options = {"ties": ties}
    if spec.variants:
        variant, named = followed_variant(spec, module, options, seed, pinned, timeout, worker)
        options["variant"] = variant.key
        row = judge(spec, run_spec_cases(spec, module, options, examples, seed, timeout=timeout, worker=worker,
                                         on_outcome=on_outcome), ties)
        if named:
            row.notes.append(variant.note)
            if row.verdict == "passed":
                row.verdict = "passed-with-note"
        return row
    return judge(spec, run_spec_cases(spec, module, options, examples, seed, timeout=timeout, worker=worker,
                                      on_outcome=on_outcome), ties)


def followed_variant(spec: Spec, module, options: dict, seed: int = 0, pinned: dict | None = None,
                     timeout: float | None = None, worker=None) -> tuple[Variant, bool]:
    """(the variant of ``spec`` the code follows, whether the row names it): the first whose probe
    passes, or, when none does (a bug beside the convention), the one that fails fewest tensors, so
    that the row blames the bug, not the convention (a dropout whose backward alone is wrong). A
    variant ``pinned`` ({group: key}) is the only one tried."""
    chosen = (pinned or {}).get(spec.group)
    variants = [v for v in spec.variants if v.key == chosen] if chosen else list(spec.variants)
    misfits = []
    for variant in variants:
        probe = run_spec_cases(spec, module, {**options, "variant": variant.key}, examples=3, seed=seed,
                               stop_after=1, timeout=timeout, worker=worker)
        if all(o.status == PASS for o in probe):
            return variant, variant is not spec.variants[0] or bool(chosen)
        misfits.append(_misfit(spec, probe))
    best = variants[misfits.index(min(misfits))]
    return best, best is not variants[0]


def _misfit(spec: Spec, probe: list[Outcome]) -> int:
    """How badly a variant's probe fails: its failing tensors (a case that raised: every judged tensor and one)."""
    return sum(len(o.failures) if o.status == MISMATCH else len(spec.judged) + 1 for o in probe if o.status != PASS)


def check_module(module, specs, examples: int = 10, seed: int = 0, only=None, ties: str = "note",
                 pinned: dict | None = None, timeout: float | None = None, worker=None,
                 on_outcome=None, defined=None) -> list[Row]:
    """One Row per spec whose function the user's code defines (a backward without its forward: an
    error row). ``defined``: the names the code defines as callables (crosscheck.check.Target's; None:
    read from ``module``). With a ``worker`` the cases run there, TensorFlow's reference too, and
    ``module`` is None: this process never imports the user's code, nor TensorFlow."""
    if worker is None:
        limit_threads()
    if defined is None:
        defined = {name for spec in specs for name in (spec.name, *spec.requires)
                   if callable(getattr(module, name, None))}
    rows = []
    for spec in specs:
        if only and spec.name not in only:
            continue
        if spec.run is None:   # a layer class that could not be discovered: the reason is in ``group``
            rows.append(Row(spec.name, spec.verdict, message=spec.group))
            continue
        if spec.requires and spec.name not in defined:
            continue
        missing = [name for name in spec.requires if name not in defined]
        if missing:
            rows.append(Row(spec.name, "error", message=f"{spec.name} needs {', '.join(missing)} (its cache) but "
                                                        f"{', '.join(missing)} is not defined"))
            continue
        each = None if on_outcome is None else (lambda name: lambda o: on_outcome(name, o))(spec.name)
        row = check_spec(spec, module, examples, seed, ties, pinned, timeout, worker, each)
        rows.append(with_self_consistency(spec, row, lambda own: check_spec(
            own, module, min(examples, SELF_CHECK_EXAMPLES), seed, ties, None, timeout, worker,
            None if on_outcome is None else lambda o: on_outcome(own.name, o))))
    return dependency_notes(rows, specs)


SELF_CHECK_EXAMPLES = 2   # cases of the self-consistency verdict given beside TensorFlow's


def with_self_consistency(spec: Spec, row: Row, check) -> Row:
    """``row`` with the spec's note and its self-consistency verdict (``check(own_spec) -> Row``):
    a row that is that verdict itself passes with the note saying so."""
    if spec.note:
        row.notes.insert(0, spec.note)
        if row.verdict == "passed":
            row.verdict = "passed-with-note"
    unjudged = [o.message for o in row.outcomes if o.status != PASS]
    if spec.self_check == "self" and row.verdict == "failed" and unjudged and all(CANNOT_JUDGE in m for m in unjudged):
        row.verdict, row.message, row.causes, row.examples, row.failing = "cannot-check", unjudged[0], {}, {}, 0
    if spec.self_check == "self":
        row.self_consistency = row.verdict if row.verdict != "passed-with-note" else "passed"
    elif spec.self_check is not None and row.verdict not in ("error", "cannot-check"):
        own = check(spec.self_check)
        row.beside.append(own)
        if own.verdict != "failed":
            row.self_consistency = "passed" if own.verdict.startswith("passed") else own.verdict
        else:
            tensors = sorted({d.tensor for o in own.outcomes for d in o.failures})
            row.self_consistency = (f"failed: {own.failing} of {own.tried} cases"
                                    + (f" ({', '.join(tensors)})" if tensors else f" ({', '.join(own.causes)})"))
    return row


def rows_ok(rows: list[Row]) -> bool:
    return all(r.verdict in ("passed", "passed-with-note") for r in rows)
