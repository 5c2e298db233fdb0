"""Layers to and from ``{"class_name": ..., "config": ...}`` dicts (Keras's class names and arguments)."""
from __future__ import annotations

from .activations import Activation, ReLU
from .base import Layer
from .conv import Conv2D, Conv2DTranspose, DepthwiseConv2D
from .core import Dense, Dropout, Flatten
from .normalization import BatchNormalization, GroupNormalization, LayerNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D

LAYERS: dict[str, type[Layer]] = {cls.__name__: cls for cls in (
    Conv2D, Conv2DTranspose, DepthwiseConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Dense,
    Flatten, Activation, ReLU, Dropout, BatchNormalization, GroupNormalization, LayerNormalization)}


def deserialize(spec: dict) -> Layer:
    """A layer from ``{"class_name": ..., "config": ...}`` as :func:`serialize` writes."""
    name = spec.get("class_name")
    if name not in LAYERS:
        raise ValueError(f"unknown layer class {name!r}; npcnn supports {sorted(LAYERS)}")
    return LAYERS[name].from_config(dict(spec.get("config", {})))


def serialize(layer: Layer) -> dict:
    """``{"class_name": ..., "config": layer.get_config()}``."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}
