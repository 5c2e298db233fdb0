"""npcnn's global settings: ``floatx()`` / ``set_floatx(dtype)``, mirroring Keras's, and
``num_threads()`` / ``set_num_threads(n)``, the threads npcnn's batch chunks run on.

``floatx`` is the dtype optimizers keep their learning rate in, as Keras 3 keeps it in a
``floatx`` variable (float32 by default: a float64 model's learning rate is then rounded through
float32, as in Keras). ``npcnn.keras_compat.from_keras`` copies ``keras.config.floatx()`` here.
"""
from __future__ import annotations

import os

import numpy as np

from ._checks import shown
from ._typing import DTypeLike

FLOATX_CHOICES = ("float32", "float64")
_settings = {"floatx": "float32", "num_threads": None}


def floatx() -> str:
    """The default float dtype's name (``"float32"`` unless set)."""
    return _settings["floatx"]


def set_floatx(dtype: DTypeLike) -> None:
    """Set :func:`floatx`: ``"float32"`` or ``"float64"`` (a NumPy dtype is accepted too)."""
    try:
        name = None if dtype is None or isinstance(dtype, bool) else np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in FLOATX_CHOICES:
        raise ValueError(f"floatx must be one of {FLOATX_CHOICES}, got {shown(dtype)}")
    _settings["floatx"] = name


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def num_threads() -> int:
    """How many threads npcnn runs its batch chunks on (the im2col convs' GEMMs, with BLAS
    single-threaded meanwhile; the per-kernel-offset loops of depthwise conv and pooling): the value
    set by :func:`set_num_threads`, else ``NPCNN_NUM_THREADS``, else the usable cores."""
    if _settings["num_threads"] is not None:
        return _settings["num_threads"]
    env = os.environ.get("NPCNN_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else _usable_cores()


def set_num_threads(n: int | None) -> None:
    """Set :func:`num_threads` to a positive int, or ``None`` for the default."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"num_threads must be a positive int or None, got {n!r}")
    _settings["num_threads"] = None if n is None else int(n)
