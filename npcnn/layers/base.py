"""The ``Layer`` base class and the argument checks every layer shares."""
from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from typing import Callable, Sequence

import numpy as np

from .. import initializers
from .. import padding as P
from .._checks import FLOAT_DTYPES, as_array, check_allocation, flag_arg, float_dtype, int_arg, is_int, shown
from .._typing import ArrayLike, DTypeLike, Shape, SpatialArg

#: A layer call's pullback: ``dy -> (dx, {weight name: gradient})``.
LayerPullback = Callable[[np.ndarray], tuple[np.ndarray, dict[str, np.ndarray]]]

_NAME_COUNTERS: dict[str, itertools.count] = defaultdict(itertools.count)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _unique_name(cls_name: str) -> str:
    base = _snake(cls_name).replace("2_d", "2d")
    i = next(_NAME_COUNTERS[base])
    return base if i == 0 else f"{base}_{i}"


def _check_channels_last(data_format: str | None, layer: str) -> None:
    if data_format not in (None, "channels_last", "NHWC"):
        raise ValueError(
            f"{layer}: npcnn layers are channels-last only (NHWC); got data_format={shown(data_format)}. "
            f"Transpose NCHW inputs with x.transpose(0, 2, 3, 1).")


def _keras_padding(padding: str, layer: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same' (as in Keras), got {shown(padding)}")
    return padding.lower()


def _pair(value: SpatialArg, name: str, layer: str, minimum: int = 1) -> tuple[int, int]:
    try:
        return P.spatial_pair(value, name, minimum=minimum)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{layer}: {e}") from None


def _flag(value: bool, name: str, layer: str) -> bool:
    """A switch argument (use_bias, center, keepdims): True or False; "False" or 0 is a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{layer}: {name} must be True or False, got {shown(value)} ({type(value).__name__})")
    return bool(value)


def _saved_weight(saved: dict, layer: str, name: str, shape: tuple, dtype: np.dtype,
                  why: Callable[[], str]) -> np.ndarray:
    if name not in saved:
        raise ValueError(f"{layer}: the saved weights have no {name!r} (they have {sorted(saved)})")
    value = saved[name]
    if value.shape != shape or value.dtype != dtype:
        raise ValueError(f"{layer}/{name}: the saved weight has shape {value.shape} {value.dtype}, the layer's "
                         f"configuration ({why()}) needs {shape} {np.dtype(dtype)}")
    return np.array(value)


class Layer:
    """Base class. Subclasses implement ``build_weights``, ``call`` and ``compute_output_shape``.

    ``call(x, training) -> (y, pullback)`` where ``pullback(dy) -> (dx, {weight_name: grad})``.
    """
    def __init__(self, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise (ValueError if isinstance(name, str) else TypeError)(
                f"{type(self).__name__}: name must be a non-empty string without '/' (or None), got {name!r}")
        self.name = name or _unique_name(type(self).__name__)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.trainable: tuple[str, ...] = ()
        self.built = False
        self.input_shape: Shape | None = None
        self.dtype: np.dtype | None = None
        self._pullback: LayerPullback | None = None

    # building
    def build(self, input_shape: Sequence[int | None], dtype: DTypeLike = "float32", seed: int | None = None,
              saved: dict[str, np.ndarray] | None = None) -> Layer:
        """Create the weights for inputs of ``input_shape`` (batch axis included, may be None).
        ``saved``: weight name -> array to use instead of initialising (a loaded model); each is
        checked against the shape the layer needs before anything of that size is allocated."""
        dtype = float_dtype(dtype, f"{self.name}: dtype")
        if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
            raise TypeError(f"{self.name}: input_shape must be a sequence with the batch axis first, "
                            f"got {shown(input_shape)}")
        if seed is not None:
            seed = int_arg(seed, "seed", f"{self.name}: build", minimum=0, maximum=math.inf)
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

    def build_weights(self, input_shape: Shape, rng: np.random.Generator) -> None:
        """Create the layer's weights with :meth:`add_weight` (none by default)."""

    def add_weight(self, name: str, shape: Sequence[int], initializer: initializers.Identifier,
                   rng: np.random.Generator, trainable: bool = True) -> np.ndarray:
        """The weight ``name`` of ``shape``, drawn by ``initializer`` (or taken from the saved weights)."""
        saved = getattr(self, "_saved", None)
        if saved is None:
            check_allocation(tuple(shape), self.dtype.itemsize,
                             lambda: f"{self.name} ({type(self).__name__}): its {name} for {self._sizes()}")
            self.params[name] = initializers.get(initializer)(tuple(shape), self.dtype, rng)
        else:
            self.params[name] = _saved_weight(saved, self.name, name, tuple(shape), self.dtype, self._sizes)
        if trainable:
            self.trainable = self.trainable + (name,)
        return self.params[name]

    def _sizes(self) -> str:
        """The input shape and the integer arguments that decide the weights' shapes, for messages."""
        sizes = {k: v for k, v in self.get_config().items()
                 if is_int(v) or isinstance(v, tuple) and all(is_int(d) for d in v)}
        return f"input_shape {self.input_shape}, {', '.join(f'{k}={v}' for k, v in sizes.items())}"

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The output shape for ``input_shape`` (batch axis included); a ValueError if the layer cannot take it."""
        return tuple(input_shape)

    # running
    def __call__(self, x: ArrayLike, training: bool = False) -> np.ndarray:
        """:meth:`forward`, building the layer first for ``x``'s shape and dtype if it is not built."""
        if not self.built:
            x = as_array(x, "x")
            try:
                self.build((None,) + x.shape[1:], x.dtype if x.dtype in FLOAT_DTYPES else "float32")
            except (ValueError, TypeError) as e:
                raise type(e)(f"x of shape {x.shape}: {e}") from None
        return self.forward(x, training)

    def forward(self, x: ArrayLike, training: bool = False) -> np.ndarray:
        """Output for ``x``; keeps this call's pullback for :meth:`backward`."""
        if not self.built:
            raise RuntimeError(f"{self.name}: call build(input_shape, dtype) (or the layer itself) before forward")
        x = as_array(x, "x")
        if x.dtype != self.dtype:
            raise TypeError(f"{self.name} was built for {self.dtype} inputs, got x of dtype {x.dtype} (shape "
                            f"{x.shape}); cast the data explicitly")
        expected = self.input_shape[1:]
        if x.ndim != len(self.input_shape) or any(e is not None and e != d for e, d in zip(expected, x.shape[1:])):
            raise ValueError(f"{self.name} was built for input shape {self.input_shape}, got x of shape {x.shape}")
        y, self._pullback = self.call(x, flag_arg(training, "training"))
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dx`` for the upstream gradient ``dy`` of the last forward; fills ``self.grads``."""
        if self._pullback is None:
            raise RuntimeError(f"{self.name}: backward called before forward")
        dx, grads = self._pullback(as_array(dy, "dy"))
        self.grads = {k: grads[k] for k in self.trainable}
        return dx

    def call(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, LayerPullback]:
        """``(y, pullback)`` for an input already checked against the built shape and dtype."""
        raise NotImplementedError

    # description
    def count_params(self) -> int:
        """How many numbers the layer's weights hold (trainable or not)."""
        return int(sum(p.size for p in self.params.values()))

    def get_config(self) -> dict:
        """The constructor arguments that rebuild this layer (Keras's names)."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        """The layer that :meth:`get_config`'s ``config`` describes."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
