"""Layer classes as people write them: the discovery rules (method names, gradients returned or kept
in attributes, constructors matched by name or by trying sizes, layouts told by probing), the
validation of ``crosscheck.Layer`` declarations, and the cannot-check verdict. Unit level: no
TensorFlow."""
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from rich.console import Console

import crosscheck
from crosscheck.case import IMPLEMENTATION_ERROR, PASS, Case, Outcome
from crosscheck.check import cases as C
from crosscheck.check.discovery import discover, layer_classes, layout_note, method_names
from crosscheck.check.layer_access import grad_path
from crosscheck.check.layers import _optional, layer_impl, split_backward
from crosscheck.check.loading import load_user_code
from crosscheck.check.run import Spec, check_module, judge
from crosscheck.check.target import examine, plan_of
from crosscheck.cli.tables import print_check_verdict
from crosscheck.tracebacks import INSIDE_CROSSCHECK

STYLES = Path(__file__).parent / "student_files" / "layer_styles"


# ------------------------------------------------------------------------------ method names

class PassStyle:
    def forward_pass(self, x):
        return x

    def backward_pass(self, d):
        return d


class CallStyle:
    def __call__(self, x):
        return x

    def backward(self, d):
        return d


class FpropStyle:
    def fprop(self, x):
        return x

    def bprop(self, d):
        return d


class NoForward:
    def backward(self, d):
        return d


@pytest.mark.parametrize("cls, names", [(PassStyle, ("forward_pass", "backward_pass")),
                                        (CallStyle, ("__call__", "backward")), (FpropStyle, ("fprop", "bprop")),
                                        (NoForward, (None, "backward"))])
def test_forward_and_backward_methods_are_found_by_any_common_name(cls, names):
    assert method_names(cls) == names


def test_a_class_without_a_forward_is_not_a_layer():
    module = type("module", (), {})()
    module.__name__ = __name__
    module.__dict__.update(PassStyle=PassStyle, NoForward=NoForward)
    assert layer_classes(module) == [PassStyle]


# ------------------------------------------------------------------------------ gradients

@pytest.mark.parametrize("weights, attribute", [("W", "dW"), ("W", "dw"), ("weight", "dw"), ("weights", "dweights"),
                                                ("W", "grad_W"), ("b", "db"), ("biases", "dbiases"), ("bias", "db")])
def test_weight_gradients_are_found_under_every_common_spelling(weights, attribute):
    layer = type("L", (), {})()
    setattr(layer, weights, np.zeros(2))
    setattr(layer, attribute, np.ones(2))
    assert grad_path(layer, weights) == attribute


def test_weight_gradients_are_found_in_a_grads_dict_keyed_either_way():
    layer = type("L", (), {})()
    layer.W, layer.grads = np.zeros(2), {"dW": np.ones(2)}
    assert grad_path(layer, "W") == "grads.dW"
    layer.grads = {"W": np.ones(2)}
    assert grad_path(layer, "W") == "grads.W"


def test_a_backward_may_return_a_tuple_a_dict_or_the_input_gradient():
    dx, dw, db = np.zeros(1), np.ones(1), np.full(1, 2.0)
    assert split_backward((dx, dw, db), ["filters", "bias"]) == (dx, {"filters": dw, "bias": db})
    assert split_backward({"x": dx, "W": dw, "b": db}, ["kernel", "bias"]) == (dx, {"kernel": dw, "bias": db})
    assert split_backward({"dX": dx}, []) == (dx, {})
    assert split_backward(dx, ["filters"]) == (dx, {})
    assert split_backward(None, ["filters"]) == (None, {})


class ReluKeepingDelta:
    """backward returns None and keeps the input gradient in an attribute of no common name."""

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, d):
        self.delta = d * (self.x > 0)


def test_a_declared_input_gradient_attribute_is_read():
    x, dy = np.array([[-1.0, 2.0]]), np.array([[3.0, 4.0]])
    declared = crosscheck.Layer(lambda c: ReluKeepingDelta(), op="relu", grads={"input": "delta"})
    _, pullback = layer_impl(declared, "NHWC", []).vjp("relu", x)
    assert np.array_equal(pullback(dy)[0], [[0.0, 4.0]])
    undeclared = crosscheck.Layer(lambda c: ReluKeepingDelta(), op="relu")
    _, pullback = layer_impl(undeclared, "NHWC", []).vjp("relu", x)
    assert pullback(dy)[0] is None


class SigmoidOwnKeys:
    def forward(self, x):
        self.y = 1 / (1 + np.exp(-x))
        return self.y

    def backward(self, d):
        return {"grad_wrt_in": d * self.y * (1 - self.y)}


def test_a_returned_dict_of_unknown_keys_is_cannot_check_until_its_key_is_declared():
    x, dy = np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]])
    _, pullback = layer_impl(crosscheck.Layer(lambda c: SigmoidOwnKeys(), op="sigmoid"), "NHWC", []).vjp("sigmoid", x)
    with pytest.raises(LookupError, match="keys grad_wrt_in: none is an input gradient crosscheck knows"):
        pullback(dy)
    declared = crosscheck.Layer(lambda c: SigmoidOwnKeys(), op="sigmoid", grads={"input": "grad_wrt_in"})
    _, pullback = layer_impl(declared, "NHWC", []).vjp("sigmoid", x)
    y = 1 / (1 + np.exp(-x))
    assert np.allclose(pullback(dy)[0], y * (1 - y))


def test_only_a_conv_or_dense_layer_may_leave_out_its_input_gradient():
    assert "d_input" in _optional(None, "conv2d") and "d_x" in _optional(None, "dense")
    assert _optional(None, "max_pool2d") == set() and _optional(None, "relu") == set()


# ------------------------------------------------------------------------------ constructors and layouts

class TupleSizedConv:
    """Sizes as pairs, NCHW, no bias."""

    def __init__(self, in_channels, out_channels, kernel_size=(3, 3), stride=(1, 1)):
        (self.kh, self.kw), (self.s, _) = kernel_size, stride
        self.W = np.zeros((out_channels, in_channels, self.kh, self.kw))

    def forward(self, x):
        n, _, h, w = x.shape
        return np.zeros((n, self.W.shape[0], (h - self.kh) // self.s + 1, (w - self.kw) // self.s + 1))

    def backward(self, d):
        return None


class PositionalConv:
    """Constructor names crosscheck does not know (a: in channels, b: filters, c: kernel size); one
    (H, W, C) image with HWIO weights."""

    def __init__(self, a, b, c):
        self.W = np.zeros((c, c, a, b))   # (kh, kw, C, F)

    def forward(self, x):
        h, w, _ = x.shape
        return np.zeros((h - self.W.shape[0] + 1, w - self.W.shape[1] + 1, self.W.shape[3]))

    def backward(self, d):
        return None


class ColumnDense:
    """Column vectors (D, 1) only: the bias step needs (out, 1)."""

    def __init__(self, n_inputs, n_outputs):
        self.W, self.b = np.zeros((n_outputs, n_inputs)), np.zeros((n_outputs, 1))

    def forward(self, x):
        self.x = x
        return self.W @ x + self.b

    def backward(self, d, lr):
        self.b -= lr * d
        return self.W.T @ d


class LocalBiasConv:
    def __init__(self, input_shape, kernel_size, depth):
        c, h, w = input_shape
        self.kernels = np.zeros((depth, c, kernel_size, kernel_size))
        self.biases = np.zeros((depth, h - kernel_size + 1, w - kernel_size + 1))

    def forward(self, x):
        return self.biases + 0

    def backward(self, d, learning_rate):
        return None


class MysteryConv:
    def __init__(self, gizmo, widget, doohickey, thingamajig, whatsit, extra):
        pass

    def forward(self, x):
        return x

    def backward(self, d):
        return d


def test_sizes_given_as_pairs_are_passed_as_pairs():
    layer = discover(TupleSizedConv, "NCHW")
    assert layer.layout == "NCHW" and layer.filter_layout == "FCHW" and layer.supports["bias"] is False
    built = layer.make(crosscheck.check.layer_declaration.Config("conv2d", 2, 3, (2, 4), 1, 0))
    assert (built.kh, built.kw) == (2, 4)


def test_unknown_constructor_names_are_matched_by_trying_small_sizes():
    layer = discover(PositionalConv, "NCHW")
    assert isinstance(layer, crosscheck.Layer), layer
    assert layer.layout == "HWC" and layer.filter_layout == "HWIO"


def test_a_dense_layer_on_column_vectors_is_checked_on_batches_of_one():
    layer = discover(ColumnDense, "NCHW")
    assert layer.layout == "DN" and layer.supports == {"batch": (1,)} and layer.grads == "update"


def test_an_untied_conv_bias_is_discovered_as_the_conv_bias():
    found = discover(LocalBiasConv, "NCHW")
    assert isinstance(found, crosscheck.Layer) and found.weights["bias"] == "biases"


def test_an_unmatched_constructor_names_the_parameter_and_the_declaration_to_write():
    found = discover(MysteryConv, "NCHW")
    assert found.verdict == "cannot-check"
    assert "extra" in found.message and "crosscheck.Layer(lambda c: MysteryConv(" in found.message



class PadBeforeStrideConv:
    """Names that say nothing, the pad before the stride: (in channels, filters, kernel, pad, stride)."""

    def __init__(self, a, b, c, d, e):
        self.k, self.p, self.s = c, d, e
        self.W = np.zeros((b, a, c, c))

    def forward(self, x):
        n, _, h, w = x.shape
        return np.zeros((n, self.W.shape[0], (h + 2 * self.p - self.k) // self.s + 1,
                         (w + 2 * self.p - self.k) // self.s + 1))

    def backward(self, d):
        return None


class StrideFirstPool:
    """Names that say nothing, the stride before the window: (stride, size)."""

    def __init__(self, a, b):
        self.s, self.k = a, b

    def forward(self, x):
        n, c, h, w = x.shape
        return np.zeros((n, c, (h - self.k) // self.s + 1, (w - self.k) // self.s + 1))

    def backward(self, d):
        return d


def test_unknown_names_of_sizes_the_probe_gives_one_value_are_told_apart():
    """The probe's conv has stride 1 and pad 1, its pool window 2 and stride 2: a guess that swaps
    the two builds the same layer there, so it is tried with another stride before it is taken."""
    conv = discover(PadBeforeStrideConv, "NCHW")
    built = conv.make(crosscheck.check.layer_declaration.Config("conv2d", 2, 3, (3, 3), stride=2, pad=0))
    assert (built.s, built.p) == (2, 0)
    pool = discover(StrideFirstPool, "NCHW")
    built = pool.make(crosscheck.check.layer_declaration.Config("max_pool2d", 2, 2, (3, 3), stride=2))
    assert (built.k, built.s) == (3, 2)


# ------------------------------------------------------------------------------ crosscheck.Layer validation

def test_an_unknown_layer_option_lists_the_valid_ones():
    with pytest.raises(TypeError, match="has no option 'gradients'; options: make, op, layout, weights, grads"):
        crosscheck.Layer(lambda c: None, op="relu", gradients={"input": "dx"})


@pytest.mark.parametrize("options, problem", [
    ({"supports": {"batch": "one"}}, "supports['batch']='one': give an int or a tuple of ints >= 1"),
    ({"supports": {"padding": "sides"}}, "give one of symmetric, same, same-top"),
    ({"supports": {"gradients": ("input", "weights")}}, "give a tuple of input, filters, kernel, bias"),
    ({"supports": {"square": 1}}, "supports['square']=1: give True or False"),
    ({"grads": {"inputs": "dx"}}, "grads={'inputs': 'dx'}: give \"update\" or {gradient: attribute path}"),
    ({"filter_layout": "OIHW"}, "filter_layout='OIHW' is not one of FCHW, HWIO, FHWC, FHW, IO, OI"),
    ({"weights": {"W": "W"}}, "arrays among filters, kernel, bias"),
    ({"forward": 3}, "forward=3: give the method's name"),
    ({"layout": "NWHC"}, "layout='NWHC' is not one of NCHW, NHWC, CHW, HWC, HW, D, DN"),
])
def test_a_wrong_option_value_is_an_error_naming_the_valid_ones(options, problem):
    plan = plan_of(crosscheck.Layer(lambda c: None, op="conv2d", name="Conv", **options))
    assert problem in plan.problem and plan.problem.startswith("Conv: ")


def test_supported_batch_sizes_mean_what_they_say():
    assert plan_of(crosscheck.Layer(lambda c: None, op="dense", supports={"batch": 1})).supports == {"batch": (1,)}
    assert plan_of(crosscheck.Layer(lambda c: None, op="dense", supports={"batch": (2, 3)})).supports == {
        "batch": (2, 3)}


@settings(max_examples=15, database=None)
@given(C.affine_cases(C.Supports(batch=(2,))))
def test_generated_cases_keep_the_declared_batch_size(case):
    assert case.arrays["x"].shape[0] == 2


@settings(max_examples=15, database=None)
@given(C.conv_cases(C.Supports(padding="same-top", strides=(1, 2), kernel_sizes=(2, 4)), "NHWC"))
def test_same_padding_cases_put_the_extra_row_where_declared(case):
    (top, bottom), (left, right) = case.params["padding"][1:3]
    assert top - bottom in (0, 1) and left - right in (0, 1)
    _, h, w, _ = case.arrays["input"].shape
    stride = case.params["strides"][0]
    assert case.dy.shape[1:3] == (-(-h // stride), -(-w // stride))


def test_same_pads_follow_tensorflow_or_the_declared_side():
    assert C.same_pads(5, 2, 1, extra_first=False) == (0, 1) and C.same_pads(5, 2, 1, extra_first=True) == (1, 0)
    assert C.same_pads(5, 3, 2, extra_first=False) == (1, 1)


# ------------------------------------------------------------------------------ cannot-check

def _spec():
    return Spec("MaxPool", (), None, None, ())


def _case():
    return Case("relu", {}, {"features": np.zeros(2)}, np.zeros(2), "float64", 0)


def test_an_adapter_that_cannot_call_the_code_is_cannot_check_never_failed():
    raised = Outcome(_case(), IMPLEMENTATION_ERROR, impl="MaxPool", message=(
        f"{INSIDE_CROSSCHECK} (a crosscheck bug or an adapter that cannot call this code):\n"
        "TypeError: 'int' object is not subscriptable\nwhat to declare: LAYERS = [crosscheck.Layer(...)]"))
    row = judge(_spec(), [raised, Outcome(_case(), PASS, impl="MaxPool")])
    assert row.verdict == "cannot-check" and row.failing == 0
    first = row.message.splitlines()[0]
    assert "not subscriptable" in first and "not a bug in your code" in first
    assert first.endswith("declare LAYERS = [crosscheck.Layer(...)]")


def test_the_summary_does_not_call_cannot_check_a_failure():
    console = Console(file=io.StringIO(), width=200)
    rows = [crosscheck.check.Row("Conv", "passed"), crosscheck.check.Row("MaxPool", "cannot-check")]
    print_check_verdict(console, rows, ok=False, elapsed=1.0)
    out = console.file.getvalue()
    assert "FAILED" not in out and "not a failure of your code" in out and "1 of 2 functions pass" in out


def test_layer_style_declarations_stay_on_one_line():
    for declared in STYLES.glob("check_*.py"):
        code = [line for line in declared.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith(("#", '"""', "import", "from"))]
        assert len(code) <= 2, (declared.name, code)   # LAYERS = [crosscheck.Layer(...)] over two lines at most


def test_a_class_crosscheck_cannot_call_is_a_cannot_check_row_with_its_message(tmp_path):
    source = tmp_path / "mystery.py"
    source.write_text("class MysteryConv:\n    def __init__(self, gizmo, widget, doohickey, thingamajig, whatsit, "
                      "extra):\n        pass\n\n    def forward(self, x):\n        return x\n\n"
                      "    def backward(self, d):\n        return d\n")
    module = load_user_code(str(source), timeout=30)
    target, specs = examine(module, "layers")
    plans = {plan.name: plan for plan in target.layers}
    assert plans["MysteryConv"].verdict == "cannot-check" and "extra" in plans["MysteryConv"].problem
    (spec,) = [s for s in specs if s.name == "MysteryConv"]
    assert spec.run is None   # nothing runs: the row is made from the plan (a worker is never asked)
    (row,) = check_module(None, [spec], worker=object())
    assert row.verdict == "cannot-check" and "extra" in row.message


def test_a_same_padding_layer_that_cannot_take_an_even_kernel_is_checked_on_odd_ones_and_says_so(tmp_path):
    source = (Path(__file__).parent / "student_files/layer_styles/same_padding.py").read_text()
    odd_only = source.replace("return self.k // 2, (self.k - 1) // 2",
                              "assert self.k % 2, 'odd kernels only'\n        return self.k // 2, self.k // 2")
    assert odd_only != source
    (tmp_path / "same_odd.py").write_text(odd_only)
    (layer,) = [discover(cls, "NCHW") for cls in layer_classes(load_user_code(str(tmp_path / "same_odd.py"), timeout=30))]
    assert layer.supports["padding"] == "same" and set(layer.supports["kernel_sizes"]) <= {1, 3}
    assert "odd kernels only" in layer.note and "raised with a 2x2 kernel" in layer.note


def test_the_side_of_an_even_kernels_extra_row_is_told_by_the_forward(tmp_path):
    source = (Path(__file__).parent / "student_files/layer_styles/same_padding.py").read_text()
    tf_side = source.replace("return self.k // 2, (self.k - 1) // 2", "return (self.k - 1) // 2, self.k // 2")
    assert tf_side != source
    (tmp_path / "same_tf.py").write_text(tf_side)
    for path, side in ((tmp_path / "same_tf.py", "same"),
                       (Path(__file__).parent / "student_files/layer_styles/same_padding.py", "same-top")):
        (layer,) = [discover(cls, "NCHW") for cls in layer_classes(load_user_code(str(path), timeout=30))]
        assert layer.supports["padding"] == side and "kernel_sizes" not in layer.supports, (path, layer.supports)
        assert ("top and left" in layer.note) == (side == "same-top")


def test_a_layout_told_from_shapes_is_named_where_it_is_not_tensorflows():
    nchw = crosscheck.Layer(make=None, op="conv2d", layout="NCHW", filter_layout="FCHW")
    assert "batches (N, C, H, W)" in layout_note(nchw) and "filters (F, C, kh, kw)" in layout_note(nchw)
    assert layout_note(crosscheck.Layer(make=None, op="conv2d", layout="NHWC", filter_layout="HWIO")) == ""
    assert layout_note(crosscheck.Layer(make=None, op="dense", layout="NCHW", filter_layout="IO")) == ""   # (N, D) rows
    assert "columns (D, N)" in layout_note(crosscheck.Layer(make=None, op="dense", layout="DN", filter_layout="OI"))
    assert layout_note(crosscheck.Layer(make=None, op="relu", layout="NCHW")) == ""   # element-wise: any layout
