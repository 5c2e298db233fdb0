"""The TensorFlow reference of a case: every path its OpInfo lists, computed on CPU.

:func:`compute_reference` resolves the case (defaults, canonical spellings), refuses a case only
for a quirk registered as refusing it (``ReferenceUnsupported``), and raises
:class:`TFReferenceError` for anything else TensorFlow (or the path code) raises: that is a
``reference-error``, never a silent "unsupported". Importing this package does not import
TensorFlow; computing a reference does.
"""
from __future__ import annotations

import contextlib
import os
import traceback
from dataclasses import dataclass, field

import numpy as np

from ..case import Case
from ..geometry import GeometryError
from ..registry import get_op
from .empty_batch import on_the_empty_batch
from .quirks import attach, float64_detour, refusing, workaround_notes

#: a file a process that runs both the code under test and TensorFlow (a ``crosscheck check`` worker)
#: is given, which says "tensorflow" while a reference is computed: if the process dies then, its
#: parent knows that TensorFlow, not the code under test, took it down
PHASE_FILE = "CROSSCHECK_TF_PHASE_FILE"


@contextlib.contextmanager
def tensorflow_phase():
    """Mark :data:`PHASE_FILE` (when this process has one) while TensorFlow computes."""
    path = os.environ.get(PHASE_FILE)
    if not path:
        yield
        return
    with open(path, "w") as f:
        f.write("tensorflow")
    try:
        yield
    finally:
        with open(path, "w"):
            pass


class ReferenceUnsupported(Exception):
    """A registered quirk says TensorFlow must not be handed this case (``quirk`` is its id)."""

    def __init__(self, message: str, quirk: str = ""):
        super().__init__(message)
        self.quirk = quirk


class TFReferenceError(Exception):
    """TensorFlow (or crosscheck's path code) failed on a case no quirk covers: a reference-error."""


@dataclass
class Reference:
    """Expected tensors per TF path (``{"tape": {"y": ..., "d_input": ...}, ...}``), the notes on how
    they were built (quirk workarounds), and the paths not computed, with the reason."""
    paths: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    first_only: bool = False


def resolve(case):
    """``(OpInfo, Call)`` of a case, its quirks attached; TFReferenceError if crosscheck cannot read its
    parameters."""
    info = get_op(case.op)
    try:
        return info, attach(info.resolve(case))
    except GeometryError as e:
        raise TFReferenceError(f"crosscheck cannot read this case's parameters: {e}") from None


def precheck(call) -> None:
    """ReferenceUnsupported when a quirk says the call (resolved, its quirks attached) must never reach
    TensorFlow in-process."""
    q = refusing(call)
    if q is not None:
        raise ReferenceUnsupported(f"not handed to TensorFlow (quirk {q.id}): {q.what}", q.id)


def in_float64(call):
    """``call`` with its float32 arrays and dy as float64 (dtype "float64"): the float64 detour (its
    quirks attached again)."""
    def up(a):
        return a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype == np.float32 else a
    c = call.case
    return attach(call.with_case(Case(c.op, c.params, {k: up(v) for k, v in c.arrays.items()}, up(c.dy), "float64",
                                      c.seed)))


def to_float32(a: np.ndarray) -> np.ndarray:
    """A float64 result of the detour rounded to float32; float64's extreme values become float32's
    (a max-pool window over padding only gives the dtype's lowest value, not -inf)."""
    if a.dtype != np.float64:
        return a
    with np.errstate(over="ignore"):
        out = a.astype(np.float32)
    info64, info32 = np.finfo(np.float64), np.finfo(np.float32)
    out[a == info64.min] = info32.min
    out[a == info64.max] = info32.max
    return out


def compute_reference(case, first_only: bool = False, prefer: str | None = None, detour: bool = True) -> Reference:
    """Every TF path of ``case.op`` (or, with ``first_only``, the first that applies); with
    ``prefer``, the path of that name alone, or the first that applies if it does not. A case
    a float64-detour quirk concerns is computed in float64 and rounded to its own dtype (unless
    ``detour`` is False: TensorFlow's own answer on this backend, as ``--tf-backend both`` wants it)."""
    from . import tf_lib  # deferred: imports TensorFlow
    info, call = resolve(case)
    precheck(call)
    detour = detour and float64_detour(call) is not None
    paths = info.paths
    if prefer is not None:
        paths, first_only = sorted(paths, key=lambda p: p.name != prefer), True
    ref = Reference(first_only=first_only, notes=workaround_notes(call))
    with tf_lib.shared_constants(), tensorflow_phase():
        for path in paths:
            if first_only and ref.paths:
                break
            why_not = path.applies(call)
            if why_not:
                ref.skipped[path.name] = why_not
                continue
            if detour:
                ref.paths[path.name] = {k: to_float32(v) for k, v in _compute_path(path, in_float64(call)).items()}
            else:
                ref.paths[path.name] = _compute_path(path, call)
    if not ref.paths:
        reasons = "; ".join(f"{p}: {r}" for p, r in ref.skipped.items())
        raise TFReferenceError(f"no TensorFlow path of {case.op} applies to this case ({reasons})")
    return ref


def _compute_path(path, call) -> dict:
    """One path's tensors as arrays (on the case's empty batch where quirk empty-output-filter-gradient
    holds); TFReferenceError for whatever it raises."""
    from . import tf_lib  # deferred: imports TensorFlow
    try:
        if call.holds("empty-output-filter-gradient"):
            tensors = on_the_empty_batch(path.compute, call, attach)
        else:
            tensors = path.compute(call)
    except tf_lib.OpError as e:
        raise TFReferenceError(f"TensorFlow raised {type(e).__name__} on path {path.name}: "
                               f"{first_line(e.message)}") from None
    except Exception:
        raise TFReferenceError(f"path {path.name} failed:\n{traceback.format_exc()}") from None
    return {k: np.asarray(v) for k, v in tensors.items()}


def reference_or_error(case, detour: bool = True) -> tuple[dict, str]:
    """``(paths, "")`` of :func:`compute_reference`, or ``({}, why)`` when the case is
    reference-unsupported or a reference-error (``why`` starts with that status)."""
    try:
        return compute_reference(case, detour=detour).paths, ""
    except ReferenceUnsupported as exc:
        return {}, f"reference-unsupported: {exc}"
    except TFReferenceError as exc:
        return {}, f"reference-error: {str(exc).splitlines()[0]}"


def float64_forward(case) -> dict:
    """TensorFlow's forward outputs of ``case`` computed in float64 (Eigen's kernels on either backend)."""
    return forward_reference(in_float64(get_op(case.op).resolve(case)).case)


def forward_reference(case) -> dict:
    """TensorFlow's forward outputs of ``case`` on its first applicable path (no gradients)."""
    ref = compute_reference(Case(case.op, case.params, case.arrays, None, case.dtype, case.seed), first_only=True)
    return next(iter(ref.paths.values()))


def first_line(text) -> str:
    text = str(text).strip()
    return text.splitlines()[0][:300] if text else ""
