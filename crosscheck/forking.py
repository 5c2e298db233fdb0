"""Processes forked from one fork server that has imported TensorFlow and crosscheck once
(:mod:`crosscheck.preload`): a ``crosscheck check`` worker, restarted after the user's code crashed,
or a shard of ``crosscheck run -j N`` starts in milliseconds instead of after a TensorFlow import
(about 6 s of CPU).

    fork_context()   multiprocessing's fork-server context, the preload added (None: no fork server)
    start(...)       a child running ``target(*args)`` where and as the caller is *now*
    ForkedProcess    that child, with the ``poll`` / ``wait`` / ``kill`` / ``terminate`` of Popen

The server is this process's one multiprocessing fork server, started at the first use and kept
until this process exits (it exits with it). It has run no TensorFlow op, so each child starts its
own runtime. Where no fork server can start a child, :func:`start` returns None and the caller
starts ``python`` instead: the same program, only slower to start.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import subprocess
import sys
import types
from multiprocessing import forkserver

PRELOAD = "crosscheck.preload"


def fork_context():
    """multiprocessing's fork-server context, with :data:`PRELOAD` among the modules the server
    imports before it forks; None where there is no fork server (Windows). A server already running
    without it (started by the program that imports crosscheck) still forks working children: they
    import what they need themselves."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    # multiprocessing's default preload, "__main__", would import the caller's script in the server
    modules = [m for m in getattr(forkserver._forkserver, "_preload_modules", []) if m != "__main__"]
    forkserver.set_forkserver_preload(modules + [PRELOAD] if PRELOAD not in modules else modules)
    return multiprocessing.get_context("forkserver")


def start(target, args: tuple = (), *, output=None, environ: dict | None = None, name: str = "crosscheck"):
    """Fork a child running ``target(*args)`` (a module-level function; Connections among ``args``
    travel as file descriptors) in this process's current working directory, ``sys.path`` and
    environment (``environ``, default ``os.environ``), with stdin on /dev/null and stdout on
    /dev/null (stderr as the server's), or stdout and stderr written to the file ``output``.
    Returns a :class:`ForkedProcess`, or None when no fork server could start it."""
    context = fork_context()
    if context is None:
        return None
    environ = dict(os.environ if environ is None else environ)
    process = context.Process(target=_child, args=(target, args, os.getcwd(), list(sys.path), environ,
                                                   None if output is None else str(output)),
                              daemon=True, name=name)
    try:
        with _main_module_hidden():
            process.start()
    except Exception:   # noqa: BLE001 - e.g. the server died importing the preload
        return None
    return ForkedProcess(process)


@contextlib.contextmanager
def _main_module_hidden():
    """multiprocessing's children import the parent's ``__main__`` script again (as ``__mp_main__``)
    to unpickle what it defines; ours run crosscheck's own functions and must not re-run the
    caller's script (an unguarded one would run twice, one read from stdin cannot be found). While
    the child is launched, ``__main__`` is an empty module, so nothing is re-imported."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _child(target, args, cwd: str, path: list, environ: dict, output: str | None):
    # the child may start processes of its own (a daemonic multiprocessing child may not)
    multiprocessing.current_process()._config["daemon"] = False
    # multiprocessing hands every child the write end of the pipe that keeps the server alive: held
    # here, a shard would keep the server running after the caller died, and so never receive the
    # SIGTERM it asks for when its parent (the server) dies. A child that forks gets a server of its own.
    alive = forkserver._forkserver._forkserver_alive_fd
    if alive is not None:
        os.close(alive)
        forkserver._forkserver._forkserver_alive_fd = None
    os.chdir(cwd)
    sys.path[:] = path
    os.environ.clear()
    os.environ.update(environ)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    if output is None:
        os.dup2(devnull, 1)
    else:
        log = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
    os.close(devnull)
    return target(*args)


class ForkedProcess:
    """A fork-server child (``multiprocessing.Process``) with the ``poll`` / ``wait`` / ``kill`` /
    ``terminate`` / ``returncode`` of ``subprocess.Popen``; the exit code (negative: the signal) is
    kept once known."""

    def __init__(self, process):
        self._process, self.returncode = process, None
        self.pid = process.pid

    def poll(self) -> int | None:
        if self._process is not None and self._process.exitcode is not None:
            self.returncode = self._process.exitcode
            self._process.close()     # its sentinel's file descriptor
            self._process = None
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self._process is not None:
            self._process.join(timeout)
        code = self.poll()
        if code is None:
            raise subprocess.TimeoutExpired(f"crosscheck process {self.pid}", timeout)
        return code

    def kill(self):
        if self.poll() is None:
            self._process.kill()

    def terminate(self):
        if self.poll() is None:
            self._process.terminate()
