"""Discovering layer classes without declarations: which op a class computes (its name), how to
build it from a case's configuration (its constructor's parameter names), where its weights and
gradients live and in which layout (building it once with distinct sizes)."""
from __future__ import annotations

import inspect

import numpy as np

from .layer_access import find_path, get_path
from .layer_declaration import (BIAS_NAMES, CONSTRUCTOR, LEARNING_RATE_NAMES, WEIGHT_NAMES, Config, Layer,  # noqa: F401
                                layer_ops)


def _op_of(cls) -> str | None:
    name = cls.__name__.lower().replace("_", "")
    if "softmax" in name:
        return None   # a dense + softmax or a loss: declare it
    # the longest key first: "leakyrelu" before "relu" before "elu", "avgpool" before "pool"
    for key, op in sorted(((k, op) for op, keys in layer_ops().items() for k in keys), key=lambda ko: -len(ko[0])):
        if key in name:
            return op
    return None


def _constructor_maker(cls, op: str, layout: str):
    """``make(config)`` matching the constructor's parameter names, or None if one cannot be matched."""
    params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"
              and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    plan = []
    order = (["in_features", "out_features"] if op == "dense" else []) + list(CONSTRUCTOR)
    for p in params:
        field_ = next((f for f in order if p.name.lower() in CONSTRUCTOR[f]), None)
        if p.name.lower() in ("x_dim", "input_shape", "input_dim", "in_shape", "input_size") and op != "dense":
            field_ = "input_shape"
        if field_ is None:
            if p.default is p.empty:
                return None
            continue
        plan.append((p.name, field_))

    def make(config: Config):
        kwargs = {}
        for pname, f in plan:
            if f == "kernel":
                value = config.kernel if pname.lower() in ("h_filter", "w_filter", "k", "size", "f", "field") \
                    else (config.kernel if config.kernel_size[0] == config.kernel_size[1] else tuple(config.kernel_size))
            elif f == "input_shape":
                value = tuple(config.input_shape)
            else:
                value = getattr(config, f)
            kwargs[pname] = value
        return cls(**kwargs)
    make.__name__ = cls.__name__
    return make


def probe_config(op: str) -> Config:
    if op == "conv2d":
        return Config(op, in_channels=2, out_channels=3, kernel_size=(3, 3), stride=1, pad=1,
                      input_shape=(2, 5, 5))
    if op == "dense":
        return Config(op, in_features=4, out_features=3)
    return Config(op, kernel_size=(2, 2), stride=2, in_channels=2, input_shape=(2, 4, 4))


def discover(cls, module_layout: str) -> Layer | str:
    """A Layer for a class, or why it cannot be discovered."""
    op = _op_of(cls)
    if op is None:
        return f"{cls.__name__}: its name does not say which op it is; declare it with crosscheck.Layer"
    backward = "backward" if callable(getattr(cls, "backward", None)) else "backprop"
    make = _constructor_maker(cls, op, module_layout)
    if make is None:
        return f"{cls.__name__}: its constructor's parameters cannot be matched; declare it with crosscheck.Layer"
    layer = Layer(make=make, op=op, layout=module_layout, backward=backward, name=cls.__name__)
    sig = inspect.signature(getattr(cls, backward))
    lr = next((p for p in sig.parameters if p in LEARNING_RATE_NAMES), None)
    if lr is not None:
        layer.learning_rate, layer.learning_rate_arg, layer.grads = 1.0, lr, "update"
    if op in ("conv2d", "dense"):
        try:
            probe = make(probe_config(op))
        except Exception as exc:
            return f"{cls.__name__}: building it failed ({type(exc).__name__}: {exc}); declare it with crosscheck.Layer"
        w, b = find_path(probe, WEIGHT_NAMES), find_path(probe, BIAS_NAMES)
        if w is None:
            return f"{cls.__name__}: no weight attribute found; declare it with crosscheck.Layer"
        if get_path(probe, w) is None:   # created by the first forward: build them from a probe input
            layout = _initialise(probe, op)
            if layout is None:
                return f"{cls.__name__}: its weights are created lazily and no probe input worked; declare it"
            layer.layout = layout
        layer.weights = {("filters" if op == "conv2d" else "kernel"): w, **({"bias": b} if b else {})}
        layer.filter_layout = filter_layout_of(probe, w, op)
        if op == "conv2d":
            layer.layout = "NHWC" if layer.filter_layout == "HWIO" else "NCHW"
        if layer.supports == {} and b is None:
            layer.supports = {"bias": False}
    params = inspect.signature(cls.__init__).parameters
    supports = dict(layer.supports)
    if op == "conv2d" and not any(p.lower() in CONSTRUCTOR["pad"] for p in params):
        supports["pads"] = (0,)
    if op == "conv2d" and not any(p.lower() in CONSTRUCTOR["stride"] for p in params):
        supports["strides"] = (1,)
    if op in ("max_pool2d", "avg_pool2d") and "mode" in params:
        layer.op = "pool"   # both modes
    layer.supports = supports
    return layer


def _initialise(probe, op: str) -> str | None:
    """Run the probe layer's forward once (channels-last first: lazily built layers read C from the
    input's last axis), so that its weights exist; the layout that worked, or None."""
    inputs = ({"NHWC": np.zeros((1, 5, 5, 2)), "NCHW": np.zeros((1, 2, 5, 5))} if op == "conv2d"
              else {"NCHW": np.zeros((2, 4))})
    for layout, x in inputs.items():
        try:
            probe.forward(x)
            return layout
        except Exception:
            continue
    return None


def filter_layout_of(layer_obj, path: str, op: str) -> str:
    """The layout of the weights built from the probe configuration (distinct sizes tell them apart)."""
    w = get_path(layer_obj, path)
    shape = tuple(np.shape(w)) if w is not None else ()
    if op == "dense":
        return "OI" if shape == (3, 4) else "IO"
    if shape == (3, 2, 3, 3):
        return "FCHW"
    if shape == (3, 3, 2, 3):
        return "HWIO"
    return "FCHW"


def module_layout(module) -> str:
    """NHWC when the module's convolution keeps HWIO weights, else NCHW."""
    for cls in layer_classes(module):
        if _op_of(cls) == "conv2d":
            layer = discover(cls, "NCHW")
            if isinstance(layer, Layer):
                return layer.layout
    return "NCHW"


def layer_classes(module):
    return [obj for name, obj in vars(module).items() if inspect.isclass(obj) and obj.__module__ == module.__name__
            and callable(getattr(obj, "forward", None))
            and (callable(getattr(obj, "backward", None)) or callable(getattr(obj, "backprop", None)))]

