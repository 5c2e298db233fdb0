"""The worker's side of :mod:`crosscheck.isolation`: the process that imports the code under test and
answers the caller's requests.

The worker leads a process group of its own (a session), so that what the code under test starts
(a ``multiprocessing.Pool``, a subprocess) can be stopped with it: the caller kills the whole group
after a timeout, a crash or at the end, and a watchdog thread here kills it when the caller is gone.
A fatal signal (segfault, abort) writes the Python traceback of the code under test to the file the
caller named (``faulthandler``), which the caller puts into the crash's outcome.

A ``"case"`` request runs one case's calls here (:func:`crosscheck.impl_calls.record_calls`: the
op function, the vjp, the pullback) and answers once, with everything the caller's ImplResult
needs. As the vjp's and the pullback's calls begin, the worker writes the time into the clock file
the caller named (the caller's time limit stays one per call: it reads the file only once its
limit has passed, so a fast case wakes it only for the answer) and, if the forward wrote into its
inputs, sends a ``WRITTEN`` note naming them (a crash in a later call must not lose them).
Everything sent back is plain data (:func:`crosscheck.returned.plain`): the caller never unpickles
an object of the code under test's classes. ``SystemExit`` and ``KeyboardInterrupt`` raised by the
code under test are answers like any other exception: its traceback goes into the outcome.
"""
from __future__ import annotations

import copy
import faulthandler
import importlib
import inspect
import os
import pickle
import signal
import struct
import sys
import threading
import time
from multiprocessing.connection import Connection

import numpy as np

from .impl_calls import ImplResult, record_calls
from .returned import plain
from .tf_import import lean
from .threads import limit_blas_threads
from .tracebacks import builtin_base, call_mismatch, user_traceback

HANDLE = "crosscheck-isolation-handle"
#: the first item of a note sent while a "case" request runs: the inputs written so far
WRITTEN = "crosscheck-isolation-written"
#: environment variables the caller sets: its pid (the watchdog's), the faulthandler file, the clock
#: file (where a "case" request writes when each later call of the code under test began)
OWNER_PID, FAULT_FILE, CLOCK_FILE = "CROSSCHECK_WORKER_OWNER", "CROSSCHECK_WORKER_FAULTS", "CROSSCHECK_WORKER_CLOCK"
#: the clock file's content: ``time.monotonic()`` (the system's CLOCK_MONOTONIC, the caller's too)
CLOCK_FORMAT = struct.Struct("d")


def main(read_fd: int, write_fd: int) -> None:
    """The worker process started as ``python -c``: see :func:`serve`."""
    lean()
    serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False))


def serve(inbox: Connection, outbox: Connection) -> None:
    """The worker: its own process group, the caller's sys.path and setup, then requests until the
    pipe closes (the group is killed then, so nothing the code under test started stays behind)."""
    _lead_own_group()
    _watch_owner()
    _write_faults_to_file()
    paths, setup = inbox.recv()
    # the caller's order wins: PYTHONPATH put crosscheck's own root first only so that this module
    # could be imported; a copy of a package earlier on the caller's path must shadow it here too
    sys.path[:] = list(paths) + [p for p in sys.path if p not in paths]
    try:
        state = _setup(setup, lambda: outbox.send(("booted", None)))
    except BaseException as exc:   # noqa: BLE001 - reported to the caller, which decides
        friendly = type(exc).__name__ == "LoadError" or _is_missing_target(exc, setup)   # the message says all
        outbox.send(("failed", str(exc) if friendly else user_traceback(exc)))
        return
    state.setdefault("outbox", outbox)
    state.setdefault("clock", _open_clock())
    outbox.send(("ready", state["info"]))
    while True:
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            _end_group()
        outbox.send_bytes(_pickled(_answer(state, message)))


def _lead_own_group() -> None:
    try:
        os.setsid()
    except OSError:   # already a group leader (started with start_new_session)
        pass


def _end_group() -> None:
    """Kill this worker's process group, the worker included: what the code under test started ends too."""
    sys.stdout.flush()
    try:
        os.killpg(os.getpgid(0), signal.SIGKILL)
    except OSError:
        pass
    os._exit(0)


def _watch_owner() -> None:
    """A daemon thread that ends the group when the process that asked for this worker is gone (it
    was killed, and could not kill the group itself)."""
    parent = os.getppid()
    try:
        owner = int(os.environ.get(OWNER_PID, "") or parent)
    except ValueError:
        owner = parent

    def watch():
        while True:
            time.sleep(1.0)
            # a parent that is gone leaves this worker to init; a killed owner may linger as a zombie
            if os.getppid() != parent or not _running(owner):
                _end_group()
    threading.Thread(target=watch, name="crosscheck-owner-watch", daemon=True).start()


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            pass
        return True


def _write_faults_to_file() -> None:
    path = os.environ.get(FAULT_FILE)
    if not path:
        return
    try:
        faults = open(path, "w", encoding="utf-8")   # kept open for the process's life: faulthandler writes to its fd
    except OSError:
        return
    faulthandler.enable(file=faults, all_threads=False)


def _open_clock() -> int | None:
    """The clock file's descriptor, None without one."""
    path = os.environ.get(CLOCK_FILE)
    try:
        return os.open(path, os.O_WRONLY) if path else None
    except OSError:
        return None


def _is_missing_target(exc: BaseException, setup: tuple) -> bool:
    """True when the module to test itself (not something it imports) does not exist."""
    return (isinstance(exc, ModuleNotFoundError) and setup[0] == "module" and bool(exc.name)
            and (setup[1] == exc.name or setup[1].startswith(exc.name + ".")))


def _defaults(fn) -> dict:
    """The plain-valued parameter defaults of ``fn`` (what the caller's diagnosis reads), {} if none."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return {}

    def is_plain(v) -> bool:   # what travels back for sure (a lambda in a default list would not pickle)
        if isinstance(v, (tuple, list)):
            return all(is_plain(x) for x in v)
        return isinstance(v, (str, int, float, bool, type(None)))
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty and is_plain(p.default)}


def _setup(setup: tuple, booted) -> dict:
    """Import the code under test; ``booted()`` is called once crosscheck's own imports are done.

    ``("module", name)``: a module whose functions the caller calls. ``("hosted", module, *args)``:
    ``module.setup(args, booted)`` (named, not imported here: e.g. crosscheck.check.worker) returns
    the state, whose ``"answer"`` serves the requests other than calls."""
    kind = setup[0]
    if kind == "module":
        limit_blas_threads()
        booted()
        module = importlib.import_module(setup[1])
        names = [n for n in dir(module) if not n.startswith("__") and callable(getattr(module, n, None))]
        return {"kind": kind, "module": module, "handles": {}, "outputs": {},
                "info": {n: _defaults(getattr(module, n)) for n in names}}
    if kind == "hosted":
        return importlib.import_module(setup[1]).setup(setup[2:], booted)
    raise ValueError(f"unknown worker setup {kind!r}")


def _answer(state: dict, message: tuple):
    try:
        if message[0] == "call":
            return _call(state, *message[1:])
        if message[0] == "case" and state["kind"] == "module":
            return _case(state, *message[1:])
        if "answer" in state:
            return state["answer"](state, message)
        raise ValueError(f"unknown request {message[0]!r}")
    except BaseException as exc:   # noqa: BLE001 - SystemExit, KeyboardInterrupt included: an answer
        return raised(exc)


def raised(exc: BaseException) -> tuple:
    """The answer for an exception: its first built-in class, message and traceback, as text."""
    try:
        message = str(exc)
    except Exception:   # noqa: BLE001 - the code under test's __str__ may raise
        message = f"<{type(exc).__name__} whose message cannot be shown>"
    return ("raise", builtin_base(exc), message, user_traceback(exc))


def _call(state: dict, target, args, kwargs):
    if isinstance(target, str):
        fn = getattr(state["module"], target)
        state["handles"].clear()      # a new top-level call: earlier pullbacks are done with
        state["outputs"].clear()
    else:
        fn = state["handles"][target]
    before = {i: copy.deepcopy(a) for i, a in enumerate(args) if isinstance(a, (np.ndarray, dict, list))}
    before.update({k: copy.deepcopy(a) for k, a in kwargs.items() if isinstance(a, (np.ndarray, dict, list))})
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:   # noqa: BLE001 - SystemExit, KeyboardInterrupt included: the code under test's
        return raised(call_mismatch(fn, args, kwargs, exc) or exc)
    writebacks = {}
    for key, old in before.items():
        new = args[key] if isinstance(key, int) else kwargs[key]
        if not _equal(old, new):
            writebacks[key] = plain(new)
    outputs_written = _earlier_outputs_written(state["outputs"])

    def handle(callable_):
        state["handles"][len(state["handles"]) + 1] = callable_
        return (HANDLE, len(state["handles"]))
    encoded = plain(result, handle)
    if isinstance(target, str):
        state["outputs"].update(_array_leaves(result, encoded))
    return ("ok", encoded, writebacks, outputs_written)


def _case(state: dict, plan, arrays: dict, params: dict, dy) -> tuple:
    """One case's calls (:func:`crosscheck.impl_calls.record_calls`) on one request: ``("ok", the
    ImplResult's fields)``, the code under test's exception (SystemExit, KeyboardInterrupt included)
    as its ``error``, as in crosscheck's process."""
    state["handles"].clear()      # earlier pullbacks are done with
    state["outputs"].clear()
    result = ImplResult()

    def starting():   # a later call begins: its own time limit starts now
        try:
            os.pwrite(state["clock"], CLOCK_FORMAT.pack(time.monotonic()), 0)
        except (OSError, TypeError):   # no clock file, or the code under test closed it: one limit per case
            pass
        if result.modified:
            state["outbox"].send((WRITTEN, list(result.modified)))
    try:
        record_calls(plan, arrays, params, dy, state["module"], result, starting)
    except BaseException as exc:   # noqa: BLE001 - SystemExit, KeyboardInterrupt included: the code under test's
        result.error = user_traceback(exc)
    return ("ok", vars(result))


def _pickled(answer: tuple) -> bytes:
    """``answer`` pickled once, as it is sent; one that cannot be (a RecursionError, a value that
    refuses) becomes the answer that says so."""
    try:
        return pickle.dumps(answer, protocol=5)
    except BaseException as exc:   # noqa: BLE001 - the value is the finding
        what = type(answer[1]).__name__ if answer[0] == "ok" else "an answer"
        message = f"returned a value that cannot be sent back from the worker: {exc}"
        return pickle.dumps(("raise", "TypeError", message, f"TypeError: {message} ({what})\n"), protocol=5)


def _array_leaves(value, encoded, path: tuple = ()) -> dict:
    """``{path: (the returned array, the copy sent)}`` for each array among the returned values."""
    if isinstance(value, np.ndarray) and isinstance(encoded, np.ndarray):
        return {path: (value, encoded)}
    if isinstance(value, (tuple, list)) and isinstance(encoded, (tuple, list)) and len(value) == len(encoded):
        found = {}
        for i, (v, e) in enumerate(zip(value, encoded)):
            found.update(_array_leaves(v, e, path + (i,)))
        return found
    return {}


def _earlier_outputs_written(outputs: dict) -> dict:
    """``{path: new values}`` of the arrays the last top-level call returned that a later call (its
    pullback) wrote into: the caller writes them into its copies, as for arguments."""
    written = {}
    for path, (live, sent) in outputs.items():
        if live.shape != sent.shape or live.tobytes() != sent.tobytes():
            written[path] = plain(live)
    return written


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return False
