"""Optimizers whose updates are Keras 3's (``keras/src/optimizers/{sgd,adam,rmsprop}.py``), op for op.

``optimizer.apply(grads, params)`` updates the arrays of ``params`` in place. Both are dicts keyed
by a stable weight name (as :meth:`npcnn.Sequential.trainable_parameters` returns) or equal-length
lists (keyed by position). Slot variables (momentums, velocities) are created on first sight of a
name, zero-initialised in the weight's dtype. Hyperparameters are cast to each weight's dtype
before use, as Keras does, so float32 weights stay float32.

Keras 3 rounds two kinds of hyperparameter to float32 even for float64 weights, and so does npcnn:
the learning rate (kept in a ``floatx`` variable: float32 unless ``npcnn.config.set_floatx`` /
``keras.config.set_floatx`` says float64; the dtype is read when the optimizer is made) and every
Python float that goes through
``ops.cast(value, dtype)`` (``tf.cast`` makes a float32 tensor of it first): SGD's ``momentum`` and
Adam's ``beta_1`` / ``beta_2`` inside ``beta ** t``. Python floats combined by ``ops.multiply`` /
``ops.add`` (``1 - beta_1``, ``rho``, ``epsilon``) stay exact. :func:`keras_cast` does the rounding.
"""
from __future__ import annotations

from typing import Callable, Hashable, Mapping, Sequence, Union

import numpy as np

from ._checks import FLOAT_DTYPES, flag_arg, real_arg, shown
from ._typing import DTypeLike
from .config import floatx

#: A learning rate: a float, or a schedule ``f(iterations) -> float``.
LearningRate = Union[float, Callable[[int], float]]
#: Gradients or parameters: a dict keyed by weight name, or a list (keyed by position).
Weights = Union[Mapping[Hashable, np.ndarray], Sequence[np.ndarray]]


def keras_cast(value: float, dtype: DTypeLike) -> np.generic:
    """``keras.ops.cast(value, dtype)`` of a Python float on the TensorFlow backend: via float32."""
    return np.dtype(dtype).type(np.float32(value))


def _as_dicts(grads: Weights, params: Weights) -> tuple[dict, dict]:
    if isinstance(params, dict):
        if not isinstance(grads, dict) or set(grads) != set(params):
            missing = set(params) ^ set(grads if isinstance(grads, dict) else ())
            raise ValueError(f"grads and params must have the same names; differing: {sorted(missing)}")
        return grads, params
    grads, params = list(grads), list(params)
    if len(grads) != len(params):
        raise ValueError(f"got {len(grads)} gradients for {len(params)} parameters")
    return dict(enumerate(grads)), dict(enumerate(params))


class Optimizer:
    """Base class: bookkeeping of ``iterations`` and per-weight slots; subclasses write ``update``."""
    name = "optimizer"

    def __init__(self, learning_rate: LearningRate) -> None:
        """``learning_rate``: a float, or a schedule ``f(iterations) -> float`` (as Keras accepts)."""
        owner = type(self).__name__
        self.learning_rate = (learning_rate if callable(learning_rate)
                              else real_arg(learning_rate, "learning_rate", owner, low=0.0))
        self.learning_rate_dtype = floatx()    # Keras's learning-rate variable has floatx's dtype
        self.iterations = 0
        self.slots: dict[str, dict] = {}

    def slot(self, kind: str, key: Hashable, like: np.ndarray) -> np.ndarray:
        """The slot ``kind`` (e.g. "momentum") of weight ``key``, zeros like the weight at first use."""
        table = self.slots.setdefault(kind, {})
        if key not in table:
            table[key] = np.zeros_like(like)
        return table[key]

    def apply(self, grads: Weights, params: Weights) -> None:
        """One step: update every ``params[k]`` in place from ``grads[k]``; then ``iterations += 1``."""
        grads, params = _as_dicts(grads, params)
        for key, p in params.items():
            g = np.asarray(grads[key])
            if isinstance(p, np.ndarray) and p.dtype not in FLOAT_DTYPES:
                raise TypeError(f"parameter {key!r} has dtype {p.dtype} (shape {p.shape}): an optimizer updates "
                                f"float32 or float64 arrays in place; an integer array cannot take the step")
            if not isinstance(p, np.ndarray) or g.shape != p.shape or g.dtype != p.dtype:
                raise ValueError(f"gradient of {key!r} has shape {g.shape} dtype {g.dtype}; the parameter has "
                                 f"shape {np.shape(p)} dtype {getattr(p, 'dtype', type(p))}")
            self.update(key, p, g)
        self.iterations += 1

    @property
    def current_learning_rate(self) -> float:
        """The learning rate of the next step (the schedule evaluated at ``iterations``)."""
        lr = self.learning_rate
        return float(lr(self.iterations)) if callable(lr) else lr

    def lr_for(self, dtype: DTypeLike) -> np.generic:
        """The learning rate as the update of a ``dtype`` weight sees it: a float is held in
        ``learning_rate_dtype`` (Keras's variable) and cast; a schedule's value goes through float32."""
        lr = self.current_learning_rate
        if callable(self.learning_rate):
            return keras_cast(lr, dtype)
        return np.dtype(dtype).type(np.dtype(self.learning_rate_dtype).type(lr))

    def update(self, key: Hashable, variable: np.ndarray, gradient: np.ndarray) -> None:
        """One step on ``variable`` in place, from ``gradient`` of the same shape and dtype."""
        raise NotImplementedError

    def get_config(self) -> dict:
        lr = self.learning_rate
        return {"learning_rate": getattr(lr, "__name__", repr(lr)) if callable(lr) else lr}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


class SGD(Optimizer):
    """``m = m * momentum - lr * g``; ``w += m`` (nesterov: ``w += m * momentum - lr * g``).

    Without momentum: ``w -= g * lr``.
    """
    name = "sgd"

    def __init__(self, learning_rate: LearningRate = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(learning_rate)
        self.momentum = real_arg(momentum, "momentum", "SGD", 0.0, 1.0)
        self.nesterov = flag_arg(nesterov, "SGD: nesterov")

    def update(self, key: Hashable, variable: np.ndarray, gradient: np.ndarray) -> None:
        lr = self.lr_for(variable.dtype)
        if self.momentum == 0.0:
            variable -= gradient * lr
            return
        mom = keras_cast(self.momentum, variable.dtype)
        m = self.slot("momentum", key, variable)
        m[...] = m * mom - gradient * lr
        if self.nesterov:
            variable += m * mom - gradient * lr
        else:
            variable += m

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Keras's Adam (epsilon added to ``sqrt(v)``, bias correction folded into the step size)::

        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
        w -= m * alpha / (sqrt(v) + epsilon)
    """
    name = "adam"

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        # beta = 1 never forgets its initial zero (Adam's bias correction divides by 0): refused
        self.beta_1 = real_arg(beta_1, "beta_1", "Adam", 0.0, 1.0, high_open=True)
        self.beta_2 = real_arg(beta_2, "beta_2", "Adam", 0.0, 1.0, high_open=True)
        self.epsilon = real_arg(epsilon, "epsilon", "Adam", low=0.0)

    def update(self, key: Hashable, variable: np.ndarray, gradient: np.ndarray) -> None:
        t = variable.dtype.type
        step = t(self.iterations + 1)
        beta_1_power = np.power(keras_cast(self.beta_1, variable.dtype), step)
        beta_2_power = np.power(keras_cast(self.beta_2, variable.dtype), step)
        m = self.slot("momentum", key, variable)
        v = self.slot("velocity", key, variable)
        alpha = self.lr_for(variable.dtype) * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m += (gradient - m) * t(1 - self.beta_1)
        v += (np.square(gradient) - v) * t(1 - self.beta_2)
        variable -= (m * alpha) / (np.sqrt(v) + t(self.epsilon))

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """Keras's RMSprop::

        v = rho * v + (1 - rho) * g**2
        (centered) a = rho * a + (1 - rho) * g;  denom = v - a**2 + eps   (else denom = v + eps)
        inc = lr * g / sqrt(denom)
        (momentum) m = momentum * m + inc; w -= m     (else w -= inc)
    """
    name = "rmsprop"

    def __init__(self, learning_rate: LearningRate = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False) -> None:
        super().__init__(learning_rate)
        self.rho = real_arg(rho, "rho", "RMSprop", 0.0, 1.0)
        self.momentum = real_arg(momentum, "momentum", "RMSprop", 0.0, 1.0)
        self.epsilon = real_arg(epsilon, "epsilon", "RMSprop", low=0.0)
        self.centered = bool(centered)

    def update(self, key: Hashable, variable: np.ndarray, gradient: np.ndarray) -> None:
        t = variable.dtype.type
        rho = t(self.rho)
        v = self.slot("velocity", key, variable)
        v[...] = rho * v + t(1 - self.rho) * np.square(gradient)
        if self.centered:
            a = self.slot("average_gradient", key, variable)
            a[...] = rho * a + t(1 - self.rho) * gradient
            denominator = v - np.square(a) + t(self.epsilon)
        else:
            denominator = v + t(self.epsilon)
        increment = self.lr_for(variable.dtype) * gradient / np.sqrt(denominator)
        if self.momentum > 0:
            m = self.slot("momentum", key, variable)
            m[...] = t(self.momentum) * m + increment
            variable -= m
        else:
            variable -= increment

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, RMSprop)}

#: What :func:`get` takes: an instance or a name.
Identifier = Union[str, Optimizer]


def get(identifier: Identifier) -> Optimizer:
    """An optimizer from an instance or a name ("sgd", "adam", "rmsprop", with default arguments)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    raise ValueError(f"unknown optimizer {shown(identifier)}; known: {sorted(OPTIMIZERS)}")
