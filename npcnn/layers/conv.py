"""Convolution layers: ``Conv2D``, ``Conv2DTranspose``, ``DepthwiseConv2D`` (NHWC inputs)."""
from __future__ import annotations

import numpy as np

from .. import initializers
from .. import padding as P
from .._checks import int_arg
from .._typing import Pullback, Shape, SpatialArg
from ..gradients import vjp
from .activations import _check_activation, apply_activation
from .base import Layer, LayerPullback, _check_channels_last, _flag, _keras_padding, _pair


class _Conv(Layer):
    """Shared by Conv2D / Conv2DTranspose / DepthwiseConv2D: kernel, bias, activation."""
    def __init__(self, kernel_size: SpatialArg, strides: SpatialArg, padding: str, dilation_rate: SpatialArg,
                 use_bias: bool, kernel_initializer: initializers.Identifier,
                 bias_initializer: initializers.Identifier, activation: str | None, data_format: str | None,
                 name: str | None) -> None:
        super().__init__(name)
        cls = type(self).__name__
        _check_channels_last(data_format, cls)
        self.kernel_size = _pair(kernel_size, "kernel_size", cls)
        self.strides = _pair(strides, "strides", cls)
        self.padding = _keras_padding(padding, cls)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", cls)
        self.use_bias = _flag(use_bias, "use_bias", cls)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.activation = _check_activation(activation)

    def _check_input(self, input_shape: Shape) -> None:
        if len(input_shape) != 4:
            raise ValueError(f"{self.name} ({type(self).__name__}) expects 4-D NHWC inputs, got shape {input_shape}")
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the channel axis of the input must be known, got {input_shape}")

    def _spatial_out(self, hw: Shape) -> Shape:
        if None in hw:
            return (None, None)
        try:
            return P.window_geometry(hw, self.kernel_size, self.strides, self.dilation_rate,
                                     self.padding.upper()).out
        except ValueError as e:
            raise ValueError(f"{self.name}: input spatial size {tuple(hw)} with kernel_size {self.kernel_size}, "
                             f"strides {self.strides}, dilation_rate {self.dilation_rate}, padding "
                             f"{self.padding!r}: {e}") from None

    def _finish(self, z: np.ndarray, conv_pullback: Pullback, n_arrays: int) -> tuple[np.ndarray, LayerPullback]:
        """Add the activation on top of a conv output ``z``; the pullback maps names to grads."""
        y, act_pullback = apply_activation(self.activation, z)

        def pullback(dy):
            (dz,) = act_pullback(dy)
            grads = conv_pullback(dz)
            return grads[0], dict(zip(("kernel", "bias")[:n_arrays - 1], grads[1:]))
        return y, pullback

    def _finish_with_bias(self, z: np.ndarray, conv_pullback: Pullback) -> tuple[np.ndarray, LayerPullback]:
        """:meth:`_finish` for an op without a bias argument: the bias (if any) is added here, and its
        gradient is the upstream gradient summed over batch, height and width."""
        if not self.use_bias:
            return self._finish(z, conv_pullback, 2)

        def pullback(dz):
            return (*conv_pullback(dz), dz.sum(axis=(0, 1, 2)))
        return self._finish(z + self.params["bias"], pullback, 3)

    def _conv_config(self) -> dict:
        return {"kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                "dilation_rate": self.dilation_rate, "use_bias": self.use_bias,
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "activation": self.activation, **super().get_config()}


class Conv2D(_Conv):
    """2-D convolution, ``keras.layers.Conv2D``: kernel ``(kh, kw, in / groups, filters)``, bias ``(filters,)``.

    Input ``(N, H, W, C)``, output ``(N, OH, OW, filters)``.
    """
    def __init__(self, filters: int, kernel_size: SpatialArg, strides: SpatialArg = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: SpatialArg = 1, groups: int = 1,
                 activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: initializers.Identifier = "glorot_uniform",
                 bias_initializer: initializers.Identifier = "zeros", name: str | None = None) -> None:
        super().__init__(kernel_size, strides, padding, dilation_rate, use_bias, kernel_initializer,
                         bias_initializer, activation, data_format, name)
        self.filters, self.groups = int_arg(filters, "filters", "Conv2D"), int_arg(groups, "groups", "Conv2D")
        if self.filters % self.groups:
            raise ValueError(f"Conv2D: filters ({filters}) must be a positive multiple of groups ({groups})")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._check_input(input_shape)
        if input_shape[-1] % self.groups:
            raise ValueError(f"{self.name}: input channels ({input_shape[-1]}) must be divisible by "
                             f"groups ({self.groups}); input shape {input_shape}")
        return (input_shape[0], *self._spatial_out(input_shape[1:3]), self.filters)

    def build_weights(self, input_shape: Shape, rng: np.random.Generator) -> None:
        kh, kw = self.kernel_size
        self.add_weight("kernel", (kh, kw, input_shape[-1] // self.groups, self.filters),
                        self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng)

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        arrays = (x, self.params["kernel"]) + ((self.params["bias"],) if self.use_bias else ())
        z, pullback = vjp("conv2d", *arrays, strides=self.strides, padding=self.padding.upper(),
                          dilations=self.dilation_rate)
        return self._finish(z, pullback, len(arrays))

    def get_config(self) -> dict:
        return {"filters": self.filters, "groups": self.groups,
                "kernel_initializer": initializers.serialize(self.kernel_initializer), **self._conv_config()}


def transpose_output_size(size: int | None, kernel: int, stride: int, dilation: int, padding: str,
                          output_padding: int | None = None) -> int | None:
    """Output size of a Keras Conv2DTranspose axis (``keras`` ``_get_output_shape_given_tf_padding``);
    ``padding`` is "valid" or "same"; an unknown ``size`` (None) gives None."""
    if size is None:
        return None
    k_eff = P.effective_kernel(kernel, dilation)
    if padding == "valid":
        extra = max(k_eff, stride) - k_eff if output_padding is None else output_padding
        return (size - 1) * stride + k_eff + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + kernel % 2 + output_padding


class Conv2DTranspose(_Conv):
    """Transposed convolution, ``keras.layers.Conv2DTranspose``: kernel ``(kh, kw, filters, in)``.

    Input ``(N, H, W, in)``, output ``(N, OH, OW, filters)`` (sizes by :func:`transpose_output_size`).
    """
    def __init__(self, filters: int, kernel_size: SpatialArg, strides: SpatialArg = 1, padding: str = "valid",
                 output_padding: SpatialArg | None = None, data_format: str | None = None,
                 dilation_rate: SpatialArg = 1, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: initializers.Identifier = "glorot_uniform",
                 bias_initializer: initializers.Identifier = "zeros", name: str | None = None) -> None:
        super().__init__(kernel_size, strides, padding, dilation_rate, use_bias, kernel_initializer,
                         bias_initializer, activation, data_format, name)
        self.filters = int_arg(filters, "filters", "Conv2DTranspose")
        self.output_padding = None if output_padding is None else _pair(output_padding, "output_padding",
                                                                          "Conv2DTranspose", minimum=0)
        if self.output_padding is not None and any(o >= s for o, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"Conv2DTranspose: output_padding {self.output_padding} must be smaller than the "
                             f"strides {self.strides} (as in Keras)")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._check_input(input_shape)
        op = self.output_padding or (None, None)
        hw = [transpose_output_size(n, k, s, d, self.padding, o) for n, k, s, d, o in
              zip(input_shape[1:3], self.kernel_size, self.strides, self.dilation_rate, op)]
        return (input_shape[0], *hw, self.filters)

    def build_weights(self, input_shape: Shape, rng: np.random.Generator) -> None:
        kh, kw = self.kernel_size
        self.add_weight("kernel", (kh, kw, self.filters, input_shape[-1]), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng)

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        out_shape = (x.shape[0], *self.compute_output_shape(x.shape)[1:])
        z, conv_pullback = vjp("conv2d_transpose", x, self.params["kernel"], output_shape=out_shape,
                               strides=self.strides, padding=self.padding.upper(), dilations=self.dilation_rate)
        return self._finish_with_bias(z, conv_pullback)

    def get_config(self) -> dict:
        return {"filters": self.filters, "output_padding": self.output_padding,
                "kernel_initializer": initializers.serialize(self.kernel_initializer), **self._conv_config()}


class DepthwiseConv2D(_Conv):
    """Depthwise convolution, ``keras.layers.DepthwiseConv2D``: kernel ``(kh, kw, in, depth_multiplier)``.

    Input ``(N, H, W, C)``, output ``(N, OH, OW, C * depth_multiplier)``.
    """
    def __init__(self, kernel_size: SpatialArg, strides: SpatialArg = 1, padding: str = "valid",
                 depth_multiplier: int = 1, data_format: str | None = None, dilation_rate: SpatialArg = 1,
                 activation: str | None = None, use_bias: bool = True,
                 depthwise_initializer: initializers.Identifier = "glorot_uniform",
                 bias_initializer: initializers.Identifier = "zeros", name: str | None = None) -> None:
        super().__init__(kernel_size, strides, padding, dilation_rate, use_bias, depthwise_initializer,
                         bias_initializer, activation, data_format, name)
        self.depth_multiplier = int_arg(depth_multiplier, "depth_multiplier", "DepthwiseConv2D")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._check_input(input_shape)
        return (input_shape[0], *self._spatial_out(input_shape[1:3]), input_shape[-1] * self.depth_multiplier)

    def build_weights(self, input_shape: Shape, rng: np.random.Generator) -> None:
        kh, kw = self.kernel_size
        c = input_shape[-1]
        self.add_weight("kernel", (kh, kw, c, self.depth_multiplier), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (c * self.depth_multiplier,), self.bias_initializer, rng)

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        z, conv_pullback = vjp("depthwise_conv2d", x, self.params["kernel"], strides=self.strides,
                               padding=self.padding.upper(), dilations=self.dilation_rate)
        return self._finish_with_bias(z, conv_pullback)

    def get_config(self) -> dict:
        return {"depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.kernel_initializer), **self._conv_config()}
