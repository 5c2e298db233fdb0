"""Importing TensorFlow and Keras: every crosscheck module that needs them calls :func:`tensorflow`.

``import tensorflow`` imports Keras, and Keras imports matplotlib (for ``keras.visualization``)
and scikit-learn (for its scikit-learn wrappers) whenever they are installed, as they are here
(npcnn's digits example uses both). crosscheck uses neither part of Keras, and the two imports cost
a third of TensorFlow's import time (on the 2-core development machine: 8.3 s with them, 5.7 s
without), paid by every crosscheck process that imports TensorFlow (the command, its fork server:
:mod:`crosscheck.forking`). In crosscheck's own processes (:func:`lean`, called by the ``crosscheck``
command, the fork server's preload and the worker processes) the two are hidden while TensorFlow
and Keras are imported: Keras then leaves out those two features, and nothing else changes. Both stay importable afterwards (the
user's code may import them). A process that imports crosscheck as a library (the pytest helpers,
the Python API) imports TensorFlow untouched, so its own use of Keras's plots and wrappers works.

Whoever imports TensorFlow first decides its CPU kernels (:mod:`crosscheck.oracle.backend`): when
crosscheck does, the backend is chosen first (Eigen unless ``TF_ENABLE_ONEDNN_OPTS`` or
``--tf-backend`` says otherwise).

A TensorFlow outside the supported versions (:mod:`crosscheck.tf_versions`) is used, with one
:class:`UnsupportedTensorFlowWarning` per process, none in the processes started by one that has
warned (the ``crosscheck`` command's workers and shards: the command has said it once).
"""
from __future__ import annotations

import os
import sys
import warnings

from . import tf_versions
from .oracle import backend

#: what Keras imports only for features crosscheck never uses
HIDDEN_WHILE_IMPORTING = ("matplotlib", "sklearn")
_STATE = {"lean": False, "version_checked": False}


class UnsupportedTensorFlowWarning(UserWarning):
    """The TensorFlow in use is outside the versions crosscheck is tested with."""


def lean() -> None:
    """Called by crosscheck's own processes before anything imports TensorFlow."""
    _STATE["lean"] = True


def tensorflow():
    """The ``tensorflow`` module (with Keras imported), TF's C++ log level set to errors only."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        tf = sys.modules["tensorflow"]
        if not _STATE["version_checked"]:
            _check_version(tf)
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules and not backend.chosen():
        backend.choose()
    hidden = [m for m in HIDDEN_WHILE_IMPORTING if m not in sys.modules] if _STATE["lean"] else []
    for name in hidden:
        sys.modules[name] = None        # `import name` raises ImportError, which Keras catches
    try:
        import keras  # noqa: F401  # deferred: imports TensorFlow (Keras), once, with the hidden modules
        import tensorflow as tf  # deferred: imports TensorFlow, once, with the hidden modules
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    _check_version(tf)
    return tf


def _check_version(tf) -> None:
    """Warn once if ``tf`` is outside the supported versions (unless a parent process has checked)."""
    _STATE["version_checked"] = True
    version = str(getattr(tf, "__version__", "unknown"))
    if os.environ.get(tf_versions.WARNED) or tf_versions.is_supported(version):
        return
    found = tf_versions.installed()
    warnings.warn(tf_versions.unsupported_warning(found[0] if found else "tensorflow", version),
                  UnsupportedTensorFlowWarning, stacklevel=3)
    os.environ[tf_versions.WARNED] = "1"


def keras_module():
    """The ``keras`` module, imported as :func:`tensorflow` imports it."""
    tensorflow()
    return sys.modules["keras"]
