"""The worker process of ``crosscheck check``: it imports the user's file, examines it (which
functions it defines, its layer classes) and runs one Spec's case at a time, the TensorFlow
reference included (:class:`CheckWorker`, the caller's side; :func:`setup`, the worker's side,
which crosscheck.isolation's generic worker hosts). The caller gets plain values back: a
crosscheck.check.Target at the start, an Outcome per case; it never imports the user's file."""
from __future__ import annotations

import os
import pickle
import tempfile
import weakref
from pathlib import Path

from ..case import IMPLEMENTATION_ERROR, Outcome
from ..isolation import CALL_TIMEOUT, Worker, rebuild_exception
from ..oracle.reference import PHASE_FILE
from ..returned import NotPlain, loads_plain
from ..threads import limit_threads
from .loading import load_user_code
from .run import Spec
from .target import Target, examine


def setup(args: tuple, booted) -> dict:
    """The worker's state for ``args = (target, convention)``: TensorFlow imported first (its time is
    not the user's import's), then the user's file, examined: its runnable specs stay here, the
    Target (plain values) goes to the caller."""
    limit_threads()
    from ..oracle import tf_lib  # noqa: F401  # deferred: imports TensorFlow, in the worker only
    booted()
    target, convention = args
    module = load_user_code(target, timeout=None)
    target_info, specs = examine(module, convention)
    sendable(target_info)
    specs = [s for spec in specs for s in (spec, spec.self_check) if isinstance(s, Spec)]   # own-forward verdicts too
    return {"kind": "check", "module": module, "specs": {s.name: s for s in specs}, "info": target_info,
            "answer": _answer}


def _answer(state: dict, message: tuple):
    if message[0] != "check":
        raise ValueError(f"unknown request {message[0]!r}")
    _, name, case, options = message
    outcome = state["specs"][name].run(state["module"], case, options)
    outcome.impl = name
    try:
        sendable(outcome)
    except TypeError as exc:
        outcome = Outcome(case, IMPLEMENTATION_ERROR, message=f"{name}: {exc}", impl=name)
    return ("ok", outcome)


def sendable(value) -> None:
    """TypeError unless ``value`` pickles into plain data (:func:`crosscheck.returned.loads_plain`, what
    the command's process accepts): an object of the user's classes in a reply would run the user's
    code there."""
    try:
        data = pickle.dumps(value, protocol=5)
    except Exception as exc:   # noqa: BLE001 - whatever the user's object does when pickled
        raise TypeError(f"gave back a value that cannot be sent to crosscheck's process ({exc})") from None
    try:
        loads_plain(data)
    except NotPlain as exc:
        what = f"an object of class {exc.class_name} (the checked code's own)" if exc.class_name else "unreadable data"
        raise TypeError(f"gave back {what}, which crosscheck's process does not load: return NumPy arrays, Python "
                        "numbers and strings") from None


def _remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)


class CheckWorker(Worker):
    """The worker of ``crosscheck check``: it imports the user's file (``target``), tells what it
    defines (:attr:`examined`, once started) and runs one Spec's case at a time (the TensorFlow
    reference included)."""

    def __init__(self, target: str, convention: str, timeout: float | None = CALL_TIMEOUT):
        fd, self.phase_file = tempfile.mkstemp(prefix="crosscheck-phase-")
        os.close(fd)
        weakref.finalize(self, _remove, self.phase_file)   # kept across restarts: read after a crash
        super().__init__(("hosted", __name__, target, convention), timeout, start_timeout=timeout, fork=True,
                         environ={PHASE_FILE: self.phase_file})
        self.target = target

    @property
    def examined(self) -> Target | None:
        """What the user's file defines (plain values), as the worker's last start reported; None before."""
        return self.info

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
