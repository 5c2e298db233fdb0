"""Argument validation shared by every op: clear TypeError/ValueError messages that name the argument."""
from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import Callable

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: TensorFlow keeps strides, dilations and window sizes in int32 attributes (a larger value is an
#: error there), shapes and explicit paddings in int64.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

#: Arrays up to this size are never checked against the machine's memory (no system call).
_UNCHECKED_BYTES = 2**30


@lru_cache(maxsize=1)
def memory_bytes() -> int:
    """This machine's physical memory in bytes (the largest array NumPy can index where unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return int(np.iinfo(np.intp).max)


def shown(value) -> str:
    """``repr(value)`` for an error message: on one line, at most 120 characters (a large array by
    its shape and dtype)."""
    if isinstance(value, np.ndarray) and value.size > 8:
        return f"an array of shape {value.shape} dtype {value.dtype}"
    text = " ".join(repr(value).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _bytes_text(n: int) -> str:
    for unit, size in (("EiB", 2**60), ("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def exceeds_memory(shape: tuple, itemsize: int) -> bool:
    """Whether an array of ``shape`` (``itemsize`` bytes a cell) is larger than this machine's memory."""
    size = math.prod(shape) * itemsize
    return size > _UNCHECKED_BYTES and size > memory_bytes()


def check_allocation(shape: tuple, itemsize: int, what: str | Callable[[], str]) -> None:
    """Refuse, before anything is allocated, an array of ``shape`` (``itemsize`` bytes a cell) larger
    than this machine's memory: a ValueError starting with ``what`` (the arguments that decide the
    shape; a callable is called only then), not NumPy's MemoryError or "array is too big"."""
    if exceeds_memory(shape, itemsize):
        size = math.prod(shape) * itemsize
        raise ValueError(f"{what() if callable(what) else what}: an array of shape {tuple(shape)} would take "
                         f"{_bytes_text(size)}, more than this machine's memory ({_bytes_text(memory_bytes())})")


def as_array(value, name: str) -> np.ndarray:
    """``value`` as an ndarray: None and ragged nested lists are errors naming ``name``; a
    non-native byte order (big-endian data read from a file) is converted to the native one."""
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    try:
        arr = np.asarray(value)
    except ValueError:
        raise ValueError(f"{name} must be a rectangular array: its nested lists have unequal lengths") from None
    if arr.dtype == object:
        raise TypeError(f"{name} must be a numeric array, got an array of Python objects (shape {arr.shape})")
    if arr.dtype.byteorder not in "=|":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def as_float_array(value, name: str) -> np.ndarray:
    """Return ``value`` as a float32/float64 ndarray; anything else is a TypeError naming ``name``."""
    arr = as_array(value, name)
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got dtype {arr.dtype} (shape {arr.shape})")
    return arr


def is_int(value) -> bool:
    """A Python or NumPy integer, not a bool (True is an int to Python, never a size here)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def int_arg(value, name: str, owner: str, minimum: int = 1, maximum: float = INT64_MAX) -> int:
    """A count argument (filters, units, groups, batch_size): an int in [``minimum``, ``maximum``]
    (NumPy integers too); 2.7, "8", True and 0-d arrays are TypeErrors."""
    if not is_int(value):
        raise TypeError(f"{owner}: {name} must be an int >= {minimum}, got {shown(value)} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value}")
    if value > maximum:
        raise ValueError(f"{owner}: {name} must be an int <= {maximum}, got {value}")
    return int(value)


def float_dtype(dtype, name: str = "dtype") -> np.dtype:
    """``dtype`` as float32 or float64; anything else (not a dtype at all too) is a TypeError naming ``name``."""
    try:
        value = np.dtype(dtype)
    except (TypeError, ValueError):
        value = None
    if value is None or value not in FLOAT_DTYPES:   # np.dtype("float64") == None holds
        raise TypeError(f"{name} must be float32 or float64, got {shown(dtype)}")
    return value


def dims_arg(value, name: str, itemsize: int) -> tuple[int, ...]:
    """An array shape of any length: a sequence of ints in [0, 2**63 - 1] (NumPy's too) whose array
    of ``itemsize`` bytes a cell fits in memory."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a sequence of ints, got {shown(value)}")
    dims = tuple(value)
    if not all(is_int(d) for d in dims):
        raise TypeError(f"{name} must be a sequence of ints, got {shown(value)}")
    if any(d < 0 or d > INT64_MAX for d in dims):
        raise ValueError(f"{name} entries must lie in [0, {INT64_MAX}], got {shown(value)}")
    dims = tuple(int(d) for d in dims)
    check_allocation(dims, itemsize, f"{name} {dims}")
    return dims


def flag_arg(value, name: str) -> bool:
    """A switch argument (keepdims, training): True or False (NumPy's bool too); "False", 0 or None
    is a TypeError, not a silent truth value."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {shown(value)} ({type(value).__name__})")
    return bool(value)


def real_value(value, name: str) -> float:
    """A real-number argument (TensorFlow's float attributes: alpha) as a float: a bool, a string or
    None is a TypeError, an int past float's range a ValueError; NaN and inf pass, as in TensorFlow."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {shown(value)} ({type(value).__name__})")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a real number within float range, got {value}") from None


def real_arg(value, name: str, owner: str, low: float | None = None, high: float | None = None,
          high_open: bool = False) -> float:
    """A finite float argument within [low, high] (or [low, high)); strings and bools are TypeErrors."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a number, got {shown(value)} ({type(value).__name__})")
    try:
        value = float(value)
    except OverflowError:   # an int past float's range
        raise ValueError(f"{owner}: {name} must be a finite number, got {value}") from None
    too_high = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or (low is not None and value < low) or too_high:
        bounds = f" in [{low}, {high}{')' if high_open else ']'}" if high is not None else f" >= {low}"
        raise ValueError(f"{owner}: {name} must be a finite number{'' if low is None else bounds}, got {value}")
    return value


def same_dtype(**arrays) -> np.dtype:
    """All arrays share one float dtype (no silent float64 in a float32 path)."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        desc = ", ".join(f"{n}={d}" for n, d in dtypes.items())
        raise TypeError(f"arguments must share one dtype, got {desc}")
    return next(iter(dtypes.values()))


def check_rank(arr: np.ndarray, rank: int, name: str, layout: str = "") -> None:
    if arr.ndim != rank:
        what = f" ({layout})" if layout else ""
        raise ValueError(f"{name} must be {rank}-D{what}, got shape {arr.shape}")


def check_shape(arr: np.ndarray, expected: tuple, name: str, why: str = "") -> None:
    if tuple(arr.shape) != tuple(expected):
        suffix = f" ({why})" if why else ""
        raise ValueError(f"{name} must have shape {tuple(expected)}{suffix}, got {arr.shape}")


def as_shape(value, name: str, rank: int, data_format: str | None = None,
             minimums: tuple | None = None) -> tuple[int, ...]:
    """A shape argument (``input_sizes``, ``filter_sizes``, ``output_shape``) as a tuple of ints.
    ``data_format``: an activation shape in that layout, whose batch and spatial entries may be 0
    (TensorFlow computes an empty batch, and an empty H or W whose windows read only padding); its
    channels, and every entry of a filter shape, must be positive. ``minimums``: each entry's
    least value instead (a filter shape with no output channels: ``(1, 1, 1, 0)``)."""
    try:
        if isinstance(value, (list, tuple)) and all(is_int(v) for v in value):
            items = np.array(value, dtype=object)   # ints past int64 stay ints (and get a ValueError below)
        else:
            items = np.asarray(value).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of {rank} ints, got {shown(value)}") from None
    # 5.5 must not silently become 5; an empty list is a rank error, not a dtype error
    if items.size and not (items.dtype.kind in "iu" or (items.dtype == object and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items))):
        raise TypeError(f"{name} must be a sequence of {rank} ints, got {shown(value)}")
    shape = tuple(int(v) for v in items)
    if any(v > INT64_MAX for v in shape):
        raise ValueError(f"{name} entries must be at most {INT64_MAX} (TensorFlow's int64 range), got {shown(value)}")
    channels = None if data_format is None else data_format.index("C")
    at_least = list(minimums) if minimums else [1 if channels is None or i == channels else 0 for i in range(len(shape))]
    if len(shape) != rank or any(v < low for v, low in zip(shape, at_least)):
        what = (f"ints, each at least {tuple(at_least)}" if minimums else "positive ints" if data_format is None
                else f"ints, the channels ({data_format}) positive, the others >= 0")
        raise ValueError(f"{name} must be {rank} {what}, got {shown(value)}")
    return shape


def to_nhwc(x: np.ndarray, data_format: str) -> np.ndarray:
    return x if data_format == "NHWC" else x.transpose(0, 2, 3, 1)


def from_nhwc(x: np.ndarray, data_format: str) -> np.ndarray:
    return x if data_format == "NHWC" else x.transpose(0, 3, 1, 2)


def shape_to_nhwc(shape: tuple, data_format: str) -> tuple:
    return tuple(shape) if data_format == "NHWC" else (shape[0], shape[2], shape[3], shape[1])


def shape_from_nhwc(shape: tuple, data_format: str) -> tuple:
    return tuple(shape) if data_format == "NHWC" else (shape[0], shape[3], shape[1], shape[2])
