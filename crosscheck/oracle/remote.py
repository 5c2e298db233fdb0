"""The reference computed in a worker process of another backend (``crosscheck run --tf-backend both``).

:mod:`crosscheck.isolation` imports this module in a fresh ``python`` whose environment sets
``TF_ENABLE_ONEDNN_OPTS`` (the backend is fixed when TensorFlow starts, so it cannot be the
process that computes the run's own references). Only built-in values travel back.
"""
from __future__ import annotations

from . import ReferenceUnsupported, TFReferenceError, compute_reference
from .backend import in_force


def reference(case) -> dict:
    """``{"backend": name, "paths": {path: {tensor: array}}, "error": text or ""}`` of ``case``: this
    backend's own answer (no float64 detour around its known defects; refused crashes stay refused)."""
    try:
        ref = compute_reference(case, detour=False)
    except ReferenceUnsupported as exc:
        return {"backend": in_force(), "paths": {}, "error": f"reference-unsupported: {exc}"}
    except TFReferenceError as exc:
        return {"backend": in_force(), "paths": {}, "error": f"reference-error: {str(exc).splitlines()[0]}"}
    return {"backend": in_force(), "paths": ref.paths, "error": ""}
