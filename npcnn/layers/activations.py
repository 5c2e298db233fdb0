"""Keras activation names (``Dense(..., activation="relu")``) and the ``Activation`` / ``ReLU`` layers."""
from __future__ import annotations

import numpy as np

from .._checks import real_arg, shown
from .._typing import Pullback
from ..gradients import vjp
from .base import Layer, LayerPullback

# Keras activation name -> (npcnn op, keyword arguments).
ACTIVATIONS = {
    "relu": ("relu", {}),
    "leaky_relu": ("leaky_relu", {"alpha": 0.2}),
    "elu": ("elu", {}),
    "sigmoid": ("sigmoid", {}),
    "softplus": ("softplus", {}),
    "tanh": ("tanh", {}),
    "softmax": ("softmax", {"axis": -1}),
    "log_softmax": ("log_softmax", {"axis": -1}),
}


def _check_activation(activation: str | None) -> str | None:
    if activation is None or activation == "linear":
        return None
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {shown(activation)}; known: linear, {', '.join(sorted(ACTIVATIONS))}")
    return activation


def _identity_pullback(dy: np.ndarray) -> tuple[np.ndarray]:
    return (dy,)


def apply_activation(activation: str | None, x: np.ndarray) -> tuple[np.ndarray, Pullback]:
    """``(activation(x), pullback)`` for a Keras activation name (None or "linear": identity)."""
    if activation is None:
        return x, _identity_pullback
    op, kwargs = ACTIVATIONS[activation]
    return vjp(op, x, **kwargs)


class Activation(Layer):
    """``keras.layers.Activation(name)`` for relu, leaky_relu, elu, sigmoid, tanh, softmax, linear."""
    def __init__(self, activation: str | None, name: str | None = None) -> None:
        super().__init__(name)
        self.activation = _check_activation(activation)

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        y, pullback = apply_activation(self.activation, x)
        return y, lambda dy: (pullback(dy)[0], {})

    def get_config(self) -> dict:
        return {"activation": self.activation or "linear", **super().get_config()}


class ReLU(Layer):
    """``keras.layers.ReLU``: ``max(x, 0)``, or ``negative_slope * x`` below zero (no max_value/threshold)."""
    def __init__(self, negative_slope: float = 0.0, name: str | None = None) -> None:
        super().__init__(name)
        self.negative_slope = real_arg(negative_slope, "negative_slope", "ReLU", low=0.0)

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        if self.negative_slope == 0.0:
            y, pullback = vjp("relu", x)
        else:
            y, pullback = vjp("leaky_relu", x, alpha=self.negative_slope)
        return y, lambda dy: (pullback(dy)[0], {})

    def get_config(self) -> dict:
        return {"negative_slope": self.negative_slope, **super().get_config()}
