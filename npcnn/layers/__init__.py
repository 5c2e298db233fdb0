"""Keras-like layers built only from :func:`npcnn.vjp` (channels-last, NHWC activations).

Each layer has Keras's class name, arguments and weight names. The life cycle:

* ``build(input_shape, dtype="float32", seed=None)`` creates ``params`` (``input_shape`` includes the
  batch axis, which may be None); weights are drawn from ``numpy.random.default_rng(seed)``.
* ``forward(x, training=False)`` returns the output and keeps the pullback of this call.
* ``backward(dy)`` returns ``dx`` and fills ``grads`` (one entry per *trainable* weight).

``params`` holds every weight in Keras's order (``kernel``, ``bias``; ``gamma``, ``beta``,
``moving_mean``, ``moving_variance``); ``trainable`` names those the optimizer updates. A layer's
input must already have the layer's dtype: nothing is cast silently.

The modules: :mod:`~npcnn.layers.base` (``Layer``), :mod:`~npcnn.layers.conv`,
:mod:`~npcnn.layers.pooling`, :mod:`~npcnn.layers.core` (Dense, Flatten, Dropout),
:mod:`~npcnn.layers.normalization`, :mod:`~npcnn.layers.activations` (the Keras activation names,
Activation, ReLU) and :mod:`~npcnn.layers.serialization`.
"""
from .activations import ACTIVATIONS, Activation, ReLU, apply_activation
from .base import Layer, LayerPullback
from .conv import Conv2D, Conv2DTranspose, DepthwiseConv2D, transpose_output_size
from .core import Dense, Dropout, Flatten
from .normalization import BatchNormalization, GroupNormalization, LayerNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from .serialization import LAYERS, deserialize, serialize

__all__ = [
    "Layer", "LayerPullback", "ACTIVATIONS", "apply_activation", "transpose_output_size", "LAYERS", "deserialize",
    "serialize", "Activation", "ReLU", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "Dense", "Dropout", "Flatten",
    "BatchNormalization", "GroupNormalization", "LayerNormalization", "AveragePooling2D", "GlobalAveragePooling2D",
    "MaxPooling2D",
]
