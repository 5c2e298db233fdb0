"""What a layer class is, as crosscheck checks it: :class:`Layer` (``crosscheck.Layer``, a declaration
or what discovery found), the :class:`Config` a layer is built from, the ops a layer class can
compute, and the attribute and parameter names discovery recognises."""
from __future__ import annotations

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
WEIGHT_NAMES = ("W", "w", "weight", "weights", "filters", "kernel", "K")
BIAS_NAMES = ("b", "bias", "biases")
CONSTRUCTOR = {   # configuration field -> constructor parameter names that mean it
    "in_channels": ("in_channels", "in_ch", "input_channels", "n_in_channels", "c_in", "channels", "num_channels"),
    "out_channels": ("out_channels", "out_ch", "n_filter", "n_filters", "num_filters", "filters", "n_out",
                     "output_channels", "out_filters", "f"),
    "kernel": ("kernel_size", "kernel_shape", "kernel", "filter_size", "ksize", "k", "h_filter", "w_filter",
               "size", "pool_size", "field"),
    "stride": ("stride", "strides", "s"),
    "pad": ("padding", "pad", "p"),
    "in_features": ("in_features", "in_size", "input_len", "n_in", "input_dim", "in_dim", "d_in", "fan_in"),
    "out_features": ("out_features", "out_size", "nodes", "n_out", "units", "output_dim", "out_dim", "d_out"),
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

    @property
    def kernel(self) -> int:
        return self.kernel_size[0] if self.kernel_size else 0


# ------------------------------------------------------------------------------------ the Layer

@dataclass
class Layer:
    """How to check one layer class (``crosscheck.Layer``).

    make: ``make(config) -> layer`` (a :class:`Config`: ``in_channels``, ``out_channels``, ``kernel``,
        ``kernel_size``, ``stride``, ``pad``, ``in_features``, ``out_features``, ``input_shape``, ``mode``).
    op: the registry op it computes: "conv2d", "max_pool2d", "avg_pool2d", "dense", "relu", ...
    layout: its activations: "NCHW", "NHWC", or one example "CHW", "HWC", "HW" (one channel).
    weights: {registry array: attribute path} ("filters"/"kernel" and "bias" -> "W", "params.b", ...).
    grads: {registry array: attribute path}, or "update" to recover them from an in-place update.
    filter_layout: "FCHW" ((F, C, kh, kw)), "HWIO" or "FHW" ((F, kh, kw), one input channel);
        for dense, "IO" ((in, out)) or "OI".
    supports: restrictions of generation (fields of crosscheck.check.cases.Supports).
    backward: the method name ("backward" or "backprop"); learning_rate: passed to it as a keyword,
        or positionally when ``learning_rate_arg`` is None.
    activation: for a dense layer followed by "softmax" (a single example's probabilities).
    name: the row's name (default: the class's).
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
    learning_rate: float | None = None
    learning_rate_arg: str | None = None
    activation: str | None = None
    name: str = ""
    bias_shape: tuple | None = None
    note: str = ""
    conventions: tuple = ()

    def row_name(self) -> str:
        return self.name or getattr(self.make, "__name__", self.op)

