"""Keep NumPy's BLAS and TensorFlow from fighting over the cores.

In one process, TensorFlow's thread pools (which spin while waiting for work) and OpenBLAS's threads
oversubscribe a small machine: an im2col conv forward+backward that takes a few milliseconds alone
became hundreds of milliseconds after TensorFlow had run in the same process. :func:`limit_threads` gives
each side a fixed, small pool. TensorFlow's pools can only be sized before its runtime starts, so
call it before the first TensorFlow op (the runner does).

One thread each also keeps ``pytest -n auto`` (one process per core) from multiplying pools.
``bench/threads.py`` measures the effect; on the 2-core development machine (TF 2.21, OpenBLAS
with 2 threads) the pathology did not reproduce: a 8x32x32x16 -> 32 npcnn conv2d fwd+bwd took
31.9 ms median alone, 25.1 ms interleaved with TF cases on default pools, and 29.3 ms with
these limits.
"""
from __future__ import annotations

from .tf_import import tensorflow

_STATE: dict = {}


def limit_blas_threads(blas: int = 1) -> None:
    """Only BLAS's pool (a process that never runs TensorFlow: the worker of crosscheck.isolation)."""
    if "blas_limiter" not in _STATE:
        import numpy  # noqa: F401  # deferred: loads NumPy's BLAS first (threadpoolctl limits only loaded libraries)
        from threadpoolctl import threadpool_limits  # deferred: the crosscheck extra's; the plugin loads without it
        _STATE["blas_limiter"] = threadpool_limits(limits=blas, user_api="blas")


def limit_threads(blas: int = 1, tf_intra: int = 1, tf_inter: int = 1) -> dict:
    """Limit BLAS (threadpoolctl) and TensorFlow (intra/inter-op) threads; idempotent.

    Returns what was applied: ``{"blas": n, "tf_intra": n, "tf_inter": n, "tf_applied": bool}``;
    ``tf_applied`` is False when TensorFlow's runtime had already started with other settings.
    """
    if "tf_applied" in _STATE:
        return {k: v for k, v in _STATE.items() if k != "blas_limiter"}
    limit_blas_threads(blas)
    tf = tensorflow()
    applied = True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(tf_intra)
        tf.config.threading.set_inter_op_parallelism_threads(tf_inter)
    except RuntimeError:
        applied = (tf.config.threading.get_intra_op_parallelism_threads() == tf_intra
                   and tf.config.threading.get_inter_op_parallelism_threads() == tf_inter)
    _STATE.update(blas=blas, tf_intra=tf_intra, tf_inter=tf_inter, tf_applied=applied)
    return {k: v for k, v in _STATE.items() if k != "blas_limiter"}
