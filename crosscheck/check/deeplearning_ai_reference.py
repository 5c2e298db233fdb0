"""Reference implementations of the deeplearning.ai "Step by Step" helpers and forwards (NumPy,
float64), so that each of the user's functions is checked on its own.

While one function is checked, the user's other convention functions it calls (``zero_pad``,
``conv_single_step``, ``create_mask_from_window``, ``distribute_value``, a forward) are replaced in
its module's globals by these (restored afterwards), and a backward's cache comes from the
reference forward: a correct ``conv_backward`` passes even when the user's ``conv_single_step``
raises, and its own bug is what its row shows. Shapes are the convention's: NHWC activations
``(m, n_H, n_W, n_C)``, ``W (f, f, n_C_prev, n_C)``, ``b (1, 1, 1, n_C)``.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np


def zero_pad(X, pad):
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=0)


def conv_single_step(a_slice_prev, W, b):
    return np.float64(np.sum(a_slice_prev * W) + np.sum(b))


def _windows(A, f: int, stride: int, n_H: int, n_W: int):
    """(m, n_H, n_W, f, f, n_C) view of every f x f window of A (m, H, W, n_C) at ``stride``."""
    m, _, _, n_C = A.shape
    s = A.strides
    return np.lib.stride_tricks.as_strided(A, (m, n_H, n_W, f, f, n_C),
                                           (s[0], s[1] * stride, s[2] * stride, s[1], s[2], s[3]), writeable=False)


def conv_forward(A_prev, W, b, hparameters):
    """(Z (m, n_H, n_W, n_C), cache (A_prev, W, b, hparameters))."""
    f, stride, pad = W.shape[0], hparameters["stride"], hparameters["pad"]
    _, n_H_prev, n_W_prev, _ = A_prev.shape
    n_H, n_W = (n_H_prev - f + 2 * pad) // stride + 1, (n_W_prev - f + 2 * pad) // stride + 1
    padded = np.ascontiguousarray(zero_pad(np.asarray(A_prev, dtype=np.float64), pad))
    Z = np.einsum("mhwijc,ijcd->mhwd", _windows(padded, f, stride, n_H, n_W), W) + np.reshape(b, (1, 1, 1, -1))
    return Z, (A_prev, W, b, hparameters)


def pool_forward(A_prev, hparameters, mode="max"):
    """(A (m, n_H, n_W, n_C), cache (A_prev, hparameters)); VALID windows."""
    f, stride = hparameters["f"], hparameters["stride"]
    _, n_H_prev, n_W_prev, _ = A_prev.shape
    n_H, n_W = (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1
    windows = _windows(np.ascontiguousarray(A_prev, dtype=np.float64), f, stride, n_H, n_W)
    A = windows.max(axis=(3, 4)) if mode == "max" else windows.mean(axis=(3, 4))
    return A, (A_prev, hparameters)


def create_mask_from_window(x):
    return x == np.max(x)


def distribute_value(dz, shape):
    n_H, n_W = shape
    return np.full((n_H, n_W), dz / (n_H * n_W), dtype=np.float64)


REFERENCES = {f.__name__: f for f in (zero_pad, conv_single_step, conv_forward, pool_forward,
                                      create_mask_from_window, distribute_value)}


class ModuleView:
    """The user's module with some names answered by crosscheck's references (a backward's forward)."""

    def __init__(self, module, overrides: dict):
        self._module, self._overrides = module, overrides

    def __getattr__(self, name):
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._module, name)


@contextmanager
def references_in(namespace, keep, references: dict | None = None):
    """The convention functions defined in ``namespace`` (a function's ``__globals__``), except
    ``keep`` (a name or a tuple of names), replaced by ``references`` (default: this module's) for
    the block; the user's own restored after it."""
    if not isinstance(namespace, dict):
        yield
        return
    references = REFERENCES if references is None else references
    kept = (keep,) if isinstance(keep, str) else tuple(keep)
    saved = {name: namespace[name] for name in references if name not in kept and callable(namespace.get(name))}
    namespace.update({name: references[name] for name in saved})
    try:
        yield
    finally:
        for name, own in saved.items():
            namespace[name] = own


def on_its_own(run, name: str, forward: str | None = None):
    """``run(module, case, options)`` of the function ``name`` with the user's other convention
    functions replaced by the references, and ``forward`` (a backward's cache) the reference's."""
    def isolated(module, case, options):
        view = ModuleView(module, {forward: REFERENCES[forward]}) if forward else module
        try:
            own = getattr(module, name)
        except Exception:   # noqa: BLE001 - the run reports a function it cannot get
            return run(view, case, options)
        with references_in(getattr(own, "__globals__", None), keep=name):
            return run(view, case, options)
    isolated.__name__ = f"{name}_on_its_own"
    return isolated


