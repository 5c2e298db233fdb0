"""The implementation name of a ``check_op`` / ``assert_matches_tf`` run, and how to replay it.

Those helpers check functions, not a module, so ``crosscheck replay FILE --impl MODULE`` cannot rerun
their failures. Their outcomes carry an implementation name that says where the functions are::

    callables tinyconv.conv:conv2d tinyconv.conv:conv2d_backward atol=0.001

(``module:qualname`` of the forward, then of the backward or ``-`` when there is none, then any
tolerance the run overrode; ``?name`` for a function that cannot be imported by name: a lambda, a
function defined inside another, one of ``__main__``). The replay line is then a Python command that
imports the functions and calls :func:`crosscheck.replay_case`; for a function that cannot be
imported it says to call ``replay_case`` with your own functions.
"""
from __future__ import annotations

import json
import shlex
import sys

PREFIX = "callables "


def importable_name(fn) -> str | None:
    """``module:qualname`` when importing ``module`` and following ``qualname`` gives ``fn`` back."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    found = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return f"{module}:{qualname}" if found is fn else None


def impl_name(forward, backward=None, atol: float | None = None, rtol: float | None = None) -> str:
    """The implementation name of an outcome of ``forward`` / ``backward`` (see the module docstring)."""
    def token(fn):
        if fn is None:
            return "-"
        return importable_name(fn) or "?" + str(getattr(fn, "__qualname__", None) or type(fn).__name__).replace(" ", "_")
    tolerances = [f"{name}={value!r}" for name, value in (("atol", atol), ("rtol", rtol)) if value is not None]
    return " ".join([PREFIX.strip(), token(forward), token(backward), *tolerances])


def is_callables(impl) -> bool:
    return isinstance(impl, str) and impl.startswith(PREFIX)


def _parse(impl: str) -> tuple[list, dict]:
    words = impl[len(PREFIX):].split()
    functions = [w for w in words if "=" not in w]
    tolerances = dict(w.split("=", 1) for w in words if "=" in w)
    return functions, tolerances


def _call(replay_path, impl: str) -> tuple[list[str], str, bool]:
    """(modules to import, the replay_case call, whether every function can be imported)."""
    functions, tolerances = _parse(impl)
    forward, backward = (functions + ["-", "-"])[:2]
    names, modules, importable = [], [], True
    for which, token in zip(("forward", "backward"), (forward, backward)):
        if token == "-":
            names.append("None")
        elif token.startswith("?") or ":" not in token:
            importable = False
            names.append(which)
        else:
            module, qualname = token.split(":", 1)
            modules.append(module)
            names.append(f"{module}.{qualname}")
    if names[1] == "None":
        names.pop()
    args = ", ".join([json.dumps(str(replay_path)), *names, *(f"{k}={v}" for k, v in tolerances.items())])
    return list(dict.fromkeys(modules)), f"crosscheck.replay_case({args})", importable


def replay_line(replay_path, impl: str) -> str:
    """The command that reruns the case: ``python -c '...'`` run where your functions import (your
    project's folder), or, when a function cannot be imported by name, the call to make yourself."""
    modules, call, importable = _call(replay_path, impl)
    if not importable:
        functions, _ = _parse(impl)
        which = ", ".join(f.lstrip("?") for f in functions if f.startswith("?"))
        return f"{call}  # in Python, with your functions ({which} cannot be imported by name)"
    return "python -c " + shlex.quote("; ".join([f"import {', '.join(['crosscheck', *modules])}", f"print({call}.status)"]))


def replay_snippet(replay_path, impl: str) -> str:
    """Standalone Python that reruns the case against your functions: AssertionError with the report
    while it still fails, the outcome when it passes."""
    modules, call, importable = _call(replay_path, impl)
    lines = ["import crosscheck"] + [f"import {m}" for m in modules]
    if not importable:
        lines.append("# forward = ...; backward = ...   (your functions: they cannot be imported by name)")
    return "\n".join([*lines, "", f"print({call}.status)"]) + "\n"
