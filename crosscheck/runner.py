"""Run one case: the implementation under test against the TensorFlow reference.

``run_case`` never raises. The implementation's exceptions become ``implementation-error`` (with
its own traceback); a case a registered quirk refuses is ``reference-unsupported`` (with the
quirk); anything else TensorFlow raises is ``reference-error``; differences beyond the tolerance,
an output of the wrong type or shape, and an input written to are ``mismatch``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .arbiter import arbitrate
from .case import (IMPLEMENTATION_ERROR, MISMATCH, PASS, PATH_MODES, REFERENCE_ERROR, REFERENCE_UNSUPPORTED, STATUSES,
                   VJP_Y, Case, Outcome, TensorDiff)
from .compare import NONE_NOTE, compare
from .diagnosis import defaults_differ, diagnose, output_shape_evidence
from .implementation import (DEFAULT_IMPL, FORWARD_OUTPUT_WRITTEN, call_impl, load_impl, output_type_problem,
                             resolve_impl)
from .opinfo import Call, OpInfo
from .oracle.reference import ReferenceUnsupported, TFReferenceError, compute_reference, precheck, resolve
from .threads import limit_threads
from .tolerance import tolerance


def layout_axes(info: OpInfo, call: Call, tensor: str):
    """(channel_axis, spatial_axes) of a 4-D tensor: HWIO filters, the case's data_format, or a
    normalisation's channel axis."""
    if info.filter_tensors and tensor in info.filter_tensors:
        return 3, (0, 1)
    if "data_format" not in info.params and isinstance(call.params.get("axis"), int):
        channel = call.params["axis"] % 4
        return channel, tuple(a for a in (1, 2, 3) if a != channel)
    if call.params.get("data_format", "NHWC") == "NCHW":
        return 1, (2, 3)
    return 3, (1, 2)


def run_case(case: Case, impl=None, paths: str = "all", isolated: bool = False) -> Outcome:
    """Compare the implementation with every TF path of ``case.op``. Never raises on a case.

    ``paths="first"`` compares with the first TF path that can compute the case and, only if that
    finds a mismatch, recomputes every path, so a reported mismatch always shows all of them.
    ``isolated``: an implementation given by name runs in a worker process (crosscheck.isolation):
    a crash or a hang there is an implementation-crash / -timeout outcome, not the end of the test run."""
    if paths not in PATH_MODES:
        raise ValueError(f"paths must be one of {PATH_MODES}, got {paths!r}")
    try:
        module, impl_name = resolve_impl(impl, isolated)
    except Exception as exc:
        return Outcome(case, IMPLEMENTATION_ERROR, message=f"cannot load {impl}: {type(exc).__name__}: {exc}",
                       impl=str(impl))
    try:
        info, call = resolve(case)
        precheck(call)
    except ReferenceUnsupported as e:
        return Outcome(case, REFERENCE_UNSUPPORTED, message=str(e), impl=impl_name, notes=[f"quirk {e.quirk}"])
    except (TFReferenceError, ValueError) as e:
        return Outcome(case, REFERENCE_ERROR, message=str(e), impl=impl_name)
    limit_threads()
    result = call_impl(info, case, module)
    if result.error:
        outcome = Outcome(case, result.stopped or IMPLEMENTATION_ERROR, message=result.error, impl=impl_name,
                          diffs=modified_diffs(result.modified))
        return with_default_differences(outcome, info, module)
    outcome = check_against_reference(info, call, result, impl_name, first_only=paths == "first")
    if outcome.status == MISMATCH and paths == "first":
        outcome = check_against_reference(info, call, result, impl_name, first_only=False)
    return with_default_differences(outcome, info, module) if outcome.status == MISMATCH else outcome


def with_default_differences(outcome: Outcome, info: OpInfo, module) -> Outcome:
    """A failing outcome whose case leaves out a parameter the implementation's function defaults
    otherwise than TensorFlow gets a "default-differs" cause: on every failing tensor, or (no tensor
    was compared) as a harness entry of its own."""
    try:
        found = defaults_differ(info, outcome.case, getattr(module, outcome.case.op, None))
    except Exception:    # noqa: BLE001 - a cause that cannot be worked out explains nothing
        return outcome
    if not found:
        return outcome
    failing = [d for d in outcome.diffs if d.judged and not d.passed]
    for d in failing:
        d.diagnosis = found + d.diagnosis
    if not failing:
        outcome.diffs.append(TensorDiff(tensor="defaults", path="harness", passed=False, shape=(), expected_shape=(),
                                        atol=0.0, rtol=0.0, mismatched=len(found), total=len(found), diagnosis=found))
    return outcome


def check_against_reference(info: OpInfo, call: Call, result, impl_name: str, first_only: bool) -> Outcome:
    """The Outcome of the implementation's tensors (an ImplResult) against the TF reference."""
    case = call.case
    try:
        ref = compute_reference(case, first_only=first_only)
    except ReferenceUnsupported as e:
        return Outcome(case, REFERENCE_UNSUPPORTED, message=str(e), impl=impl_name, notes=[f"quirk {e.quirk}"])
    except TFReferenceError as e:
        return Outcome(case, REFERENCE_ERROR, message=str(e), impl=impl_name)
    diffs = compare_all(info, call, result.tensors, ref, result.not_judged)
    diffs = modified_diffs(result.modified) + type_diffs(info, case, result.tensors, result.type_problems) + diffs
    notes = list(ref.notes) + [f"path {p} not used: {why}" for p, why in ref.skipped.items()]
    status = PASS if all(d.passed for d in diffs if d.judged) else MISMATCH
    if status == MISMATCH and not first_only:
        notes += explain(info, case, result.tensors, ref, diffs)
    return Outcome(case, status, paths=list(ref.paths), diffs=diffs, notes=notes, impl=impl_name)


def modified_diffs(modified: list) -> list[TensorDiff]:
    """One failing entry per input the implementation wrote to (and for the forward output its
    pullback wrote into)."""
    return [_modified_diff(name) for name in modified]


def _modified_diff(name: str) -> TensorDiff:
    if name == FORWARD_OUTPUT_WRITTEN:
        tensor, note = "output y", "its pullback writes into the forward output `y` the vjp returned"
        evidence = ("the pullback wrote into the array the vjp had returned as the forward output; a network "
                    "that keeps that output (the next layer's input, a residual branch) sees it change")
    else:
        tensor, note = f"input {name}", f"modifies its input `{name}` in place"
        evidence = f"the implementation wrote into `{name}`; crosscheck keeps the original for the reference and the replay file"
    return TensorDiff(tensor=tensor, path="harness", passed=False, shape=(), expected_shape=(), atol=0.0, rtol=0.0,
                      mismatched=1, total=1, note=note, diagnosis=[{"label": "modifies-input", "evidence": evidence}])


def type_diffs(info: OpInfo, case: Case, tensors: dict, type_problems: dict | None = None) -> list[TensorDiff]:
    """A failing entry per output that is not an ndarray of the case's dtype (``type_problems``: why
    an output was not an ndarray, from :func:`crosscheck.returned.judge`)."""
    out = []
    for name, value in tensors.items():
        if name.startswith("d_") and case.arrays.get(name[2:]) is not None and case.arrays[name[2:]].dtype.kind != "f":
            continue
        problem = (type_problems or {}).get(name) or output_type_problem(value, case.dtype)
        if problem:
            out.append(TensorDiff(tensor=name, path="harness", passed=False, shape=tuple(getattr(value, "shape", ())),
                                  expected_shape=(), atol=0.0, rtol=0.0, mismatched=1, total=1, note=problem,
                                  diagnosis=[{"label": "output-type", "evidence": f"{name} {problem}"}]))
    return out


def explain(info: OpInfo, case: Case, actual: dict, ref, diffs: list) -> list[str]:
    """Attach likely causes (crosscheck.diagnosis) and the finite-difference verdict
    (crosscheck.arbiter, as a diagnosis entry labelled "arbiter") to the failing TensorDiffs.
    Never raises; returns a note for the Outcome only if one of them fails."""
    notes = []
    for step, name in ((lambda: diagnose(info, case, actual, ref, diffs), "diagnosis"),
                       (lambda: arbitrate(case, actual, ref, diffs), "finite-difference arbiter")):
        try:
            step()
        except Exception as exc:
            notes.append(f"the {name} failed on this case ({type(exc).__name__}: {exc})")
    return notes


def compare_all(info: OpInfo, call: Call, actual: dict, ref, not_judged: str = "") -> list[TensorDiff]:
    """One TensorDiff per (TF path, tensor) of the reference, plus the vjp's forward output against
    each path's ``y``. Gradients are listed as not judged when ``not_judged`` says why."""
    terms, floors = info.tensor_terms(call), info.tensor_scale_floor(call)
    diffs = []
    compared: dict = {}   # (tensor compared, name, TF's tensor as bytes) -> its TensorDiff: paths that agree share it
    for path, tensors in ref.paths.items():
        for tensor, expected in tensors.items():
            names = [tensor, VJP_Y] if tensor == "y" and VJP_Y in actual else [tensor]
            for name in names:
                if name.startswith("d_") and not_judged:
                    diffs.append(TensorDiff(tensor=name, path=path, passed=False, shape=(), expected_shape=expected.shape,
                                            atol=0.0, rtol=0.0, total=int(expected.size), note=not_judged,
                                            judged=False))
                    continue
                as_array = np.asarray(expected)
                key = (tensor, name, as_array.dtype.str, as_array.shape, as_array.tobytes())
                if key in compared:   # bitwise the same as another path's: the same comparison, listed for this path
                    diffs.append(_same_comparison(compared[key], path))
                    continue
                tol = tolerance(call.dtype, terms.get(tensor, 1), expected, floors.get(tensor, 0.0))
                channel_axis, spatial_axes = layout_axes(info, call, tensor)
                d = compare(actual.get(name), expected, tol, tensor=name, path=path,
                            channel_axis=channel_axis, spatial_axes=spatial_axes)
                if name not in actual:
                    d.note = NONE_NOTE
                if d.shape != d.expected_shape and (tensor in info.outputs) and actual.get(name) is not None:
                    d.diagnosis = [output_shape_evidence(info, call, tuple(d.shape), tuple(d.expected_shape))]
                compared[key] = d
                diffs.append(d)
    return diffs


def _same_comparison(d: TensorDiff, path: str) -> TensorDiff:
    """``d`` for another TF path whose tensor is bitwise the same (its own lists: later steps
    attach each path's diagnosis to its own entry)."""
    return dataclasses.replace(d, path=path, worst=[dict(w) for w in d.worst], channel_map=list(d.channel_map),
                               spatial_map=d.spatial_map and [list(map(list, m)) for m in d.spatial_map],
                               diagnosis=[dict(e) for e in d.diagnosis])


def outcome_summary(outcome: Outcome, max_diffs: int = 4) -> str:
    """A short plain-text account of an outcome (the full report is crosscheck.report's job)."""
    case = outcome.case
    lines = [f"{case.op} [{case.dtype}] {outcome.status}  params={case.params}  shapes={case.shapes()}  "
             f"seed={case.seed}"]
    if outcome.message:
        lines.append(outcome.message.strip()[-1500:])
    for d in outcome.failures[:max_diffs]:
        lines.append(f"  {d.tensor} vs {d.path}: {d.mismatched}/{d.total} mismatched, max abs err "
                     f"{d.max_abs_err:.3g} (atol {d.atol:.3g}, rtol {d.rtol:.3g}) {d.note}")
        for w in d.worst[:3]:
            lines.append(f"    at {w['index']}: actual {w['actual']:.9g} expected {w['expected']:.9g}")
    lines += [f"  note: {n}" for n in outcome.notes]
    return "\n".join(lines)


def summarize(outcomes: list[Outcome]) -> dict:
    """Counts per status."""
    counts = {s: 0 for s in STATUSES}
    for o in outcomes:
        counts[o.status] += 1
    return counts


__all__ = ["run_case", "check_against_reference", "compare_all", "outcome_summary", "summarize", "DEFAULT_IMPL",
           "load_impl", "REFERENCE_ERROR"]
