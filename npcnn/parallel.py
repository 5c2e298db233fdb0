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

from . import config

try:
    from threadpoolctl import ThreadpoolController
except ImportError:   # a dependency, but installed without it: BLAS chunks run one after another
    ThreadpoolController = None

_PREFIX = "npcnn-chunks"
_pools: dict[int, ThreadPoolExecutor] = {}
_blas: dict = {}
# a forked child has none of its parent's threads: an inherited pool would never run its tasks
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pools.clear)


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


def map_blas_chunks(fn, chunks: list) -> list:
    """:func:`map_chunks` for chunks that call BLAS, with BLAS single-threaded meanwhile (a
    process-wide setting: another thread's GEMM meanwhile is single-threaded too): the chunks share
    the cores instead, copies included, and the bits depend neither on ``num_threads()`` nor on
    BLAS's own thread count."""
    controller = _blas_controller()
    if controller is None:
        return [fn(chunk) for chunk in chunks]
    with controller.limit(limits=1, user_api="blas"):
        return map_chunks(fn, chunks)
