"""The likely causes of a failing ``crosscheck check`` case (stable labels, or what it raised), and
the row-level evidence that decides between them: where several causes fit one case, the row's
largest failing case decides."""
from __future__ import annotations

import numpy as np

from ..case import (IMPLEMENTATION_CRASH, IMPLEMENTATION_ERROR, IMPLEMENTATION_TIMEOUT, REFERENCE_CRASH,
                    REFERENCE_ERROR, Outcome)
from ..diagnosis import CONSEQUENCE_OF, LOCATIONAL, raised_cropping_at_zero_pad
from ..implementation import UNUSABLE_RETURN
from ..numpy2 import cause_in as numpy2_cause

CONTRACT_CAUSES = {"WrongReturn": "output-type", "WrongShape": "shape-mismatch"}


def case_size(outcome: Outcome) -> int:
    return int(sum(np.asarray(a).size for a in outcome.case.arrays.values()))


GENERIC_CAUSES = ("shape-mismatch", "output-shape", "nan-inf-mismatch")   # dropped where a named mistake explains the shape


def causes_of(outcome: Outcome) -> list[str]:
    """The likely causes of a failing outcome (stable labels), or what it raised."""
    if outcome.status == IMPLEMENTATION_CRASH:
        how = outcome.message.partition("\n")[0].rsplit(": ", 1)[-1]   # the first line; a traceback may follow
        return [f"crashes ({how.split(' (', 1)[0]})"]
    if outcome.status == REFERENCE_CRASH:
        return ["tensorflow-crash (not your code: TensorFlow killed the process computing the reference)"]
    if outcome.status == IMPLEMENTATION_TIMEOUT:
        return ["hangs"]
    if outcome.status in (IMPLEMENTATION_ERROR, REFERENCE_ERROR):
        if outcome.status == IMPLEMENTATION_ERROR and numpy2_cause(outcome.message):
            return [numpy2_cause(outcome.message)]
        if outcome.status == IMPLEMENTATION_ERROR and raised_cropping_at_zero_pad(outcome.case, outcome.message):
            return ["crop-empty-at-zero-pad"]
        if outcome.status == IMPLEMENTATION_ERROR and outcome.message.startswith(UNUSABLE_RETURN):
            return ["returns " + outcome.message[len(UNUSABLE_RETURN):].strip().split(" as `")[0]]
        last = (outcome.message.strip().splitlines() or ["error"])[-1]
        kind = last.split(":")[0].split(".")[-1]
        if kind in CONTRACT_CAUSES:
            return [CONTRACT_CAUSES[kind]]
        return [f"raises {kind}"] if outcome.status == IMPLEMENTATION_ERROR else ["reference-error"]
    labels = list(dict.fromkeys(e["label"] for d in outcome.failures for e in d.diagnosis
                                if e["label"] not in ("arbiter", "precision-only")))
    specific = [label for label in labels if label not in GENERIC_CAUSES and label not in LOCATIONAL
                and not CONSEQUENCE_OF.get(label, set()) & set(labels)]
    where = [label for label in labels if label in LOCATIONAL]   # only where it differs: better than nothing
    return specific or where or labels or ["unexplained"]

def decided_causes(failing: list[Outcome]) -> list[tuple[Outcome, list[str]]]:
    """(outcome, its causes) for each failing outcome; where several causes fit one case (a small
    case often fits more than one mistake), those the row's largest failing case also shows decide."""
    per_case = [(o, causes_of(o)) for o in failing]
    if not per_case:
        return per_case
    largest = set(max(per_case, key=lambda pair: case_size(pair[0]))[1])
    return [(o, [c for c in causes if c in largest] or causes) if len(causes) > 1 else (o, causes)
            for o, causes in per_case]
