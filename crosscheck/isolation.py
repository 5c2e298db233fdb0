"""The code under test runs in a worker process, so that a segfault, ``os.abort()``, ``os._exit()``
or a hang in it costs one case, not the run.

    Worker            one child process (``python -c``, two pipes), kept alive across cases,
                      restarted after it dies; a check worker is forked from the fork server that
                      has imported TensorFlow once (:mod:`crosscheck.forking`), so a restart after
                      a crash costs milliseconds, not a TensorFlow import
    IsolatedModule    a module proxy: ``proxy.conv2d(...)`` and ``proxy.vjp(...)`` run in the worker;
                      a returned callable (a pullback) stays there and is called through a handle
    WorkerCrash       the worker died during a call (the signal or exit status says how)
    WorkerTimeout     a call did not return within the time limit (the worker is killed)

Arrays travel over a pipe as pickles (protocol 5: the raw buffer, no text encoding). What the code
under test writes into an argument inside the worker is written back into the caller's array or
dict, so in-place writes are detected exactly as in-process. An exception raised in the worker is
raised again in the caller as the same built-in class (a ``ValueError`` stays a ``ValueError``)
carrying the worker's traceback, which :func:`crosscheck.implementation.user_traceback` shows.

The worker never imports TensorFlow for ``crosscheck run``: only the implementation under test.
"""
from __future__ import annotations

import builtins
import copy
import importlib
import inspect
import os
import pickle
import signal
import subprocess
import sys
import time
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from . import forking
from .tf_import import lean
from .threads import limit_blas_threads
from .tracebacks import user_traceback

#: seconds one call of the code under test may take before its worker is stopped (--timeout)
CALL_TIMEOUT = 60.0
START_TIMEOUT = 120.0   # seconds for the worker to start and import the code under test
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class WorkerCrash(Exception):
    """The worker process died while running the code under test."""


class WorkerTimeout(Exception):
    """The code under test did not return within the time limit."""


class RemoteError(Exception):
    """An exception of the code under test whose class is not a built-in one."""


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "the worker stopped answering"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


class Worker:
    """One child process running :func:`_serve` on ``setup``; :meth:`request` sends a message and
    waits for the answer at most ``timeout`` seconds. ``fork``: fork the child from the fork server
    that has imported TensorFlow (:mod:`crosscheck.forking`) instead of starting ``python``."""

    def __init__(self, setup: tuple, timeout: float | None = CALL_TIMEOUT, start_timeout: float | None = START_TIMEOUT,
                 fork: bool = False, environ: dict | None = None):
        self.setup, self.timeout, self.start_timeout, self.fork = setup, timeout, start_timeout, fork
        self.environ = dict(environ or {})   # set in the child's environment
        self.process = None
        self.conn = self.writer = None
        self.info = None
        self.restarts = -1

    def start(self):
        """Start the child; returns what its setup reported (raises WorkerCrash / WorkerTimeout, or
        ``ImportError`` with the child's traceback when the setup raised)."""
        if not (self.fork and self._fork()):
            self._start_python()
        self.restarts += 1
        self.writer.send((list(sys.path), self.setup))
        status, payload = self._receive(START_TIMEOUT, "starting the worker")   # crosscheck's own imports
        if status == "booted":   # then the code under test's import, within the caller's limit
            status, payload = self._receive(self.start_timeout, "importing the code under test")
        if status == "failed":
            self.close()
            raise ImportError(payload)
        self.info = payload
        return payload

    def _start_python(self):
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        env = {**_worker_environ(), **self.environ,
               "PYTHONPATH": os.pathsep.join([_PACKAGE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])}
        code = f"from crosscheck.isolation import _main; _main({to_child_r}, {to_parent_w})"
        self.process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(to_child_r, to_parent_w), env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(to_parent_w)
        self.writer = Connection(to_child_w, readable=False)
        self.conn = Connection(to_parent_r, writable=False)

    def _fork(self) -> bool:
        """Fork the child from the fork server (:mod:`crosscheck.forking`); False if it cannot."""

        inbox, writer = Pipe(duplex=False)
        reader, outbox = Pipe(duplex=False)
        process = forking.start(_serve, (inbox, outbox), environ={**_worker_environ(), **self.environ},
                                name="crosscheck-worker")
        inbox.close()
        outbox.close()
        if process is None:
            writer.close()
            reader.close()
            return False
        self.process, self.writer, self.conn = process, writer, reader
        return True

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def request(self, message: tuple, timeout: float | None = None):
        if not self.alive():
            self.start()
        try:
            self.writer.send(message)
        except (BrokenPipeError, EOFError, OSError):
            self._died("sending the case")
        return self._receive(self.timeout if timeout is None else timeout, "the call")

    def _receive(self, timeout, what: str):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ready = self.conn.poll(wait if wait is None else min(wait, 1.0))
            except (EOFError, OSError):
                self._died(what)
            if ready:
                try:
                    return self.conn.recv()
                except (EOFError, OSError):
                    self._died(what)
            if not self.alive():
                self._died(what)
            if deadline is not None and time.monotonic() >= deadline:
                self.kill()
                raise WorkerTimeout(f"{what} did not finish within {timeout:g} s (the worker was stopped)")

    def _died(self, what: str):
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        self.close()
        raise WorkerCrash(f"the code under test crashed during {what}: {describe_exit(code)}")

    def kill(self):
        self.close()

    def close(self):
        for conn in (self.conn, self.writer):
            if conn is not None:
                conn.close()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.conn = self.writer = self.process = None


def _worker_environ() -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}


# ----------------------------------------------------------------------------- the caller's side

class IsolatedModule:
    """A proxy of module ``name`` imported in a worker: its callable attributes are functions that
    run there. ``timeout``: seconds per call."""

    def __init__(self, name: str, timeout: float | None = CALL_TIMEOUT, environ: dict | None = None):
        self.__name__ = name
        self._worker = Worker(("module", name), timeout, environ=environ)
        self._defaults = dict(self._worker.start())   # name -> its parameters' defaults

    def __getattr__(self, attr):
        if attr.startswith("__") or attr not in self.__dict__.get("_defaults", ()):
            raise AttributeError(attr)
        fn = RemoteFunction(self._worker, attr)
        fn.__signature__ = _signature(self._defaults[attr])
        return fn

    def close(self):
        self._worker.close()


class RemoteFunction:
    """A callable in the worker: a module attribute (a name) or a returned callable (a handle)."""

    def __init__(self, worker: Worker, target, generation: int | None = None):
        self.worker, self.target = worker, target
        self.generation = worker.restarts if generation is None else generation

    def __call__(self, *args, **kwargs):
        if not isinstance(self.target, str) and (self.generation != self.worker.restarts or not self.worker.alive()):
            raise WorkerCrash("the worker that held this function was restarted after a crash")
        reply = self.worker.request(("call", self.target, args, kwargs))
        if reply[0] == "raise":
            raise rebuild_exception(*reply[1:])
        _, result, writebacks = reply
        for key, value in writebacks.items():
            write_back(args[key] if isinstance(key, int) else kwargs[key], value)
        return _decode(result, self.worker)


def write_back(original, value) -> None:
    """Make the caller's argument equal what the code under test left in the worker's copy."""
    if isinstance(original, np.ndarray) and isinstance(value, np.ndarray) and original.shape == value.shape:
        np.copyto(original, value, casting="unsafe")
    elif isinstance(original, dict) and isinstance(value, dict):
        original.clear()
        original.update(value)
    elif isinstance(original, list) and isinstance(value, list):
        original[:] = value


def rebuild_exception(base: str, message: str, text: str) -> Exception:
    """The worker's exception as the same built-in class (or RemoteError), carrying its traceback."""
    cls = getattr(builtins, base, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = RemoteError
    try:
        exc = cls(message)
    except Exception:
        exc = RemoteError(message)
    exc.remote_traceback = text
    return exc


def _decode(value, worker: Worker):
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and value[0] == _HANDLE:
        return RemoteFunction(worker, value[1])
    if isinstance(value, tuple):
        return tuple(_decode(v, worker) for v in value)
    if isinstance(value, list):
        return [_decode(v, worker) for v in value]
    return value


# ------------------------------------------------------------------------------ the worker's side

_HANDLE = "crosscheck-isolation-handle"


def _main(read_fd: int, write_fd: int) -> None:
    """The worker process started as ``python -c``: see :func:`_serve`."""

    lean()
    _serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False))


def _serve(inbox: Connection, outbox: Connection) -> None:
    """The worker: the caller's sys.path and setup, then requests until the pipe closes."""
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
    outbox.send(("ready", state["info"]))
    while True:
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            return
        outbox.send(_answer(state, message))


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

    def plain(v) -> bool:   # what travels back for sure (a lambda in a default list would not pickle)
        if isinstance(v, (tuple, list)):
            return all(plain(x) for x in v)
        return isinstance(v, (str, int, float, bool, type(None)))
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty and plain(p.default)}


def _signature(defaults: dict):
    """A signature with those defaults, for ``inspect.signature`` of a RemoteFunction."""
    return inspect.Signature([inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=v)
                              for n, v in defaults.items()])


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
        return {"kind": kind, "module": module, "handles": {}, "info": {n: _defaults(getattr(module, n)) for n in names}}
    if kind == "hosted":
        return importlib.import_module(setup[1]).setup(setup[2:], booted)
    raise ValueError(f"unknown worker setup {kind!r}")


def _answer(state: dict, message: tuple):
    try:
        if message[0] == "call":
            return _call(state, *message[1:])
        if "answer" in state:
            return state["answer"](state, message)
        raise ValueError(f"unknown request {message[0]!r}")
    except Exception as exc:
        return ("raise", _builtin_base(exc), str(exc), user_traceback(exc))


def _call(state: dict, target, args, kwargs):
    if isinstance(target, str):
        fn = getattr(state["module"], target)
        state["handles"].clear()      # a new top-level call: earlier pullbacks are done with
    else:
        fn = state["handles"][target]
    before = {i: copy.deepcopy(a) for i, a in enumerate(args) if isinstance(a, (np.ndarray, dict, list))}
    before.update({k: copy.deepcopy(a) for k, a in kwargs.items() if isinstance(a, (np.ndarray, dict, list))})
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        return ("raise", _builtin_base(exc), str(exc), user_traceback(exc))
    writebacks = {}
    for key, old in before.items():
        new = args[key] if isinstance(key, int) else kwargs[key]
        if not _equal(old, new):
            writebacks[key] = new
    encoded = _encode(result, state["handles"])
    try:
        pickle.dumps((encoded, writebacks), protocol=5)
    except Exception as exc:
        return ("raise", "TypeError", f"returned a value that cannot be sent back from the worker: {exc}",
                f"TypeError: returned a value that cannot be sent back from the worker ({type(result).__name__}): "
                f"{exc}\n")
    return ("ok", encoded, writebacks)


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


def _encode(value, handles: dict):
    if callable(value) and not isinstance(value, (np.ndarray, type)):
        handle = len(handles) + 1
        handles[handle] = value
        return (_HANDLE, handle)
    if isinstance(value, tuple):
        return tuple(_encode(v, handles) for v in value)
    if isinstance(value, list):
        return [_encode(v, handles) for v in value]
    return value


def _builtin_base(exc: BaseException) -> str:
    """The name of the first built-in exception class in ``exc``'s MRO."""
    for cls in type(exc).__mro__:
        if getattr(builtins, cls.__name__, None) is cls:
            return cls.__name__
    return "Exception"
