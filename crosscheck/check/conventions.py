"""Conventions told from bugs: gradients (and a loss) averaged over the batch.

Most from-scratch layer classes divide their parameter gradients by the batch size
(``self.dW = x.T @ dout / N``, ``self.db = dout.mean(axis=0)``): the gradient of the batch's mean
loss where TensorFlow's op gives the gradient of the sum. That is a convention, not a bug, when the
numbers show it on every case:

* each scaled tensor equals the reference times exactly 1/N, N the case's batch size (the factor the
  scale-factor diagnosis fitted, or a one-element tensor's own ratio);
* the group scales together: every parameter gradient of a layer (dW and db; dx may follow or not),
  or a loss and its gradient (the sum where the reference averages: every loss reference is the batch
  mean, so a loss 1/N times it divides by N twice, a bug);
* the factor follows N: the cases span at least two batch sizes, and no case shows another constant
  (a batch of 1 then passes, a batch of 3 is a third). A constant factor is a bug ("scale-factor").

A case that follows the convention has its scaled tensors marked as passed, with a note; whatever
else it gets wrong is judged as usual. ``crosscheck check --expect batch-mean`` (or
``crosscheck.Layer(..., conventions=("batch-mean",))``) makes the batch mean the expected gradient:
then one batch size suffices, and a gradient summed over a batch of N > 1 fails as "scale-factor"
(N times the declared mean).
"""
from __future__ import annotations

import copy

import numpy as np

from ..case import MISMATCH, PASS, Outcome
from ..registry import OPS as REGISTRY

BATCH_MEAN = "batch-mean"
KNOWN = {BATCH_MEAN: "gradients (and a loss) averaged over the batch instead of summed"}
LOSS_TENSORS = ("loss",)
_EXACT = 1e-6   # relative: a factor "is" 1/N when |factor * N - 1| is below this


def conventions_of(value, where: str = "conventions") -> tuple[tuple, str]:
    """(the convention names of ``value``, "") or ((), one line naming the bad value and the valid
    ones), for ``crosscheck.Layer(conventions=...)`` and ``--expect``. ``value``: a tuple or list of
    names, or one name."""
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, (tuple, list)):
        return (), f"{where} must be a tuple of names ({', '.join(KNOWN)}), got {value!r}"
    for name in names:
        if not isinstance(name, str) or name not in KNOWN:
            return (), f"{where}: unknown convention {name!r}; known: {', '.join(KNOWN)}"
    return tuple(str.__str__(name) for name in names), ""


def conventions_problem(value, where: str = "conventions") -> str:
    """"" when ``value`` names known conventions (see :func:`conventions_of`), else why not."""
    return conventions_of(value, where)[1]


def batch_size(outcome: Outcome) -> int:
    """N of the case: the first array's leading axis (1 for a single example or a scalar)."""
    case = outcome.case
    names = REGISTRY[case.op].arrays if case.op in REGISTRY else tuple(case.arrays)
    first = next((case.arrays[n] for n in names if n in case.arrays and np.ndim(case.arrays[n]) >= 2), None)
    if first is None:
        first = next((a for a in case.arrays.values() if np.ndim(a) >= 2), None)
    return int(np.shape(first)[0]) if first is not None else 1


def scaled_group(outcome: Outcome) -> tuple[tuple, tuple]:
    """(the tensors that scale together under the convention, the optional ones): a layer's
    parameter gradients (its input gradient optional); a loss and its gradients; ((), ()) otherwise."""
    judged = [d.tensor for d in outcome.diffs if d.judged]
    if any(t in LOSS_TENSORS for t in judged):
        return tuple(t for t in judged if t in LOSS_TENSORS or t.startswith("d_")), ()
    info = REGISTRY.get(outcome.case.op)
    if info is None or len(info.arrays) < 2:
        return (), ()
    # "d_bias per position" (an untied bias, crosscheck.check.untied_bias) scales with d_bias
    params = tuple(t for t in judged if t.split()[0] in {"d_" + a for a in info.arrays[1:]})
    optional = tuple(t for t in judged if t == "d_" + info.arrays[0])
    return (params, optional) if params else ((), ())


def tensor_factor(outcome: Outcome, tensor: str) -> tuple[float | None, bool]:
    """(actual / reference for ``tensor`` when it is one constant, or None; whether several elements
    agree on it). A passed tensor: 1.0; a failing one: the factor its scale-factor diagnosis fitted,
    or a one-element tensor's own ratio (no evidence alone: any ratio fits one element)."""
    diff = next((d for d in outcome.diffs if d.tensor == tensor and d.judged), None)
    if diff is None:
        return None, False
    if diff.passed:
        return 1.0, diff.total > 1
    for e in diff.diagnosis:
        if e.get("label") == "scale-factor" and isinstance(e.get("factor"), float):
            return e["factor"], True
    if diff.total == 1 and diff.worst and diff.worst[0].get("expected"):
        return float(diff.worst[0]["actual"]) / float(diff.worst[0]["expected"]), False
    return None, False


def _is(factor: float | None, target: float) -> bool:
    return factor is not None and abs(factor / target - 1) < _EXACT


def _reading(outcome: Outcome) -> dict | None:
    """How one case reads under the convention: {"n", "factor" (the group's common factor, or None
    when it has none), "evidence", "group", "optional"}; None when the case says nothing of it."""
    if outcome.status not in (PASS, MISMATCH):
        return None
    group, optional = scaled_group(outcome)
    if not group:
        return None
    n = batch_size(outcome)
    factors = [tensor_factor(outcome, t) for t in group]
    values = [f for f, _ in factors]
    common = values[0] if all(v is not None and _is(v, values[0]) for v in values) else None
    return {"n": n, "factor": common, "evidence": any(ev for _, ev in factors), "group": group,
            "optional": optional}


def _is_loss(reading: dict) -> bool:
    return any(t in LOSS_TENSORS for t in reading["group"])


def _follows(reading: dict, declared: bool = False) -> bool:
    """A layer's group scales by 1/N; a loss, undeclared, by N (a sum where the reference averages: a
    loss reference is the batch mean already, so 1/N times it is averaged twice)."""
    n, f = reading["n"], reading["factor"]
    if _is_loss(reading):
        return not declared and _is(f, float(n))
    return _is(f, 1.0 / n)


def batch_mean(outcomes: list[Outcome], declared: bool) -> tuple[list[Outcome], str]:
    """(``outcomes`` with the tensors the batch-mean convention explains marked as passed, the
    row's note); the outcomes unchanged and "" when the numbers do not show the convention.
    ``declared``: the user declared it (``--expect batch-mean``): the batch mean is then the
    expected gradient, and a sum over a batch of N > 1 fails as scale-factor N."""
    readings = [_reading(o) for o in outcomes]
    seen = [r for r in readings if r is not None]
    if not seen:
        return outcomes, ""
    if not declared:
        scaled = [r for r in seen if r["factor"] is not None and not _is(r["factor"], 1.0)]
        shown = [r for r in scaled if _follows(r)]
        contradicted = any(r["factor"] is not None and not _follows(r) for r in seen)
        sizes = {r["n"] for r in seen if r["factor"] is not None and _follows(r)}
        if not shown or contradicted or len(sizes) < 2 or not any(r["evidence"] for r in shown):
            return outcomes, ""
    result, excused, inputs, loss_sum = [], set(), set(), False
    for outcome, reading in zip(outcomes, readings):
        if reading is None or reading["n"] == 1:
            result.append(outcome)
            continue
        if declared and reading["factor"] is not None and _is(reading["factor"], 1.0):
            # a loss's reference may average already (the CS231n losses): only a layer's sum is refused
            result.append(outcome if _is_loss(reading) else _summed_where_declared(outcome, reading))
            continue
        if reading["factor"] is None or not _follows(reading, declared):
            result.append(outcome)
            continue
        loss_sum = loss_sum or _is(reading["factor"], float(reading["n"]))
        divided = [t for t in reading["optional"] if _is(tensor_factor(outcome, t)[0], reading["factor"])]
        tensors = list(reading["group"]) + divided
        excused.update(tensors)
        inputs.update(divided)
        result.append(_excused(outcome, tensors, reading))
    if not excused:
        return result, ""
    return result, _note(sorted(excused), bool(inputs), loss_sum)


def _excused(outcome: Outcome, tensors: list, reading: dict) -> Outcome:
    fixed = copy.copy(outcome)
    fixed.diffs = []
    for d in outcome.diffs:
        if d.tensor in tensors and not d.passed:
            d = copy.copy(d)
            d.passed = True
            d.note = f"{BATCH_MEAN}: equals TensorFlow's times {reading['factor']:.6g} (1/N, N = {reading['n']})"
        fixed.diffs.append(d)
    if all(d.passed for d in fixed.diffs if d.judged):
        fixed.status = PASS
    return fixed


def _summed_where_declared(outcome: Outcome, reading: dict) -> Outcome:
    """A case whose group matches TensorFlow's sum where the batch mean was declared: a failure."""
    fixed = copy.copy(outcome)
    fixed.diffs = []
    n = reading["n"]
    for d in outcome.diffs:
        if d.tensor in reading["group"]:
            d = copy.copy(d)
            d.passed = False
            d.note = f"equals TensorFlow's sum over the batch; the batch mean ({BATCH_MEAN}) was declared"
            d.diagnosis = [{"label": "scale-factor", "factor": float(n),
                            "evidence": f"equals N = {n} times the batch mean declared with {BATCH_MEAN}: summed over "
                                        "the batch, not averaged"}]
        fixed.diffs.append(d)
    fixed.status = MISMATCH
    return fixed


def _note(tensors: list, input_divided: bool, loss_sum: bool) -> str:
    names = ", ".join(tensors)
    if loss_sum:
        return (f"loss summed over the batch ({names}: N times the reference's mean, N = batch size): a "
                "convention, not a bug")
    text = (f"gradients averaged over the batch ({names} divided by N = batch size): a convention, not "
            "TensorFlow's sum; a learning rate tuned for one is N times too small or large for the other")
    if input_divided:
        text += ("; the input gradient is divided too, so in a stack of such layers each earlier layer's "
                 "gradients shrink by another 1/N")
    return text


def apply_conventions(spec, outcomes: list[Outcome], expect=()) -> tuple[list[Outcome], list[str]]:
    """(``outcomes`` as the conventions of ``spec`` (``spec.conventions`` declared,
    ``spec.detect`` detected from the numbers) and ``expect`` (declared for the whole run) read
    them, the notes to show)."""
    declared = set(expect) | set(getattr(spec, "conventions", ()))
    notes = []
    if BATCH_MEAN in declared or BATCH_MEAN in getattr(spec, "detect", ()):
        outcomes, note = batch_mean(outcomes, BATCH_MEAN in declared)
        notes = [note] if note else []
    return batch_factor_across_cases(outcomes), notes


def batch_factor_across_cases(outcomes: list[Outcome]) -> list[Outcome]:
    """A one-element tensor (a loss value) cannot show a scale factor alone; the row's cases can
    together. Where its ratio to the reference is N on every failing case (or 1/N on every one), over
    at least two batch sizes, and no case of N > 1 passes it, each of those cases gets "scale-factor"."""
    found: dict[str, list] = {}
    passing_n: dict[str, set] = {}
    for i, outcome in enumerate(outcomes):
        for d in outcome.diffs:
            if not d.judged or d.total != 1:
                continue
            if d.passed:
                passing_n.setdefault(d.tensor, set()).add(batch_size(outcome))
            elif d.worst and d.worst[0].get("expected") and not any(e["label"] != "arbiter" for e in d.diagnosis):
                ratio = float(d.worst[0]["actual"]) / float(d.worst[0]["expected"])
                found.setdefault(d.tensor, []).append((i, batch_size(outcome), ratio))
    result = list(outcomes)
    for tensor, seen in found.items():
        sizes = sorted({n for _, n, _ in seen})
        if len(sizes) < 2 or any(n > 1 for n in passing_n.get(tensor, ())):
            continue
        # neutral on which of the two sums or averages: a loss's reference averages, a layer's sums
        for power, what in ((1, "N: a division by the batch size missing"),
                            (-1, "1/N: a division by the batch size too many")):
            if all(_is(ratio, float(n) ** power) for _, n, ratio in seen):
                for i, n, ratio in seen:
                    result[i] = _with_entry(result[i], tensor, {
                        "label": "scale-factor", "factor": ratio,
                        "evidence": f"{tensor} is {ratio:.6g} times the reference here, and {what.split(':')[0]} "
                                    f"times it on every failing case (batch sizes {sizes}), N the batch size: "
                                    f"{what.split(': ')[1]}"})
                break
    return result


def _with_entry(outcome: Outcome, tensor: str, entry: dict) -> Outcome:
    fixed = copy.copy(outcome)
    fixed.diffs = []
    for d in outcome.diffs:
        if d.tensor == tensor and not d.passed:
            d = copy.copy(d)
            d.diagnosis = [*d.diagnosis, entry]
        fixed.diffs.append(d)
    return fixed
