"""The TensorFlow quirks crosscheck knows: the only reasons a case may be "reference-unsupported".

Each :class:`Quirk` has an id, the ops it concerns, a predicate on the (resolved) case, what
TensorFlow does, the TensorFlow issue where one exists, crosscheck's workaround (or "refused": the
case is never handed to TensorFlow) and a demonstration that TensorFlow still behaves so, which
``tests/crosscheck/test_quirks.py`` runs for every entry. docs/tf-defects.md is generated from this
list (``python -m crosscheck.oracle.quirks``; a test keeps the two equal).

A TensorFlow error on a case no quirk covers is not a limitation: it is a ``reference-error`` and
fails the run.

Kinds: "defect" (TF gives a wrong answer), "limitation" (TF refuses on CPU), "crash" (TF kills the
process), "spec" (what TF does is not what the API crosscheck checks means; crosscheck follows its
own rule), "precision" (a rounding detail, not wrong).

Backends: each quirk holds on the CPU backends it names (:mod:`crosscheck.oracle.backend`: Eigen,
oneDNN); it concerns a case only while TensorFlow runs one of them. A ``float64_detour`` quirk is
worked around by computing the float32 case in float64 (TensorFlow's float64 kernels are Eigen's
on either backend: oneDNN computes float32 only) and rounding the result to float32.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .. import geometry as G
from ..opinfo import Call, OpInfo
from ..registry import OPS
from . import backend
from . import quirk_demos as demo
from .backend import BACKENDS, ONEDNN

TEST_FILE = "tests/crosscheck/test_quirks.py"


@dataclass(frozen=True)
class Ops:
    """The ops a quirk concerns, described by what they are (a predicate over their OpInfo), so that
    a new op is concerned or not without being listed; ``label`` says it in docs. Iterating gives the
    names of the registry's ops it concerns."""
    label: str
    concerns: Callable[[OpInfo], bool]
    extra: tuple = ()   # names that are not registry ops (network parity)

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, info in OPS.items() if self.concerns(info)] + list(self.extra))

    def __contains__(self, name) -> bool:
        return name in self.extra or (name in OPS and self.concerns(OPS[name]))

    def __or__(self, other: "Ops") -> "Ops":
        return Ops(f"{self.label}; {other.label}", lambda info: self.concerns(info) or other.concerns(info),
                   self.extra + other.extra)


def named(*names: str) -> Ops:
    """The ops of these names: for a quirk of one TensorFlow function."""
    return Ops(", ".join(names), lambda info: info.name in names, tuple(n for n in names if n not in OPS))


EVERY_OP = Ops("every op", lambda info: True)
WINDOW_OPS = Ops("every sliding-window op", lambda info: info.geometry is not None)
CONVOLUTIONS = Ops("every convolution but depthwise_conv2d",
                   lambda info: len(info.window_operands) == 2 and info.window_operands[1] is not None
                   and info.name != "depthwise_conv2d")


@dataclass(frozen=True)
class Quirk:
    id: str
    kind: str
    ops: Ops
    what: str
    workaround: str
    applies: Callable[[Call], bool]
    demonstrate: Callable[[], bool]
    tf_issue: str = ""
    refuses: bool = False          # never hand such a case to TensorFlow: reference-unsupported
    expect_refusal: bool = False   # error parity: the implementation must refuse it whatever TF does
    in_subprocess: bool = False    # demonstrate() kills its process
    backends: tuple = BACKENDS     # the TensorFlow CPU backends it holds on
    float64_detour: bool = False   # worked around by computing the float32 case in float64 (Eigen)

    def holds_for(self, call: Call) -> bool:
        """Whether this quirk concerns ``call`` on the backend in force (a predicate that cannot be
        evaluated does not)."""
        if call.info is None or not self.ops.concerns(call.info) or \
                (len(self.backends) < len(BACKENDS) and backend.in_force() not in self.backends):
            return False
        try:
            return bool(self.applies(call))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError):
            return False

    @property
    def note(self) -> str:
        return f"quirk {self.id}: {self.workaround}"


# --------------------------------------------------------------------------------- predicates

def _window_fits(call: Call) -> bool:
    args = call.info.geometry(call)
    if min(args.window) < 1 or min(args.strides) < 1 or min(args.dilations) < 1:
        raise ValueError("not a window")  # another rule is broken: this quirk does not concern it
    return args.fits()


def _avg_pool_defect_axes(call: Call) -> list[int]:
    """Axes with TF's AvgPoolGrad defect: SAME, window wider than the input, pad before > k - in."""
    if call.params.get("padding") != "SAME":
        return []
    x = call.arrays["input"]
    in_sizes = G.spatial_shape(x.shape, call.data_format)
    window = call.params["ksize"]
    pads = G.padtype_to_pads(in_sizes, window, call.params["strides"], (1, 1), "SAME")
    return [a for a, (n, k, (before, _)) in enumerate(zip(in_sizes, window, pads)) if k > n and before > k - n]


def _empty_window_output(call: Call) -> bool:
    """A non-empty batch whose window output has an empty H or W (SAME on an empty input axis)."""
    x = G.window_input_shape(call)
    # an empty output needs an empty input axis (the cheap test first: this runs for every path of every case)
    return x[0] > 0 and 0 in G.spatial_shape(x, call.data_format) and 0 in call.info.geometry(call).resolve().out


#: the shape parameters of the conv ops (their arrays' shapes given as a list)
_SHAPE_PARAMS = ("input_sizes", "filter_sizes", "output_shape")


def _empty_float32_window_tensor(call: Call) -> bool:
    """A float32 window-op case with a zero-size axis in an array, dy or a shape parameter."""
    if call.dtype != "float32":
        return False
    shapes = [np.shape(a) for a in call.arrays.values() if a is not None]
    shapes += [np.shape(call.dy)] if call.dy is not None else []
    shapes += [tuple(call.params[p]) for p in _SHAPE_PARAMS if p in call.params]
    return any(0 in tuple(int(v) for v in shape) for shape in shapes)


def _single_channel_strided_width(call: Call) -> bool:
    """float32, one input channel per group (every depthwise case, and avg_pool2d, whose reference is
    built from tf.nn.conv2d), a kernel wider than 1 and a width stride of 2 or more that leave one
    output column (a superset: about 1 such case in 10 goes wrong)."""
    if call.dtype != "float32":
        return False
    w_name = call.info.window_operands[1]
    filter_in = 1 if w_name is None or call.op == "depthwise_conv2d" else int(G.shape_of(call, w_name)[2])
    window = call.info.geometry(call).resolve()
    k_eff = (window.window[1] - 1) * window.dilations[1] + 1
    return filter_in == 1 and window.strides[1] >= 2 and k_eff >= 2 and window.out[1] == 1


def _wrongly_ranked(call: Call) -> bool:
    """An input, filter or output gradient that is not 4-D, or a shape parameter that does not hold 4 sizes."""
    arrays = [call.arrays[n] for n in ("input", "filters", "out_backprop") if call.arrays.get(n) is not None]
    sizes = [call.case.params[p] for p in _SHAPE_PARAMS if p in call.case.params]
    return any(np.ndim(a) != 4 for a in arrays) or any(np.ndim(v) != 1 or len(v) != 4 for v in sizes)


def _malformed_conv_call(call: Call) -> bool:
    """Wrongly ranked (above), or strides or dilations given as a list of 3 values."""
    lists = [call.case.params.get(name) for name in ("strides", "dilations")]
    return _wrongly_ranked(call) or any(isinstance(v, (list, tuple)) and len(v) == 3 for v in lists)


def _huge_attribute(call: Call) -> bool:
    """A stride, dilation or window size of 2**31 or more (an int32 overflow in TensorFlow)."""
    def values(v):
        return [v] if isinstance(v, (int, np.integer)) else list(v) if isinstance(v, (list, tuple)) else []
    return any(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and abs(int(x)) >= 2 ** 31
               for name in ("strides", "dilations", "ksize") for x in values(call.case.params.get(name, 1)))


def _batch_or_channel_pads(call: Call) -> bool:
    padding = call.case.params.get("padding")
    if not isinstance(padding, (list, tuple)) or len(padding) != 4:
        return False
    outer = (padding[0], padding[3]) if call.case.params.get("data_format", "NHWC") != "NCHW" else padding[:2]
    return any(int(v) != 0 for pair in outer for v in pair)


def _labels_not_distributions(call: Call) -> bool:
    labels = call.arrays["labels"].astype(np.float64)
    sums = labels.sum(axis=int(call.params.get("axis", -1)))
    return bool(np.any(np.abs(sums - 1) > 1e-6) or np.any(labels < 0))


def _integer_arrays(call: Call) -> bool:
    return any(np.asarray(a).dtype.kind in "iub" for name, a in call.arrays.items() if a is not None
               and not (call.op == "sparse_softmax_cross_entropy_with_logits" and name == "labels"))


def _mixed_floats(call: Call) -> bool:
    return len({np.asarray(a).dtype for a in call.arrays.values() if a is not None
                and np.asarray(a).dtype.kind == "f"}) > 1


def _lenient_attribute(call: Call) -> bool:
    def bad(v):
        return isinstance(v, bool) or (isinstance(v, float) and not isinstance(v, bool))
    for name in ("strides", "dilations", "ksize", "axis", "axes"):
        value = call.case.params.get(name)
        if bad(value) or (isinstance(value, (list, tuple)) and any(bad(v) for v in value)):
            return True
    return False


def _channelless_input_channel_filter(call: Call) -> bool:
    x, w = call.arrays["input"], call.arrays["filters"]
    return np.ndim(x) == 4 and np.ndim(w) == 4 and G.channels(np.shape(x), call.data_format) == 0 and np.shape(w)[2] > 0


ONEDNN_QUIRKS: tuple[Quirk, ...] = (
    Quirk("onednn-empty-tensor", "defect", WINDOW_OPS,
          "float32 convolutions and pools with a zero-size axis (an empty batch, H, W or channel axis) go wrong: "
          "tf.nn.conv2d returns its input unchanged on an empty batch, avg_pool2d's conv formulation then fails "
          "(RealDiv: incompatible shapes), the filter gradients are wrong, and a filter with no output channels "
          "(or a channel multiplier of 0) is refused (\"filter must not have zero elements\") where Eigen computes an "
          "empty output",
          "the reference is computed in float64 (Eigen's kernels: oneDNN computes float32 only) and rounded to "
          "float32; error parity judges such a call by its float64 verdict",
          _empty_float32_window_tensor, demo.demo_onednn_empty_tensor, backends=(ONEDNN,), float64_detour=True),
    Quirk("onednn-single-channel-strided-width", "defect", CONVOLUTIONS | named("depthwise_conv2d", "avg_pool2d"),
          "float32 tf.nn.conv2d with one input channel (per group: depthwise's reference group by group and "
          "avg_pool2d's built from tf.nn.conv2d too), a "
          "kernel wider than 1 and a width stride of 2 or more that leave one output column returns wrong values "
          "in some such cases (input (2, 20, 14, 1), filter (2, 13, 1, 1), strides (1, 4), VALID: values near 1e29)",
          "the reference is computed in float64 (Eigen's kernels) and rounded to float32",
          _single_channel_strided_width, demo.demo_onednn_single_channel_strided_width, backends=(ONEDNN,),
          float64_detour=True),
    Quirk("onednn-malformed-call-abort", "crash", CONVOLUTIONS,
          "tf.nn.conv2d, conv2d_transpose and the conv2d_backprop ops abort the process (\"Check failed: index >= 0 "
          "&& index < num_total_dims\") on an input that is not 4-D, a size vector of 3 values or 3 strides, where "
          "Eigen raises InvalidArgumentError",
          "refused: never handed to TensorFlow; error parity expects the implementation to raise, as Eigen does",
          _malformed_conv_call, demo.demo_onednn_malformed_call_abort, tf_issue="TF #112555, #111453, #125511 (fixed after 2.21)",
          refuses=True, expect_refusal=True, in_subprocess=True, backends=(ONEDNN,)),
    Quirk("onednn-int32-attribute-abort", "crash", WINDOW_OPS,
          "a stride, dilation or window size of 2**31 or more aborts the process in oneDNN's graph layout pass "
          "(\"Attr strides has value 2147483648 out of range for an int32\"), float32 and float64 alike, where Eigen "
          "raises InvalidArgumentError",
          "refused: never handed to TensorFlow; error parity expects the implementation to raise, as Eigen does",
          _huge_attribute, demo.demo_onednn_int32_attribute_abort, refuses=True, expect_refusal=True, in_subprocess=True,
          backends=(ONEDNN,)),
    Quirk("onednn-batch-channel-pads", "spec", CONVOLUTIONS | named("depthwise_conv2d"),
          "nonzero explicit pads on the batch or channel axis are ignored and the convolution computed, where Eigen "
          "refuses them (\"Nonzero explicit padding in the batch or depth dimensions is not supported\")",
          "refused: the checked API refuses such pads, as TensorFlow's documentation and Eigen's kernels do; error "
          "parity expects a ValueError",
          _batch_or_channel_pads, demo.demo_onednn_batch_channel_pads, refuses=True, expect_refusal=True,
          backends=(ONEDNN,)),
)

QUIRKS: tuple[Quirk, ...] = (
    Quirk("dilated-conv-gradient", "limitation", CONVOLUTIONS | named("depthwise_conv2d"),
          "every dilated convolution gradient fails on CPU (\"Current CPU implementations do not yet support "
          "dilation rates larger than 1\")",
          "the reference convolves with a zero-dilated (zero-inserted) kernel without dilation",
          lambda c: max(c.params["dilations"]) > 1, demo.demo_dilated_gradient),
    Quirk("grouped-conv-gradient", "limitation", CONVOLUTIONS,
          "grouped-convolution gradients fail on CPU in float64 and, on Eigen, in float32 (\"Gradients for grouped "
          "convolutions are not supported on CPU\"); so does a grouped tf.nn.conv2d_transpose",
          "the reference is computed group by group and concatenated",
          lambda c: G.conv_groups(c) > 1, demo.demo_grouped_gradient),
    Quirk("depthwise-unequal-strides", "limitation", named("depthwise_conv2d"),
          "tf.nn.depthwise_conv2d refuses unequal row and column strides on CPU (oneDNN's float32 kernel takes them)",
          "the reference is tf.nn.conv2d group by group (groups = channels)",
          lambda c: c.params["strides"][0] != c.params["strides"][1], demo.demo_depthwise_unequal_strides),
    Quirk("depthwise-strided-dilated-size", "defect", named("depthwise_conv2d"),
          "tf.nn.depthwise_conv2d with stride > 1 and dilation > 1 returns an output of the wrong size",
          "the reference runs undilated on a zero-dilated filter (as for dilated-conv-gradient)",
          lambda c: max(c.params["strides"]) > 1 and max(c.params["dilations"]) > 1,
          demo.demo_depthwise_strided_dilated_size, tf_issue="TF #100237"),
    Quirk("depthwise-one-dilation", "defect", named("depthwise_conv2d"),
          "tf.nn.depthwise_conv2d accepts a 1-element dilations list and returns an output of the wrong size "
          "(its documentation asks for 2 values)",
          "crosscheck always passes TensorFlow both dilation values",
          lambda c: isinstance(c.case.params.get("dilations"), list) and len(c.case.params["dilations"]) == 1,
          demo.demo_depthwise_one_dilation),
    Quirk("depthwise-empty-batch-filter-gradient", "defect", named("depthwise_conv2d"),
          "the filter gradient of tf.nn.depthwise_conv2d on an empty batch is uninitialised memory (huge values or "
          "NaN) instead of zeros",
          "the reference is tf.nn.conv2d group by group (groups = channels), whose gradient is 0",
          lambda c: c.arrays["input"].shape[0] == 0, demo.demo_depthwise_empty_batch),
    Quirk("depthwise-zero-multiplier-gradient", "defect", named("depthwise_conv2d"),
          "the input gradient of tf.nn.depthwise_conv2d with channel multiplier 0 (an empty output) is "
          "uninitialised memory (values like 9e223) instead of zeros",
          "the reference is tf.nn.conv2d group by group (groups = channels), whose gradient is 0",
          lambda c: c.arrays["filter"].shape[3] == 0, demo.demo_depthwise_zero_multiplier),
    Quirk("empty-output-filter-gradient", "crash", CONVOLUTIONS | named("depthwise_conv2d", "avg_pool2d"),
          "the filter gradient of a convolution whose output has an empty H or W (SAME on an input with an empty H "
          "or W) and a non-empty batch is uninitialised memory (huge values or NaN) instead of zeros, and with a 1x1 "
          "filter and a stride of 2 or more along the empty axis the process dies (SIGSEGV): Conv2DBackpropFilter "
          "(so conv2d's, conv2d_backprop_input's and conv2d_transpose's filter gradients, conv2d_backprop_filter "
          "itself, and the tape of avg_pool2d built from tf.nn.conv2d) and tf.nn.depthwise_conv2d's",
          "the reference is computed on the case's empty batch (the same empty sums, which TensorFlow computes as "
          "0, and never crashes on) and the batch size put back on the empty tensors",
          _empty_window_output, demo.demo_empty_output_filter_gradient, in_subprocess=True),
    Quirk("flush-to-zero", "precision", EVERY_OP,
          "TensorFlow's CPU kernels flush subnormal float32 results to 0 (sigmoid(-103) is 0, not 1.4e-45)",
          "the tolerance's absolute part is never below the dtype's smallest normal number (docs/tolerances.md)",
          lambda c: c.dtype == "float32", demo.demo_flush_to_zero),
    Quirk("nchw-float64", "limitation", WINDOW_OPS,
          "float64 NCHW convolutions and pools raise on CPU",
          "every NCHW case is transposed to NHWC inside the taped function (gradients come back in NCHW)",
          lambda c: c.data_format == "NCHW", demo.demo_nchw_float64),
    Quirk("sce-negative-axis", "limitation", named("softmax_cross_entropy_with_logits"),
          "tf.nn.softmax_cross_entropy_with_logits fails for a negative axis other than -1",
          "the same axis is passed as its non-negative equivalent",
          lambda c: int(c.params["axis"]) < -1, demo.demo_sce_negative_axis),
    Quirk("avg-pool-grad-same-window", "defect", named("avg_pool2d"),
          "tf.nn.avg_pool2d's gradient (AvgPoolGrad) is wrong for SAME windows wider than the input: along an axis "
          "with k > in and pad_before > k - in it disagrees with finite differences of TF's own forward",
          "d_input is compared with the same pooling built from tf.nn.conv2d (path tape_avg_pool_as_conv) only",
          lambda c: bool(_avg_pool_defect_axes(c)), demo.demo_avg_pool_gradient, tf_issue="TF #48773"),
    Quirk("maxpool-empty-window", "crash", named("max_pool2d"),
          "a VALID (or explicitly padded) max-pool window larger than the input gives an empty output whose "
          "gradient is uninitialised memory; TF #125509 reports that float32 kills the process with SIGFPE (not "
          "reproduced on this project's machine)",
          "refused: never handed to TensorFlow in-process; error parity expects the implementation to raise ValueError",
          lambda c: not _window_fits(c), demo.demo_maxpool_empty_window, tf_issue="TF #125509",
          refuses=True, expect_refusal=True, in_subprocess=True),
    Quirk("window-larger-than-input", "spec", WINDOW_OPS,
          "a VALID or explicitly padded window larger than the input gives an empty output where the output-size "
          "rule gives 0 (conv2d, depthwise_conv2d, pools), and an error where it is negative",
          "refused: such a call is invalid; error parity expects the implementation to raise ValueError",
          lambda c: not _window_fits(c), demo.demo_window_larger_empty, refuses=True, expect_refusal=True),
    Quirk("depthwise-empty-kernel", "spec", named("depthwise_conv2d"),
          "tf.nn.depthwise_conv2d computes with an empty (0 x k) kernel, where tf.nn.conv2d refuses one",
          "refused: the checked API refuses an empty kernel for every convolution; error parity expects a ValueError",
          lambda c: min(c.arrays["filter"].shape[:2]) < 1,
          demo.demo_depthwise_empty_kernel, refuses=True, expect_refusal=True),
    Quirk("conv2d-channelless-input", "spec", named("conv2d"),
          "tf.nn.conv2d computes zeros for an input with no channels and a filter with input channels (0 groups), "
          "but its gradient refuses the same call (and oneDNN's float32 kernel refuses the forward too)",
          "refused: an input with no channels is an error for the checked conv2d, as for its gradient; error parity "
          "expects a ValueError",
          _channelless_input_channel_filter, demo.demo_conv_channelless_input, refuses=True, expect_refusal=True),
    Quirk("integer-inputs", "spec", EVERY_OP,
          "conv2d, max_pool2d, relu, leaky_relu, moments, mean_squared_error, Flatten and GlobalAveragePooling2D "
          "compute on integer tensors",
          "refused: the checked API computes in float32 / float64 only; error parity expects a TypeError",
          _integer_arrays, demo.demo_integer_inputs, refuses=True, expect_refusal=True),
    Quirk("lenient-integer-attributes", "spec", EVERY_OP,
          "strides, dilations and ksize given as True or 1.5, and a softmax axis of 1.0 where no transpose is needed, "
          "are converted to ints silently",
          "refused: the checked API takes ints only; error parity expects a TypeError",
          _lenient_attribute, demo.demo_lenient_attributes, refuses=True, expect_refusal=True),
    Quirk("mixed-float-dtypes", "spec", EVERY_OP,
          "a NumPy float64 array given beside a float32 one is converted silently (tf.nn.conv2d computes in float32)",
          "refused: the checked API keeps one dtype per call (no silent float64 in a float32 path)",
          _mixed_floats, demo.demo_mixed_float_dtypes,
          refuses=True, expect_refusal=True),
    Quirk("sce-labels-not-distributions", "defect", named("softmax_cross_entropy_with_logits"),
          "d_logits is softmax - labels whatever the labels sum to; the true derivative is "
          "softmax * sum(labels) - labels",
          "npcnn means what TensorFlow means (documented); strategies draw labels that are distributions",
          _labels_not_distributions, demo.demo_sce_labels),
    Quirk("maxpool-nan-gradient", "defect", named("max_pool2d"),
          "the forward ignores NaN, but the gradient goes to a window's first valid cell when that cell is NaN, "
          "although the forward value came from another cell",
          "TensorFlow's rule is the spec (npcnn copies it, documented); max_pool2d's extreme cases include NaN",
          lambda c: bool(np.isnan(c.arrays["input"]).any()), demo.demo_maxpool_nan),
    Quirk("elu-exp-minus-one", "precision", named("elu"),
          "tf.nn.elu computes exp(x) - 1 below 0, not expm1(x): near 0 a float32 result keeps an absolute error of "
          "float32's eps (elu(-1e-5) is 1e-3 off, relative), and the gradient dy * (y + 1) one of |dy| eps",
          "the tolerance of elu's y counts exp(x), and of its gradient |dy|, as the size of the terms that cancel "
          "(docs/tolerances.md): an expm1 implementation and an exp(x) - 1 one both pass",
          lambda c: c.dtype == "float32" and bool(np.any(np.asarray(c.arrays["features"]) < 0)),
          demo.demo_elu_exp_minus_one),
    Quirk("leaky-relu-alpha-float32", "precision", named("leaky_relu"),
          "tf.nn.leaky_relu stores alpha as a float32 attribute: float64 inputs use float64(float32(alpha))",
          "npcnn rounds alpha the same way; nothing to work around",
          lambda c: c.dtype == "float64", demo.demo_leaky_alpha),
    Quirk("keras-optimizer-float32", "precision", named("network"),
          "Keras 3 optimizers keep the learning rate in a float32 variable (default floatx) even for float64 weights",
          "npcnn's optimizers round the same way, so network parity holds to 1e-12",
          lambda c: True, demo.demo_keras_optimizer),
) + ONEDNN_QUIRKS

BY_ID = {q.id: q for q in QUIRKS}


def quirk(quirk_id: str) -> Quirk:
    return BY_ID[quirk_id]


#: (op name, id of its OpInfo, backend) -> (the OpInfo, kept so that its id is not reused; the quirks
#: that concern that op on that backend): attach runs for every path of every case
_CONCERNING: dict = {}


def _concerning(info) -> tuple:
    key = (info.name, id(info), backend.in_force())
    if key not in _CONCERNING:
        _CONCERNING[key] = (info, tuple(q for q in QUIRKS if q.ops.concerns(info)
                                        and (len(q.backends) == len(BACKENDS) or key[2] in q.backends)))
    return _CONCERNING[key][1]


def attach(call: Call) -> Call:
    """``call`` with the ids of the quirks that hold for it (on the backend in force): what a reference
    path or a plain TF call asks through ``call.holds``."""
    concerning = () if call.info is None else _concerning(call.info)
    return dataclasses.replace(call, quirks=frozenset(q.id for q in concerning if q.holds_for(call)))


def _holding(call: Call) -> list[Quirk]:
    ids = (call if call.quirks is not None else attach(call)).quirks
    return [q for q in QUIRKS if q.id in ids]


def refusing(call: Call) -> Quirk | None:
    """The first quirk that makes the case one TensorFlow must not be handed."""
    return next((q for q in _holding(call) if q.refuses), None)


def float64_detour(call: Call) -> Quirk | None:
    """The quirk under which the float32 reference of ``call`` is computed in float64 (None: no detour)."""
    return next((q for q in _holding(call) if q.float64_detour), None)


def expected_refusal(call: Call) -> Quirk | None:
    """The quirk under which error parity expects a refusal whatever TensorFlow does."""
    return next((q for q in _holding(call) if q.expect_refusal), None)


def workaround_notes(call: Call) -> list[str]:
    """One note per quirk whose workaround the reference of ``call`` uses."""
    return [q.note for q in _holding(call) if not q.refuses and q.kind in ("limitation", "defect", "crash")]
