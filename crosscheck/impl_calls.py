"""The calls one case makes of the code under test, on copies, and what they did.

:func:`record_calls` calls the op function (the forward), ``vjp`` and the pullback it returned, each
on fresh copies of the case's arrays, parameters and ``dy``, and records in an :class:`ImplResult`
what came back (made plain, :func:`crosscheck.returned.plain`; a returned callable as a Foreign
record of what it is) and which copies were written to. It
runs wherever the code under test runs: in crosscheck's process (``--in-process``,
:func:`crosscheck.implementation.call_impl`) or in the worker process
(:mod:`crosscheck.isolation_worker`), which runs the whole case on one request and sends the
ImplResult back; the same code in both places gives the same result. This module imports neither
side of :mod:`crosscheck.isolation`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .case import VJP_Y
from .returned import described, judge, plain
from .tracebacks import ConventionError, call_mismatch

#: what ``modified`` names when the pullback wrote into the forward output the vjp had returned
FORWARD_OUTPUT_WRITTEN = "vjp:y"


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


@dataclass(frozen=True)
class CallPlan:
    """What the calls of one case need to know of its op (plain values: it travels to the worker).

    ``name``: the op function's name (and ``vjp``'s first argument); ``outputs``: the names of its
    forward outputs; ``positional``: the arrays ``vjp`` takes positionally, in the op's order;
    ``keyword``: the arrays it takes by name; ``differentiable``: the op's arrays with gradients
    (``d_<name>`` for those the case has; empty: no gradient is asked for)."""
    name: str
    outputs: tuple
    positional: tuple
    keyword: tuple
    differentiable: tuple

    @classmethod
    def of(cls, info, case) -> CallPlan:
        """The plan of ``case`` (a crosscheck.case.Case) of op ``info`` (a crosscheck.opinfo.OpInfo)."""
        return cls(info.name, tuple(info.outputs), tuple(positional_arrays(info, case)),
                   tuple(n for n in info.keyword_arrays() if n in case.arrays),
                   tuple(info.differentiable or ()))


def positional_arrays(info, case) -> list[str]:
    """The case's arrays that ``vjp`` takes positionally, in the op's order."""
    return [n for n in info.arrays if n in case.arrays]


def record_calls(plan: CallPlan, arrays: dict, params: dict, dy, module, result: ImplResult,
                 starting=None) -> None:
    """Call ``module``'s op function, its vjp and the pullback on copies of ``arrays`` (name ->
    ndarray), ``params`` and ``dy`` (TensorFlow's output shape, or None: no gradients), filling
    ``result``; the originals are never handed out. Raises what the code under test raised (a call
    its signature cannot take as CallMismatch, a broken vjp convention as ConventionError), with
    ``result`` holding what was recorded before. ``starting()``, if given, is called before the
    vjp's and the pullback's calls (the worker tells its caller that a new call begins)."""
    fn = getattr(module, plan.name)
    arrays_in, params_in = _copies(arrays, params)
    out = plain(_call(fn, (), {**arrays_in, **params_in}), described)
    _record_modified(result, arrays, params, arrays_in, params_in)
    outputs = out if len(plan.outputs) > 1 and isinstance(out, (tuple, list)) else (out,)
    result.tensors.update(zip(plan.outputs, outputs))
    if dy is None or not plan.differentiable:
        return
    if starting is not None:
        starting()
    arrays_in, params_in = _copies(arrays, params)
    extras = {n: arrays_in[n] for n in plan.keyword}
    returned = _call(module.vjp, (plan.name, *[arrays_in[n] for n in plan.positional]), {**extras, **params_in})
    if not (isinstance(returned, (tuple, list)) and len(returned) == 2 and callable(returned[1])):
        raise ConventionError(f"vjp returned {_what(returned)}, not a pair (y, pullback)")
    y_returned, pullback = returned
    y = result.tensors[VJP_Y] = plain(y_returned, described)   # as returned: a later write into it is found below
    y_shape = np.shape(judge(y)[0])
    if y_shape != dy.shape:
        result.not_judged = (f"the forward output has shape {tuple(y_shape)}, TensorFlow's has "
                             f"{dy.shape}: gradients are not judged")
        _record_modified(result, arrays, params, arrays_in, params_in)
        return
    if starting is not None:
        starting()
    dy_in = np.array(dy, copy=True)
    grads = plain(_call(pullback, (dy_in,), {}), described)
    if not isinstance(grads, (tuple, list)):
        raise ConventionError(f"the pullback returned {_what(grads)}, not a tuple of gradients (one per input)")
    _record_modified(result, arrays, params, arrays_in, params_in)
    if not _same(dy_in, dy):
        result.modified.append("dy")
    if isinstance(y_returned, np.ndarray) and isinstance(y, np.ndarray) and not _same(y_returned, y):
        result.modified.append(FORWARD_OUTPUT_WRITTEN)
    named = dict(zip(plan.positional, grads))
    for n in plan.differentiable:
        if n in arrays:
            result.tensors["d_" + n] = named.get(n)


def _copies(arrays: dict, params: dict):
    return {k: np.array(v, copy=True) for k, v in arrays.items()}, copy.deepcopy(params)


def _same(a, b) -> bool:
    a = np.asarray(a)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _record_modified(result: ImplResult, arrays: dict, params: dict, arrays_in: dict, params_in: dict) -> None:
    """Name in ``result.modified`` each copy handed out (``arrays_in``, ``params_in``) that no longer
    equals its original."""
    for name, original in arrays.items():
        if not _same(arrays_in[name], original) and name not in result.modified:
            result.modified.append(name)
    if params_in != params and "params" not in result.modified:
        result.modified.append("params")


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
