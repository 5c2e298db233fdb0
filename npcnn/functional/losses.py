"""Losses, as TensorFlow computes them, with their vjp rules.

* ``softmax_cross_entropy_with_logits(labels, logits, axis=-1)``: per-example
  ``-sum(labels * log_softmax(logits))`` over ``axis``.
* ``sparse_softmax_cross_entropy_with_logits(labels, logits)``: integer class labels.
* ``mean_squared_error(y_true, y_pred)``: ``mean((y_true - y_pred)**2)`` over the last axis.
"""
from __future__ import annotations

import numpy as np

from .._checks import as_array, as_float_array, same_dtype
from .._typing import ArrayLike, OpResult
from ..gradients import defvjp
from .activations import _axis, log_softmax


def _same_shape(a: np.ndarray, b: np.ndarray, a_name: str, b_name: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{a_name} and {b_name} must have the same shape, got {a.shape} and {b.shape}")


def _labels_and_logits(labels: ArrayLike, logits: ArrayLike, axis: int) -> tuple[np.ndarray, np.ndarray, int]:
    lab, lo = as_float_array(labels, "labels"), as_float_array(logits, "logits")
    same_dtype(labels=lab, logits=lo)
    _same_shape(lab, lo, "labels", "logits")
    return lab, lo, _axis(axis, lo)


def softmax_cross_entropy_with_logits(labels: ArrayLike, logits: ArrayLike, axis: int = -1) -> np.ndarray:
    """Per-example softmax cross entropy, as ``tf.nn.softmax_cross_entropy_with_logits``.

    labels, logits: the same shape, classes along ``axis``. Returns the loss with ``axis`` removed.
    """
    lab, lo, axis = _labels_and_logits(labels, logits, axis)
    return -(lab * log_softmax(lo, axis)).sum(axis=axis)


@defvjp(softmax_cross_entropy_with_logits, ("labels", "logits"))
def softmax_cross_entropy_with_logits_vjp(labels, logits, axis) -> OpResult:
    """TensorFlow's gradients: ``d_logits = dy * (softmax - labels)``, ``d_labels = -dy * log_softmax``.

    ``d_logits`` is the true derivative only when each example's labels sum to 1; the true one is
    ``dy * (softmax * sum(labels) - labels)``. TensorFlow (2.21) returns ``softmax - labels`` for
    any labels, and npcnn means what TensorFlow means.
    """
    lab, lo, axis = _labels_and_logits(labels, logits, axis)
    logp = log_softmax(lo, axis)
    loss = -(lab * logp).sum(axis=axis)

    def pullback(dy):
        g = np.expand_dims(dy, axis)
        return -g * logp, g * (np.exp(logp) - lab)
    return loss, pullback


def _sparse_args(labels: ArrayLike, logits: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    lo = as_float_array(logits, "logits")
    lab = as_array(labels, "labels")
    if lab.dtype.kind not in "iu":
        raise TypeError(f"labels must be integer class indices, got dtype {lab.dtype} (shape {lab.shape})")
    if lo.ndim < 1 or lab.shape != lo.shape[:-1]:
        raise ValueError(f"labels must have the shape of logits without its last (class) axis: "
                         f"labels {lab.shape}, logits {lo.shape}")
    classes = lo.shape[-1]
    if lab.size and (lab.min() < 0 or lab.max() >= classes):
        raise ValueError(f"labels must lie in [0, {classes}) for logits of shape {lo.shape}, "
                         f"got values in [{lab.min()}, {lab.max()}]")
    return lab, lo


def sparse_softmax_cross_entropy_with_logits(labels: ArrayLike, logits: ArrayLike) -> np.ndarray:
    """Softmax cross entropy with integer labels, as ``tf.nn.sparse_softmax_cross_entropy_with_logits``.

    labels: integer ``(...)`` in ``[0, classes)``; logits: ``(..., classes)``. Returns ``(...)``.
    """
    lab, lo = _sparse_args(labels, logits)
    return -np.take_along_axis(log_softmax(lo), lab[..., None], axis=-1)[..., 0]


@defvjp(sparse_softmax_cross_entropy_with_logits, ("labels", "logits"))
def sparse_softmax_cross_entropy_with_logits_vjp(labels, logits) -> OpResult:
    """``d_logits = dy * (softmax - one_hot(labels))``; the integer labels get ``None``."""
    lab, lo = _sparse_args(labels, logits)
    logp = log_softmax(lo)
    loss = -np.take_along_axis(logp, lab[..., None], axis=-1)[..., 0]

    def pullback(dy):
        d_logits = np.exp(logp)
        np.put_along_axis(d_logits, lab[..., None], np.take_along_axis(d_logits, lab[..., None], -1) - 1, -1)
        return None, dy[..., None] * d_logits
    return loss, pullback


def _mse_args(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t, p = as_float_array(y_true, "y_true"), as_float_array(y_pred, "y_pred")
    same_dtype(y_true=t, y_pred=p)
    _same_shape(t, p, "y_true", "y_pred")
    if t.ndim < 1:
        raise ValueError(f"y_true and y_pred need at least one axis to average over, got shape {t.shape}")
    return t, p


def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    """``mean((y_true - y_pred) ** 2, axis=-1)``, as ``tf.keras.losses.mean_squared_error``.

    y_true, y_pred: the same shape ``(..., d)``. Returns ``(...)``.
    """
    t, p = _mse_args(y_true, y_pred)
    return np.square(t - p).mean(axis=-1)


@defvjp(mean_squared_error, ("y_true", "y_pred"))
def mean_squared_error_vjp(y_true, y_pred) -> OpResult:
    t, p = _mse_args(y_true, y_pred)
    diff = p - t

    def pullback(dy):
        d_pred = dy[..., None] * diff * diff.dtype.type(2 / diff.shape[-1])
        return -d_pred, d_pred
    return np.square(diff).mean(axis=-1), pullback
