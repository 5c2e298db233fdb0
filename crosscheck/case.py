"""The data that flows through crosscheck: a Case goes in, an Outcome with TensorDiffs comes out.

    strategy -> Case -> implementation under test + TensorFlow paths -> compare -> Outcome -> report
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PASS = "pass"
MISMATCH = "mismatch"
# a registered TensorFlow quirk says TF cannot compute this case (crosscheck/oracle/quirks.py)
REFERENCE_UNSUPPORTED = "reference-unsupported"
# TensorFlow (or crosscheck's own reference code) failed on a case no quirk covers: fails the run
REFERENCE_ERROR = "reference-error"
IMPLEMENTATION_ERROR = "implementation-error"
IMPLEMENTATION_CRASH = "implementation-crash"      # the worker running the code under test died
IMPLEMENTATION_TIMEOUT = "implementation-timeout"  # the code under test did not return in time
REFERENCE_CRASH = "reference-crash"   # TensorFlow killed crosscheck's process computing this case's reference
# which TF paths a run compares with: every one, or the first that works (all of them again on a mismatch)
PATH_MODES = ("all", "first")
STATUSES = (PASS, MISMATCH, REFERENCE_UNSUPPORTED, REFERENCE_ERROR, REFERENCE_CRASH, IMPLEMENTATION_ERROR,
            IMPLEMENTATION_CRASH, IMPLEMENTATION_TIMEOUT)
#: statuses that fail a run
FAILING = (MISMATCH, REFERENCE_ERROR, REFERENCE_CRASH, IMPLEMENTATION_ERROR, IMPLEMENTATION_CRASH,
           IMPLEMENTATION_TIMEOUT)
#: the implementation's vjp forward output, compared with TensorFlow's y as the op function's is
VJP_Y = "vjp:y"
OWN_PATH = "own"   # a path whose reference crosscheck computes itself (no TensorFlow op does it: dropout)


def reference_name(path: str) -> str:
    """Who computed the reference of ``path``: "TensorFlow", or "crosscheck's own reference"."""
    return "crosscheck's own reference" if path.startswith(OWN_PATH) else "TensorFlow"


@dataclass
class Case:
    """One concrete example of one op.

    ``arrays`` holds the op's array arguments by name, in the op's vjp order (e.g. input, filters,
    bias); ``params`` the JSON-able keyword arguments (strides, padding, data_format, ...);
    ``dy`` the random upstream gradient (None for ops checked forward-only). ``seed`` is the seed
    the arrays were drawn from, kept for the report; replay uses the stored arrays themselves.
    """
    op: str
    params: dict[str, Any]
    arrays: dict[str, np.ndarray]
    dy: np.ndarray | None
    dtype: str
    seed: int

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        shapes = ", ".join(f"{k}={v}" for k, v in self.shapes().items())
        return f"Case({self.op}, {self.dtype}, seed={self.seed}, {params}; shapes {shapes})"

    def shapes(self) -> dict[str, tuple]:
        shapes = {name: tuple(a.shape) for name, a in self.arrays.items()}
        if self.dy is not None:
            shapes["dy"] = tuple(self.dy.shape)
        return shapes


@dataclass
class TensorDiff:
    """The comparison of one tensor (``y`` or ``d_<array name>``) against one TensorFlow path."""
    tensor: str
    path: str
    passed: bool
    shape: tuple
    expected_shape: tuple
    atol: float
    rtol: float
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    mismatched: int = 0
    total: int = 0
    # the k worst elements: {"index": [...], "actual": float, "expected": float, "abs_err": float}
    worst: list[dict] = field(default_factory=list)
    # mismatched count per channel (last axis of the NHWC view; empty when not spatial)
    channel_map: list[int] = field(default_factory=list)
    # mismatched-element mask per channel, as H x W lists of 0/1 (spatial tensors only), for the HTML image
    spatial_map: list[list[list[int]]] = field(default_factory=list)
    # likely causes (the diagnosis vocabulary, docs/diagnosis.md), each {"label": ..., "evidence": ...}
    diagnosis: list[dict] = field(default_factory=list)
    note: str = ""
    # False: not compared (e.g. a gradient after a wrong forward shape); ``note`` says why
    judged: bool = True


@dataclass
class Outcome:
    """The verdict on one Case: its status, the TF paths used, and one TensorDiff per compared tensor."""
    case: Case
    status: str
    paths: list[str] = field(default_factory=list)
    diffs: list[TensorDiff] = field(default_factory=list)
    message: str = ""          # why a reference is unsupported, or the implementation's traceback
    notes: list[str] = field(default_factory=list)  # e.g. "reference built with a zero-dilated kernel"
    impl: str = "npcnn.functional"

    @property
    def failures(self) -> list[TensorDiff]:
        return [d for d in self.diffs if d.judged and not d.passed]
