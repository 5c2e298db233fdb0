"""Reference forwards of the CS231n functions whose cache the assignment's template fixes (NumPy,
float64), so that each of the user's functions is checked on its own.

The template fixes four caches: ``conv_forward_naive`` -> ``(x, w, b, conv_param)``,
``affine_forward`` -> ``(x, w, b)``, ``relu_forward`` -> ``x``, ``max_pool_forward_naive`` ->
``(x, pool_param)``. The matching backward gets its cache from the reference forward here, so a bug
in the user's forward never shows in the backward's row. A user's forward that keeps another cache
(a dict, an extra ``x_pad``: the backward is written for it) is detected by the structure of what it
returns, and its own cache is used then, with a note on the row (:data:`DEPENDS`).

While a function is checked, the user's template forwards it calls are these references (restored
afterwards); other convention functions it calls are named in an outcome note, and the row says so
when their own row fails. Shapes: NCHW activations, conv weights ``(F, C, HH, WW)``.
"""
from __future__ import annotations

import copy

import numpy as np

from .deeplearning_ai_reference import ModuleView, references_in
from .dependencies import CALLS, DEPENDS, OWN_CACHE


def conv_forward_naive(x, w, b, conv_param):
    """(out (N, F, H', W'), cache (x, w, b, conv_param)); symmetric zero padding ``pad``."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    F, _, HH, WW = w.shape
    padded = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    N, C, H, W = padded.shape
    H_out, W_out = (H - HH) // stride + 1, (W - WW) // stride + 1
    s = padded.strides
    windows = np.lib.stride_tricks.as_strided(padded, (N, C, H_out, W_out, HH, WW),
                                              (s[0], s[1], s[2] * stride, s[3] * stride, s[2], s[3]), writeable=False)
    out = np.einsum("nchwij,fcij->nfhw", windows, w) + np.reshape(b, (1, F, 1, 1))
    return out, (x, w, b, conv_param)


def affine_forward(x, w, b):
    """(out (N, M), cache (x, w, b)); x of any shape (N, d_1, ..., d_k) is flattened to (N, D)."""
    return np.reshape(x, (x.shape[0], -1)) @ w + b, (x, w, b)


def relu_forward(x):
    """(max(x, 0), cache x)."""
    return np.maximum(x, 0), x


def max_pool_forward_naive(x, pool_param):
    """(out (N, C, H', W'), cache (x, pool_param)); VALID windows."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    x64 = np.ascontiguousarray(x, dtype=np.float64)
    N, C, H, W = x64.shape
    H_out, W_out = (H - ph) // stride + 1, (W - pw) // stride + 1
    s = x64.strides
    windows = np.lib.stride_tricks.as_strided(x64, (N, C, H_out, W_out, ph, pw),
                                              (s[0], s[1], s[2] * stride, s[3] * stride, s[2], s[3]), writeable=False)
    return windows.max(axis=(4, 5)), (x, pool_param)


REFERENCES = {f.__name__: f for f in (conv_forward_naive, affine_forward, relu_forward, max_pool_forward_naive)}
TEMPLATE_CACHE = {"conv_forward_naive": "(x, w, b, conv_param)", "affine_forward": "(x, w, b)",
                  "relu_forward": "x", "max_pool_forward_naive": "(x, pool_param)"}


def same_structure(a, b) -> bool:
    """Whether two caches have one structure: arrays of the same shape, tuples/lists of the same length,
    dicts with the same keys, elementwise; any other two values of the same kind."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(same_structure(x, y) for x, y in zip(a, b)))
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(
            same_structure(a[k], b[k]) for k in a)
    return isinstance(a, (int, float, np.number)) == isinstance(b, (int, float, np.number))


def template_forward(name: str, own, notes: list):
    """The forward a backward's case runs: the reference (its cache the template's), unless the user's
    ``own`` forward keeps a cache of another structure: then what ``own`` returned (called on copies
    of the arguments), and a :data:`DEPENDS` note appended to ``notes``. ``own`` raising or returning no
    ``(out, cache)`` pair: the reference (the forward's row reports that)."""
    reference = REFERENCES[name]

    def forward(*args):
        expected = reference(*args)
        if own is None:
            return expected
        probe_args = copy.deepcopy(args)
        try:
            with np.errstate(all="ignore"):
                mine = own(*probe_args)
        except Exception:   # noqa: BLE001 - the forward's own row reports what it raises
            return expected
        if not isinstance(mine, tuple) or len(mine) != 2 or same_structure(mine[1], expected[1]):
            return expected
        note = f"{DEPENDS}{name}: {OWN_CACHE}{TEMPLATE_CACHE[name]}"
        if note not in notes:
            notes.append(note)
        return mine
    return forward


def on_its_own(run, name: str, runs: tuple, convention_names):
    """``run(module, case, options)`` of the function ``name`` with the user's template forwards it
    calls replaced by the references (restored afterwards); the run itself still gets the user's
    own functions ``runs`` (a backward's forward, whose cache it may need); the other convention
    functions (``convention_names``) it calls are named in the outcome's notes."""
    def isolated(module, case, options):
        own = getattr(module, name, None)
        namespace = getattr(own, "__globals__", None)
        called = set(getattr(getattr(own, "__code__", None), "co_names", ()))
        view = ModuleView(module, {n: getattr(module, n) for n in runs if hasattr(module, n)})
        with references_in(namespace, keep=name, references=REFERENCES):
            outcome = run(view, case, options)
        for other in sorted(called & set(convention_names) - set(REFERENCES) - {name, *runs}):
            note = f"{DEPENDS}{other}: {CALLS}"
            if callable(getattr(module, other, None)) and note not in outcome.notes:
                outcome.notes.append(note)
        return outcome
    isolated.__name__ = f"{name}_on_its_own"
    return isolated
