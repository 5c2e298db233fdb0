"""The implementation under test: loading it, and calling it so that it cannot corrupt its own check.

An implementation is any module offering the ops under their registry names (``conv2d(input,
filters, ...)``) and ``vjp(op, *arrays, **params) -> (y, pullback)``; npcnn.functional is the
default. :func:`call_impl` hands it copies of the case's arrays, parameters and ``dy``, then checks
that none of them was written to (the case itself stays pristine for the reference and the replay
file): :mod:`crosscheck.impl_calls`, the same code here and in the worker. A gradient is not asked
for when the vjp's forward output already has another shape than TensorFlow's (``dy`` is drawn in
TensorFlow's shape). An implementation loaded ``isolated`` runs in a worker process, one request per
case: a crash or a hang there is a result of the case (``stopped``), not the end of the run.

What it returns is judged the same way in every mode (:mod:`crosscheck.returned`): made plain where
it ran, then each output is an array to compare, a type problem (compared, and a mismatch) or a
value that cannot be compared (an implementation-error, "returned ..."). ``SystemExit`` and
``KeyboardInterrupt`` raised by the code under test are errors of the case too (a real Ctrl-C still
stops the run), and a call its signature cannot take says which parameter it lacks.
"""
from __future__ import annotations

import importlib
import signal
import threading
from contextlib import contextmanager
from types import ModuleType

import numpy as np

from .case import IMPLEMENTATION_CRASH, IMPLEMENTATION_TIMEOUT, Case
from .impl_calls import FORWARD_OUTPUT_WRITTEN, CallPlan, ImplResult, record_calls  # noqa: F401 - FORWARD_OUTPUT_WRITTEN: runner's
from .isolation import CALL_TIMEOUT, IsolatedModule, WorkerCrash, WorkerTimeout
from .opinfo import OpInfo
from .returned import judge
from .tracebacks import user_traceback

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


#: how the message of an output that cannot be compared begins ("... an array of dtype object as `y`")
UNUSABLE_RETURN = "the code under test returned"


def call_impl(info: OpInfo, case: Case, module) -> ImplResult:
    """Run the op function and the vjp of ``module`` on copies of ``case``
    (:func:`crosscheck.impl_calls.record_calls`; in the worker, on one request, when ``module`` is
    an IsolatedModule); never raises (but for a real Ctrl-C)."""
    result = ImplResult()
    if getattr(module, info.name, None) is None:
        result.error = f"{getattr(module, '__name__', module)} has no function {info.name!r}"
        return result
    plan = CallPlan.of(info, case)
    try:
        if isinstance(module, IsolatedModule):
            module.call_case(plan, case.arrays, case.params, case.dy, result)
        else:
            with exits_as_errors(module):
                record_calls(plan, case.arrays, case.params, case.dy, module, result)
    except (WorkerCrash, WorkerTimeout) as exc:
        result.error = str(exc)
        result.stopped = IMPLEMENTATION_CRASH if isinstance(exc, WorkerCrash) else IMPLEMENTATION_TIMEOUT
    except Exception as exc:
        result.error = user_traceback(exc)
    if not result.error:
        _judge_outputs(result)
    return result


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
