"""The implementation under test: loading it, and calling it so that it cannot corrupt its own check.

An implementation is any module offering the ops under their registry names (``conv2d(input,
filters, ...)``) and ``vjp(op, *arrays, **params) -> (y, pullback)``; npcnn.functional is the
default. :func:`call_impl` hands it copies of the case's arrays, parameters and ``dy``, then checks
that none of them was written to (the case itself stays pristine for the reference and the replay
file). A gradient is not asked for when the vjp's forward output already has another shape than
TensorFlow's (``dy`` is drawn in TensorFlow's shape). An implementation loaded ``isolated`` runs in
a worker process: a crash or a hang there is a result of the case (``stopped``), not the end of the run.

What it returns is judged the same way in every mode (:mod:`crosscheck.returned`): made plain where
it ran, then each output is an array to compare, a type problem (compared, and a mismatch) or a
value that cannot be compared (an implementation-error, "returned ..."). ``SystemExit`` and
``KeyboardInterrupt`` raised by the code under test are errors of the case too (a real Ctrl-C still
stops the run), and a call its signature cannot take says which parameter it lacks.
"""
from __future__ import annotations

import copy
import importlib
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from .case import IMPLEMENTATION_CRASH, IMPLEMENTATION_TIMEOUT, VJP_Y, Case
from .isolation import CALL_TIMEOUT, IsolatedModule, WorkerCrash, WorkerTimeout
from .opinfo import OpInfo
from .returned import judge, plain
from .tracebacks import ConventionError, call_mismatch, user_traceback

DEFAULT_IMPL = "npcnn.functional"


def load_impl(module_name: str = DEFAULT_IMPL, isolated: bool = False, timeout: float | None = CALL_TIMEOUT):
    """Import the implementation under test by name; it must offer ``vjp``. ``isolated``: import it
    in a worker process instead and return its proxy (crosscheck.isolation); ``timeout`` is then
    the limit of each call, in seconds."""
    module = IsolatedModule(module_name, timeout) if isolated else importlib.import_module(module_name)
    if not callable(getattr(module, "vjp", None)):
        raise ValueError(f"implementation module {module_name!r} has no vjp(op, *arrays, **params) function")
    return module


_ISOLATED: dict = {}   # module name -> its worker's proxy, shared by every isolated run_case


def functions_of(module_name: str, in_process: bool = False, timeout: float | None = CALL_TIMEOUT) -> set[str] | None:
    """The names of the callables module ``module_name`` defines, read by a worker process (or here,
    ``in_process``); None when it cannot be imported (the run's own loading then says why)."""
    try:
        if in_process:
            module = importlib.import_module(module_name)
            return {n for n in dir(module) if callable(getattr(module, n, None))}
        proxy = IsolatedModule(module_name, timeout)
    except Exception:   # noqa: BLE001 - whatever importing it raises, the run's own load reports
        return None
    try:
        return set(proxy._defaults)
    finally:
        proxy.close()


def resolve_impl(impl, isolated: bool = False) -> tuple[ModuleType, str]:
    """``(module, name)`` from a module, a module name or None (the default); ``isolated``: a name
    is imported in a worker process (one per name, reused), so a crash costs one case."""
    if impl is None:
        impl = DEFAULT_IMPL
    if isinstance(impl, str):
        if isolated:
            if impl not in _ISOLATED:
                _ISOLATED[impl] = load_impl(impl, isolated=True)
            return _ISOLATED[impl], impl
        return load_impl(impl), impl
    return impl, getattr(impl, "__name__", repr(impl))


@dataclass
class ImplResult:
    """What the implementation returned: ``tensors`` (``y`` or the op's outputs, ``vjp:y``,
    ``d_<array>``), the traceback if it raised, the inputs it modified, and why its gradients
    were not asked for (or "")."""
    tensors: dict = field(default_factory=dict)
    error: str = ""
    modified: list = field(default_factory=list)
    not_judged: str = ""
    stopped: str = ""          # "" or the status of a crash / timeout of the worker (crosscheck.isolation)
    type_problems: dict = field(default_factory=dict)   # output -> why it is not an ndarray (compared anyway)


def _copies(case: Case):
    return {k: np.array(v, copy=True) for k, v in case.arrays.items()}, copy.deepcopy(case.params)


def _same(a, b) -> bool:
    a = np.asarray(a)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _record_modified(result: ImplResult, case: Case, arrays: dict, params: dict) -> None:
    for name, original in case.arrays.items():
        if not _same(arrays[name], original) and name not in result.modified:
            result.modified.append(name)
    if params != case.params and "params" not in result.modified:
        result.modified.append("params")


def positional_arrays(info: OpInfo, case: Case) -> list[str]:
    """The case's arrays that ``vjp`` takes positionally, in the op's order."""
    return [n for n in info.arrays if n in case.arrays]


#: how the message of an output that cannot be compared begins ("... an array of dtype object as `y`")
UNUSABLE_RETURN = "the code under test returned"
#: what ``modified`` names when the pullback wrote into the forward output the vjp had returned
FORWARD_OUTPUT_WRITTEN = "vjp:y"


def call_impl(info: OpInfo, case: Case, module) -> ImplResult:
    """Run the op function and the vjp of ``module`` on copies of ``case``; never raises (but for a
    real Ctrl-C)."""
    result = ImplResult()
    fn = getattr(module, info.name, None)
    if fn is None:
        result.error = f"{getattr(module, '__name__', module)} has no function {info.name!r}"
        return result
    try:
        with exits_as_errors(module):
            _call_and_record(info, case, module, fn, result)
    except (WorkerCrash, WorkerTimeout) as exc:
        result.error = str(exc)
        result.stopped = IMPLEMENTATION_CRASH if isinstance(exc, WorkerCrash) else IMPLEMENTATION_TIMEOUT
    except Exception as exc:
        result.error = user_traceback(exc)
    if not result.error:
        _judge_outputs(result)
    return result


def _call_and_record(info: OpInfo, case: Case, module, fn, result: ImplResult) -> None:
    arrays, params = _copies(case)
    out = plain(_call(fn, (), {**arrays, **params}))
    _record_modified(result, case, arrays, params)
    outputs = out if len(info.outputs) > 1 and isinstance(out, (tuple, list)) else (out,)
    result.tensors.update(zip(info.outputs, outputs))
    if case.dy is None or not info.differentiable:
        return
    arrays, params = _copies(case)
    given = positional_arrays(info, case)
    extras = {n: arrays[n] for n in info.keyword_arrays() if n in arrays}
    returned = _call(module.vjp, (info.name, *[arrays[n] for n in given]), {**extras, **params})
    if not (isinstance(returned, (tuple, list)) and len(returned) == 2 and callable(returned[1])):
        raise ConventionError(f"vjp returned {_what(returned)}, not a pair (y, pullback)")
    y_returned, pullback = returned
    y = result.tensors[VJP_Y] = plain(y_returned)   # as returned: a later write into it is found below
    y_shape = np.shape(judge(y)[0])
    if y_shape != case.dy.shape:
        result.not_judged = (f"the forward output has shape {tuple(y_shape)}, TensorFlow's has "
                             f"{case.dy.shape}: gradients are not judged")
        _record_modified(result, case, arrays, params)
        return
    dy = np.array(case.dy, copy=True)
    grads = plain(_call(pullback, (dy,), {}))
    if not isinstance(grads, (tuple, list)):
        raise ConventionError(f"the pullback returned {_what(grads)}, not a tuple of gradients (one per input)")
    _record_modified(result, case, arrays, params)
    if not _same(dy, case.dy):
        result.modified.append("dy")
    if isinstance(y_returned, np.ndarray) and isinstance(y, np.ndarray) and not _same(y_returned, y):
        result.modified.append(FORWARD_OUTPUT_WRITTEN)
    named = dict(zip(given, grads))
    for n in info.differentiable:
        if n in case.arrays:
            result.tensors["d_" + n] = named.get(n)


def _what(value) -> str:
    name = type(value).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}" + (f" of {len(value)}" if isinstance(value, (tuple, list)) else "")


def _call(fn, args: tuple, kwargs: dict):
    """``fn(*args, **kwargs)``; a call its signature cannot take raises CallMismatch (which says so)."""
    try:
        return fn(*args, **kwargs)
    except TypeError as exc:
        mismatch = call_mismatch(fn, args, kwargs, exc)
        if mismatch is None:
            raise
        raise mismatch from None


def _judge_outputs(result: ImplResult) -> None:
    """Make every output comparable or the case an implementation error ("returned ...")."""
    fatal = []
    for name, value in list(result.tensors.items()):
        comparable, type_problem, problem = judge(value)
        if problem:
            fatal.append(f"{problem} as `{name}`")
        elif type_problem:
            result.type_problems[name] = type_problem
        result.tensors[name] = comparable
    if fatal:
        result.error = UNUSABLE_RETURN + "; ".join(fatal)[len("returned"):]


class _RealInterrupt(BaseException):
    """Ctrl-C (SIGINT) arrived while the code under test ran in this process."""


class CodeUnderTestExit(Exception):
    """The code under test raised ``SystemExit`` or ``KeyboardInterrupt`` itself, in this process:
    an error of the case like any other (``kind`` is which; the traceback is the code's own)."""

    def __init__(self, exc: BaseException):
        super().__init__(str(exc))
        self.kind = type(exc).__name__
        self.remote_traceback = user_traceback(exc)


@contextmanager
def exits_as_errors(module):
    """Around a call of the code under test: its own ``sys.exit()`` or ``raise KeyboardInterrupt``
    becomes :class:`CodeUnderTestExit`. crosscheck's SIGTERM (a subclass of KeyboardInterrupt), a
    real Ctrl-C, and anything from a worker process (``module`` a proxy) pass on and stop the run."""
    if isinstance(module, IsolatedModule):   # the worker turned them into answers already
        yield
        return
    told_apart = False
    try:
        with _interrupts_told_apart() as told_apart:
            yield
    except _RealInterrupt:
        raise KeyboardInterrupt from None
    except (SystemExit, KeyboardInterrupt) as exc:
        if type(exc) not in (SystemExit, KeyboardInterrupt) or (type(exc) is KeyboardInterrupt and not told_apart):
            raise
        raise CodeUnderTestExit(exc) from None


@contextmanager
def _interrupts_told_apart():
    """While the code under test runs in this process, a SIGINT raises _RealInterrupt, so that a
    KeyboardInterrupt the code raises itself is its error, and a real Ctrl-C still stops the run.
    Yields whether it could (only the main thread, only over Python's default SIGINT handler)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield False
        return

    def interrupted(signum, frame):
        raise _RealInterrupt
    signal.signal(signal.SIGINT, interrupted)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def output_type_problem(value, dtype: str) -> str:
    """"" when ``value`` is an ndarray (or NumPy scalar) of ``dtype``; else what it is instead."""
    if value is None:
        return ""
    if not isinstance(value, (np.ndarray, np.generic)):
        return f"returned a {type(value).__name__}, not a NumPy array"
    if value.dtype != np.dtype(dtype):
        return f"returned dtype {value.dtype} for a {dtype} case"
    return ""
