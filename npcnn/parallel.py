"""Batch chunks on threads: the per-kernel-offset loops of depthwise conv and pooling spend their
time in NumPy element-wise loops, which release the GIL, so chunks run in parallel on
:func:`npcnn.config.num_threads` threads. Each chunk writes its own slice of the result (or returns a
partial sum, added in chunk order), so the result does not depend on the number of threads.

The im2col convs' chunks (:func:`map_blas_chunks`) are an im2col copy or a scatter, single-threaded
in NumPy, around a GEMM: run one after another, BLAS's threads would share the GEMMs but the copies
would run on one core. On threads of their own, with BLAS single-threaded meanwhile (threadpoolctl;
without it, one after another), the copies run in parallel too.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from . import config

try:
    from threadpoolctl import ThreadpoolController
except ImportError:   # a dependency, but installed without it: BLAS chunks run one after another
    ThreadpoolController = None

_PREFIX = "npcnn-chunks"
_pools: dict[int, ThreadPoolExecutor] = {}
_blas: dict = {}      # the BLAS controller, and the single-thread limit while chunks run
_blas_lock = threading.Lock()
# a forked child has none of its parent's threads: an inherited pool would never run its tasks
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: (_pools.clear(), _blas.pop("inside", None), _blas.pop("limiter", None)))


def _pool(threads: int) -> ThreadPoolExecutor:
    if threads not in _pools:
        _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix=_PREFIX)
    return _pools[threads]


def map_chunks(fn, chunks: list) -> list:
    """``[fn(chunk) for chunk in chunks]``, on up to ``num_threads()`` threads when there are several chunks."""
    threads = min(config.num_threads(), len(chunks))
    # on one of our own threads already (a chunk function that maps chunks): waiting on the same
    # pool from inside it could deadlock
    if threads <= 1 or threading.current_thread().name.startswith(_PREFIX):
        return [fn(chunk) for chunk in chunks]
    return list(_pool(threads).map(fn, chunks))


def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries (read once: reading them costs milliseconds)."""
    if "controller" not in _blas:
        _blas["controller"] = ThreadpoolController() if ThreadpoolController is not None else None
    return _blas["controller"]


@contextmanager
def _single_threaded_blas(controller):
    """BLAS limited to one thread while any caller is inside; the first one in sets the limit, the
    last one out restores what it found (callers on several threads would otherwise restore each
    other's limit and could leave BLAS single-threaded for good)."""
    with _blas_lock:
        if _blas.get("inside", 0) == 0:
            _blas["limiter"] = controller.limit(limits=1, user_api="blas")
        _blas["inside"] = _blas.get("inside", 0) + 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas["inside"] -= 1
            if _blas["inside"] == 0:
                _blas.pop("limiter").restore_original_limits()


def map_blas_chunks(fn, chunks: list) -> list:
    """:func:`map_chunks` for chunks that call BLAS. Several chunks run with BLAS single-threaded
    meanwhile (a process-wide setting: another thread's GEMM meanwhile is single-threaded too), so
    that the chunks share the cores instead, copies included, and the bits do not depend on
    ``num_threads()``; one chunk runs here with BLAS's own threads."""
    controller = _blas_controller() if len(chunks) > 1 else None
    if controller is None:
        return [fn(chunk) for chunk in chunks]
    with _single_threaded_blas(controller):
        return map_chunks(fn, chunks)
