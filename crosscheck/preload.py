"""What crosscheck's own TensorFlow processes import, done once in the fork server they are forked
from (:mod:`crosscheck.forking`): the ``crosscheck check`` workers (the user's file runs beside the
TF reference) and the shard processes of ``crosscheck run -j N``.

Importing this module does that work: TensorFlow (lean, see :mod:`crosscheck.tf_import`), its
thread limits, the op registry, the TF reference, the runner, the check specs and the reports.
TensorFlow runs no op here, so its runtime and its thread pools start in each forked process, never
in the server; npcnn is not imported (the code under test is imported only where it runs).
"""
from __future__ import annotations

from .tf_import import lean

lean()

from . import check, cli, compare, diagnosis, error_parity, fuzz, registry, report, runner, tolerance  # noqa: E402,F401
from .check import loading  # noqa: E402,F401
from .oracle import quirks, tf_glue, tf_lib  # noqa: E402,F401
from .threads import limit_threads  # noqa: E402

limit_threads()
