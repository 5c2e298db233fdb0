"""What a layer class is, as crosscheck checks it: :class:`Layer` (``crosscheck.Layer``, a declaration
or what discovery found), the :class:`Config` a layer is built from, the ops a layer class can
compute, and the attribute and parameter names discovery recognises."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from ..registry import FAMILY
from ..registry import OPS as REGISTRY


def activations() -> tuple[str, ...]:
    """The element-wise activations of the registry a layer class can compute alone: one array and no
    parameter (a slope such as leaky_relu's alpha has no default every library shares; softmax and
    log_softmax are a dense layer's declared activation or a loss)."""
    return tuple(name for name, family in FAMILY.items()
                 if family == "activations" and len(REGISTRY[name].arrays) == 1 and not REGISTRY[name].params
                 and "softmax" not in name)


def layer_ops() -> dict[str, tuple[str, ...]]:
    """op -> what a class's name contains when it computes the op (lower case, no underscores)."""
    return {"conv2d": ("conv",), "max_pool2d": ("maxpool", "pool"), "avg_pool2d": ("avgpool", "averagepool"),
            "dense": ("linear", "dense", "fullyconnected", "affine", "fc"),
            **{name: (name.replace("_", ""),) for name in activations()}}


LEARNING_RATE_NAMES = ("learn_rate", "learning_rate", "lr", "alpha", "eta", "step_size")
FORWARD_NAMES = ("forward", "forward_pass", "fprop", "forward_propagation", "__call__")
BACKWARD_NAMES = ("backward", "backward_pass", "backprop", "bprop", "backward_propagation")
#: attributes (or ``grads`` dict entries) where a backward that returns None leaves the input gradient
INPUT_GRAD_NAMES = ("dx", "dX", "d_x", "dinput", "d_input", "dinputs", "grad_input", "grad_x", "dA_prev", "dA")
LAYOUTS = ("NCHW", "NHWC", "CHW", "HWC", "HW", "D", "DN")
FILTER_LAYOUTS = ("FCHW", "HWIO", "FHWC", "FHW", "IO", "OI")
GRAD_KEYS = ("input", "filters", "kernel", "bias")
WEIGHT_NAMES = ("W", "w", "weight", "weights", "filters", "kernel", "kernels", "K")
BIAS_NAMES = ("b", "bias", "biases")
CONSTRUCTOR = {   # configuration field -> constructor parameter names that mean it
    "in_channels": ("in_channels", "in_ch", "input_channels", "n_in_channels", "c_in", "channels", "num_channels"),
    "out_channels": ("out_channels", "out_ch", "n_filter", "n_filters", "num_filters", "filters", "n_out",
                     "output_channels", "out_filters", "f", "nb_filters", "num_kernels", "n_kernels"),
    "kernel": ("kernel_size", "kernel_shape", "kernel", "filter_size", "ksize", "k", "h_filter", "w_filter",
               "size", "pool_size", "field", "field_size", "window_size", "window", "pool"),
    "stride": ("stride", "strides", "s"),
    "pad": ("padding", "pad", "p"),
    "in_features": ("in_features", "in_size", "input_len", "n_in", "input_dim", "in_dim", "d_in", "fan_in",
                    "input_size", "n_inputs", "num_inputs", "n_input", "in_units", "input_units", "inputs"),
    "out_features": ("out_features", "out_size", "nodes", "n_out", "units", "output_dim", "out_dim", "d_out",
                     "output_size", "n_outputs", "num_outputs", "n_output", "out_units", "output_units", "outputs",
                     "n_units", "num_units", "n_neurons", "num_neurons", "neurons", "fan_out"),
    "mode": ("mode",),
}


@dataclass
class Config:
    """What a layer is built from: the case's sizes (``make(config)`` receives one)."""
    op: str
    in_channels: int = 0
    out_channels: int = 0
    kernel_size: tuple = ()
    stride: int = 1
    pad: int = 0
    in_features: int = 0
    out_features: int = 0
    input_shape: tuple = ()      # one example, in the layer's layout (e.g. (C, H, W) or (H, W))
    mode: str = "max"
    pads: tuple = ()             # (top, bottom, left, right); SAME padding of an even kernel is asymmetric

    @property
    def kernel(self) -> int:
        return self.kernel_size[0] if self.kernel_size else 0


# ------------------------------------------------------------------------------------ the Layer

@dataclass
class Layer:
    """How to check one layer class (``crosscheck.Layer``).

    make: ``make(config) -> layer`` (a :class:`Config`: ``in_channels``, ``out_channels``, ``kernel``,
        ``kernel_size``, ``stride``, ``pad``, ``pads`` (top, bottom, left, right), ``in_features``,
        ``out_features``, ``input_shape``, ``mode``).
    op: the registry op it computes: "conv2d", "max_pool2d", "avg_pool2d", "dense", "relu", ...
    layout: its activations: "NCHW", "NHWC", or one example "CHW", "HWC", "HW" (one channel); for
        dense, rows are examples ((N, D), any of the batched layouts), "DN" (columns are examples:
        (D, N), a column vector (D, 1)) or "D" (one example, a vector (D,)).
    weights: {registry array: attribute path} ("filters"/"kernel" and "bias" -> "W", "params.b", ...).
    grads: {"input" or a registry array: attribute path} where a backward leaves gradients it does
        not return, or "update" to recover the weights' from an in-place update.
    filter_layout: "FCHW" ((F, C, kh, kw)), "HWIO", "FHWC" ((F, kh, kw, C)) or "FHW" ((F, kh, kw),
        one input channel); for dense, "IO" ((in, out)) or "OI".
    supports: restrictions of generation (fields of crosscheck.check.cases.Supports).
    forward, backward: the method names ("forward", "forward_pass", "fprop", "__call__", ...;
        "backward", "backprop", "bprop", ...); learning_rate: passed to backward as a keyword,
        or positionally when ``learning_rate_arg`` is None.
    activation: for a dense layer followed by "softmax" (a single example's probabilities).
    name: the row's name (default: the class's).
    scale: (a, b) for a scaled activation, ``a * op(b * x)`` (LeCun's tanh: (1.7159, 2/3)): the
        reference is TensorFlow's op of ``b * x`` times ``a`` (crosscheck.check.scaled).
    conventions: conventions the class follows instead of TensorFlow's, expected of it
        (crosscheck.check.conventions.KNOWN: "batch-mean", gradients averaged over the batch);
        checked by crosscheck.check.conventions.conventions_problem.
    """
    make: Callable
    op: str
    layout: str = "NCHW"
    weights: dict = field(default_factory=dict)
    grads: Any = field(default_factory=dict)
    filter_layout: str = ""
    supports: dict = field(default_factory=dict)
    backward: str = "backward"
    forward: str = "forward"
    learning_rate: float | None = None
    learning_rate_arg: str | None = None
    activation: str | None = None
    name: str = ""
    note: str = ""               # set by discovery (what the forward was identified as), not an option
    conventions: tuple = ()
    scale: Any = None

    def row_name(self) -> str:
        return self.name or getattr(self.make, "__name__", self.op)



INTERNAL_FIELDS = ("note",)   # filled in by crosscheck itself
OPTIONS = tuple(f for f in Layer.__dataclass_fields__ if f not in INTERNAL_FIELDS)
_dataclass_init = Layer.__init__


def _init_naming_unknown_options(self, *args, **kwargs):
    unknown = [key for key in kwargs if key not in OPTIONS and key not in INTERNAL_FIELDS]
    if unknown:
        raise TypeError(f"crosscheck.Layer has no option {unknown[0]!r}; options: {', '.join(OPTIONS)}")
    _dataclass_init(self, *args, **kwargs)


_init_naming_unknown_options.__doc__ = _dataclass_init.__doc__
_init_naming_unknown_options.__signature__ = inspect.signature(_dataclass_init)
Layer.__init__ = _init_naming_unknown_options
