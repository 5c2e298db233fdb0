"""The code under test runs in a worker process, so that a segfault, ``os.abort()``, ``os._exit()``
or a hang in it costs one case, not the run.

    Worker            one child process (``python -c``, two pipes), kept alive across cases,
                      restarted after it dies; a check worker is forked from the fork server that
                      has imported TensorFlow once (:mod:`crosscheck.forking`), so a restart after
                      a crash costs milliseconds, not a TensorFlow import
    IsolatedModule    a module proxy: ``proxy.conv2d(...)`` and ``proxy.vjp(...)`` run in the worker;
                      a returned callable (a pullback) stays there and is called through a handle;
                      ``proxy.call_case(...)`` runs one case's forward, vjp and pullback there on
                      one request (:mod:`crosscheck.impl_calls`)
    WorkerCrash       the worker died during a call (the signal or exit status says how)
    WorkerTimeout     a call did not return within the time limit (the worker is killed)

Arrays travel over a pipe as pickles (protocol 5: the raw buffer, no text encoding), and only plain
data travels back: the worker makes what the code under test returned plain
(:func:`crosscheck.returned.plain`) and the caller refuses to unpickle anything else
(:func:`crosscheck.returned.loads_plain`), so no method of the code under test's classes ever runs
in the caller. What the code under test writes into an argument inside the worker, or into an array
it returned earlier (a pullback writing into its forward output), is written back into the caller's
copy, so in-place writes are detected exactly as in-process. An exception raised in the worker is
raised again in the caller as the same built-in class (a ``ValueError`` stays a ``ValueError``)
carrying the worker's traceback, which :func:`crosscheck.implementation.user_traceback` shows.

The worker leads a process group of its own (:mod:`crosscheck.isolation_worker`, the worker's side):
a timeout, a crash or closing the worker kills the whole group, so nothing the code under test
started outlives it. A crash's message carries the Python traceback the worker's ``faulthandler``
wrote, and a SIGKILL crosscheck did not send says that the kernel's out-of-memory killer is the
likely sender, with the worker's peak memory.

The worker never imports TensorFlow for ``crosscheck run``: only the implementation under test.
"""
from __future__ import annotations

import builtins
import inspect
import os
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from . import forking
from .isolation_worker import CLOCK_FILE, CLOCK_FORMAT, FAULT_FILE, HANDLE, OWNER_PID, WRITTEN, serve
from .returned import NotPlain, loads_plain

#: seconds one call of the code under test may take before its worker is stopped (--timeout)
CALL_TIMEOUT = 60.0
START_TIMEOUT = 120.0   # seconds for the worker to start and import the code under test
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class WorkerCrash(Exception):
    """The worker process died while running the code under test: ``how`` (describe_exit's words) and
    ``faults``, the Python traceback its faulthandler wrote ("" if none), are in the message too."""

    def __init__(self, message: str, how: str = "", faults: str = ""):
        super().__init__(message + (f"\n{faults}" if faults else ""))
        self.how, self.faults = how, faults


class WorkerTimeout(Exception):
    """The code under test did not return within the time limit."""


class RemoteError(Exception):
    """An exception of the code under test whose class is not a built-in one."""


def describe_exit(exitcode: int | None, peak_memory: int = 0) -> str:
    """How a process ended; a SIGKILL with ``peak_memory`` (bytes, 0: unknown) says who likely sent it."""
    if exitcode is None:
        return "the worker stopped answering"
    if exitcode < 0:
        try:
            text = f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
        if exitcode == -signal.SIGKILL:
            peak = f", its memory peaked at {peak_memory / 2**20:.0f} MiB" if peak_memory else ""
            text += (f" (not sent by crosscheck: the kernel's out-of-memory killer is the likely sender{peak})")
        return text
    return f"exited with status {exitcode}"


def peak_memory(pid: int) -> int:
    """The peak resident memory of process ``pid`` in bytes (Linux's VmHWM), 0 where unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def kill_group(process) -> None:
    """Kill ``process`` and its process group (the worker leads one: what the code under test
    started dies with it)."""
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:   # the group is gone, or the worker had not made it yet
        pass
    if process.poll() is None:
        process.kill()


class Worker:
    """One child process running :func:`_serve` on ``setup``; :meth:`request` sends a message and
    waits for the answer at most ``timeout`` seconds. ``fork``: fork the child from the fork server
    that has imported TensorFlow (:mod:`crosscheck.forking`) instead of starting ``python``."""

    def __init__(self, setup: tuple, timeout: float | None = CALL_TIMEOUT, start_timeout: float | None = START_TIMEOUT,
                 fork: bool = False, environ: dict | None = None):
        self.setup, self.timeout, self.start_timeout, self.fork = setup, timeout, start_timeout, fork
        fd, self.fault_file = tempfile.mkstemp(prefix="crosscheck-faults-")
        os.close(fd)
        self.clock, self.clock_file = tempfile.mkstemp(prefix="crosscheck-clock-")
        self.environ = {**(environ or {}), OWNER_PID: str(os.getpid()), FAULT_FILE: self.fault_file,
                        CLOCK_FILE: self.clock_file}
        self.process = None
        self.conn = self.writer = None
        self.info = None
        self.restarts = -1
        self.peak_memory = 0
        self.last_result = None   # what the last top-level call returned, for the writes of its pullback
        weakref.finalize(self, _remove_file, self.fault_file)
        weakref.finalize(self, _remove_file, self.clock_file, self.clock)

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
        code = f"from crosscheck.isolation_worker import main; main({to_child_r}, {to_parent_w})"
        self.process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(to_child_r, to_parent_w), env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        os.close(to_child_r)
        os.close(to_parent_w)
        self.writer = Connection(to_child_w, readable=False)
        self.conn = Connection(to_parent_r, writable=False)

    def _fork(self) -> bool:
        """Fork the child from the fork server (:mod:`crosscheck.forking`); False if it cannot."""

        inbox, writer = Pipe(duplex=False)
        reader, outbox = Pipe(duplex=False)
        process = forking.start(serve, (inbox, outbox), environ={**_worker_environ(), **self.environ},
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

    def request(self, message: tuple, timeout: float | None = None, on_note=None):
        """The answer to ``message``, each call of the code under test it makes within ``timeout``
        (a ``"case"`` request makes several: the worker writes when each began into the clock
        file). A note the worker sends before it answers (``WRITTEN``) goes to ``on_note``."""
        if not self.alive():
            self.start()
        try:
            self.writer.send(message)
        except (BrokenPipeError, EOFError, OSError):
            self._died("sending the case")
        return self._receive(self.timeout if timeout is None else timeout, "the call", on_note)

    def _receive(self, timeout, what: str, on_note=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ready = self.conn.poll(wait if wait is None else min(wait, 1.0))
            except (EOFError, OSError):
                self._died(what)
            if ready:
                try:
                    data = self.conn.recv_bytes()
                except (EOFError, OSError):
                    self._died(what)
                try:
                    reply = loads_plain(data)
                except NotPlain as exc:
                    return ("raise", "TypeError", str(exc), f"TypeError: {exc}\n")
                if on_note is None or not (isinstance(reply, tuple) and reply[:1] == (WRITTEN,)):
                    return reply
                on_note(reply[1])
                continue
            self.peak_memory = max(self.peak_memory, peak_memory(self.process.pid))
            if not self.alive():
                self._died(what)
            if deadline is not None and time.monotonic() >= deadline:
                started = self._call_started()   # a later call of the same request began since
                if started + timeout > time.monotonic():
                    deadline = started + timeout
                    continue
                self.kill()
                raise WorkerTimeout(f"{what} did not finish within {timeout:g} s (the worker was stopped)")

    def _died(self, what: str):
        code = self._reap(5.0)
        how = describe_exit(code, self.peak_memory)
        self.close()
        raise WorkerCrash(f"the code under test crashed during {what}: {how}", how, self._faults())

    def _reap(self, timeout: float) -> int | None:
        """The exit code of the dead worker (None if it is not dead within ``timeout``). A ``python``
        worker is this process's child: its exact peak memory comes with it (``wait4``)."""
        if not isinstance(self.process, subprocess.Popen) or self.process.returncode is not None:
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            except ChildProcessError:   # reaped elsewhere
                return self.process.poll()
            if pid:
                self.process.returncode = os.waitstatus_to_exitcode(status)
                self.peak_memory = max(self.peak_memory, usage.ru_maxrss * 1024)   # KiB on Linux
                return self.process.returncode
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

    def _call_started(self) -> float:
        """When the worker's current call of the code under test began (``time.monotonic()``), as
        it wrote into the clock file; -inf before any. A value from an earlier request is earlier
        than its deadline's start, so it never extends the deadline."""
        try:
            data = os.pread(self.clock, CLOCK_FORMAT.size, 0)
        except OSError:
            return float("-inf")
        return CLOCK_FORMAT.unpack(data)[0] if len(data) == CLOCK_FORMAT.size else float("-inf")

    def _faults(self) -> str:
        """What the worker's faulthandler wrote at a fatal signal (its Python traceback), or ""."""
        try:
            with open(self.fault_file, encoding="utf-8", errors="replace") as f:
                text = f.read(20000).strip()
        except OSError:
            return ""
        return text

    def kill(self):
        self.close()

    def close(self):
        for conn in (self.conn, self.writer):
            if conn is not None:
                conn.close()
        kill_group(self.process)
        if self.process is not None:
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.conn = self.writer = self.process = None
        self.peak_memory = 0


def _signature(defaults: dict):
    """A signature with those defaults, for ``inspect.signature`` of a RemoteFunction."""
    return inspect.Signature([inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=v)
                              for n, v in defaults.items()])


def _remove_file(path: str, fd: int | None = None) -> None:
    """Delete ``path`` (closing ``fd``, its descriptor, first)."""
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.unlink(path)
    except OSError:
        pass


def _worker_environ() -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}


# ----------------------------------------------------------------------------- the caller's side

class IsolatedModule:
    """A proxy of module ``name`` imported in a worker: its callable attributes are functions that
    run there. ``timeout``: seconds per call."""

    def __init__(self, name: str, timeout: float | None = CALL_TIMEOUT, environ: dict | None = None):
        self.__name__ = name
        # the import is the code under test's too: the same limit (a module that hangs at import)
        self._worker = Worker(("module", name), timeout, start_timeout=timeout, environ=environ)
        self._defaults = dict(self._worker.start())   # name -> its parameters' defaults

    def __getattr__(self, attr):
        if attr.startswith("__") or attr not in self.__dict__.get("_defaults", ()):
            raise AttributeError(attr)
        fn = RemoteFunction(self._worker, attr)
        fn.__signature__ = _signature(self._defaults[attr])
        return fn

    def call_case(self, plan, arrays: dict, params: dict, dy, result) -> None:
        """Run :func:`crosscheck.impl_calls.record_calls` in the worker on one request (each call of
        the code under test within this proxy's time limit) and fill ``result`` (an ImplResult)
        with what it recorded there. A crash or a timeout raises WorkerCrash / WorkerTimeout, with
        ``result.modified`` naming the inputs written before the call that did not return."""
        def written(modified):
            result.modified[:] = modified
        reply = self._worker.request(("case", plan, arrays, params, dy), on_note=written)
        if reply[0] == "raise":
            raise rebuild_exception(*reply[1:])
        for name, value in reply[1].items():
            setattr(result, name, value)

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
        _, result, writebacks, outputs_written = reply
        for key, value in writebacks.items():
            write_back(args[key] if isinstance(key, int) else kwargs[key], value)
        for path, value in outputs_written.items():
            write_back(_at(self.worker.last_result, path), value)
        decoded = _decode(result, self.worker)
        if isinstance(self.target, str):
            self.worker.last_result = decoded
        return decoded


def _at(value, path: tuple):
    """The item of nested tuples/lists ``value`` at index ``path`` (None if there is none)."""
    for i in path:
        if not isinstance(value, (tuple, list)) or i >= len(value):
            return None
        value = value[i]
    return value


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
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and value[0] == HANDLE:
        return RemoteFunction(worker, value[1])
    if isinstance(value, tuple):
        return tuple(_decode(v, worker) for v in value)
    if isinstance(value, list):
        return [_decode(v, worker) for v in value]
    return value
