"""A layer class whose name says no layer op (``Softmax``, ``Output``) but whose constructor sizes a
weight matrix and a bias (``Softmax(input_len, nodes)``): a dense layer followed by the activation its
forward applies, told by its behaviour.

    told_activation(cls, layer)   ``layer`` (the class discovered as a dense layer: constructor, layout,
                                  weights) with the activation its forward applies to ``x @ W + b``:
                                  softmax, sigmoid, tanh, relu or none; None when it is none of them
                                  and its name does not say softmax

The forward runs through the layer adapter (crosscheck.check.layers.layer_impl, so the layer's own
layout: rows, columns or one example as a vector) on random inputs, weights and bias of two sizes;
its output is compared with each activation of ``x @ W + b`` over the classes of each example, by the
match rule of crosscheck.check.identify.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .identify import REGISTRY_CANDIDATES, matches
from .layer_declaration import Layer
from .layers import layer_impl
from .self_checked import constructible

#: what a dense layer's forward may apply to x @ W + b ("" none), in the order they are tried
ACTIVATIONS = ("", "softmax", "sigmoid", "tanh", "relu")
#: (in, out) sizes the forward is probed with: distinct, more than one class each
PROBE_SIZES = ((4, 3), (2, 5))


def says_softmax(cls) -> bool:
    return "softmax" in cls.__name__.lower().replace("_", "")


def needs_arguments(cls) -> bool:
    """Whether ``cls()`` cannot be built without arguments (a class built with none is examined by
    crosscheck.check.self_examine instead)."""
    return bool(constructible(cls))


def told_activation(cls, layer: Layer) -> Layer | None:
    """``layer`` with the activation (and a note where the name does not say it) its forward applies
    to ``x @ W + b``; a forward that matches none keeps softmax when the class's name says it (a bug
    in it then fails against TensorFlow), else None."""
    computed = _computed(layer)
    name = cls.__name__
    if computed is None:
        return dataclasses.replace(layer, activation="softmax") if says_softmax(cls) else None
    formula = f"{computed}(x @ W + b)" if computed else "x @ W + b"
    if says_softmax(cls) and computed == "softmax":
        note = ""
    elif says_softmax(cls):
        note = f"{name}'s name says softmax, but its forward computes {formula}: checked as that"
    else:
        note = (f"{name}'s forward computes {formula}: a dense layer{' followed by ' + computed if computed else ''} "
                "(told by its weights and its behaviour)")
    return dataclasses.replace(layer, activation=computed or None, note=note)


def _computed(layer: Layer) -> str | None:
    """The activation of ACTIVATIONS the forward applies on every probe ("" none), or None."""
    found = None
    for n_in, n_out in PROBE_SIZES:
        y, z = _probe(layer, n_in, n_out)
        if y is None:
            return None
        fits = [a for a in ACTIVATIONS if matches(y, REGISTRY_CANDIDATES[a](z) if a else z)]
        if not fits or found is not None and fits[0] != found:
            return None
        found = fits[0]
    return found


def _probe(layer: Layer, n_in: int, n_out: int) -> tuple:
    """(the forward's output as rows (N, out), x @ W + b) on random arrays, or (None, None) when the
    forward raises."""
    rng = np.random.default_rng(n_in * 10 + n_out)
    one = layer.layout == "D" or layer.supports.get("batch") in ((1,), 1, False)
    x = rng.standard_normal((1 if one else 3, n_in))
    arrays = {"x": x, "kernel": rng.standard_normal((n_in, n_out))}
    if "bias" in layer.weights:
        arrays["bias"] = rng.standard_normal(n_out)
    try:
        y = np.asarray(layer_impl(layer, "NHWC", []).dense(**{k: v.copy() for k, v in arrays.items()}),
                       dtype=np.float64)
    except Exception:   # noqa: BLE001 - the forward refused the probe: not told
        return None, None
    return y, x @ arrays["kernel"] + arrays.get("bias", 0.0)
