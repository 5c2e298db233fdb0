"""What every ``crosscheck check`` worker imports before the user's file, done once in the fork
server that check workers are forked from (:mod:`crosscheck.isolation`): TensorFlow (lean, see
:mod:`crosscheck.tf_import`), its thread limits, the check specs and the TF reference.

Importing this module does that work; TensorFlow runs no op here, so its runtime (and its thread
pools) starts in each forked worker, never in the server.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ..tf_import import lean  # noqa: E402

lean()

from ..threads import limit_threads  # noqa: E402

limit_threads()

from .. import check  # noqa: E402,F401
from . import loading  # noqa: E402,F401
from ..oracle import tf_lib  # noqa: E402,F401
