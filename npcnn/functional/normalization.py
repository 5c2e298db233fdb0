"""Normalization: batch, group and layer normalization (Keras semantics) and moments.

All three normalise ``xhat = (x - mean) / sqrt(var + epsilon)`` with the *biased* variance over
some axes, then return ``gamma * xhat + beta``. With ``m`` cells per statistic and upstream ``g``,
the shared backward rule for the input is

    dx = inv_std / m * (m * gxh - sum(gxh) - xhat * sum(gxh * xhat)),   gxh = g * gamma

with the sums over the statistic's axes; ``dgamma = sum(g * xhat)`` and ``dbeta = sum(g)`` over
every axis the parameters are broadcast along.
"""
from __future__ import annotations

import math

import numpy as np

from .._checks import as_float_array, flag_arg, is_int, real_value, same_dtype, shown
from .._typing import ArrayLike, Axes, OpResult
from ..gradients import defvjp


def _norm_axes(axis: Axes, x_shape: tuple, name: str = "axis", *, single: bool = False,
               empty_ok: bool = False) -> tuple[int, ...]:
    """``axis`` (an int or, unless ``single``, a sequence of ints) as sorted non-negative axes;
    ``empty_ok``: an empty sequence means no axis (tf.nn.moments reduces nothing then)."""
    if is_int(axis):
        axes = (axis,)
    elif single or isinstance(axis, (str, bytes)):
        raise TypeError(f"{name} must be {'one int' if single else 'an int or a sequence of ints'}, got {shown(axis)}")
    else:
        try:
            axes = tuple(axis)
        except TypeError:
            raise TypeError(f"{name} must be an int or a sequence of ints, got {shown(axis)}") from None
        if not all(is_int(a) for a in axes):
            raise TypeError(f"{name} must contain ints, got {shown(axis)}")
    ndim = len(x_shape)
    if (not axes and not empty_ok) or any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"{name}={shown(axis)} is out of range for x of shape {tuple(x_shape)} ({ndim}-D)")
    axes = tuple(sorted(int(a) % ndim for a in axes))
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}={shown(axis)} repeats an axis")
    return axes


def moments(x: ArrayLike, axes: Axes, keepdims: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, variance)`` of ``x`` over ``axes``, variance biased (divided by the count), as tf.nn.moments."""
    x = as_float_array(x, "x")
    axes = _norm_axes(axes, x.shape, "axes", empty_ok=True)
    keepdims = flag_arg(keepdims, "keepdims")
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    if not keepdims:
        mean, var = mean.squeeze(axes), var.squeeze(axes)
    return mean, var


def _param(value: ArrayLike, name: str, shape: tuple, x: np.ndarray, what: str) -> np.ndarray:
    arr = as_float_array(value, name)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({what} of x, shape {x.shape}), got {arr.shape}")
    return arr


def _normalize_backward(gxh: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``dx`` of ``xhat = (x - mean(x)) * inv_std`` (stats over ``axes``) given ``gxh = d loss / d xhat``."""
    m = int(np.prod([xhat.shape[a] for a in axes]))
    return inv_std / m * (m * gxh - gxh.sum(axis=axes, keepdims=True)
                          - xhat * (gxh * xhat).sum(axis=axes, keepdims=True))


def _eps(epsilon: float, dtype: np.dtype) -> np.floating:
    value = real_value(epsilon, "epsilon")
    if not value >= 0:
        raise ValueError(f"epsilon must be >= 0, got {shown(epsilon)}")
    return dtype.type(value)


def _batch_norm_args(x, gamma, beta, moving_mean, moving_variance, training, axis):
    x = as_float_array(x, "x")
    training = flag_arg(training, "training")
    (ax,) = _norm_axes(axis, x.shape, single=True)
    shape = (x.shape[ax],)
    params = {"gamma": gamma, "beta": beta}
    if not training:
        missing = [n for n, v in (("moving_mean", moving_mean), ("moving_variance", moving_variance)) if v is None]
        if missing:
            raise ValueError(f"batch_normalization with training=False needs {' and '.join(missing)}")
        params.update(moving_mean=moving_mean, moving_variance=moving_variance)
    arrays = {n: _param(v, n, shape, x, f"the size of axis {ax}") for n, v in params.items()}
    same_dtype(x=x, **arrays)
    bshape = [1] * x.ndim
    bshape[ax] = shape[0]
    return x, ax, {n: a.reshape(bshape) for n, a in arrays.items()}


def batch_normalization(x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, moving_mean: ArrayLike | None = None,
                        moving_variance: ArrayLike | None = None, training: bool = True, epsilon: float = 1e-3,
                        axis: int = -1) -> np.ndarray:
    """Batch normalization, as Keras ``BatchNormalization`` computes its output.

    x: any rank with channels on ``axis`` (-1 for NHWC, 1 for NCHW); gamma, beta, moving_mean,
    moving_variance: ``(C,)``. training=True normalises with the batch mean and biased variance
    over every axis but ``axis``; training=False with ``moving_mean`` / ``moving_variance``.
    The moving statistics are not updated here (see :func:`moments`).
    """
    return batch_normalization_vjp(x, gamma, beta, moving_mean, moving_variance, training, epsilon, axis)[0]


class _ChannelRows:
    """``x`` as a C-contiguous matrix whose column ``k`` always holds channel ``channel_of[k]``, for
    per-channel arithmetic with long inner loops: with channels last, each row holds the ``R * C``
    values of the ``R`` cells along axis -2 (broadcasting a ``(C,)`` vector against ``(..., C)``
    would make NumPy's inner loop C values long); otherwise each row is a ``C * B`` block with ``B``
    the cells after the channel axis. ``tile(v)`` spreads a ``(C,)`` vector along a row, ``fold(s)``
    adds a row-shaped sum back to ``(C,)``."""

    def __init__(self, shape: tuple, ax: int):
        self.c, self.b = shape[ax], math.prod(shape[ax + 1:])
        self.r = shape[ax - 1] if self.b == 1 and ax >= 1 else 1
        self.width = self.r * self.c * self.b
        self.cells = math.prod(shape) // self.c if self.c else 0   # cells per channel

    def matrix(self, a: np.ndarray) -> np.ndarray:
        return a.reshape(a.size // self.width if self.width else 0, self.width)

    def tile(self, v: np.ndarray) -> np.ndarray:
        return np.tile(np.repeat(v, self.b), self.r)

    def fold(self, row: np.ndarray) -> np.ndarray:
        return row.reshape(self.r, self.c, self.b).sum(axis=(0, 2))


@defvjp(batch_normalization, ("x", "gamma", "beta"))
def batch_normalization_vjp(x, gamma, beta, moving_mean, moving_variance, training, epsilon, axis) -> OpResult:
    """Per channel ``c``: ``y = gamma * xhat + beta``, ``xhat = (x - mean) * inv_std``. Backward, with
    ``dbeta = sum(dy)``, ``dgamma = sum(dy * xhat)`` over the ``m`` cells of each channel:
    ``dx = gamma * inv_std * (dy - dbeta / m - xhat * dgamma / m)`` in training (the shared rule of
    the module docstring with ``sum(gxh) = gamma * dbeta``, ``sum(gxh * xhat) = gamma * dgamma``),
    ``dx = gamma * inv_std * dy`` with the moving statistics."""
    x, ax, p = _batch_norm_args(x, gamma, beta, moving_mean, moving_variance, training, axis)
    eps = _eps(epsilon, x.dtype)
    layout = _ChannelRows(x.shape, ax)
    x2, m = layout.matrix(x), layout.cells
    gamma, beta = p["gamma"].ravel(), p["beta"].ravel()
    if training:
        mean = layout.fold(x2.sum(axis=0)) / m
        xhat = x2 - layout.tile(mean)
        var = layout.fold(np.einsum("ij,ij->j", xhat, xhat)) / m
    else:
        mean, var = p["moving_mean"].ravel(), p["moving_variance"].ravel()
        xhat = x2 - layout.tile(mean)
    inv_std = 1 / np.sqrt(var + eps)
    xhat *= layout.tile(inv_std)
    y = xhat * layout.tile(gamma)
    y += layout.tile(beta)

    def pullback(dy):
        dy2 = layout.matrix(np.ascontiguousarray(dy))
        dbeta, dgamma = layout.fold(dy2.sum(axis=0)), layout.fold(np.einsum("ij,ij->j", dy2, xhat))
        if training:
            dx = xhat * layout.tile(-dgamma / m)
            dx += dy2
            dx -= layout.tile(dbeta / m)
            dx *= layout.tile(gamma * inv_std)
        else:
            dx = dy2 * layout.tile(gamma * inv_std)
        return dx.reshape(x.shape), dgamma, dbeta
    return y.reshape(x.shape), pullback


def group_normalization(x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, groups: int, epsilon: float = 1e-3,
                        axis: int = -1) -> np.ndarray:
    """Group normalization, as Keras ``GroupNormalization(groups, axis, epsilon)``.

    x: ``(N, ..., C)`` with channels on ``axis`` (not the batch axis 0); gamma, beta: ``(C,)``.
    The C channels form ``groups`` contiguous groups; each sample and group is normalised over its
    channels and every other non-batch axis.
    """
    return group_normalization_vjp(x, gamma, beta, groups, epsilon, axis)[0]


@defvjp(group_normalization, ("x", "gamma", "beta"))
def group_normalization_vjp(x, gamma, beta, groups, epsilon, axis) -> OpResult:
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have a batch axis and a channel axis, got shape {x.shape}")
    (ax,) = _norm_axes(axis, x.shape, single=True)
    if ax == 0:
        raise ValueError(f"axis must not be the batch axis 0 (x shape {x.shape})")
    c = x.shape[ax]
    if not is_int(groups):
        raise TypeError(f"groups must be an int, got {shown(groups)} ({type(groups).__name__})")
    if groups < 1 or c % groups:
        raise ValueError(f"groups={shown(groups)} must be a positive divisor of the channel count {c} "
                         f"(axis {ax} of x, shape {x.shape})")
    g_, b_ = (_param(v, n, (c,), x, f"the size of axis {ax}") for n, v in (("gamma", gamma), ("beta", beta)))
    same_dtype(x=x, gamma=g_, beta=b_)
    eps = _eps(epsilon, x.dtype)
    # channels last, split into (groups, C / groups): stats over all axes but batch and group
    xg = np.moveaxis(x, ax, -1)
    moved_shape = xg.shape
    xg = xg.reshape(*moved_shape[:-1], groups, c // groups)
    axes = tuple(range(1, xg.ndim - 2)) + (xg.ndim - 1,)
    mean = xg.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(np.square(xg - mean).mean(axis=axes, keepdims=True) + eps)
    xhat = (xg - mean) * inv_std
    gamma_g, beta_g = g_.reshape(groups, c // groups), b_.reshape(groups, c // groups)
    y = np.moveaxis((xhat * gamma_g + beta_g).reshape(moved_shape), -1, ax)
    param_axes = tuple(range(xg.ndim - 2))

    def pullback(dy):
        dyg = np.moveaxis(dy, ax, -1).reshape(xg.shape)
        dxg = _normalize_backward(dyg * gamma_g, xhat, inv_std, axes)
        dx = np.moveaxis(dxg.reshape(moved_shape), -1, ax)
        return dx, (dyg * xhat).sum(axis=param_axes).reshape(c), dyg.sum(axis=param_axes).reshape(c)
    return y, pullback


def layer_normalization(x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, axis: Axes = -1,
                        epsilon: float = 1e-3) -> np.ndarray:
    """Layer normalization, as Keras ``LayerNormalization(axis, epsilon)``.

    x: any rank; ``axis``: an int or a sequence of ints, the axes normalised over; gamma, beta:
    the shape of x along those axes (``(x.shape[a] for a in sorted axes)``).
    """
    return layer_normalization_vjp(x, gamma, beta, axis, epsilon)[0]


@defvjp(layer_normalization, ("x", "gamma", "beta"))
def layer_normalization_vjp(x, gamma, beta, axis, epsilon) -> OpResult:
    x = as_float_array(x, "x")
    axes = _norm_axes(axis, x.shape)
    shape = tuple(x.shape[a] for a in axes)
    bshape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    g_, b_ = (_param(v, n, shape, x, f"the sizes of its axis={shown(axis)}") for n, v in (("gamma", gamma), ("beta", beta)))
    same_dtype(x=x, gamma=g_, beta=b_)
    eps = _eps(epsilon, x.dtype)
    gamma_b, beta_b = g_.reshape(bshape), b_.reshape(bshape)
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(np.square(x - mean).mean(axis=axes, keepdims=True) + eps)
    xhat = (x - mean) * inv_std
    param_axes = tuple(a for a in range(x.ndim) if a not in axes)

    def pullback(dy):
        dx = _normalize_backward(dy * gamma_b, xhat, inv_std, axes)
        return dx, (dy * xhat).sum(axis=param_axes).reshape(shape), dy.sum(axis=param_axes).reshape(shape)
    return xhat * gamma_b + beta_b, pullback
