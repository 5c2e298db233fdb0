"""npcnn's global settings, mirroring Keras's: ``floatx()`` / ``set_floatx(dtype)``.

``floatx`` is the dtype optimizers keep their learning rate in, as Keras 3 keeps it in a
``floatx`` variable (float32 by default: a float64 model's learning rate is then rounded through
float32, as in Keras). ``npcnn.keras_compat.from_keras`` copies ``keras.config.floatx()`` here.
"""
from __future__ import annotations

import numpy as np

FLOATX_CHOICES = ("float32", "float64")
_settings = {"floatx": "float32"}


def floatx() -> str:
    """The default float dtype's name (``"float32"`` unless set)."""
    return _settings["floatx"]


def set_floatx(dtype) -> None:
    """Set :func:`floatx`: ``"float32"`` or ``"float64"`` (a NumPy dtype is accepted too)."""
    try:
        name = None if dtype is None or isinstance(dtype, bool) else np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in FLOATX_CHOICES:
        raise ValueError(f"floatx must be one of {FLOATX_CHOICES}, got {dtype!r}")
    _settings["floatx"] = name
