"""Weight initializers with Keras 3's distributions and fan rules, drawn from seeded NumPy Generators.

An initializer is called as ``init(shape, dtype, rng)`` with a ``numpy.random.Generator``; the same
seed gives the same weights. Fans follow ``keras.initializers.compute_fans``: a 1-D shape has
``fan_in = fan_out = shape[0]``; a 2-D ``(in, out)`` kernel ``fan_in = in``; a conv kernel
``(kh, kw, in, out)`` (HWIO) ``fan_in = kh * kw * in``, ``fan_out = kh * kw * out``.
"""
from __future__ import annotations

import inspect
import math
from typing import Sequence, Union

import numpy as np

from ._checks import dims_arg, float_dtype, real_arg, shown
from ._typing import DTypeLike

# The std of a standard normal truncated to [-2, 2]; Keras divides by it so the truncated draw has
# the requested variance.
TRUNCATED_NORMAL_STD = 0.87962566103423978


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, as ``keras.initializers.compute_fans``."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field




def truncated_normal(rng: np.random.Generator, shape: Sequence[int], stddev: float) -> np.ndarray:
    """Normal(0, stddev) draws, each redrawn until it lies within two stddevs (float64)."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2.0
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2.0
    return z * stddev


class Initializer:
    """Base class: ``init(shape, dtype, rng) -> ndarray`` of ``dtype``."""
    name = "initializer"

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32",
                 rng: np.random.Generator | None = None) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` drawn from ``rng`` (a fresh unseeded generator if None)."""
        dtype = float_dtype(dtype, "initializer dtype")
        shape = dims_arg(shape, "shape", 8)   # drawn in float64
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
        rng = np.random.default_rng() if rng is None else rng
        return np.asarray(self.sample(shape, rng), dtype=np.float64).astype(dtype)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """float64 values of ``shape`` (cast to the requested dtype by ``__call__``)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Zeros(Initializer):
    name = "zeros"

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape)


class Ones(Initializer):
    name = "ones"

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.ones(shape)


class Constant(Initializer):
    name = "constant"

    def __init__(self, value: float = 0.0) -> None:
        self.value = real_arg(value, "value", "Constant")

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, self.value)

    def get_config(self) -> dict:
        return {"value": self.value}


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: ``scale / n`` variance, ``n`` the fan_in, fan_out or their mean.

    ``uniform`` draws from ``[-sqrt(3 * var), sqrt(3 * var)]``; ``truncated_normal`` from a normal
    with stddev ``sqrt(var) / 0.8796...`` truncated at two stddevs (so the result has variance
    ``var``); ``untruncated_normal`` from Normal(0, sqrt(var)).
    """
    name = "variance_scaling"
    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal") -> None:
        scale = real_arg(scale, "scale", type(self).__name__)
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        if not isinstance(mode, str) or mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {shown(mode)}")
        if not isinstance(distribution, str):
            raise TypeError(f"distribution must be one of {self.DISTRIBUTIONS}, got {shown(distribution)}")
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {self.DISTRIBUTIONS}, got {shown(distribution)}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def variance(self, shape: Sequence[int]) -> float:
        """The variance of the draws for a weight of ``shape``: ``scale / max(1, n)``."""
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, n)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        var = self.variance(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "truncated_normal":
            return truncated_normal(rng, shape, math.sqrt(var) / TRUNCATED_NORMAL_STD)
        return rng.standard_normal(shape) * math.sqrt(var)

    def get_config(self) -> dict:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


class GlorotUniform(VarianceScaling):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``."""
    name = "glorot_uniform"

    def __init__(self) -> None:
        super().__init__(1.0, "fan_avg", "uniform")

    def get_config(self) -> dict:
        return {}


class GlorotNormal(VarianceScaling):
    name = "glorot_normal"

    def __init__(self) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal")

    def get_config(self) -> dict:
        return {}


class HeNormal(VarianceScaling):
    """Truncated normal with variance ``2 / fan_in`` (Keras: stddev ``sqrt(2 / fan_in) / 0.8796``, cut at 2 stddevs)."""
    name = "he_normal"

    def __init__(self) -> None:
        super().__init__(2.0, "fan_in", "truncated_normal")

    def get_config(self) -> dict:
        return {}


class HeUniform(VarianceScaling):
    name = "he_uniform"

    def __init__(self) -> None:
        super().__init__(2.0, "fan_in", "uniform")

    def get_config(self) -> dict:
        return {}


#: What :func:`get` takes: a name, a serialized dict or an instance.
Identifier = Union[str, dict, Initializer]

_BY_NAME = {cls.name: cls for cls in (Zeros, Ones, Constant, VarianceScaling, GlorotUniform, GlorotNormal,
                                       HeNormal, HeUniform)}


def get(identifier: Identifier) -> Initializer:
    """An initializer from a name (``"glorot_uniform"``, ``"he_normal"``, ``"zeros"``, ``"ones"`` ...),
    a ``{"class_name": ..., "config": ...}`` dict (as :func:`serialize` writes) or an instance."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        name, config = identifier.get("class_name"), identifier.get("config", {})
        if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
            raise TypeError(f"initializer {name!r}: its config must be a dict of arguments, got {shown(config)}")
    else:
        name, config = identifier, {}
    if isinstance(name, str) and name.lower() in _BY_NAME:
        cls = _BY_NAME[name.lower()]
        unknown = sorted(set(config) - set(inspect.signature(cls).parameters)) if config else []
        if unknown:
            raise TypeError(f"initializer {name!r} takes no arguments {unknown}; it takes "
                            f"{list(inspect.signature(cls).parameters)}")
        return cls(**config)
    raise ValueError(f"unknown initializer {shown(identifier)}; known: {sorted(_BY_NAME)}")


def serialize(init: Initializer) -> dict:
    """``{"class_name": ..., "config": ...}``, which :func:`get` takes back."""
    return {"class_name": init.name, "config": init.get_config()}


glorot_uniform, glorot_normal, he_normal, he_uniform = GlorotUniform(), GlorotNormal(), HeNormal(), HeUniform()
zeros, ones = Zeros(), Ones()
