"""Tracebacks of the code under test: what a user reads when their code raised, without crosscheck's
own frames."""
from __future__ import annotations

import builtins
import importlib
import inspect
import re
import traceback
from pathlib import Path

from .numpy2 import exception_note

_CROSSCHECK_DIR = str(Path(__file__).resolve().parent)


INSIDE_CROSSCHECK = "raised inside crosscheck while calling the code under test"


class ConventionError(Exception):
    """Raised by an adapter when the user's code broke its convention's contract (returned another
    type, an array of a shape the convention rules out): the message says all; no traceback."""


def user_traceback(exc: BaseException) -> str:
    """The traceback of an exception raised by the code under test, without crosscheck's own frames.
    An exception raised in crosscheck's own code alone keeps every frame and says so."""
    if isinstance(exc, (ConventionError, CallMismatch)):
        return "".join(traceback.format_exception_only(type(exc), exc))
    if getattr(exc, "remote_traceback", None):   # raised in the worker process (crosscheck.isolation)
        return exc.remote_traceback
    every = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in every if not f.filename.startswith(_CROSSCHECK_DIR) and not _importing(f.filename)]
    if every and not frames and isinstance(exc, TypeError) and _CALL_REFUSED.search(str(exc)):
        return (f"TypeError: {exc}\nThe code under test was called as crosscheck calls it and refused the call: "
                "its parameters are not the ones crosscheck passes (the convention's, or TensorFlow's names).\n")
    if every and not frames:
        return (INSIDE_CROSSCHECK + " (a crosscheck bug or an adapter that cannot call this code):\n"
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    note = exception_note(exc)   # NumPy 2 incompatibilities of older code, named with their line
    return "".join(lines) + (note + "\n" if note else "")


#: how Python words a call whose arguments the function's signature does not take
_CALL_REFUSED = re.compile(r"\w\(\) (takes \d+|got an unexpected keyword|got multiple values|missing \d+ required)")
_IMPORTLIB_DIR = str(Path(importlib.__file__).resolve().parent)


def _importing(filename: str) -> bool:
    """A frame of Python's import machinery (between an import and the imported module's code)."""
    return filename.startswith("<frozen importlib") or filename.startswith(_IMPORTLIB_DIR)


def builtin_base(exc: BaseException) -> str:
    """The name of the first built-in exception class in ``exc``'s MRO."""
    for cls in type(exc).__mro__:
        if getattr(builtins, cls.__name__, None) is cls:
            return cls.__name__
    return "Exception"


class CallMismatch(TypeError):
    """The code under test's function cannot be called the way crosscheck calls it (a parameter it
    lacks, one it requires that crosscheck does not pass): the message says which; no traceback."""


def call_mismatch(fn, args: tuple, kwargs: dict, exc: BaseException) -> CallMismatch | None:
    """A :class:`CallMismatch` when ``exc`` is the TypeError of calling ``fn(*args, **kwargs)`` with
    arguments its signature does not take (raised before any of its code ran), else None."""
    if not isinstance(exc, TypeError) or getattr(exc, "remote_traceback", None) or _ran_user_code(exc):
        return None
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):   # no signature to read (a builtin): the TypeError stands
        return None
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        pass
    else:
        return None
    parameters = signature.parameters.values()
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    lacks = [] if takes_any else [k for k in kwargs if k not in signature.parameters]
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    passed = ", ".join([f"<{type(a).__name__}>" for a in args] + [f"{k}=<{type(v).__name__}>" for k, v in kwargs.items()])
    lacking = (f" It lacks the parameter{'s' if len(lacks) > 1 else ''} {', '.join(f'`{k}`' for k in lacks)}: crosscheck "
               "passes the op's arguments by TensorFlow's names; rename the parameter, or adapt the function."
               if lacks else "")
    return CallMismatch(f"{name}{signature}{_defined_at(fn)} cannot be called as crosscheck calls it, "
                        f"{name}({passed}): {exc}.{lacking}")


def _ran_user_code(exc: BaseException) -> bool:
    """Whether the traceback reaches a frame outside crosscheck (the called function started)."""
    return any(not f.filename.startswith(_CROSSCHECK_DIR) for f in traceback.extract_tb(exc.__traceback__))


def _defined_at(fn) -> str:
    try:
        return f" (defined at {inspect.getsourcefile(fn)}:{inspect.getsourcelines(fn)[1]})"
    except (TypeError, OSError):
        return ""
