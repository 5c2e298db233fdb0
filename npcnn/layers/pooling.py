"""Pooling layers: ``MaxPooling2D``, ``AveragePooling2D``, ``GlobalAveragePooling2D`` (NHWC inputs)."""
from __future__ import annotations

import numpy as np

from .. import padding as P
from .._typing import Shape, SpatialArg
from ..gradients import vjp
from .base import Layer, LayerPullback, _check_channels_last, _flag, _keras_padding, _pair


class _Pooling2D(Layer):
    """A window op over ``(N, H, W, C)``: output ``(N, OH, OW, C)``."""
    op = ""

    def __init__(self, pool_size: SpatialArg = (2, 2), strides: SpatialArg | None = None, padding: str = "valid",
                 data_format: str | None = None, name: str | None = None) -> None:
        super().__init__(name)
        cls = type(self).__name__
        _check_channels_last(data_format, cls)
        self.pool_size = _pair(pool_size, "pool_size", cls)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides", cls)
        self.padding = _keras_padding(padding, cls)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 4:
            raise ValueError(f"{self.name} expects 4-D NHWC inputs, got shape {input_shape}")
        hw = input_shape[1:3]
        if None not in hw:
            try:
                hw = P.window_geometry(hw, self.pool_size, self.strides, (1, 1), self.padding.upper()).out
            except ValueError as e:
                raise ValueError(f"{self.name}: input spatial size {tuple(hw)} with pool_size {self.pool_size}, "
                                 f"strides {self.strides}, padding {self.padding!r}: {e}") from None
        return (input_shape[0], *hw, input_shape[3])

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        y, pullback = vjp(self.op, x, ksize=self.pool_size, strides=self.strides, padding=self.padding.upper())
        return y, lambda dy: (pullback(dy)[0], {})

    def get_config(self) -> dict:
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding,
                **super().get_config()}


class MaxPooling2D(_Pooling2D):
    """``keras.layers.MaxPooling2D``; ties send the gradient to the first maximum (TensorFlow's rule)."""
    op = "max_pool2d"


class AveragePooling2D(_Pooling2D):
    """``keras.layers.AveragePooling2D``; 'same' divides by the number of unpadded cells."""
    op = "avg_pool2d"


class GlobalAveragePooling2D(Layer):
    """Mean over H and W: ``(N, H, W, C) -> (N, C)`` (or ``(N, 1, 1, C)`` with keepdims)."""
    def __init__(self, data_format: str | None = None, keepdims: bool = False, name: str | None = None) -> None:
        super().__init__(name)
        _check_channels_last(data_format, "GlobalAveragePooling2D")
        self.keepdims = _flag(keepdims, "keepdims", "GlobalAveragePooling2D")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 4:
            raise ValueError(f"{self.name} expects 4-D NHWC inputs, got shape {input_shape}")
        n, _, _, c = input_shape
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        y, pullback = vjp("global_avg_pool2d", x, keepdims=self.keepdims)
        return y, lambda dy: (pullback(dy)[0], {})

    def get_config(self) -> dict:
        return {"keepdims": self.keepdims, **super().get_config()}
