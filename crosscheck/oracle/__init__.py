"""Reference implementations that a Case is compared against. TensorFlow is the only oracle today;
``crosscheck.oracle.tf_oracle`` imports TensorFlow, so import it only when a reference is needed."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class ReferenceUnsupported(Exception):
    """TensorFlow cannot compute this case on this machine (the message says why)."""


@dataclass
class Reference:
    """Expected tensors per TF path (``{"tape": {"y": ..., "d_input": ...}, ...}``), the notes on how
    they were built (alternate formulations), and the paths not computed, with the reason."""
    paths: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    # compute only the first path that works (crosscheck run --paths first); the rest are not tried
    first_only: bool = False


def precheck(case) -> None:
    """Raise ReferenceUnsupported for cases that must never reach TensorFlow in-process."""
    from .tf_oracle import precheck as tf_precheck
    tf_precheck(case)


def compute_reference(case, first_only: bool = False) -> Reference:
    """Every TF path of ``case.op`` on ``case`` (or, with ``first_only``, the first one that works);
    ReferenceUnsupported when none can be computed."""
    from .tf_oracle import compute_reference as tf_compute
    return tf_compute(case, first_only)
