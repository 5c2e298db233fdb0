"""Dense, dropout and flatten, with their vjp rules."""
from __future__ import annotations

import numpy as np

from .. import padding as P
from .._checks import as_float_array, check_rank, dims_arg, is_int, real_value, same_dtype, shown
from .._typing import ArrayLike, OpResult, ShapeArg
from ..gradients import defvjp


def _dense_args(x: ArrayLike, kernel: ArrayLike, bias: ArrayLike | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    x, w = as_float_array(x, "x"), as_float_array(kernel, "kernel")
    b = None if bias is None else as_float_array(bias, "bias")
    same_dtype(x=x, kernel=w, bias=b)
    check_rank(w, 2, "kernel", "in, out")
    if x.ndim < 1 or x.shape[-1] != w.shape[0]:
        raise ValueError(f"x's last axis must equal kernel's first (in features): x {x.shape}, kernel {w.shape}")
    if b is not None and b.shape != (w.shape[1],):
        raise ValueError(f"bias must have shape ({w.shape[1]},) (kernel {w.shape} out features), got {b.shape}")
    return x, w, b


def dense(x: ArrayLike, kernel: ArrayLike, bias: ArrayLike | None = None) -> np.ndarray:
    """``x @ kernel + bias``: x ``(..., in)``, kernel ``(in, out)``, bias ``(out,)`` -> ``(..., out)``."""
    x, w, b = _dense_args(x, kernel, bias)
    y = x @ w
    return y if b is None else y + b


@defvjp(dense, ("x", "kernel", "bias"))
def dense_vjp(x, kernel, bias) -> OpResult:
    x, w, b = _dense_args(x, kernel, bias)

    def pullback(dy):
        rows = int(np.prod(x.shape[:-1]))
        dy2 = dy.reshape(rows, w.shape[1])
        d_kernel = x.reshape(rows, w.shape[0]).T @ dy2
        return dy @ w.T, d_kernel, None if b is None else dy2.sum(axis=0)
    return dense(x, w, b), pullback


def _check_rate(rate: float) -> float:
    value = real_value(rate, "rate")
    if not 0 <= value < 1:
        raise ValueError(f"rate must be a number in [0, 1), got {shown(rate)}")
    return value


def _check_seed(seed: int) -> int:
    """A dropout seed: a non-negative int (NumPy's default_rng takes no other)."""
    if not is_int(seed):
        raise TypeError(f"seed must be a non-negative int (NumPy's default_rng seed), got {shown(seed)}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int (NumPy's default_rng seed), got {shown(seed)}")
    return int(seed)


def dropout_mask(shape: ShapeArg, rate: float, seed: int) -> np.ndarray:
    """Boolean keep mask of ``shape``: ``np.random.default_rng(seed).random(shape) >= rate``."""
    rate = _check_rate(rate)
    dims = dims_arg(shape, "shape", 8)   # random() draws float64
    return np.random.default_rng(_check_seed(seed)).random(dims) >= rate


def dropout(x: ArrayLike, rate: float, seed: int) -> np.ndarray:
    """Inverted dropout: cells of ``dropout_mask(x.shape, rate, seed)`` kept and scaled by ``1 / (1 - rate)``.

    x: any shape, float32/float64; the same seed gives the same mask.
    """
    return dropout_vjp(x, rate, seed)[0]


@defvjp(dropout, ("x",))
def dropout_vjp(x, rate, seed) -> OpResult:
    x = as_float_array(x, "x")
    keep = dropout_mask(x.shape, rate, seed)
    scale = np.where(keep, 1 / (1 - float(rate)), 0).astype(x.dtype)
    return x * scale, lambda dy: (dy * scale,)


def _flatten_order(x: np.ndarray, data_format: str) -> np.ndarray:
    """``x`` with channels last, as Keras Flatten orders a channels-first input before flattening."""
    return np.moveaxis(x, 1, -1) if data_format == "NCHW" and x.ndim >= 3 else x


def flatten(x: ArrayLike, data_format: str = "NHWC") -> np.ndarray:
    """``(N, ...) -> (N, prod(...))``; an NCHW input is moved to NHWC first (as Keras Flatten does)."""
    return flatten_vjp(x, data_format)[0]


@defvjp(flatten, ("x",))
def flatten_vjp(x, data_format) -> OpResult:
    x = as_float_array(x, "x")
    P.check_data_format(data_format)
    if x.ndim < 1:
        raise ValueError(f"x must have a batch axis, got shape {x.shape}")
    ordered = _flatten_order(x, data_format)
    y = ordered.reshape(x.shape[0], int(np.prod(x.shape[1:])))

    def pullback(dy):
        d = dy.reshape(ordered.shape)
        return (d if ordered is x else np.moveaxis(d, -1, 1),)
    return y, pullback
