"""Core layers: ``Dense``, ``Flatten``, ``Dropout``."""
from __future__ import annotations

import math

import numpy as np

from .. import initializers
from .._checks import int_arg, real_arg
from .._typing import Shape
from ..gradients import vjp
from .activations import _check_activation, apply_activation
from .base import Layer, LayerPullback, _check_channels_last, _flag


class Dense(Layer):
    """``keras.layers.Dense`` on the last axis: kernel ``(in, units)``, bias ``(units,)``;
    ``(..., in) -> (..., units)``."""
    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: initializers.Identifier = "glorot_uniform",
                 bias_initializer: initializers.Identifier = "zeros", name: str | None = None) -> None:
        super().__init__(name)
        self.units = int_arg(units, "units", "Dense")
        self.activation = _check_activation(activation)
        self.use_bias = _flag(use_bias, "use_bias", "Dense")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"{self.name} (Dense) needs inputs of rank >= 2 with a known last axis, "
                             f"got shape {input_shape}")
        return (*input_shape[:-1], self.units)

    def build_weights(self, input_shape: Shape, rng: np.random.Generator) -> None:
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, rng)

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        arrays = (x, self.params["kernel"]) + ((self.params["bias"],) if self.use_bias else ())
        z, dense_pullback = vjp("dense", *arrays)
        y, act_pullback = apply_activation(self.activation, z)

        def pullback(dy):
            grads = dense_pullback(act_pullback(dy)[0])
            return grads[0], dict(zip(("kernel", "bias"), grads[1:]))
        return y, pullback

    def get_config(self) -> dict:
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer), **super().get_config()}


class Flatten(Layer):
    """``(N, H, W, C) -> (N, H * W * C)`` in row-major NHWC order, as ``keras.layers.Flatten``."""
    def __init__(self, data_format: str | None = None, name: str | None = None) -> None:
        super().__init__(name)
        _check_channels_last(data_format, "Flatten")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else int(np.prod(rest, dtype=np.int64)))

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        y, pullback = vjp("flatten", x)
        return y, lambda dy: (pullback(dy)[0], {})


class Dropout(Layer):
    """Inverted dropout in training (kept values scaled by ``1 / (1 - rate)``), identity otherwise;
    the output has the input's shape.

    Each training call draws a fresh mask seed from the layer's generator (seeded by ``seed``).
    """
    def __init__(self, rate: float, seed: int | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.rate = real_arg(rate, "rate", "Dropout", 0.0, 1.0, high_open=True)
        self.seed = None if seed is None else int_arg(seed, "seed", "Dropout", minimum=0, maximum=math.inf)
        self._rng = np.random.default_rng(seed)

    def build_weights(self, input_shape: Shape, rng: np.random.Generator) -> None:
        if self.seed is None:
            self._rng = np.random.default_rng(rng.integers(2**63))

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        if not training or self.rate == 0.0:
            return x, lambda dy: (dy, {})
        y, pullback = vjp("dropout", x, rate=self.rate, seed=int(self._rng.integers(2**63)))
        return y, lambda dy: (pullback(dy)[0], {})

    def get_config(self) -> dict:
        return {"rate": self.rate, "seed": self.seed, **super().get_config()}
