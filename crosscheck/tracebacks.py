"""Tracebacks of the code under test: what a user reads when their code raised, without crosscheck's
own frames."""
from __future__ import annotations

import traceback
from pathlib import Path

_CROSSCHECK_DIR = str(Path(__file__).resolve().parent)


INSIDE_CROSSCHECK = "raised inside crosscheck while calling the code under test"


class ConventionError(Exception):
    """Raised by an adapter when the user's code broke its convention's contract (returned another
    type, an array of a shape the convention rules out): the message says all; no traceback."""


def user_traceback(exc: BaseException) -> str:
    """The traceback of an exception raised by the code under test, without crosscheck's own frames.
    An exception raised in crosscheck's own code alone keeps every frame and says so."""
    if isinstance(exc, ConventionError):
        return "".join(traceback.format_exception_only(type(exc), exc))
    if getattr(exc, "remote_traceback", None):   # raised in the worker process (crosscheck.isolation)
        return exc.remote_traceback
    every = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in every if not f.filename.startswith(_CROSSCHECK_DIR)]
    if every and not frames:
        return (INSIDE_CROSSCHECK + " (a crosscheck bug or an adapter that cannot call this code):\n"
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)
