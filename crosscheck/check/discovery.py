"""Discovering layer classes without declarations: which op a class computes (its name), its forward
and backward methods (``forward``/``forward_pass``/``fprop``/``__call__``, ``backward``/
``backward_pass``/``backprop``/``bprop``), how to build it from a case's configuration and in which
layout it takes its input (crosscheck.check.layer_probe: names, then probe sizes), where its weights
live and in which layout. A class whose name says no layer op but whose constructor sizes a weight
matrix and a bias (``Softmax(input_len, nodes)``) is a dense layer followed by the activation its
forward applies (crosscheck.check.dense_activation)."""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from .dense_activation import needs_arguments, told_activation
from .layer_access import find_path, get_path
from .layer_declaration import (BACKWARD_NAMES, BIAS_NAMES, FORWARD_NAMES, LEARNING_RATE_NAMES, WEIGHT_NAMES, Config,
                                Layer, layer_ops)
from .layer_probe import CANDIDATES, filter_layout, fit, maker, named_plan, probes
from .cases import same_pads
from .deeplearning_ai_reference import conv_forward as reference_conv
from .layers import call_backward, declaration_hint, layer_impl
from .untied_bias import untied_order


def _op_of(cls) -> str | None:
    name = cls.__name__.lower().replace("_", "")
    if "softmax" in name:
        return None   # a dense + softmax or a loss: declare it
    if name.startswith("activation"):   # "Activation_ReLU": the activation is the rest ("Activation_Linear": none)
        name = name[len("activation"):]
        if name in ("linear", "identity"):
            return None
    # the longest key first: "leakyrelu" before "relu" before "elu", "avgpool" before "pool"
    for key, op in sorted(((k, op) for op, keys in layer_ops().items() for k in keys), key=lambda ko: -len(ko[0])):
        if key in name:
            return op
    return None


def assembled_at_run_time(cls) -> str:
    """Why a network class cannot be checked as a class when built with no arguments it holds no layers
    (a "Neural Networks from Scratch" ``Model``: layers added with ``add(...)``, set up by
    ``finalize()``), or ""."""
    adder = next((n for n in ("add", "add_layer", "append") if callable(getattr(cls, n, None))), None)
    if adder is None:
        return ""
    try:
        obj = cls()
    except Exception:   # noqa: BLE001 - a constructor that needs arguments: not this case
        return ""
    if not any(isinstance(v, list) and not v for v in vars(obj).values()):
        return ""
    return (f"{cls.__name__}: built with no arguments it holds no layers (they are added with {adder}(...) at run "
            f"time), so it cannot be checked as a class; its layer classes are checked on their own rows")


def probe_config(op: str) -> Config:
    """A configuration to build a declared layer once with (to name its row)."""
    if op == "conv2d":
        return Config(op, in_channels=2, out_channels=3, kernel_size=(3, 3), stride=1, pad=1,
                      input_shape=(2, 5, 5), pads=(1, 1, 1, 1))
    if op == "dense":
        return Config(op, in_features=4, out_features=3)
    return Config(op, kernel_size=(2, 2), stride=2, in_channels=2, input_shape=(2, 4, 4))


def method_names(cls) -> tuple[str | None, str | None]:
    """(forward, backward): the first of the names crosscheck knows that the class defines; ``__call__``
    counts only when the class itself (not ``object``) defines it."""
    def defines(name):
        if name == "__call__":
            return any("__call__" in vars(k) for k in cls.__mro__[:-1])
        return callable(getattr(cls, name, None))
    return (next((n for n in FORWARD_NAMES if defines(n)), None), next((n for n in BACKWARD_NAMES if defines(n)), None))


def discover(cls, module_layout: str) -> Layer | Undiscovered:
    """A Layer for a class, or why it cannot be discovered (an Undiscovered: an error row, or a
    cannot-check row with the declaration to write)."""
    op = _op_of(cls)
    name = cls.__name__
    if op is None:
        return _dense_by_behaviour(cls, module_layout) or Undiscovered(
            f"{name}: its name does not say which op it is; declare it with crosscheck.Layer")
    return _discover_as(cls, op, module_layout)


def _dense_by_behaviour(cls, module_layout: str) -> Layer | Undiscovered | None:
    """A class whose name says no layer op (``Softmax``) but whose constructor sizes a weight matrix and a
    bias: discovered as a dense layer, with the activation its forward applies
    (crosscheck.check.dense_activation); None when it is not one."""
    if not needs_arguments(cls):   # built with no arguments: crosscheck.check.self_examine tells it
        return None
    layer = _discover_as(cls, "dense", module_layout)
    told = told_activation(cls, layer) if isinstance(layer, Layer) else None
    return Undiscovered(told, "cannot-check") if isinstance(told, str) else told


def _discover_as(cls, op: str, module_layout: str) -> Layer | Undiscovered:
    """A Layer for a class computing ``op`` (found how to build it, its layout and its weights), or why not."""
    name = cls.__name__
    forward, backward = method_names(cls)
    layer = Layer(make=None, op=op, layout=module_layout, backward=backward, forward=forward, name=name)
    lr = next((p for p in inspect.signature(getattr(cls, backward)).parameters if p in LEARNING_RATE_NAMES), None)
    if lr is not None:
        layer.learning_rate, layer.learning_rate_arg, layer.grads = 1.0, lr, "update"
    if op not in CANDIDATES:   # an element-wise activation: built without arguments
        named, unknown = named_plan(cls, op)
        if unknown:
            return _cannot(layer, f"its constructor's parameter {unknown[0]} cannot be matched (a {op} has no sizes)", cls)
        layer.make = maker(cls, named, False)
        return layer
    found = fit(cls, op, forward, module_layout, backward=lambda obj, dy: call_backward(layer, obj, dy))
    if isinstance(found, str):
        return _cannot(layer, found, cls)
    layer.make, layer.layout = maker(cls, found.plan, found.tuples), found.layout
    supports = dict(found.supports)
    fields = {f for _, f in found.plan}
    if op in ("conv2d", "dense"):
        probe = found.probe
        w, b = find_path(probe, WEIGHT_NAMES), find_path(probe, BIAS_NAMES)
        if w is None:
            return _cannot(layer, "no weight attribute found (looked for " + ", ".join(WEIGHT_NAMES) + ")", cls)
        layer.filter_layout = filter_layout(np.shape(get_path(probe, w)), op, found.config)
        if layer.filter_layout is None:
            return _cannot(layer, f"its weights `{w}` have shape {np.shape(get_path(probe, w))}, no layout crosscheck "
                                  f"knows for these sizes; declare filter_layout", cls)
        layer.weights = {("filters" if op == "conv2d" else "kernel"): w}
        if b is not None:
            bias_size = np.size(get_path(probe, b))
            units = found.config.out_channels if op == "conv2d" else found.config.out_features
            if bias_size != units and not untied_order(np.shape(get_path(probe, b)), units, found.layout):
                return Undiscovered(
                    f"{name}: its bias `{b}` has shape {np.shape(get_path(probe, b))}: neither one value per output "
                    f"channel ({units},) nor one per output position, so crosscheck cannot compare it (not a claim "
                    f"that it is wrong); declare weights={{'bias': PATH}} for another attribute", verdict="cannot-check")
            layer.weights["bias"] = b
        else:
            supports["bias"] = False
        if op == "conv2d" and "stride" not in fields:
            supports["strides"] = (1,)
        if supports.get("padding") == "same":   # where an even kernel's extra row goes: told by its forward
            side = even_kernel_side(layer)
            if side in (None, RAISED):
                supports["kernel_sizes"], layer.note = (3, 1), SAME_RAISED if side else SAME_ODD_ONLY
            else:
                supports["padding"] = side
                layer.note = SAME_TOP if side == "same-top" else ""
        if op == "conv2d" and "kernel" not in fields:
            shape = np.shape(get_path(probe, w))
            supports.update(kernel_sizes=(shape[-1] if layer.filter_layout in ("FCHW", "FHW") else shape[1],),
                            square=True)
    if op in ("max_pool2d", "avg_pool2d") and "mode" in fields:
        layer.op = "pool"   # both modes
    layer.supports = supports
    layer.note = "; ".join(n for n in (layer.note, layout_note(layer)) if n)
    return layer


ACTIVATION_LAYOUTS = {"NCHW": "batches (N, C, H, W)", "CHW": "one example (C, H, W)", "HWC": "one example (H, W, C)",
                      "HW": "one single-channel example (H, W)", "D": "one example, a vector (D,)",
                      "DN": "examples as columns (D, N)"}
WEIGHT_LAYOUTS = {"FCHW": "filters (F, C, kh, kw)", "FHWC": "filters (F, kh, kw, C)", "FHW": "filters (F, kh, kw)",
                  "OI": "weights (out, in)"}


def layout_note(layer: Layer) -> str:
    """The layouts discovery found, where they are not TensorFlow's (NHWC batches, HWIO filters, (in, out)
    weights), as a note: a convention, told from the layer's shapes, declarable."""
    batched_rows = layer.op == "dense" and layer.layout in ("NCHW", "NHWC")   # a dense layer's (N, D) rows
    found = [ACTIVATION_LAYOUTS.get(layer.layout, "")] if layer.op in CANDIDATES and not batched_rows else []
    found.append(WEIGHT_LAYOUTS.get(layer.filter_layout, ""))
    found = [f for f in found if f]
    if not found:
        return ""
    return f"layout, told from its shapes: {', '.join(found)}"


SAME_TOP = ("SAME padding puts an even kernel's extra row and column at the top and left (TensorFlow: bottom and "
            "right): a convention, checked as such")
SAME_ODD_ONLY = ("SAME padding checked with odd kernels only: with a 2x2 kernel its forward puts the extra row and "
                 "column on neither side alone; declare supports={'padding': 'same'} (TensorFlow's: bottom and "
                 "right) or 'same-top' to check even kernels too")
SAME_RAISED = "SAME padding checked with odd kernels only: its forward raised with a 2x2 kernel"
RAISED = "raised"


def even_kernel_side(layer: Layer) -> str | None:
    """Where a conv layer found with SAME padding puts an even kernel's extra row and column:
    "same" (bottom and right, TensorFlow's) or "same-top", told by its forward with a 2x2 kernel on a
    5x6 probe against a NumPy correlation padded each way; RAISED when it raises; None when neither fits."""
    rng = np.random.default_rng(7)
    h, w, c, f = 5, 6, 2, 3
    x, k = rng.standard_normal((1, h, w, c)), rng.standard_normal((2, 2, c, f))
    arrays = {"input": x, "filters": k, **({"bias": np.zeros(f)} if "bias" in layer.weights else {})}
    sides = {"same": False, "same-top": True}
    try:
        pads = [[0, 0], list(same_pads(h, 2, 1, False)), list(same_pads(w, 2, 1, False)), [0, 0]]
        y = layer_impl(layer, "NHWC", []).conv2d(**arrays, strides=[1, 1], padding=pads, dilations=[1, 1],
                                                 data_format="NHWC")
        y = np.asarray(y, dtype=np.float64)
    except Exception:   # noqa: BLE001 - the user's layer cannot take an even kernel: odd ones only
        return RAISED
    for side, extra_first in sides.items():
        xp = np.pad(x, [(0, 0), same_pads(h, 2, 1, extra_first), same_pads(w, 2, 1, extra_first), (0, 0)])
        ref = reference_conv(xp, k, np.zeros(f), {"stride": 1, "pad": 0})[0]
        if y.shape == ref.shape and np.allclose(y, ref, rtol=1e-9, atol=1e-9):
            return side
    return None


def complete(layer: Layer) -> None:
    """Fill in what a declaration left out and crosscheck can find (a conv or dense layer's weights
    and their layout; the method names where the defaults are not the class's): the declared layer
    built once with the probe sizes, in its layout. Nothing changes where that fails."""
    candidates = [p for p in probes(layer.op) if p[0] == layer.layout] if layer.op in CANDIDATES else []
    try:
        obj = layer.make(candidates[0][1] if candidates else probe_config(layer.op if layer.op != "pool" else "max_pool2d"))
        forward, backward = method_names(type(obj))
        if not callable(getattr(obj, layer.forward, None)) and forward:
            layer.forward = forward
        if not callable(getattr(obj, layer.backward, None)) and backward:
            layer.backward = backward
        if layer.weights or layer.op not in ("conv2d", "dense") or not candidates:
            return
        _, config, x, _ = candidates[0]
        getattr(obj, layer.forward)(x)
    except Exception:   # the run itself reports what fails
        return
    w, b = find_path(obj, WEIGHT_NAMES), find_path(obj, BIAS_NAMES)
    if w is None:
        return
    layer.weights = {("filters" if layer.op == "conv2d" else "kernel"): w, **({"bias": b} if b else {})}
    layer.filter_layout = layer.filter_layout or filter_layout(np.shape(get_path(obj, w)), layer.op, config) or ""


@dataclass(frozen=True)
class Undiscovered:
    """Why a class cannot be checked as found: ``message`` its row's, ``verdict`` "error" (it cannot
    be identified) or "cannot-check" (crosscheck cannot call it as written: the message says what to
    declare)."""
    message: str
    verdict: str = "error"


def _cannot(layer: Layer, why: str, cls=None) -> Undiscovered:
    return Undiscovered(f"{layer.name}: {why}; declare it in one line: "
                        f"{declaration_hint(layer, _make_text(cls, layer.op) if cls else '')}", "cannot-check")


def _make_text(cls, op: str) -> str:
    """``lambda c: Conv(in_channels=c.in_channels, depth=<?>)``: the constructor call a declaration's
    ``make`` needs, with what names matched filled in."""
    named, unknown = named_plan(cls, op)
    config_field = {"learning_rate": "1.0"}
    args = [f"{p}={'c.' if f != 'learning_rate' else ''}{config_field.get(f, f)}" for p, f in named]
    args += [f"{p}=c.???" for p in unknown]
    return f"lambda c: {cls.__name__}({', '.join(args)})"


def module_layout(module) -> str:
    """NHWC when the module's convolution keeps HWIO weights, else NCHW."""
    for cls in layer_classes(module):
        if _op_of(cls) == "conv2d":
            layer = discover(cls, "NCHW")
            if isinstance(layer, Layer) and layer.layout in ("NCHW", "NHWC"):
                return layer.layout
    return "NCHW"


def layer_classes(module):
    """The module's own classes with a forward and a backward method of a name crosscheck knows."""
    return [obj for obj in vars(module).values() if inspect.isclass(obj) and obj.__module__ == module.__name__
            and None not in method_names(obj)]

