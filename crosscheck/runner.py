"""Run cases: the implementation under test against the TensorFlow reference.

``run_case`` never raises: the implementation's exceptions become ``implementation-error`` (with
the traceback), cases TensorFlow cannot compute become ``reference-unsupported`` (with the reason),
and differences beyond the tolerance become ``mismatch`` with one failing TensorDiff per tensor and
TF path. ``fuzz_op`` draws cases from an op's strategy, deterministically from a seed.
"""
from __future__ import annotations

import importlib
import traceback
import zlib
from types import ModuleType
from typing import Callable

from .case import IMPLEMENTATION_ERROR, MISMATCH, PASS, PATH_MODES, REFERENCE_UNSUPPORTED, Case, Outcome
from .compare import compare
from .registry import OpInfo, get_op
from .tolerance import tolerance

DEFAULT_IMPL = "npcnn.functional"


def load_impl(module_name: str = DEFAULT_IMPL) -> ModuleType:
    """Import the implementation under test by name; it must offer ``vjp`` (and the op functions)."""
    module = importlib.import_module(module_name)
    if not callable(getattr(module, "vjp", None)):
        raise ValueError(f"implementation module {module_name!r} has no vjp(op, *arrays, **params) function")
    return module


def _resolve(impl) -> tuple[ModuleType, str]:
    if impl is None:
        impl = DEFAULT_IMPL
    if isinstance(impl, str):
        return load_impl(impl), impl
    return impl, getattr(impl, "__name__", repr(impl))


def run_impl(info: OpInfo, case: Case, impl: ModuleType) -> dict:
    """The implementation's forward outputs (from the op function) and gradients (from ``vjp``)."""
    fn = getattr(impl, info.name, None)
    if fn is None:
        raise AttributeError(f"{getattr(impl, '__name__', impl)} has no function {info.name!r}")
    out = fn(**case.arrays, **case.params)
    outputs = out if len(info.outputs) > 1 else (out,)
    result = dict(zip(info.outputs, outputs))
    if case.dy is not None and info.differentiable:
        given = [n for n in info.arrays if n in case.arrays]
        extras = {n: case.arrays[n] for n in info.extra_arrays if n in case.arrays}
        _, pullback = impl.vjp(info.name, *[case.arrays[n] for n in given], **extras, **case.params)
        grads = dict(zip(given, pullback(case.dy)))
        for n in info.differentiable:
            if n in case.arrays:
                result["d_" + n] = grads.get(n)
    return result


def layout_axes(info: OpInfo, case: Case, tensor: str):
    """(channel_axis, spatial_axes) of a 4-D tensor: HWIO filters, or the case's data_format."""
    if tensor in info.filter_tensors:
        return 3, (0, 1)
    if case.params.get("data_format", "NHWC") == "NCHW":
        return 1, (2, 3)
    return 3, (1, 2)


def run_case(case: Case, impl=None, paths: str = "all") -> Outcome:
    """Compare the implementation with every TF path of ``case.op``. Never raises on a case.

    ``paths="first"`` compares with the first TF path that can compute the case and, only if that
    finds a mismatch, recomputes every path, so a reported mismatch always shows all of them."""
    if paths not in PATH_MODES:
        raise ValueError(f"paths must be one of {PATH_MODES}, got {paths!r}")
    try:
        module, impl_name = _resolve(impl)
    except Exception:
        return Outcome(case, IMPLEMENTATION_ERROR, message=traceback.format_exc(), impl=str(impl))
    try:
        info = get_op(case.op)
    except ValueError as e:
        return Outcome(case, REFERENCE_UNSUPPORTED, message=str(e), impl=impl_name)

    from .oracle import ReferenceUnsupported, precheck
    from .threads import limit_threads
    limit_threads()
    try:
        precheck(case)
    except ReferenceUnsupported as e:
        return Outcome(case, REFERENCE_UNSUPPORTED, message=str(e), impl=impl_name)

    try:
        actual = run_impl(info, case, module)
    except Exception:
        return Outcome(case, IMPLEMENTATION_ERROR, message=traceback.format_exc(), impl=impl_name)

    outcome = check_against_reference(info, case, actual, impl_name, first_only=paths == "first")
    if outcome.status == MISMATCH and paths == "first":
        outcome = check_against_reference(info, case, actual, impl_name, first_only=False)
    return outcome


def check_against_reference(info: OpInfo, case: Case, actual: dict, impl_name: str, first_only: bool) -> Outcome:
    """The Outcome of ``actual`` (the implementation's tensors) against the TF reference of ``case``."""
    from .oracle import ReferenceUnsupported, compute_reference
    try:
        ref = compute_reference(case, first_only=first_only)
    except ReferenceUnsupported as e:
        return Outcome(case, REFERENCE_UNSUPPORTED, message=str(e), impl=impl_name)
    except Exception:
        return Outcome(case, REFERENCE_UNSUPPORTED, impl=impl_name,
                       message="the TensorFlow oracle failed on this case:\n" + traceback.format_exc())

    try:
        diffs = compare_all(info, case, actual, ref)
    except Exception:
        return Outcome(case, REFERENCE_UNSUPPORTED, paths=list(ref.paths), notes=list(ref.notes), impl=impl_name,
                       message="crosscheck could not compare this case (a bug in crosscheck):\n"
                               + traceback.format_exc())
    notes = list(ref.notes) + [f"path {p} not used: {why}" for p, why in ref.skipped.items()]
    status = PASS if all(d.passed for d in diffs) else MISMATCH
    if status == MISMATCH and not first_only:
        notes += explain(info, case, actual, ref, diffs)
    return Outcome(case, status, paths=list(ref.paths), diffs=diffs, notes=notes, impl=impl_name)


def explain(info: OpInfo, case: Case, actual: dict, ref, diffs: list) -> list[str]:
    """Attach likely causes (crosscheck.diagnosis) and the finite-difference verdict
    (crosscheck.arbiter, as a diagnosis entry labelled "arbiter") to the failing TensorDiffs.
    Never raises; returns a note for the Outcome only if one of them fails."""
    from .arbiter import arbitrate
    from .diagnosis import diagnose
    notes = []
    for step, name in ((lambda: diagnose(info, case, actual, ref, diffs), "diagnosis"),
                       (lambda: arbitrate(case, actual, ref, diffs), "finite-difference arbiter")):
        try:
            step()
        except Exception as exc:
            notes.append(f"the {name} failed on this case ({type(exc).__name__}: {exc})")
    return notes


def compare_all(info: OpInfo, case: Case, actual: dict, ref) -> list:
    """One TensorDiff per (TF path, tensor) of the reference."""
    terms, floors = info.tensor_terms(case), info.tensor_scale_floor(case)
    diffs = []
    for path, tensors in ref.paths.items():
        for tensor, expected in tensors.items():
            tol = tolerance(case.dtype, terms.get(tensor, 1), expected, floors.get(tensor, 0.0))
            channel_axis, spatial_axes = layout_axes(info, case, tensor)
            diffs.append(compare(actual.get(tensor), expected, tol, tensor=tensor, path=path,
                                 channel_axis=channel_axis, spatial_axes=spatial_axes))
    return diffs


def fuzz_outcomes(strategy, check: Callable[..., Outcome], *, examples: int, seed_key: str,
                  on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """``check(draw)`` for ``examples`` draws of ``strategy``, deterministically from ``seed_key``.

    Hypothesis only generates here (no shrinking, no example database, no deadline); every
    outcome is collected, none raises.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    outcomes: list[Outcome] = []

    @hypothesis_seed(zlib.crc32(seed_key.encode()))
    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False, print_blob=False)
    @given(drawn=strategy)
    def collect(drawn):
        outcome = check(drawn)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    if examples > 0:
        collect()
    return outcomes


def fuzz_op(op_name: str, *, examples: int, dtype: str, seed: int, impl=None, paths: str = "all",
            on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run ``examples`` cases of ``op_name`` drawn from its strategy; the same seed draws the same cases.
    The op and dtype enter the seed, so float32 and float64 runs draw different shapes. ``paths``
    as for :func:`run_case`."""
    module, _ = _resolve(impl)
    return fuzz_outcomes(get_op(op_name).strategy(dtype), lambda case: run_case(case, module, paths),
                         examples=examples, seed_key=f"{op_name}:{dtype}:{seed}", on_outcome=on_outcome)


def summarize(outcomes: list[Outcome]) -> dict:
    """Counts per status."""
    counts = {s: 0 for s in (PASS, MISMATCH, REFERENCE_UNSUPPORTED, IMPLEMENTATION_ERROR)}
    for o in outcomes:
        counts[o.status] += 1
    return counts


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
