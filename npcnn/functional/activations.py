"""Elementwise activations and softmax, as ``tf.nn``; each with its vjp rule.

Every function takes a float32/float64 array of any shape and returns one of the same shape and
dtype. Gradients follow TensorFlow's kernels at the kinks: relu'(0) = 0, leaky_relu'(0) = alpha,
elu'(0) = 1.

Constants are scalars of the input's dtype (``x.dtype.type(1)``), never Python numbers: under
NumPy 1's value-based casting a 0-d float32 array is a scalar, and ``1 + x`` would be float64.
"""
from __future__ import annotations

import math

import numpy as np

from .._checks import as_float_array, real_value, shown

_FLOAT32_MAX = float(np.finfo(np.float32).max)
from .._typing import ArrayLike, OpResult
from ..gradients import defvjp


def _axis(axis: int, x: np.ndarray, name: str = "logits") -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int, got {shown(axis)} ({type(axis).__name__})")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis={axis} is out of range for {name} of shape {x.shape}")
    return int(axis)


def relu(features: ArrayLike) -> np.ndarray:
    """``max(features, 0)``."""
    x = as_float_array(features, "features")
    return np.maximum(x, x.dtype.type(0))


@defvjp(relu, ("features",))
def relu_vjp(features) -> OpResult:
    x = as_float_array(features, "features")
    return relu(x), lambda dy: (np.where(x > 0, dy, 0).astype(x.dtype, copy=False),)


def _tf_alpha(alpha: float, dtype: np.dtype) -> np.floating:
    """TensorFlow stores LeakyRelu's alpha as a float32 attribute, so float64 uses float32(alpha)."""
    alpha = real_value(alpha, "alpha")
    if abs(alpha) > _FLOAT32_MAX:   # past float32's range: inf, as TensorFlow's float attribute
        alpha = math.copysign(math.inf, alpha)
    return dtype.type(np.float32(alpha))


def leaky_relu(features: ArrayLike, alpha: float = 0.2) -> np.ndarray:
    """``features`` where positive, else ``alpha * features`` (tf.nn.leaky_relu, default alpha 0.2).

    As in TensorFlow, alpha is rounded to float32 first (float64 0.2 becomes 0.20000000298...).
    """
    x = as_float_array(features, "features")
    return np.where(x > 0, x, x * _tf_alpha(alpha, x.dtype))


@defvjp(leaky_relu, ("features",))
def leaky_relu_vjp(features, alpha) -> OpResult:
    x = as_float_array(features, "features")
    slope = np.where(x > 0, 1, _tf_alpha(alpha, x.dtype)).astype(x.dtype)
    return leaky_relu(x, alpha), lambda dy: (dy * slope,)


def elu(features: ArrayLike) -> np.ndarray:
    """``features`` where positive, else ``exp(features) - 1`` (tf.nn.elu)."""
    x = as_float_array(features, "features")
    return np.where(x > 0, x, np.expm1(np.minimum(x, x.dtype.type(0))))


@defvjp(elu, ("features",))
def elu_vjp(features) -> OpResult:
    x = as_float_array(features, "features")
    y = elu(x)
    one = x.dtype.type(1)
    # TF's EluGrad: dy where x > 0, else dy * (y + 1) = dy * exp(x)
    return y, lambda dy: (np.where(x > 0, dy, dy * (y + one)),)


def sigmoid(x: ArrayLike) -> np.ndarray:
    """``1 / (1 + exp(-x))``, evaluated without overflow for large ``|x|``."""
    x = as_float_array(x, "x")
    one = x.dtype.type(1)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, one / (one + e), e / (one + e))


@defvjp(sigmoid, ("x",))
def sigmoid_vjp(x) -> OpResult:
    y = sigmoid(x)
    one = y.dtype.type(1)
    return y, lambda dy: (dy * y * (one - y),)


def tanh(x: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(as_float_array(x, "x"))


@defvjp(tanh, ("x",))
def tanh_vjp(x) -> OpResult:
    y = tanh(x)
    one = y.dtype.type(1)
    return y, lambda dy: (dy * (one - y * y),)


def softplus(features: ArrayLike) -> np.ndarray:
    """``log(1 + exp(features))``, evaluated without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    x = as_float_array(features, "features")
    return np.maximum(x, x.dtype.type(0)) + np.log1p(np.exp(-np.abs(x)))


@defvjp(softplus, ("features",))
def softplus_vjp(features) -> OpResult:
    x = as_float_array(features, "features")
    return softplus(x), lambda dy: (dy * sigmoid(x),)


def log_softmax(logits: ArrayLike, axis: int = -1) -> np.ndarray:
    """``logits - logsumexp(logits)`` along ``axis`` (the max is subtracted first)."""
    x = as_float_array(logits, "logits")
    axis = _axis(axis, x)
    if x.shape[axis] == 0:   # no classes: an empty result, as TensorFlow's
        return x.copy()
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits: ArrayLike, axis: int = -1) -> np.ndarray:
    """``exp(logits) / sum(exp(logits))`` along ``axis`` (the max is subtracted first)."""
    x = as_float_array(logits, "logits")
    axis = _axis(axis, x)
    if x.shape[axis] == 0:   # no classes: an empty result, as TensorFlow's
        return x.copy()
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@defvjp(softmax, ("logits",))
def softmax_vjp(logits, axis) -> OpResult:
    y = softmax(logits, axis)
    return y, lambda dy: (y * (dy - (dy * y).sum(axis=axis, keepdims=True)),)


@defvjp(log_softmax, ("logits",))
def log_softmax_vjp(logits, axis) -> OpResult:
    y = log_softmax(logits, axis)
    p = np.exp(y)
    return y, lambda dy: (dy - p * dy.sum(axis=axis, keepdims=True),)
