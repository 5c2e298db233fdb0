"""Small real image data sets, as NHWC float arrays in ``[0, 1]``; nothing is ever downloaded.

* :func:`load_digits` — scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes).
* :func:`load_mnist` — a Keras-format ``mnist.npz`` that you already have on disk.

Both return ``((x_train, y_train), (x_test, y_test))`` with ``x`` of shape ``(N, H, W, 1)`` and
integer labels ``y`` of shape ``(N,)``.
"""
from __future__ import annotations

from pathlib import Path

import os

import numpy as np

from ._checks import FLOAT_DTYPES
from ._typing import DTypeLike

#: ``((x_train, y_train), (x_test, y_test))``.
Splits = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _float_dtype(dtype: DTypeLike) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices holding ``round(test_fraction * count)`` of each class in the test set."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(test_fraction * len(idx)))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_digits(test_fraction: float = 0.2, seed: int = 0, dtype: DTypeLike = "float32") -> Splits:
    """scikit-learn's 8x8 digits (pixel values 0..16 scaled to ``[0, 1]``), split per class.

    Returns ``((x_train, y_train), (x_test, y_test))``: ``x`` ``(N, 8, 8, 1)`` of ``dtype``, ``y``
    int64 ``(N,)``. The split is stratified and fixed by ``seed`` (1437 / 360 images by default).
    """
    dtype = _float_dtype(dtype)
    try:
        from sklearn.datasets import load_digits as sklearn_digits  # deferred: scikit-learn, optional and slow
    except ImportError:
        raise ImportError("load_digits needs scikit-learn (pip install \"npcnn-crosscheck[examples]\"); "
                          "the data ships inside it, nothing is downloaded") from None
    digits = sklearn_digits()
    x = (digits.images / 16.0).astype(dtype)[..., None]
    y = digits.target.astype(np.int64)
    train, test = stratified_split(y, test_fraction, seed)
    return (x[train], y[train]), (x[test], y[test])


MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _check_labels(y: np.ndarray, name: str) -> None:
    """Class labels: integers >= 0. Float labels (1.0, 2.5, NaN) are refused rather than truncated."""
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0, got {y.min()}")


def load_mnist(path: str | os.PathLike, dtype: DTypeLike = "float32") -> Splits:
    """MNIST from a Keras-format ``mnist.npz`` (keys x_train, y_train, x_test, y_test; uint8 images).

    Returns ``((x_train, y_train), (x_test, y_test))``: ``x`` ``(N, 28, 28, 1)`` scaled to
    ``[0, 1]``, ``y`` int64. Never downloads: a missing file is a FileNotFoundError.
    """
    dtype = _float_dtype(dtype)
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"MNIST file not found at {path}. npcnn never downloads data: copy a Keras-format mnist.npz "
            f"(arrays {', '.join(MNIST_KEYS)}) there, e.g. ~/.keras/datasets/mnist.npz from a machine "
            f"that has it.")
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in MNIST_KEYS if k not in data.files]
        if missing:
            raise ValueError(f"{path} is not a Keras-format mnist.npz: missing {missing} (has {data.files})")
        arrays = {k: data[k] for k in MNIST_KEYS}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.shape != (x.shape[0],):
            raise ValueError(f"{path}: x_{split} must be (N, H, W) and y_{split} (N,), got {x.shape} and {y.shape}")
        _check_labels(y, f"{path}: y_{split}")
        if x.dtype.kind not in "uif":
            raise TypeError(f"{path}: x_{split} must hold pixel values (uint8 0..255), got dtype {x.dtype}")

    def images(x: np.ndarray) -> np.ndarray:
        return (x.astype(dtype) / dtype.type(255))[..., None]
    return ((images(arrays["x_train"]), arrays["y_train"].astype(np.int64)),
            (images(arrays["x_test"]), arrays["y_test"].astype(np.int64)))
