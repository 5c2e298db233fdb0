"""Reaching into a user's layer object: attributes by path (``W``, ``params.W``, ``grads["W"]``) and
arrays converted between the case's layout and the layer's (NCHW / NHWC data, filters as
``(F, C, kh, kw)``, HWIO, ``(F, kh, kw, C)`` or ``(F, kh, kw)``)."""
from __future__ import annotations

import inspect
import re

import numpy as np

GRAD_PREFIXES = ("d", "d_", "grad_", "grad", "g")
DICTS = ("params", "parameters", "param")
GRAD_DICTS = ("grads", "gradients", "grad", "dparams")
#: attributes where a forward that returns None leaves its output ("Neural Networks from Scratch": self.output)
OUTPUT_ATTRIBUTES = ("output", "outputs", "out")
#: a forward's training-mode flag ("Neural Networks from Scratch": ``forward(self, inputs, training)``)
TRAINING_NAMES = ("training", "train", "is_training", "train_mode")


def _parts(path: str) -> list:
    return [p for p in re.split(r"[.\[\]'\"]+", path) if p]


def get_path(obj, path: str):
    for part in _parts(path):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def set_path(obj, path: str, value) -> None:
    *head, last = _parts(path)
    for part in head:
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    if isinstance(obj, dict):
        obj[last] = value
    else:
        setattr(obj, last, value)


def find_path(obj, names, dicts=DICTS) -> str | None:
    """The first attribute (or dict entry) holding an array among ``names``."""
    for name in names:
        if isinstance(getattr(obj, name, None), np.ndarray):
            return name
    for d in dicts:
        table = getattr(obj, d, None)
        if isinstance(table, dict):
            for name in names:
                if isinstance(table.get(name), np.ndarray) or name in table:
                    return f"{d}.{name}"
    return None


def forward_output(obj, returned):
    """What a forward gave: its return value, or, when it returned None, a copy of the output it left on
    the layer (``self.output``, ``self.out``); None when it left none."""
    if returned is not None:
        return returned
    for name in OUTPUT_ATTRIBUTES:
        value = getattr(obj, name, None)
        if isinstance(value, np.ndarray):
            return np.array(value, copy=True)
    return None


def training_flags(forward) -> dict:
    """``{name: True}`` for a training flag the forward requires (``forward(inputs, training)``)."""
    try:
        params = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: True for p in params if p.name.lower() in TRAINING_NAMES and p.default is p.empty}


def returning_output(obj, forward):
    """``forward`` (a bound method of ``obj``) returning its output even where it stores it instead,
    called in training mode where it requires a training flag."""
    flags = training_flags(forward)

    def call(*args, **kwargs):
        return forward_output(obj, forward(*args, **flags, **kwargs))
    return call


def _grad_names(weight_name: str) -> list[str]:
    """Names the gradient of the weights called ``weight_name`` goes by: ``dW``, ``dw``, ``d_W``,
    ``grad_W``, ``gW``, ``dweights``, ... (for a bias ``db``, ``dbias``, ...)."""
    bias = weight_name.lower() in ("b", "bias", "biases")
    stems = dict.fromkeys([weight_name, weight_name.lower(), weight_name.upper(),
                           *(("b", "bias", "biases") if bias else ("W", "w", "weights", "weight", "filters",
                                                                    "kernel"))])
    return [prefix + stem for prefix in GRAD_PREFIXES for stem in stems]


def grad_path(obj, weight_path: str) -> str | None:
    """Where the gradient of the weights at ``weight_path`` is, after a backward pass: an attribute
    (``dW``, ``dw``, ``grad_W``, ``dweights`` ...) or an entry of a ``grads``-like dict (keyed like
    the weights, or ``dW`` ...)."""
    name = _parts(weight_path)[-1]
    for d in GRAD_DICTS:
        table = getattr(obj, d, None)
        if isinstance(table, dict):
            for key in (name, *_grad_names(name)):
                if isinstance(table.get(key), np.ndarray):
                    return f"{d}.{key}"
    for candidate in _grad_names(name):
        if isinstance(getattr(obj, candidate, None), np.ndarray):
            return candidate
    return None


def to_layer(a: np.ndarray, case_layout: str, layout: str) -> np.ndarray:
    """An activation from the case's NCHW / NHWC to the layer's layout."""
    nhwc = a if case_layout == "NHWC" else a.transpose(0, 2, 3, 1)
    if layout == "NHWC":
        return np.ascontiguousarray(nhwc)
    if layout == "NCHW":
        return np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))
    one = nhwc[0]                                   # (H, W, C): one example
    if layout == "HWC":
        return np.ascontiguousarray(one)
    if layout == "CHW":
        return np.ascontiguousarray(one.transpose(2, 0, 1))
    return np.ascontiguousarray(one[..., 0])         # "HW": one channel


def from_layer(a, case_layout: str, layout: str, channels_out: bool = False):
    """Back from the layer's layout (``channels_out``: an "HW" input whose output has channels, as a
    one-channel convolution's (H, W, F))."""
    if a is None:
        return None
    a = np.asarray(a)
    if layout == "NHWC":
        nhwc = a
    elif layout == "NCHW":
        nhwc = a.transpose(0, 2, 3, 1) if a.ndim == 4 else a
    elif layout == "HWC" or (layout == "HW" and channels_out):
        nhwc = a[None]
    elif layout == "CHW":
        nhwc = a.transpose(1, 2, 0)[None]
    else:
        nhwc = a[None, ..., None]
    if nhwc.ndim != 4:
        return a
    return nhwc if case_layout == "NHWC" else nhwc.transpose(0, 3, 1, 2)


def weights_to_layer(array: np.ndarray, name: str, layout: str, like) -> np.ndarray:
    """The case's weights in the layer's layout: always a new array (layers update theirs in place)."""
    if name == "bias":
        return np.array(array.reshape(np.shape(like)) if like is not None and np.size(like) == array.size else array,
                        copy=True)
    if layout == "FCHW":
        return np.ascontiguousarray(array.transpose(3, 2, 0, 1))
    if layout == "FHW":
        return np.ascontiguousarray(array[:, :, 0, :].transpose(2, 0, 1))
    if layout == "FHWC":
        return np.ascontiguousarray(array.transpose(3, 0, 1, 2))
    if layout == "OI":
        return np.ascontiguousarray(array.T)
    return np.array(array, copy=True)


def weights_from_layer(array, name: str, layout: str, case_shape) -> np.ndarray | None:
    if array is None:
        return None
    a = np.asarray(array, dtype=np.float64)
    if name == "bias":
        return a.reshape(case_shape) if a.size == int(np.prod(case_shape)) else a
    if layout == "FCHW" and a.ndim == 4:
        return a.transpose(2, 3, 1, 0)
    if layout == "FHWC" and a.ndim == 4:
        return a.transpose(1, 2, 3, 0)
    if layout == "FHW" and a.ndim == 3:
        return a.transpose(1, 2, 0)[:, :, None, :]
    if layout == "OI" and a.ndim == 2:
        return a.T
    return a
