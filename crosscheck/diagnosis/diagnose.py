"""Diagnosis of a mismatch: every hypothesis (:mod:`.hypotheses`) tried on each failing tensor, and
the causes read from the case alone (a default that differs, TensorFlow's output-shape rule, a crop
that raises at zero padding)."""
from __future__ import annotations

import inspect
import re

import numpy as np

from .. import geometry as G
from ..case import VJP_Y, Case, TensorDiff
from ..opinfo import OpInfo
from ..params import canonical
from ..tolerance import Tolerance
from .hypotheses import HYPOTHESES, shape_hypotheses
from .labels import LOCATIONAL, entry
from .matrix_hypotheses import MATRIX_HYPOTHESES
from .window_hypotheses import WINDOW_HYPOTHESES


def defaults_differ(info: OpInfo, case: Case, fn) -> list[dict]:
    """"default-differs" entries: each parameter ``case`` leaves out whose default in ``fn`` (the
    code under test's function of the op, read from its signature, never called) means something
    other than TensorFlow's default."""
    try:
        signature = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return []
    fmt = case.params.get("data_format")
    fmt = fmt if isinstance(fmt, str) else "NHWC"
    found = []
    for name, param in info.params.items():
        theirs = signature.get(name)
        if name in case.params or not param.has_default or theirs is None or theirs.default is inspect.Parameter.empty:
            continue
        try:
            same = canonical(param.kind, theirs.default, fmt) == canonical(param.kind, param.default, fmt)
        except (ValueError, TypeError):
            same = False
        if not same:
            found.append(entry("default-differs", f"the case leaves {name} out, which means TensorFlow's default "
                                                  f"{param.default!r}; {getattr(fn, '__name__', case.op)} defaults to "
                                                  f"{theirs.default!r}"))
    return found



def output_shape_evidence(info: OpInfo, call, actual: tuple, expected: tuple) -> dict:
    """The "output-shape" cause: TensorFlow's rule for this case's output shape, with its numbers."""
    rule = f"TensorFlow's output shape is {expected}"
    if info.geometry:
        try:
            win = info.geometry(call).resolve()
        except G.GeometryError:
            win = None
        if win is not None:
            parts = []
            for axis, n, k_eff, s, (a, b), o in zip("HW", win.in_sizes, win.effective, win.strides, win.pads, win.out):
                if win.padding == "SAME":
                    parts.append(f"{axis}: SAME gives ceil(in / stride) = ceil({n} / {s}) = {o}")
                else:
                    parts.append(f"{axis}: (in + pads - dilated window) // stride + 1 = ({n} + {a} + {b} - {k_eff}) "
                                 f"// {s} + 1 = {o}")
            rule += " (" + "; ".join(parts) + ")"
    return entry("output-shape", f"the output has shape {actual}; {rule}")


def diagnose(info: OpInfo, case: Case, actual: dict, ref, diffs: list[TensorDiff]) -> None:
    """Fill ``diagnosis`` of every failing TensorDiff (once per tensor; other paths get a copy)."""
    done: dict[str, list[dict]] = {}
    for d in diffs:
        if d.passed:
            continue
        if not d.judged or d.path not in ref.paths:
            continue
        if d.tensor not in done:
            expected = ref.paths[d.path]["y" if d.tensor == VJP_Y else d.tensor]
            tol = Tolerance(atol=d.atol, rtol=d.rtol, terms=0, scale=0.0)
            done[d.tensor] = diagnose_tensor(info, case, d, actual.get(d.tensor), expected, tol)
        kept = {e["label"] for e in d.diagnosis}
        redundant = {"shape-mismatch"} if "output-shape" in kept else set()
        d.diagnosis = d.diagnosis + [dict(e) for e in done[d.tensor] if e["label"] not in kept | redundant]


def diagnose_tensor(info, case, diff: TensorDiff, actual, expected, tol) -> list[dict]:
    """The hypotheses that explain ``actual`` vs ``expected`` (``info`` may be None for a tensor of
    no registry op: then only the hypotheses that need no op description apply)."""
    if actual is None:
        return []
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        return shape_hypotheses(case, diff, actual, expected, tol, info)
    found = []
    for hypothesis in HYPOTHESES + WINDOW_HYPOTHESES + MATRIX_HYPOTHESES:
        try:
            found += hypothesis(info, case, diff, actual, expected, tol)
        except Exception:   # a hypothesis that cannot be evaluated explains nothing
            continue
    if any(e["label"] not in LOCATIONAL for e in found):
        # an exact explanation makes "where it differs" observations redundant (and misleading)
        found = [e for e in found if e["label"] not in LOCATIONAL or e["evidence"].startswith("equals")]
    return found



def raised_cropping_at_zero_pad(case: Case, traceback_text: str) -> bool:
    """A raise on a line that crops with ``[p:-p]`` in a case whose padding is 0 somewhere: the
    empty crop cannot be assigned back (the raise form of "crop-empty-at-zero-pad")."""
    lines = [line.strip() for line in traceback_text.splitlines()
             if line.startswith("    ") and re.search(r"\w", line)]   # source lines, not the ~~^^ markers
    if not lines or not re.search(r"\[[^\]]*\b(\w+)\s*:\s*-\s*\1\b", lines[-1]):
        return False
    padding = case.params.get("padding")
    if not isinstance(padding, list) or len(padding) != 4:
        return False
    return any(list(padding[a]) == [0, 0] for a in G.spatial_axes(case.params.get("data_format", "NHWC")))

