"""Model-level losses with Keras 3's reduction: the per-example loss averaged over the batch.

``loss(y_true, y_pred)`` returns the scalar loss (a NumPy scalar of y_pred's dtype);
``loss.value_and_grad(y_true, y_pred)`` returns ``(loss, d_loss / d_y_pred)``. Per-example losses and
their gradients come from :mod:`npcnn.functional`'s loss ops through :func:`npcnn.vjp`.

``from_logits=False`` (Keras's default) means ``y_pred`` holds probabilities; they are clipped to
``[1e-7, 1 - 1e-7]`` as Keras's TensorFlow backend does. With a softmax on the last layer prefer
logits and ``from_logits=True``: it is exact and stable.
"""
from __future__ import annotations

from typing import Callable, Union

import numpy as np

from ._checks import as_float_array, flag_arg, shown
from ._typing import ArrayLike, Pullback
from .gradients import vjp

EPSILON = 1e-7  # keras.config.epsilon()


def _mean_over_batch(per_example: np.ndarray, pullback: Pullback,
                     grad_index: int = 1) -> tuple[np.floating, np.ndarray]:
    """Keras's "sum_over_batch_size": ``sum(per_example) / per_example.size``, and d/dy_pred."""
    n = per_example.size
    value = per_example.sum() / per_example.dtype.type(n)
    d_per = np.full(per_example.shape, 1.0 / n, dtype=per_example.dtype)
    return value, pullback(d_per)[grad_index]


def _clipped_log(p: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """``log(clip(p, eps, 1 - eps))`` and its pullback (zero gradient where clipped, as TF)."""
    t = p.dtype.type
    inside = (p >= t(EPSILON)) & (p <= t(1 - EPSILON))
    clipped = np.clip(p, t(EPSILON), t(1 - EPSILON))
    return np.log(clipped), lambda dz: np.where(inside, dz / clipped, t(0))


def _sparse_labels(y_true: ArrayLike, y_pred: np.ndarray) -> np.ndarray:
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1:] == (1,):
        labels = labels[..., 0]
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            raise ValueError("SparseCategoricalCrossentropy: y_true must hold integer class indices")
        labels = labels.astype(np.int64)
    return labels


class Loss:
    """Base class: ``loss(y_true, y_pred)`` is the scalar batch loss, ``value_and_grad`` adds ``d loss / d y_pred``."""
    name = "loss"

    def __call__(self, y_true: ArrayLike, y_pred: ArrayLike) -> np.floating:
        """The loss averaged over the batch, a NumPy scalar of ``y_pred``'s dtype."""
        return self.value_and_grad(y_true, y_pred)[0]

    def value_and_grad(self, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.floating, np.ndarray]:
        """``(loss, d loss / d y_pred)``, the gradient with ``y_pred``'s shape and dtype."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


class SparseCategoricalCrossentropy(Loss):
    """Integer labels ``(N,)`` (or ``(N, 1)``), predictions ``(N, classes)``."""
    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = flag_arg(from_logits, f"{type(self).__name__}: from_logits")

    def value_and_grad(self, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.floating, np.ndarray]:
        y_pred = as_float_array(y_pred, "y_pred")
        labels = _sparse_labels(y_true, y_pred)
        if self.from_logits:
            return _mean_over_batch(*vjp("sparse_softmax_cross_entropy_with_logits", labels, y_pred))
        # Keras: log of the clipped probabilities, then the logits path (which renormalises).
        logits, log_pullback = _clipped_log(y_pred)
        value, d_logits = _mean_over_batch(*vjp("sparse_softmax_cross_entropy_with_logits", labels, logits))
        return value, log_pullback(d_logits)

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """One-hot (or soft) labels and predictions, both ``(N, classes)``."""
    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = flag_arg(from_logits, f"{type(self).__name__}: from_logits")

    def value_and_grad(self, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.floating, np.ndarray]:
        y_pred = as_float_array(y_pred, "y_pred")
        labels = np.asarray(y_true).astype(y_pred.dtype, copy=False)
        if labels.shape != y_pred.shape:
            raise ValueError(f"CategoricalCrossentropy: y_true {labels.shape} and y_pred {y_pred.shape} "
                             f"must have the same shape")
        if self.from_logits:
            return _mean_over_batch(*vjp("softmax_cross_entropy_with_logits", labels, y_pred))
        # Keras: renormalise the probabilities, clip, then -sum(labels * log(p)).
        total = y_pred.sum(axis=-1, keepdims=True)
        q = y_pred / total
        log_q, log_pullback = _clipped_log(q)
        per_example = -(labels * log_q).sum(axis=-1)
        n = per_example.size
        d_log_q = -labels / y_pred.dtype.type(n)
        d_q = log_pullback(d_log_q)
        d_pred = (d_q - (d_q * q).sum(axis=-1, keepdims=True)) / total
        return per_example.sum() / y_pred.dtype.type(n), d_pred

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits}


class MeanSquaredError(Loss):
    """``mean((y_true - y_pred)**2)`` over the last axis, then over the batch."""
    name = "mean_squared_error"

    def value_and_grad(self, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.floating, np.ndarray]:
        y_pred = as_float_array(y_pred, "y_pred")
        y_true = np.asarray(y_true).astype(y_pred.dtype, copy=False)
        return _mean_over_batch(*vjp("mean_squared_error", y_true, y_pred))


LOSSES = {cls.name: cls for cls in (SparseCategoricalCrossentropy, CategoricalCrossentropy, MeanSquaredError)}
LOSSES["mse"] = MeanSquaredError

#: What :func:`get` takes: an instance or a Keras name.
Identifier = Union[str, Loss]


def get(identifier: Identifier) -> Loss:
    """A loss from an instance or a Keras name (by name, with Keras's defaults: probabilities)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in LOSSES:
        return LOSSES[identifier.lower()]()
    raise ValueError(f"unknown loss {shown(identifier)}; known: {sorted(LOSSES)}")


def serialize(loss: Loss) -> dict:
    """``{"class_name": ..., "config": ...}``."""
    return {"class_name": loss.name, "config": loss.get_config()}
