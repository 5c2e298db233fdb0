"""The implementation under test: loading it, and calling it so that it cannot corrupt its own check.

An implementation is any module offering the ops under their registry names (``conv2d(input,
filters, ...)``) and ``vjp(op, *arrays, **params) -> (y, pullback)``; npcnn.functional is the
default. :func:`call_impl` hands it copies of the case's arrays, parameters and ``dy``, then checks
that none of them was written to (the case itself stays pristine for the reference and the replay
file). A gradient is not asked for when the vjp's forward output already has another shape than
TensorFlow's (``dy`` is drawn in TensorFlow's shape). An implementation loaded ``isolated`` runs in
a worker process: a crash or a hang there is a result of the case (``stopped``), not the end of the run.
"""
from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from .case import IMPLEMENTATION_CRASH, IMPLEMENTATION_TIMEOUT, VJP_Y, Case
from .isolation import CALL_TIMEOUT, IsolatedModule, WorkerCrash, WorkerTimeout
from .opinfo import OpInfo
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


def call_impl(info: OpInfo, case: Case, module) -> ImplResult:
    """Run the op function and the vjp of ``module`` on copies of ``case``; never raises."""
    result = ImplResult()
    fn = getattr(module, info.name, None)
    if fn is None:
        result.error = f"{getattr(module, '__name__', module)} has no function {info.name!r}"
        return result
    try:
        arrays, params = _copies(case)
        out = fn(**arrays, **params)
        _record_modified(result, case, arrays, params)
        outputs = out if len(info.outputs) > 1 and isinstance(out, (tuple, list)) else (out,)
        result.tensors.update(zip(info.outputs, outputs))
        if case.dy is None or not info.differentiable:
            return result
        arrays, params = _copies(case)
        given = positional_arrays(info, case)
        extras = {n: arrays[n] for n in info.keyword_arrays() if n in arrays}
        y, pullback = module.vjp(info.name, *[arrays[n] for n in given], **extras, **params)
        result.tensors[VJP_Y] = y
        if np.shape(y) != case.dy.shape:
            result.not_judged = (f"the forward output has shape {tuple(np.shape(y))}, TensorFlow's has "
                                 f"{case.dy.shape}: gradients are not judged")
            _record_modified(result, case, arrays, params)
            return result
        dy = np.array(case.dy, copy=True)
        grads = tuple(pullback(dy))
        _record_modified(result, case, arrays, params)
        if not _same(dy, case.dy):
            result.modified.append("dy")
        named = dict(zip(given, grads))
        for n in info.differentiable:
            if n in case.arrays:
                result.tensors["d_" + n] = named.get(n)
    except (WorkerCrash, WorkerTimeout) as exc:
        result.error = str(exc)
        result.stopped = IMPLEMENTATION_CRASH if isinstance(exc, WorkerCrash) else IMPLEMENTATION_TIMEOUT
    except Exception as exc:
        result.error = user_traceback(exc)
    return result


def output_type_problem(value, dtype: str) -> str:
    """"" when ``value`` is an ndarray (or NumPy scalar) of ``dtype``; else what it is instead."""
    if value is None:
        return ""
    if not isinstance(value, (np.ndarray, np.generic)):
        return f"returned a {type(value).__name__}, not a NumPy array"
    if value.dtype != np.dtype(dtype):
        return f"returned dtype {value.dtype} for a {dtype} case"
    return ""
