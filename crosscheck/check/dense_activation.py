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


def told_activation(cls, layer: Layer) -> Layer | str | None:
    """``layer`` with the activation (and a note where the name does not say it) its forward applies
    to ``x @ W + b``; a forward that matches none keeps softmax when the class's name says it (a bug
    in it then fails against TensorFlow), else None. A string: why it cannot be compared (its
    backward takes the gradient of ``x @ W + b``, the activation left to the loss)."""
    computed = _computed(layer)
    name = cls.__name__
    if computed is None:
        return dataclasses.replace(layer, activation="softmax") if says_softmax(cls) else None
    formula = f"{computed}(x @ W + b)" if computed else "x @ W + b"
    if computed and _backward_skips_activation(layer):
        return (f"{name}: its forward computes {formula}, but its backward takes the gradient of x @ W + b (the "
                f"{computed} left to the loss, as when it is folded into a cross-entropy): neither dense nor dense + "
                f"{computed} is its reference, so crosscheck cannot compare it (not a claim that it is wrong); check "
                f"its backward with crosscheck.check_op('dense', ...), or move the {computed} into a class of its own")
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


def _backward_skips_activation(layer: Layer) -> bool:
    """Whether the backward's input gradient (or, a first layer, its kernel gradient) is that of
    ``x @ W + b`` alone: ``dy @ W.T`` (``x.T @ dy``), as if ``dy`` were the gradient before the activation."""
    rng = np.random.default_rng(11)
    n_in, n_out = PROBE_SIZES[0]
    x, kernel = _rows(layer, rng, n_in), rng.standard_normal((n_in, n_out))
    arrays = [x, kernel] + ([rng.standard_normal(n_out)] if "bias" in layer.weights else [])
    dy = rng.standard_normal((x.shape[0], n_out))
    try:
        _, pullback = layer_impl(layer, "NHWC", []).vjp("dense", *[a.copy() for a in arrays])
        grads = pullback(dy.copy())
    except Exception:   # noqa: BLE001 - the run reports what the backward raises
        return False
    for got, dense_only in zip(grads[:2], (dy @ kernel.T, x.T @ dy)):
        if got is not None:
            return matches(np.asarray(got, dtype=np.float64), dense_only)
    return False


def _rows(layer: Layer, rng, n_in: int) -> np.ndarray:
    """A random input as rows (N, n_in): one row for a layer on one example or a column vector."""
    one = layer.layout == "D" or layer.supports.get("batch") in ((1,), 1, False)
    return rng.standard_normal((1 if one else 3, n_in))


def _probe(layer: Layer, n_in: int, n_out: int) -> tuple:
    """(the forward's output as rows (N, out), x @ W + b) on random arrays, or (None, None) when the
    forward raises."""
    rng = np.random.default_rng(n_in * 10 + n_out)
    x = _rows(layer, rng, n_in)
    arrays = {"x": x, "kernel": rng.standard_normal((n_in, n_out))}
    if "bias" in layer.weights:
        arrays["bias"] = rng.standard_normal(n_out)
    try:
        y = np.asarray(layer_impl(layer, "NHWC", []).dense(**{k: v.copy() for k, v in arrays.items()}),
                       dtype=np.float64)
    except Exception:   # noqa: BLE001 - the forward refused the probe: not told
        return None, None
    return y, x @ arrays["kernel"] + arrays.get("bias", 0.0)
