"""The reference computed in a worker process of another backend (``crosscheck run --tf-backend both``).

:mod:`crosscheck.isolation` imports this module in a fresh ``python`` whose environment sets
``TF_ENABLE_ONEDNN_OPTS`` (the backend is fixed when TensorFlow starts, so it cannot be the
process that computes the run's own references). Only built-in values travel back.
"""
from __future__ import annotations

from .backend import in_force
from .reference import reference_or_error


def reference(case) -> dict:
    """``{"backend": name, "paths": {path: {tensor: array}}, "error": text or ""}`` of ``case``: this
    backend's own answer (no float64 detour around its known defects; refused crashes stay refused)."""
    paths, error = reference_or_error(case, detour=False)
    return {"backend": in_force(), "paths": paths, "error": error}
