"""Error parity (PyTorch OpInfo's ``error_inputs``): invalid calls are refused as TensorFlow refuses them.

Each OpInfo lists calls that may be invalid. TensorFlow's own one-line call decides (its plain
call, evaluated on the arrays with the parameters in TF's spelling), except where a registered
quirk overrides it (``expect_refusal``: TF computes or crashes where the checked API refuses) or,
for ops with no plain TF call, where a documented rule says the call is invalid. Then:

* TensorFlow refuses: the implementation must raise ValueError or TypeError whose message names
  the argument (``name_arguments``), from the op function and from ``vjp`` alike;
* TensorFlow computes: the implementation must compute too, with the same output shape, and its
  vjp's pullback must return gradients of the arrays' shapes.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import numpy as np

from .case import Case
from .geometry import GeometryError
from .implementation import CodeUnderTestExit, exits_as_errors
from .opinfo import Call, ErrorInput, OpInfo
from .oracle.quirks import expected_refusal, float64_detour
from .oracle.reference import in_float64
from .params import canonical
from .registry import get_op
from .returned import plain
from .tf_import import keras_module, tensorflow

REFUSES, COMPUTES = "refuses", "computes"


@dataclass
class ParityOutcome:
    op: str
    label: str
    argument: str
    expected: str        # REFUSES or COMPUTES
    why: str             # TF's message, the quirk or the rule
    actual: str          # REFUSES, COMPUTES or "raises <type>"
    detail: str          # the implementation's message or output
    passed: bool
    problem: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def tf_verdict(info: OpInfo, e: ErrorInput) -> tuple[str, str, object]:
    """(REFUSES or COMPUTES, why, TF's output or None)."""
    if e.rule:
        return REFUSES, f"rule: {e.rule}", None
    case = Case(info.name, dict(e.params), dict(e.arrays), None, _dtype(e), 0)
    call = lenient_resolve(info, case)
    quirk = expected_refusal(call)
    if quirk is not None:
        return REFUSES, f"quirk {quirk.id}: {quirk.workaround}", None
    detour = float64_detour(call)
    # under a float64-detour quirk TensorFlow's float64 kernels judge (their verdict, their output's shape)
    arrays = dict(e.arrays) if detour is None else in_float64(call).arrays
    if not info.plain_tf:
        raise ValueError(f"{info.name} error input {e.label!r} needs a rule: the op has no plain TF call")
    source = info.plain_tf.source(call) if callable(info.plain_tf.source) else info.plain_tf.source
    params = {k: v for k, v in info.plain_tf.params(call).items() if v is not None}
    expr = source.format(params=", ".join(f"{k}={k}" for k in params))
    tf, keras = tensorflow(), keras_module()
    try:
        y = eval(expr, {"tf": tf, "keras": keras}, {**arrays, **params})   # noqa: S307 (our own source)
        y = [np.asarray(t) for t in y] if isinstance(y, (tuple, list)) else np.asarray(y)
    except Exception as exc:
        return REFUSES, f"TensorFlow: {type(exc).__name__}: {_first_line(exc)}", None
    via = f" (in float64, quirk {detour.id})" if detour is not None else ""
    return COMPUTES, f"TensorFlow computes {expr}{via}", y


def lenient_resolve(info: OpInfo, case: Case):
    """The call with defaults filled in; a parameter crosscheck cannot read is passed on as written."""
    fmt = case.params.get("data_format", "NHWC")
    fmt = fmt if isinstance(fmt, str) else "NHWC"
    params = {}
    for name, spec in info.params.items():
        if name in case.params or spec.has_default:
            value = case.params.get(name, spec.default)
            try:
                params[name] = canonical(spec.kind, value, fmt)
            except (GeometryError, TypeError, ValueError):
                params[name] = value
    for name, value in case.params.items():
        params.setdefault(name, value)
    return Call(case, params, info)


def _dtype(e: ErrorInput) -> str:
    floats = [np.asarray(a).dtype for a in e.arrays.values() if a is not None and np.asarray(a).dtype.kind == "f"]
    return str(floats[0]) if floats else "float32"


def _first_line(exc) -> str:
    """The first line of an exception's message, without TF's function-node prefix and without the
    `` name: ...`` TF's Python fallback appends (it comes and goes with the process's history, and a
    report must not depend on that)."""
    text = str(getattr(exc, "message", exc)).strip()
    line = text.splitlines()[0] if text else ""
    return re.sub(r"(\[Op:[^\]]*\])\s+name:.*$", r"\1", line.split("}} ")[-1])[:200]


def impl_verdict(info: OpInfo, e: ErrorInput, module) -> tuple[str, str, object]:
    """(REFUSES / COMPUTES / "raises <type>", message, output) of the op function, then of vjp: the
    first that does not refuse decides."""
    def arrays():
        return {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else copy.deepcopy(v))
                for k, v in e.arrays.items()}
    calls = [("the op function", lambda: getattr(module, info.name)(**arrays(), **copy.deepcopy(e.params)))]
    if info.differentiable and callable(getattr(module, "vjp", None)):
        def vjp():
            a = arrays()
            names = [n for n in info.arrays if n in a]
            positional = [a.pop(n) for n in names]
            y, pullback = module.vjp(info.name, *positional, **a, **copy.deepcopy(e.params))
            if isinstance(y, np.ndarray):   # a call that computes has a gradient too, of its arrays' shapes
                for name, x, g in zip(names, positional, pullback(np.ones_like(y))):
                    if g is not None and np.shape(g) != np.shape(x):
                        raise AssertionError(f"the pullback returned d_{name} of shape {np.shape(g)} for {name} of "
                                             f"shape {np.shape(x)}")
            return y
        calls.append(("vjp", vjp))
    verdicts = []
    for where, fn in calls:
        try:
            with exits_as_errors(module):
                y = plain(fn())
        except (ValueError, TypeError) as exc:
            verdicts.append((REFUSES, f"{where}: {type(exc).__name__}: {exc}", None))
            continue
        except CodeUnderTestExit as exc:
            return f"raises {exc.kind}", f"{where}: {exc.kind}: {exc}", None
        except Exception as exc:
            return f"raises {type(exc).__name__}", f"{where}: {type(exc).__name__}: {exc}", None
        verdicts.append((COMPUTES, f"{where} returned", y))
    kinds = {v[0] for v in verdicts}
    if kinds == {REFUSES}:
        return verdicts[0]
    if kinds == {COMPUTES}:
        return verdicts[0]
    refused = next(v for v in verdicts if v[0] == REFUSES)
    return "inconsistent", f"one entry point computes, the other refuses ({refused[1]})", None


def _shape(y):
    return [np.shape(t) for t in y] if isinstance(y, (tuple, list)) else np.shape(y)


def check_error_input(info: OpInfo, e: ErrorInput, module, name_arguments: bool = True) -> ParityOutcome:
    expected, why, tf_y = tf_verdict(info, e)
    actual, detail, y = impl_verdict(info, e, module)
    problem = ""
    if expected == REFUSES:
        if actual != REFUSES:
            problem = ("accepts a call TensorFlow refuses" if actual == COMPUTES
                       else f"should raise ValueError or TypeError, {actual}" if actual.startswith("raises")
                       else detail)
        elif name_arguments and e.argument not in detail:
            problem = f"refuses, but the message does not name `{e.argument}`"
    elif actual != COMPUTES:
        problem = f"refuses a call TensorFlow computes ({detail})"
    elif _shape(y) != _shape(tf_y):
        problem = f"computes shape {_shape(y)} where TensorFlow computes {_shape(tf_y)}"
    return ParityOutcome(info.name, e.label, e.argument, expected, why, actual,
                         detail if actual != COMPUTES else f"{detail} shape {_shape(y)}", not problem, problem)


def describe_crash(crash: dict) -> str:
    return f"{crash.get('how', 'killed')}: {crash.get('line') or 'no message'}"


def crashed_outcome(info: OpInfo, e: ErrorInput, how: str) -> ParityOutcome:
    """The verdict on an invalid call TensorFlow crashed on (no registered crash quirk covers it)."""
    return ParityOutcome(info.name, e.label, e.argument, "unknown", f"TensorFlow crashed: {how}", "not run", "", False,
                         f"TensorFlow killed the process on this call ({how}); register a crash quirk "
                         "(crosscheck/oracle/quirks.py) so that it is never handed to TensorFlow")


def run_error_parity(ops, module, name_arguments: bool = True, on_outcome=None, resume=None) -> list[ParityOutcome]:
    """Every error input of every op in ``ops``. With ``resume`` (crosscheck.supervision.Resume), each
    call is journaled before TensorFlow sees it; a call an earlier attempt finished is skipped, one
    TensorFlow crashed on is reported so."""
    out = []
    for op in ops:
        info = get_op(op)
        for e in info.error_inputs():
            key = f"parity:{op}:{e.label}"
            state = "run" if resume is None else resume.unit(key)
            if state == "done":
                continue
            outcome = (crashed_outcome(info, e, describe_crash(resume.crashed[key])) if state == "crashed"
                       else check_error_input(info, e, module, name_arguments))
            out.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    return out
