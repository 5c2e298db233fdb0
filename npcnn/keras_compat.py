"""Convert between ``keras.Sequential`` and :class:`npcnn.Sequential`, weights included.

``from_keras(model)`` and ``to_keras(model)`` map each layer by class name and configuration, and
copy weights by their Keras names (kernel, bias, gamma, beta, moving_mean, moving_variance). A layer
or an option npcnn does not implement (regularizers, constraints, channels_first, ReLU max_value,
renorm, ...) is a ValueError naming the layer. Initializers npcnn knows (glorot/he uniform/normal,
zeros, ones, constant, variance_scaling) carry over; others are left at npcnn's defaults, which
only matters if the layer is built again. Keras is imported only when these functions run.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import initializers
from . import layers as L
from .config import set_floatx
from .layers.base import _snake
from .models import Sequential

SUPPORTED = tuple(L.LAYERS)

# Keras config keys that change what a layer computes or how it trains, with the value npcnn needs.
_MUST_BE = {
    "data_format": ("channels_last", None),
    "kernel_regularizer": (None,), "bias_regularizer": (None,), "activity_regularizer": (None,),
    "depthwise_regularizer": (None,), "beta_regularizer": (None,), "gamma_regularizer": (None,),
    "kernel_constraint": (None,), "bias_constraint": (None,), "depthwise_constraint": (None,),
    "beta_constraint": (None,), "gamma_constraint": (None,),
    "renorm": (False,), "max_value": (None,), "threshold": (0.0, 0), "rms_scaling": (False,),
    "noise_shape": (None,), "lora_rank": (None,),
}

# npcnn constructor arguments taken from the Keras config, per class.
_ARGS = {
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "dilation_rate", "groups", "activation", "use_bias"),
    "Conv2DTranspose": ("filters", "kernel_size", "strides", "padding", "output_padding", "dilation_rate",
                        "activation", "use_bias"),
    "DepthwiseConv2D": ("kernel_size", "strides", "padding", "depth_multiplier", "dilation_rate", "activation",
                        "use_bias"),
    "MaxPooling2D": ("pool_size", "strides", "padding"),
    "AveragePooling2D": ("pool_size", "strides", "padding"),
    "GlobalAveragePooling2D": ("keepdims",),
    "Dense": ("units", "activation", "use_bias"),
    "Flatten": (),
    "Activation": ("activation",),
    "ReLU": ("negative_slope",),
    "Dropout": ("rate", "seed"),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "GroupNormalization": ("groups", "axis", "epsilon", "center", "scale"),
    "LayerNormalization": ("axis", "epsilon", "center", "scale"),
}


INITIALIZER_ARGS = ("kernel_initializer", "bias_initializer", "depthwise_initializer", "beta_initializer",
                    "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer")


def _initializer_from_keras(spec: Any) -> initializers.Initializer | None:
    """npcnn's initializer for a Keras initializer config (a name or a serialized dict), or None."""
    if isinstance(spec, str):
        name, config = spec, {}
    elif isinstance(spec, dict):
        name = _snake(spec.get("class_name", ""))
        # seed, and Keras 3.15's input_axes/output_axes when unset, do not change the distribution
        config = {k: v for k, v in spec.get("config", {}).items() if k != "seed" and v is not None}
    else:
        return None
    try:
        return initializers.get({"class_name": name, "config": config})
    except (ValueError, TypeError):
        return None


def _keras() -> Any:
    try:
        import keras  # deferred: Keras imports TensorFlow (seconds), needed only by these conversions
    except ImportError:
        raise ImportError("npcnn.keras_compat needs Keras 3 (pip install tensorflow-cpu keras)") from None
    return keras


def _unsupported(layer_name: str, cls: str, why: str) -> ValueError:
    return ValueError(f"Keras layer {layer_name!r} ({cls}) cannot be converted: {why}")


def _npcnn_config(klayer: Any) -> tuple[str, dict]:
    """The npcnn class name and constructor arguments equivalent to a Keras layer."""
    cls = type(klayer).__name__
    if cls not in _ARGS:
        raise _unsupported(klayer.name, cls, f"npcnn has no such layer; supported: {', '.join(SUPPORTED)}")
    config = klayer.get_config()
    for key, allowed in _MUST_BE.items():
        if key in config and config[key] not in allowed:
            raise _unsupported(klayer.name, cls, f"{key}={config[key]!r} is not supported (npcnn needs "
                                                 f"{' or '.join(map(repr, allowed))})")
    args = {k: config[k] for k in _ARGS[cls] if k in config}
    for key in INITIALIZER_ARGS:
        init = _initializer_from_keras(config.get(key))
        if init is not None:
            args[key] = init
    if isinstance(args.get("activation"), dict) or callable(args.get("activation")):
        raise _unsupported(klayer.name, cls, f"custom activation {args['activation']!r}")
    if "axis" in args:
        axis = args["axis"]
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise _unsupported(klayer.name, cls, f"axis={axis} (npcnn normalizes over one axis)")
            axis = axis[0]
        args["axis"] = int(axis)
    return cls, {**args, "name": klayer.name}


def from_keras(model: Any) -> Sequential:
    """An npcnn Sequential equivalent to a built ``keras.Sequential``, with its weights copied.
    Keras's ``floatx`` is carried over to ``npcnn.config`` (optimizers made afterwards keep their
    learning rate in it, as Keras's do)."""
    keras = _keras()
    set_floatx(keras.config.floatx())
    if not isinstance(model, keras.Sequential):
        raise TypeError(f"from_keras takes a keras.Sequential, got {type(model).__name__}")
    if not model.built:
        raise ValueError("build the Keras model first (give it an Input or call it once)")
    specs = [_npcnn_config(layer) for layer in model.layers]
    ours = Sequential([L.LAYERS[cls](**args) for cls, args in specs], name=model.name)
    dtypes = {v.dtype for v in model.weights} or {model.layers[0].dtype_policy.compute_dtype}
    if len(dtypes) != 1:
        raise ValueError(f"the Keras model mixes weight dtypes {sorted(dtypes)}")
    ours.build(tuple(model.input_shape), dtypes.pop())
    for klayer, layer in zip(model.layers, ours.layers):
        names = [v.name for v in klayer.weights]
        if names != list(layer.params):
            raise _unsupported(klayer.name, type(klayer).__name__,
                               f"weights {names} do not match npcnn's {list(layer.params)}")
        for v in klayer.weights:
            value = np.asarray(v.numpy())
            if value.shape != layer.params[v.name].shape:
                raise _unsupported(klayer.name, type(klayer).__name__,
                                   f"{v.name} has shape {value.shape}, npcnn expects {layer.params[v.name].shape}")
            layer.params[v.name][...] = value
    return ours


def _keras_layer(keras: Any, layer: L.Layer, dtype: str) -> Any:
    cls = type(layer).__name__
    if cls not in _ARGS:
        raise ValueError(f"npcnn layer {layer.name!r} ({cls}) has no Keras equivalent in keras_compat")
    config = layer.get_config()
    args = {k: config[k] for k in _ARGS[cls] if k in config}
    for key in INITIALIZER_ARGS:
        if key in config:
            spec = config[key]
            args[key] = spec["class_name"] if not spec["config"] else {
                "class_name": "".join(w.title() for w in spec["class_name"].split("_")), "config": spec["config"]}
    if cls == "Conv2DTranspose" and args.get("output_padding") is None:
        args.pop("output_padding", None)
    return getattr(keras.layers, cls)(**args, name=layer.name, dtype=dtype)


def to_keras(model: Sequential) -> Any:
    """A built ``keras.Sequential`` equivalent to a built npcnn Sequential, with its weights copied."""
    keras = _keras()
    if not model.built:
        raise ValueError("build the npcnn model first: model.build(input_shape, dtype)")
    dtype = model.dtype.name
    klayers = [_keras_layer(keras, layer, dtype) for layer in model.layers]
    kmodel = keras.Sequential([keras.Input(model.input_shape[1:], dtype=dtype), *klayers], name=model.name)
    for klayer, layer in zip(kmodel.layers, model.layers):
        names = [v.name for v in klayer.weights]
        if names != list(layer.params):
            raise ValueError(f"layer {layer.name!r}: Keras weights {names} do not match npcnn's {list(layer.params)}")
        for v in klayer.weights:
            v.assign(layer.params[v.name])
    return kmodel
