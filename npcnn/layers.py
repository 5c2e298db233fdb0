"""Keras-like layers built only from :func:`npcnn.vjp` (channels-last, NHWC activations).

Each layer has Keras's class name, arguments and weight names. The life cycle:

* ``build(input_shape, dtype="float32", seed=None)`` creates ``params`` (``input_shape`` includes the
  batch axis, which may be None); weights are drawn from ``numpy.random.default_rng(seed)``.
* ``forward(x, training=False)`` returns the output and keeps the pullback of this call.
* ``backward(dy)`` returns ``dx`` and fills ``grads`` (one entry per *trainable* weight).

``params`` holds every weight in Keras's order (``kernel``, ``bias``; ``gamma``, ``beta``,
``moving_mean``, ``moving_variance``); ``trainable`` names those the optimizer updates. A layer's
input must already have the layer's dtype: nothing is cast silently.
"""
from __future__ import annotations

import itertools
import re
from collections import defaultdict

import numpy as np

from . import initializers
from . import padding as P
from ._checks import FLOAT_DTYPES, int_arg, real_arg
from .functional import moments
from .gradients import vjp

_NAME_COUNTERS: dict[str, itertools.count] = defaultdict(itertools.count)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _unique_name(cls_name: str) -> str:
    base = _snake(cls_name).replace("2_d", "2d")
    i = next(_NAME_COUNTERS[base])
    return base if i == 0 else f"{base}_{i}"


def _check_channels_last(data_format, layer: str) -> None:
    if data_format not in (None, "channels_last", "NHWC"):
        raise ValueError(
            f"{layer}: npcnn layers are channels-last only (NHWC); got data_format={data_format!r}. "
            f"Transpose NCHW inputs with x.transpose(0, 2, 3, 1).")


def _keras_padding(padding, layer: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same' (as in Keras), got {padding!r}")
    return padding.lower()


def _pair(value, name: str, layer: str) -> tuple[int, int]:
    try:
        return P.spatial_pair(value, name)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{layer}: {e}") from None


# --- activations ------------------------------------------------------------------------------------

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


def _check_activation(activation):
    if activation in (None, "linear"):
        return None
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; known: linear, {', '.join(sorted(ACTIVATIONS))}")
    return activation


def _identity_pullback(dy):
    return (dy,)


def apply_activation(activation, x):
    """``(activation(x), pullback)`` for a Keras activation name (None or "linear": identity)."""
    if activation is None:
        return x, _identity_pullback
    op, kwargs = ACTIVATIONS[activation]
    return vjp(op, x, **kwargs)


# --- base class -------------------------------------------------------------------------------------

def _saved_weight(saved: dict, layer: str, name: str, shape: tuple, dtype) -> np.ndarray:
    if name not in saved:
        raise ValueError(f"{layer}: the saved weights have no {name!r} (they have {sorted(saved)})")
    value = saved[name]
    if value.shape != shape or value.dtype != dtype:
        raise ValueError(f"{layer}/{name}: the saved weight has shape {value.shape} {value.dtype}, the layer's "
                         f"configuration needs {shape} {np.dtype(dtype)}")
    return np.array(value)


class Layer:
    """Base class. Subclasses implement ``build_weights``, ``call`` and ``compute_output_shape``.

    ``call(x, training) -> (y, pullback)`` where ``pullback(dy) -> (dx, {weight_name: grad})``.
    """
    def __init__(self, name: str | None = None):
        self.name = name or _unique_name(type(self).__name__)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.trainable: tuple[str, ...] = ()
        self.built = False
        self.input_shape: tuple | None = None
        self.dtype: np.dtype | None = None
        self._pullback = None

    # building
    def build(self, input_shape, dtype="float32", seed=None, saved: dict | None = None):
        """Create the weights for inputs of ``input_shape`` (batch axis included, may be None).
        ``saved``: weight name -> array to use instead of initialising (a loaded model); each is
        checked against the shape the layer needs before anything of that size is allocated."""
        dtype = np.dtype(dtype)
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"{self.name}: dtype must be float32 or float64, got {dtype}")
        self.input_shape = tuple(None if d is None else int_arg(d, f"input_shape {tuple(input_shape)}", self.name, 0)
                                 for d in input_shape)
        self.dtype = dtype
        self.params, self.grads, self.trainable = {}, {}, ()
        self.compute_output_shape(self.input_shape)  # validates the shape before weights exist
        self._saved = saved
        try:
            self.build_weights(self.input_shape, np.random.default_rng(seed))
        finally:
            self._saved = None
        self.built = True
        return self

    def build_weights(self, input_shape, rng):
        pass

    def add_weight(self, name, shape, initializer, rng, trainable=True):
        saved = getattr(self, "_saved", None)
        if saved is None:
            self.params[name] = initializers.get(initializer)(tuple(shape), self.dtype, rng)
        else:
            self.params[name] = _saved_weight(saved, self.name, name, tuple(shape), self.dtype)
        if trainable:
            self.trainable = self.trainable + (name,)
        return self.params[name]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    # running
    def __call__(self, x, training=False):
        if not self.built:
            x = np.asarray(x)
            self.build((None,) + x.shape[1:], x.dtype if x.dtype in FLOAT_DTYPES else "float32")
        return self.forward(x, training)

    def forward(self, x, training=False):
        """Output for ``x``; keeps this call's pullback for :meth:`backward`."""
        if not self.built:
            raise RuntimeError(f"{self.name}: call build(input_shape, dtype) (or the layer itself) before forward")
        x = np.asarray(x)
        if x.dtype != self.dtype:
            raise TypeError(f"{self.name} was built for {self.dtype} inputs, got {x.dtype} (shape {x.shape}); "
                            f"cast the data explicitly")
        expected = self.input_shape[1:]
        if x.ndim != len(self.input_shape) or any(e is not None and e != d for e, d in zip(expected, x.shape[1:])):
            raise ValueError(f"{self.name} was built for input shape {self.input_shape}, got {x.shape}")
        y, self._pullback = self.call(x, bool(training))
        return y

    def backward(self, dy):
        """``dx`` for the upstream gradient ``dy`` of the last forward; fills ``self.grads``."""
        if self._pullback is None:
            raise RuntimeError(f"{self.name}: backward called before forward")
        dx, grads = self._pullback(dy)
        self.grads = {k: grads[k] for k in self.trainable}
        return dx

    def call(self, x, training):
        raise NotImplementedError

    # description
    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


# --- convolutions -----------------------------------------------------------------------------------

class _Conv(Layer):
    """Shared by Conv2D / Conv2DTranspose / DepthwiseConv2D: kernel, bias, activation."""
    def __init__(self, kernel_size, strides, padding, dilation_rate, use_bias, kernel_initializer,
                 bias_initializer, activation, data_format, name):
        super().__init__(name)
        cls = type(self).__name__
        _check_channels_last(data_format, cls)
        self.kernel_size = _pair(kernel_size, "kernel_size", cls)
        self.strides = _pair(strides, "strides", cls)
        self.padding = _keras_padding(padding, cls)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", cls)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.activation = _check_activation(activation)

    def _check_input(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{self.name} ({type(self).__name__}) expects 4-D NHWC inputs, got shape {input_shape}")
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the channel axis of the input must be known, got {input_shape}")

    def _spatial_out(self, hw):
        if None in hw:
            return (None, None)
        try:
            return P.window_geometry(hw, self.kernel_size, self.strides, self.dilation_rate,
                                     self.padding.upper()).out
        except ValueError as e:
            raise ValueError(f"{self.name}: input spatial size {tuple(hw)}: {e}") from None

    def _finish(self, z, conv_pullback, n_arrays):
        """Add the activation on top of a conv output ``z``; the pullback maps names to grads."""
        y, act_pullback = apply_activation(self.activation, z)

        def pullback(dy):
            (dz,) = act_pullback(dy)
            grads = conv_pullback(dz)
            return grads[0], dict(zip(("kernel", "bias")[:n_arrays - 1], grads[1:]))
        return y, pullback

    def _finish_with_bias(self, z, conv_pullback):
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
    """2-D convolution, ``keras.layers.Conv2D``: kernel ``(kh, kw, in / groups, filters)``, bias ``(filters,)``."""
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None):
        super().__init__(kernel_size, strides, padding, dilation_rate, use_bias, kernel_initializer,
                         bias_initializer, activation, data_format, name)
        self.filters, self.groups = int_arg(filters, "filters", "Conv2D"), int_arg(groups, "groups", "Conv2D")
        if self.filters % self.groups:
            raise ValueError(f"Conv2D: filters ({filters}) must be a positive multiple of groups ({groups})")

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        if input_shape[-1] % self.groups:
            raise ValueError(f"{self.name}: input channels ({input_shape[-1]}) must be divisible by "
                             f"groups ({self.groups}); input shape {input_shape}")
        return (input_shape[0], *self._spatial_out(input_shape[1:3]), self.filters)

    def build_weights(self, input_shape, rng):
        kh, kw = self.kernel_size
        self.add_weight("kernel", (kh, kw, input_shape[-1] // self.groups, self.filters),
                        self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng)

    def call(self, x, training):
        arrays = (x, self.params["kernel"]) + ((self.params["bias"],) if self.use_bias else ())
        z, pullback = vjp("conv2d", *arrays, strides=self.strides, padding=self.padding.upper(),
                          dilations=self.dilation_rate)
        return self._finish(z, pullback, len(arrays))

    def get_config(self):
        return {"filters": self.filters, "groups": self.groups,
                "kernel_initializer": initializers.serialize(self.kernel_initializer), **self._conv_config()}


def transpose_output_size(size, kernel, stride, dilation, padding, output_padding=None):
    """Output size of a Keras Conv2DTranspose axis (``keras`` ``_get_output_shape_given_tf_padding``)."""
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
    """Transposed convolution, ``keras.layers.Conv2DTranspose``: kernel ``(kh, kw, filters, in)``."""
    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None):
        super().__init__(kernel_size, strides, padding, dilation_rate, use_bias, kernel_initializer,
                         bias_initializer, activation, data_format, name)
        self.filters = int_arg(filters, "filters", "Conv2DTranspose")
        self.output_padding = None if output_padding is None else _pair(output_padding, "output_padding",
                                                                          "Conv2DTranspose")

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        op = self.output_padding or (None, None)
        hw = [transpose_output_size(n, k, s, d, self.padding, o) for n, k, s, d, o in
              zip(input_shape[1:3], self.kernel_size, self.strides, self.dilation_rate, op)]
        return (input_shape[0], *hw, self.filters)

    def build_weights(self, input_shape, rng):
        kh, kw = self.kernel_size
        self.add_weight("kernel", (kh, kw, self.filters, input_shape[-1]), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng)

    def call(self, x, training):
        out_shape = (x.shape[0], *self.compute_output_shape(x.shape)[1:])
        z, conv_pullback = vjp("conv2d_transpose", x, self.params["kernel"], output_shape=out_shape,
                               strides=self.strides, padding=self.padding.upper(), dilations=self.dilation_rate)
        return self._finish_with_bias(z, conv_pullback)

    def get_config(self):
        return {"filters": self.filters, "output_padding": self.output_padding,
                "kernel_initializer": initializers.serialize(self.kernel_initializer), **self._conv_config()}


class DepthwiseConv2D(_Conv):
    """Depthwise convolution, ``keras.layers.DepthwiseConv2D``: kernel ``(kh, kw, in, depth_multiplier)``."""
    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None):
        super().__init__(kernel_size, strides, padding, dilation_rate, use_bias, depthwise_initializer,
                         bias_initializer, activation, data_format, name)
        self.depth_multiplier = int_arg(depth_multiplier, "depth_multiplier", "DepthwiseConv2D")

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        return (input_shape[0], *self._spatial_out(input_shape[1:3]), input_shape[-1] * self.depth_multiplier)

    def build_weights(self, input_shape, rng):
        kh, kw = self.kernel_size
        c = input_shape[-1]
        self.add_weight("kernel", (kh, kw, c, self.depth_multiplier), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (c * self.depth_multiplier,), self.bias_initializer, rng)

    def call(self, x, training):
        z, conv_pullback = vjp("depthwise_conv2d", x, self.params["kernel"], strides=self.strides,
                               padding=self.padding.upper(), dilations=self.dilation_rate)
        return self._finish_with_bias(z, conv_pullback)

    def get_config(self):
        return {"depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.kernel_initializer), **self._conv_config()}


# --- pooling ----------------------------------------------------------------------------------------

class _Pooling2D(Layer):
    op = ""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None):
        super().__init__(name)
        cls = type(self).__name__
        _check_channels_last(data_format, cls)
        self.pool_size = _pair(pool_size, "pool_size", cls)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides", cls)
        self.padding = _keras_padding(padding, cls)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{self.name} expects 4-D NHWC inputs, got shape {input_shape}")
        hw = input_shape[1:3]
        if None not in hw:
            try:
                hw = P.window_geometry(hw, self.pool_size, self.strides, (1, 1), self.padding.upper()).out
            except ValueError as e:
                raise ValueError(f"{self.name}: input spatial size {tuple(hw)}: {e}") from None
        return (input_shape[0], *hw, input_shape[3])

    def call(self, x, training):
        y, pullback = vjp(self.op, x, ksize=self.pool_size, strides=self.strides, padding=self.padding.upper())
        return y, lambda dy: (pullback(dy)[0], {})

    def get_config(self):
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
    def __init__(self, data_format=None, keepdims=False, name=None):
        super().__init__(name)
        _check_channels_last(data_format, "GlobalAveragePooling2D")
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{self.name} expects 4-D NHWC inputs, got shape {input_shape}")
        n, _, _, c = input_shape
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def call(self, x, training):
        y, pullback = vjp("global_avg_pool2d", x, keepdims=self.keepdims)
        return y, lambda dy: (pullback(dy)[0], {})

    def get_config(self):
        return {"keepdims": self.keepdims, **super().get_config()}


# --- dense, reshaping, activations, dropout ----------------------------------------------------------

class Dense(Layer):
    """``keras.layers.Dense`` on the last axis: kernel ``(in, units)``, bias ``(units,)``."""
    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None):
        super().__init__(name)
        self.units = int_arg(units, "units", "Dense")
        self.activation = _check_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"{self.name} (Dense) needs inputs of rank >= 2 with a known last axis, "
                             f"got shape {input_shape}")
        return (*input_shape[:-1], self.units)

    def build_weights(self, input_shape, rng):
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, rng)

    def call(self, x, training):
        arrays = (x, self.params["kernel"]) + ((self.params["bias"],) if self.use_bias else ())
        z, dense_pullback = vjp("dense", *arrays)
        y, act_pullback = apply_activation(self.activation, z)

        def pullback(dy):
            grads = dense_pullback(act_pullback(dy)[0])
            return grads[0], dict(zip(("kernel", "bias"), grads[1:]))
        return y, pullback

    def get_config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer), **super().get_config()}


class Flatten(Layer):
    """``(N, H, W, C) -> (N, H * W * C)`` in row-major NHWC order, as ``keras.layers.Flatten``."""
    def __init__(self, data_format=None, name=None):
        super().__init__(name)
        _check_channels_last(data_format, "Flatten")

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else int(np.prod(rest, dtype=np.int64)))

    def call(self, x, training):
        y, pullback = vjp("flatten", x)
        return y, lambda dy: (pullback(dy)[0], {})


class Activation(Layer):
    """``keras.layers.Activation(name)`` for relu, leaky_relu, elu, sigmoid, tanh, softmax, linear."""
    def __init__(self, activation, name=None):
        super().__init__(name)
        self.activation = _check_activation(activation)

    def call(self, x, training):
        y, pullback = apply_activation(self.activation, x)
        return y, lambda dy: (pullback(dy)[0], {})

    def get_config(self):
        return {"activation": self.activation or "linear", **super().get_config()}


class ReLU(Layer):
    """``keras.layers.ReLU``: ``max(x, 0)``, or ``negative_slope * x`` below zero (no max_value/threshold)."""
    def __init__(self, negative_slope=0.0, name=None):
        super().__init__(name)
        self.negative_slope = real_arg(negative_slope, "negative_slope", "ReLU", low=0.0)

    def call(self, x, training):
        if self.negative_slope == 0.0:
            y, pullback = vjp("relu", x)
        else:
            y, pullback = vjp("leaky_relu", x, alpha=self.negative_slope)
        return y, lambda dy: (pullback(dy)[0], {})

    def get_config(self):
        return {"negative_slope": self.negative_slope, **super().get_config()}


class Dropout(Layer):
    """Inverted dropout in training (kept values scaled by ``1 / (1 - rate)``), identity otherwise.

    Each training call draws a fresh mask seed from the layer's generator (seeded by ``seed``).
    """
    def __init__(self, rate, seed=None, name=None):
        super().__init__(name)
        self.rate = real_arg(rate, "rate", "Dropout", 0.0, 1.0, high_open=True)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def build_weights(self, input_shape, rng):
        if self.seed is None:
            self._rng = np.random.default_rng(rng.integers(2**63))

    def call(self, x, training):
        if not training or self.rate == 0.0:
            return x, lambda dy: (dy, {})
        y, pullback = vjp("dropout", x, rate=self.rate, seed=int(self._rng.integers(2**63)))
        return y, lambda dy: (pullback(dy)[0], {})

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, **super().get_config()}


# --- normalization ----------------------------------------------------------------------------------

class _Normalization(Layer):
    """gamma/beta handling shared by the normalization layers (``scale``/``center`` as Keras)."""
    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer, name):
        super().__init__(name)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"{type(self).__name__}: npcnn supports one int axis, got axis={axis!r}")
        self.axis, self.epsilon = axis, real_arg(epsilon, "epsilon", type(self).__name__, low=0.0)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def _channels(self, input_shape) -> int:
        try:
            c = input_shape[self.axis]
        except IndexError:
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for input shape {input_shape}") from None
        if c is None:
            raise ValueError(f"{self.name}: axis {self.axis} of the input must be known, got {input_shape}")
        return c

    def _norm_axis(self) -> int:
        return self.axis % len(self.input_shape)

    def build_weights(self, input_shape, rng):
        c = self._channels(input_shape)
        if self.scale:
            self.add_weight("gamma", (c,), self.gamma_initializer, rng)
        if self.center:
            self.add_weight("beta", (c,), self.beta_initializer, rng)

    def _gamma_beta(self):
        c = self._channels(self.input_shape)
        gamma = self.params["gamma"] if self.scale else np.ones(c, self.dtype)
        beta = self.params["beta"] if self.center else np.zeros(c, self.dtype)
        return gamma, beta

    def _named(self, pullback):
        def named(dy):
            dx, dgamma, dbeta = pullback(dy)
            return dx, {"gamma": dgamma, "beta": dbeta}
        return named

    def _norm_config(self):
        return {"axis": self.axis, "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer), **super().get_config()}


class BatchNormalization(_Normalization):
    """``keras.layers.BatchNormalization``.

    Training: normalizes with the batch mean and *biased* variance over every axis but ``axis`` and
    updates ``moving = moving * momentum + batch_stat * (1 - momentum)`` (the biased variance, as
    Keras 3). Inference: uses ``moving_mean`` / ``moving_variance``. Those two are not trainable.
    """
    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", name=None):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, name)
        self.momentum = real_arg(momentum, "momentum", "BatchNormalization", 0.0, 1.0)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build_weights(self, input_shape, rng):
        super().build_weights(input_shape, rng)
        c = self._channels(input_shape)
        self.add_weight("moving_mean", (c,), self.moving_mean_initializer, rng, trainable=False)
        self.add_weight("moving_variance", (c,), self.moving_variance_initializer, rng, trainable=False)

    def call(self, x, training):
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

    def get_config(self):
        return {"momentum": self.momentum,
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                **self._norm_config()}


class GroupNormalization(_Normalization):
    """``keras.layers.GroupNormalization``: channels split into ``groups``, each normalized per example."""
    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", name=None):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, name)
        self.groups = int_arg(groups, "groups", "GroupNormalization")

    def compute_output_shape(self, input_shape):
        c = self._channels(input_shape)
        if self.groups < 1 or c % self.groups:
            raise ValueError(f"{self.name}: channels ({c}, input shape {input_shape}) must be divisible by "
                             f"groups ({self.groups})")
        return tuple(input_shape)

    def call(self, x, training):
        gamma, beta = self._gamma_beta()
        y, pullback = vjp("group_normalization", x, gamma, beta, groups=self.groups, epsilon=self.epsilon,
                          axis=self.axis)
        return y, self._named(pullback)

    def get_config(self):
        return {"groups": self.groups, **self._norm_config()}


class LayerNormalization(_Normalization):
    """``keras.layers.LayerNormalization`` over one axis (the last by default), per example."""
    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", name=None):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, name)

    def compute_output_shape(self, input_shape):
        self._channels(input_shape)
        return tuple(input_shape)

    def call(self, x, training):
        gamma, beta = self._gamma_beta()
        y, pullback = vjp("layer_normalization", x, gamma, beta, axis=self.axis, epsilon=self.epsilon)
        return y, self._named(pullback)

    def get_config(self):
        return self._norm_config()


LAYERS = {cls.__name__: cls for cls in (
    Conv2D, Conv2DTranspose, DepthwiseConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Dense,
    Flatten, Activation, ReLU, Dropout, BatchNormalization, GroupNormalization, LayerNormalization)}


def deserialize(spec: dict) -> Layer:
    """A layer from ``{"class_name": ..., "config": ...}`` as :func:`serialize` writes."""
    name = spec.get("class_name")
    if name not in LAYERS:
        raise ValueError(f"unknown layer class {name!r}; npcnn supports {sorted(LAYERS)}")
    return LAYERS[name].from_config(dict(spec.get("config", {})))


def serialize(layer: Layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}
