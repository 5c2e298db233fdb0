"""Finite differences in float64: the independent third opinion on a gradient.

``numerical_vjp`` estimates ``J^T dy`` by central differences, one input element at a time;
``projected_check`` compares an analytic vjp along random directions (as JAX's ``check_grads``
does), which costs two function evaluations per direction instead of two per element.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def numerical_vjp(f: Callable[..., np.ndarray], arrays: Sequence[np.ndarray], dy: np.ndarray,
                  eps: float = 1e-6) -> list[np.ndarray]:
    """Central-difference ``d <f(arrays), dy> / d arrays[k]`` for every k, in float64."""
    arrays = [np.array(a, dtype=np.float64, order="C") for a in arrays]
    dy = np.asarray(dy, dtype=np.float64)
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            plus = np.vdot(f(*arrays), dy)
            flat[i] = orig - eps
            minus = np.vdot(f(*arrays), dy)
            flat[i] = orig
            gflat[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def projected_check(f: Callable[..., np.ndarray], arrays: Sequence[np.ndarray], dy: np.ndarray,
                    grads: Sequence[np.ndarray], *, directions: int = 4, eps: float = 1e-5,
                    seed: int = 0) -> float:
    """Worst relative gap between ``<grads, v>`` and ``(<f(a + eps v), dy> - <f(a - eps v), dy>) / 2eps``.

    ``v`` are random unit-variance directions over all arrays at once. Returns the largest
    ``|analytic - numeric| / max(1, |numeric|)`` over the directions.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    dy = np.asarray(dy, dtype=np.float64)
    worst = 0.0
    for _ in range(directions):
        vs = [rng.standard_normal(a.shape) for a in arrays]
        plus = np.vdot(f(*[a + eps * v for a, v in zip(arrays, vs)]), dy)
        minus = np.vdot(f(*[a - eps * v for a, v in zip(arrays, vs)]), dy)
        numeric = (plus - minus) / (2 * eps)
        analytic = sum(np.vdot(np.asarray(g, np.float64), v) for g, v in zip(grads, vs))
        worst = max(worst, abs(analytic - numeric) / max(1.0, abs(numeric)))
    return worst
