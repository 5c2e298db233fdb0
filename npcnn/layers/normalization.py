"""Normalization layers: ``BatchNormalization``, ``GroupNormalization``, ``LayerNormalization``.

Each normalizes over the channels on one ``axis`` (the last by default) and returns the input's shape.
"""
from __future__ import annotations

import numpy as np

from .. import initializers
from .._checks import int_arg, is_int, real_arg, shown
from .._typing import Pullback, Shape
from ..functional import moments
from ..gradients import vjp
from .base import Layer, LayerPullback, _flag


class _Normalization(Layer):
    """gamma/beta handling shared by the normalization layers (``scale``/``center`` as Keras)."""
    def __init__(self, axis: int, epsilon: float, center: bool, scale: bool,
                 beta_initializer: initializers.Identifier, gamma_initializer: initializers.Identifier,
                 name: str | None) -> None:
        super().__init__(name)
        cls = type(self).__name__
        if not is_int(axis):
            raise ValueError(f"{cls}: npcnn supports one int axis, got axis={shown(axis)}")
        self.axis, self.epsilon = int(axis), real_arg(epsilon, "epsilon", cls, low=0.0)
        self.center, self.scale = _flag(center, "center", cls), _flag(scale, "scale", cls)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def _channels(self, input_shape: Shape) -> int:
        try:
            c = input_shape[self.axis]
        except IndexError:
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for input shape {input_shape}") from None
        if c is None:
            raise ValueError(f"{self.name}: axis {self.axis} of the input must be known, got {input_shape}")
        return c

    def _norm_axis(self) -> int:
        return self.axis % len(self.input_shape)

    def build_weights(self, input_shape: Shape, rng: np.random.Generator) -> None:
        c = self._channels(input_shape)
        if self.scale:
            self.add_weight("gamma", (c,), self.gamma_initializer, rng)
        if self.center:
            self.add_weight("beta", (c,), self.beta_initializer, rng)

    def _gamma_beta(self) -> tuple[np.ndarray, np.ndarray]:
        c = self._channels(self.input_shape)
        gamma = self.params["gamma"] if self.scale else np.ones(c, self.dtype)
        beta = self.params["beta"] if self.center else np.zeros(c, self.dtype)
        return gamma, beta

    def _named(self, pullback: Pullback) -> LayerPullback:
        def named(dy):
            dx, dgamma, dbeta = pullback(dy)
            return dx, {"gamma": dgamma, "beta": dbeta}
        return named

    def _norm_config(self) -> dict:
        return {"axis": self.axis, "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer), **super().get_config()}


class BatchNormalization(_Normalization):
    """``keras.layers.BatchNormalization``.

    Training: normalizes with the batch mean and *biased* variance over every axis but ``axis`` and
    updates ``moving = moving * momentum + batch_stat * (1 - momentum)`` (the biased variance, as
    Keras 3). Inference: uses ``moving_mean`` / ``moving_variance``. Those two are not trainable.
    Every weight has shape ``(C,)``, ``C`` the size of ``axis``.
    """
    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: initializers.Identifier = "zeros",
                 gamma_initializer: initializers.Identifier = "ones",
                 moving_mean_initializer: initializers.Identifier = "zeros",
                 moving_variance_initializer: initializers.Identifier = "ones", name: str | None = None) -> None:
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, name)
        self.momentum = real_arg(momentum, "momentum", "BatchNormalization", 0.0, 1.0)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build_weights(self, input_shape: Shape, rng: np.random.Generator) -> None:
        super().build_weights(input_shape, rng)
        c = self._channels(input_shape)
        self.add_weight("moving_mean", (c,), self.moving_mean_initializer, rng, trainable=False)
        self.add_weight("moving_variance", (c,), self.moving_variance_initializer, rng, trainable=False)

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        gamma, beta = self._gamma_beta()
        axis = self._norm_axis()
        y, pullback = vjp("batch_normalization", x, gamma, beta, moving_mean=self.params["moving_mean"],
                          moving_variance=self.params["moving_variance"], training=training,
                          epsilon=self.epsilon, axis=axis)
        if training:
            mean, variance = moments(x, tuple(a for a in range(x.ndim) if a != axis))
            m = self.momentum
            self.params["moving_mean"][...] = self.params["moving_mean"] * m + mean * (1.0 - m)
            self.params["moving_variance"][...] = self.params["moving_variance"] * m + variance * (1.0 - m)
        return y, self._named(pullback)

    def get_config(self) -> dict:
        return {"momentum": self.momentum,
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                **self._norm_config()}


class GroupNormalization(_Normalization):
    """``keras.layers.GroupNormalization``: channels split into ``groups``, each normalized per example;
    gamma and beta ``(C,)``."""
    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: initializers.Identifier = "zeros",
                 gamma_initializer: initializers.Identifier = "ones", name: str | None = None) -> None:
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, name)
        self.groups = int_arg(groups, "groups", "GroupNormalization")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        c = self._channels(input_shape)
        if self.groups < 1 or c % self.groups:
            raise ValueError(f"{self.name}: channels ({c}, input shape {input_shape}) must be divisible by "
                             f"groups ({self.groups})")
        return tuple(input_shape)

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        gamma, beta = self._gamma_beta()
        y, pullback = vjp("group_normalization", x, gamma, beta, groups=self.groups, epsilon=self.epsilon,
                          axis=self.axis)
        return y, self._named(pullback)

    def get_config(self) -> dict:
        return {"groups": self.groups, **self._norm_config()}


class LayerNormalization(_Normalization):
    """``keras.layers.LayerNormalization`` over one axis (the last by default), per example; gamma and
    beta ``(C,)``."""
    def __init__(self, axis: int = -1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 beta_initializer: initializers.Identifier = "zeros",
                 gamma_initializer: initializers.Identifier = "ones", name: str | None = None) -> None:
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, name)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._channels(input_shape)
        return tuple(input_shape)

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        gamma, beta = self._gamma_beta()
        y, pullback = vjp("layer_normalization", x, gamma, beta, axis=self.axis, epsilon=self.epsilon)
        return y, self._named(pullback)

    def get_config(self) -> dict:
        return self._norm_config()
