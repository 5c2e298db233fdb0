"""Batch chunks on threads: the per-kernel-offset loops of depthwise conv and pooling spend their
time in NumPy element-wise loops, which release the GIL, so chunks run in parallel on
:func:`npcnn.config.num_threads` threads. Each chunk writes its own slice of the result (or returns a
partial sum, added in chunk order), so the result does not depend on the number of threads.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from . import config

_PREFIX = "npcnn-chunks"
_pools: dict[int, ThreadPoolExecutor] = {}
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
