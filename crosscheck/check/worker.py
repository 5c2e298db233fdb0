"""The worker process of ``crosscheck check``: it imports the user's file and runs one Spec's case at
a time, the TensorFlow reference included (:class:`CheckWorker`, the caller's side; :func:`setup`,
the worker's side, which crosscheck.isolation's generic worker hosts)."""
from __future__ import annotations

import os
import tempfile
import weakref
from pathlib import Path

from ..isolation import CALL_TIMEOUT, Worker, rebuild_exception
from ..oracle.reference import PHASE_FILE
from ..threads import limit_threads
from . import specs_for
from .loading import load_user_code


def setup(args: tuple, booted) -> dict:
    """The worker's state for ``args = (target, convention)``: TensorFlow imported first (its time is
    not the user's import's), then the user's file and its convention's specs."""
    limit_threads()
    from ..oracle import tf_lib  # noqa: F401  # deferred: imports TensorFlow, in the worker only
    booted()
    target, convention = args
    module = load_user_code(target, timeout=None)
    specs = {s.name: s for s in specs_for(convention, module)}
    return {"kind": "check", "module": module, "specs": specs, "info": sorted(specs), "answer": _answer}


def _answer(state: dict, message: tuple):
    if message[0] != "check":
        raise ValueError(f"unknown request {message[0]!r}")
    _, name, case, options = message
    return ("ok", state["specs"][name].run(state["module"], case, options))


def _remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)


class CheckWorker(Worker):
    """The worker of ``crosscheck check``: it imports the user's file (``target``) and runs one
    Spec's case at a time (the TensorFlow reference included)."""

    def __init__(self, target: str, convention: str, timeout: float | None = CALL_TIMEOUT):
        fd, self.phase_file = tempfile.mkstemp(prefix="crosscheck-phase-")
        os.close(fd)
        weakref.finalize(self, _remove, self.phase_file)   # kept across restarts: read after a crash
        super().__init__(("hosted", __name__, target, convention), timeout, start_timeout=timeout, fork=True,
                         environ={PHASE_FILE: self.phase_file})
        self.target = target

    def in_tensorflow(self) -> bool:
        """Whether the worker was computing a TensorFlow reference when it last stopped (crashed)."""
        try:
            with open(self.phase_file) as f:
                return f.read() == "tensorflow"
        except OSError:
            return False

    def run(self, spec_name: str, case, options: dict):
        reply = self.request(("check", spec_name, case, options))
        if reply[0] == "raise":
            raise rebuild_exception(*reply[1:])
        return reply[1]
