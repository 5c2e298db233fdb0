"""An untied conv bias (one value per output position) checked against TensorFlow and against the
layer's own forward; scaled activations declared with ``crosscheck.Layer(scale=(a, b))``; every
documented ``crosscheck.Layer`` option validated (a wrong value is an error row naming it) and
honoured (a valid one changes what is run). The corpus files' bugs are established here by finite
differences, independently of crosscheck."""
import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crosscheck
from crosscheck.case import Case
from crosscheck.check import check_target, load_user_code
from crosscheck.check.declared import SUPPORTS_KEYS
from crosscheck.check.discovery import discover
from crosscheck.check.layer_declaration import OPTIONS
from crosscheck.check.layers import _optional, layer_cases, layer_impl
from crosscheck.check.scaled import scale_note, scale_problem
from crosscheck.check.target import _plan_and_spec, examine, plan_of
from crosscheck.check.untied_bias import PER_POSITION, from_untied, to_untied
from crosscheck.check.untied_bias import untied_order as order_of_untied

ROOT = Path(__file__).resolve().parents[2]
STYLES = Path(__file__).parent / "student_files" / "layer_styles"
sys.path.insert(0, str(STYLES))   # the declaration files import their layer file by name


def _central(f, a, h=1e-6):
    """Central finite differences of the scalar f at every element of ``a`` (float64)."""
    g = np.zeros_like(a)
    for i in range(a.size):
        old = a.flat[i]
        a.flat[i] = old + h
        up = f()
        a.flat[i] = old - h
        down = f()
        a.flat[i] = old
        g.flat[i] = (up - down) / (2 * h)
    return g


# ------------------------------------------------------------------------------ the untied bias

def _untied_bias_gradients(module_name: str):
    """(the layer's d_bias from its in-place step with learning rate 1, finite differences of
    <forward, dy> in the bias) for the Convolutional of a layer_styles file."""
    module = load_user_code(str(STYLES / f"{module_name}.py"), timeout=30)
    rng = np.random.default_rng(3)
    layer = module.Convolutional((2, 5, 6), 3, 2)
    x, dy = rng.standard_normal((2, 5, 6)), rng.standard_normal((2, 3, 4))
    layer.forward(x)
    before = layer.biases.copy()
    layer.backward(dy, 1.0)
    stepped = before - layer.biases
    layer.biases = before.copy()
    fd = _central(lambda: float(np.sum(layer.forward(x) * dy)), layer.biases)
    return stepped, fd


def test_the_untied_bias_corpus_bug_is_a_bug_by_finite_differences():
    correct, fd = _untied_bias_gradients("untied_bias")
    assert np.allclose(correct, fd, atol=1e-7)
    buggy, fd = _untied_bias_gradients("untied_bias_bug")
    assert not np.allclose(buggy, fd, atol=1e-3)
    assert np.allclose(buggy.sum(axis=(1, 2)), fd.sum(axis=(1, 2)) * 12)   # summed, broadcast: 3 * 4 times the sum


@pytest.mark.parametrize("shape, layout, order", [((4, 3, 5), "CHW", "FHW"), ((1, 4, 3, 5), "NCHW", "FHW"),
                                                  ((3, 5, 4), "HWC", "HWF"), ((3, 5, 4), "NHWC", "HWF"),
                                                  ((4,), "NCHW", None), ((4, 1, 1), "CHW", None),
                                                  ((3, 5, 4), "NCHW", None), ((2, 3, 5), "CHW", None)])
def test_an_untied_bias_is_told_by_its_shape_and_the_layers_layout(shape, layout, order):
    assert order_of_untied(shape, 4, layout) == order


@pytest.mark.parametrize("shape, order", [((4, 3, 5), "FHW"), ((1, 4, 3, 5), "FHW"), ((3, 5, 4), "HWF")])
def test_a_per_filter_bias_broadcast_over_positions_sums_back_to_the_positions_count(shape, order):
    b = np.array([1.0, -2.0, 3.0, 0.5])
    untied = to_untied(b, shape, order)
    assert untied.shape == shape
    assert np.array_equal(from_untied(untied, order), b * 15)
    assert np.array_equal(from_untied(np.ones(shape), order), np.full(4, 15.0))


class LocalConvNHWC:
    """A batched channels-last 3x3 valid conv whose bias is untied, ``(OH, OW, F)``; ``flip`` makes its
    bias gradient the upstream gradient summed over the batch with the rows reversed: right in sum,
    wrong position by position."""
    flip = False

    def __init__(self, input_shape, num_filters):
        h, w, c = input_shape
        self.W = np.zeros((3, 3, c, num_filters))
        self.b = np.zeros((h - 2, w - 2, num_filters))

    def forward(self, x):
        self.x = x
        n, h, w, _ = x.shape
        out = np.zeros((n, h - 2, w - 2, self.W.shape[3])) + self.b
        for i in range(3):
            for j in range(3):
                out += x[:, i:i + h - 2, j:j + w - 2, :] @ self.W[i, j]
        return out

    def backward(self, dout):
        _, h, w, _ = self.x.shape
        dx, self.dW = np.zeros_like(self.x), np.zeros_like(self.W)
        for i in range(3):
            for j in range(3):
                window = self.x[:, i:i + h - 2, j:j + w - 2, :]
                self.dW[i, j] = np.tensordot(window, dout, axes=([0, 1, 2], [0, 1, 2]))
                dx[:, i:i + h - 2, j:j + w - 2, :] += dout @ self.W[i, j].T
        self.db = dout.sum(axis=0)[::-1] if self.flip else dout.sum(axis=0)
        return dx


class FlippedLocalConvNHWC(LocalConvNHWC):
    flip = True


def _case(rng, h=6, w=5, c=2, f=3, n=2):
    return Case("conv2d", {"strides": [1, 1], "padding": [[0, 0], [0, 0], [0, 0], [0, 0]], "dilations": [1, 1],
                           "data_format": "NHWC"},
                {"input": rng.standard_normal((n, h, w, c)), "filters": rng.standard_normal((3, 3, c, f)),
                 "bias": rng.standard_normal(f)}, rng.standard_normal((n, h - 2, w - 2, f)), "float64", 1)


def test_the_adapter_broadcasts_the_case_bias_and_sums_the_untied_gradient():
    layer = discover(LocalConvNHWC, "NCHW")
    assert isinstance(layer, crosscheck.Layer) and layer.layout == "NHWC" and layer.weights["bias"] == "b"
    case = _case(np.random.default_rng(0))
    impl = layer_impl(layer, "NHWC", [])
    y, pullback = impl.vjp("conv2d", *case.arrays.values(), **case.params)
    *_, d_bias = pullback(case.dy)
    assert impl.untied["order"] == "HWF" and impl.untied["bias"].shape == (4, 3, 3)
    no_bias = layer_impl(layer, "NHWC", []).conv2d(input=case.arrays["input"], filters=case.arrays["filters"],
                                                   bias=np.zeros((4, 3, 3)), **case.params)
    assert np.allclose(y - no_bias, case.arrays["bias"])            # b[f] at every position
    assert np.allclose(d_bias, case.dy.sum(axis=(0, 1, 2)))         # summed over the positions (and the batch)
    assert np.array_equal(impl.untied["grad"], case.dy.sum(axis=0))


def _module_of(tmp_path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return load_user_code(str(path), timeout=30)


def test_an_untied_bias_right_only_in_sum_fails_on_its_own_forward(tmp_path):
    source = "\n\n".join(["import numpy as np", inspect.getsource(LocalConvNHWC),
                           inspect.getsource(FlippedLocalConvNHWC)])
    module = _module_of(tmp_path, "local_convs", source)
    rows = {r.function: r for r in check_target(module, "layers", examples=3)}
    right, flipped = rows["LocalConvNHWC"], rows["FlippedLocalConvNHWC"]
    assert right.verdict == "passed-with-note" and "untied bias (OH, OW, F)" in right.notes[0], right.notes
    judged = [d for o in right.outcomes for d in o.diffs if d.tensor == PER_POSITION]
    assert judged and all(d.passed for d in judged)
    assert flipped.verdict == "failed"
    failing = {d.tensor for o in flipped.outcomes for d in o.failures}
    assert failing == {PER_POSITION}, failing    # TensorFlow's checks (d_bias summed over positions) all pass


class MeanLocalConv:
    """NCHW batches, a 3x3 valid conv with bias (1, F, OH, OW); every parameter gradient averaged
    over the batch (the batch-mean convention)."""

    def __init__(self, in_channels, out_channels, input_shape):
        _, h, w = input_shape
        self.W = np.zeros((out_channels, in_channels, 3, 3))
        self.b = np.zeros((1, out_channels, h - 2, w - 2))

    def forward(self, x):
        self.x = x
        n, _, h, w = x.shape
        out = np.zeros((n, self.W.shape[0], h - 2, w - 2)) + self.b
        for i in range(3):
            for j in range(3):
                out += np.einsum("nchw,fc->nfhw", x[:, :, i:i + h - 2, j:j + w - 2], self.W[:, :, i, j])
        return out

    def backward(self, dout):
        n, _, h, w = self.x.shape
        dx, self.dW = np.zeros_like(self.x), np.zeros_like(self.W)
        for i in range(3):
            for j in range(3):
                self.dW[:, :, i, j] = np.einsum("nchw,nfhw->fc", self.x[:, :, i:i + h - 2, j:j + w - 2], dout) / n
                dx[:, :, i:i + h - 2, j:j + w - 2] += np.einsum("nfhw,fc->nchw", dout, self.W[:, :, i, j])
        self.db = dout.mean(axis=0, keepdims=True)
        return dx


def test_an_untied_bias_averaged_over_the_batch_is_the_batch_mean_convention(tmp_path):
    module = _module_of(tmp_path, "mean_local_conv", "import numpy as np\n\n\n" + inspect.getsource(MeanLocalConv))
    (row,) = check_target(module, "layers", examples=4)
    assert row.verdict == "passed-with-note", (row.causes, row.notes)
    assert any("averaged over the batch (d_bias, d_bias per position, d_filters" in n for n in row.notes), row.notes


# ------------------------------------------------------------------------------ scaled activations

def test_the_lecun_tanh_corpus_bug_is_a_bug_by_finite_differences():
    x, dy = np.random.default_rng(4).standard_normal((3, 4)) * 2, np.random.default_rng(5).standard_normal((3, 4))
    for name, right in (("lecun_tanh", True), ("lecun_tanh_bug", False)):
        layer = load_user_code(str(STYLES / f"{name}.py"), timeout=30).LeCunTanh()
        layer.forward(x)
        dx = layer.backward(dy)
        fd = _central(lambda layer=layer: float(np.sum(layer.forward(x) * dy)), x)
        assert np.allclose(dx, fd, atol=1e-7) is right, name
        assert np.allclose(layer.forward(x), 1.7159 * np.tanh(2 / 3 * x))


@pytest.mark.parametrize("scale, op, problem", [
    ((1.7159, 0), "tanh", "scale=(1.7159, 0): give (a, b), two finite numbers other than 0"),
    ((1.0,), "tanh", "give (a, b)"), ((1.0, float("nan")), "tanh", "give (a, b)"), ("2x", "tanh", "give (a, b)"),
    ((True, 1.0), "sigmoid", "give (a, b)"),
    ((2.0, 1.0), "conv2d", "a scale is for an activation (relu, "),
])
def test_a_wrong_scale_is_an_error_naming_what_it_takes(scale, op, problem):
    assert problem in scale_problem(scale, op)
    assert scale_problem((1.7159, 2 / 3), "tanh") == "" and scale_problem([2, 0.5], "sigmoid") == ""


class PlainTanh:
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dy):
        return dy * (1 - self.y ** 2)


def test_a_scale_the_code_does_not_follow_fails_and_says_so():
    layer = crosscheck.Layer(lambda c: PlainTanh(), op="tanh", scale=(1.7159, 2 / 3))
    _, spec = _plan_and_spec(layer, 0)
    assert "but its forward computes tanh: the declaration does not match the code" in spec.note, spec.note
    module = type(sys)("declared_plain_tanh")
    module.LAYERS = [crosscheck.Layer(lambda c: PlainTanh(), op="tanh", scale=(1.7159, 2 / 3))]
    (row,) = check_target(module, "layers", examples=3)
    assert row.verdict == "failed" and {d.tensor for o in row.outcomes for d in o.failures} == {"y", "d_x"}
    assert "does not match the code" in row.notes[0]


class RoundedLeCunTanh:
    def forward(self, x):
        return 1.7159 * np.tanh(0.6667 * x)

    def backward(self, dy):
        return dy


def test_a_scale_followed_only_to_a_rounded_constant_says_so():
    note = scale_note(crosscheck.Layer(lambda c: RoundedLeCunTanh(), op="tanh", scale=(1.7159, 2 / 3)))
    assert note.startswith("declared scale: 1.7159 * tanh(0.666667 x), judged against TensorFlow's tanh; its "
                           "forward agrees with it to a relative 3e-05 only"), note
    assert "such as 0.6667 for 2/3" in note


def test_a_declared_scale_is_judged_by_tensorflow_and_named():
    module = load_user_code(str(STYLES / "check_lecun_tanh.py"), timeout=30)
    (row,) = check_target(module, "layers", examples=3)
    assert row.verdict == "passed-with-note" and row.notes[0].startswith("declared scale: 1.7159 * tanh(0.666667 x)")
    paths = {p for o in row.outcomes for p in o.paths}
    assert paths == {"tape (1.7159 * tanh(0.666667 x))"}, paths


def test_an_undeclared_scaled_tanh_says_how_to_declare_it():
    module = load_user_code(str(STYLES / "lecun_tanh.py"), timeout=30)
    target, _ = examine(module, "layers")
    (plan,) = target.layers
    assert "scale=(a, b)) has TensorFlow's tanh judge it" in " ".join(plan.self_check["notes"])


# ------------------------------------------------------------------------------ every documented option

class ToyDense:
    """x @ W + b, W (in, out); gradients in dW, db."""

    def __init__(self, n_in, n_out):
        self.W, self.b = np.zeros((n_in, n_out)), np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dy):
        self.dW, self.db = self.x.T @ dy, dy.sum(axis=0)
        return dy @ self.W.T


class ToyDenseOddly(ToyDense):
    """ToyDense with W stored (out, in) in a params dict, methods run / unrun, gradients gW, gb, and
    a backward that steps the weights in place by a keyword-only rate."""

    def __init__(self, n_in, n_out):
        self.params = {"W": np.zeros((n_out, n_in)), "b": np.zeros(n_out)}

    def run(self, x):
        self.x = x
        return x @ self.params["W"].T + self.params["b"]

    def unrun(self, dy, *, eta):
        self.gW, self.gb = (self.x.T @ dy).T, dy.sum(axis=0)
        dx = dy @ self.params["W"]
        self.params["W"] -= eta * self.gW
        self.params["b"] -= eta * self.gb
        return dx


def _dense_grads(layer):
    rng = np.random.default_rng(2)
    x, kernel, bias, dy = (rng.standard_normal(s) for s in ((3, 4), (4, 2), (2,), (3, 2)))
    expected = (x @ kernel + bias, dy @ kernel.T, x.T @ dy, dy.sum(axis=0))
    try:
        y, pullback = layer_impl(layer, "NHWC", []).vjp("dense", x, kernel, bias)
        return all(np.allclose(a, e) for a, e in zip((y, *pullback(dy)), expected))
    except ValueError:   # an option that does not say how the toy stores its weights: its matmul refuses
        return False


def _odd(**options):
    return crosscheck.Layer(lambda c: ToyDenseOddly(c.in_features, c.out_features), op="dense",
                            **{"weights": {"kernel": "params.W", "bias": "params.b"}, "filter_layout": "OI",
                               "forward": "run", "backward": "unrun", "grads": {"kernel": "gW", "bias": "gb"},
                               "learning_rate": 1.0, "learning_rate_arg": "eta", **options})


def _honoured_by_run(layer, plan):
    _plan_and_spec(layer, 0)   # completed as the check does: its weights found on what make built
    return _dense_grads(layer)


# option -> (valid options, invalid options, what the problem says, whether the valid one is honoured)
OPTION_CHECKS = {
    "make": ({}, {"make": "ToyDense"}, "make='ToyDense': give a callable", _honoured_by_run),
    "op": ({}, {"op": "affine"}, "op='affine' is not one of", lambda layer, plan: plan.op == "dense"),
    "layout": ({"layout": "DN"}, {"layout": "NWHC"}, "layout='NWHC' is not one of",
               lambda layer, plan: plan.layout == "DN"),
    "weights": ({"weights": {"kernel": "params.W", "bias": "params.b"}}, {"weights": {"filters": "W"}},
                "op='dense' has the arrays kernel, bias", lambda layer, plan: _dense_grads(_odd())),
    "grads": ({"grads": {"kernel": "gW", "bias": "gb"}}, {"grads": {"filters": "dW"}},
              "op='dense' has the gradients input, kernel, bias",
              lambda layer, plan: _dense_grads(_odd()) and not _dense_grads(_odd(grads={"kernel": "gb"}))),
    "filter_layout": ({"filter_layout": "IO"}, {"filter_layout": "FCHW"}, "op='dense' takes IO, OI",
                      lambda layer, plan: _dense_grads(_odd()) and not _dense_grads(_odd(filter_layout="IO"))),
    "forward": ({"forward": "forward"}, {"forward": ""}, "forward='': give the method's name",
                lambda layer, plan: _dense_grads(_odd())),
    "backward": ({"backward": "backward"}, {"backward": 7}, "backward=7: give the method's name",
                 lambda layer, plan: _dense_grads(_odd())),
    "learning_rate": ({"learning_rate": 0.5}, {"learning_rate": -1}, "learning_rate=-1: give a positive number",
                      lambda layer, plan: _dense_grads(_odd(grads="update", learning_rate=0.5))),
    "learning_rate_arg": ({"learning_rate_arg": "eta"}, {"learning_rate_arg": "learning rate"},
                          "learning_rate_arg='learning rate': give the backward's parameter name",
                          lambda layer, plan: _dense_grads(_odd(grads="update"))),
    "activation": ({"activation": "relu"}, {"activation": "softplus"}, "activation='softplus' is not one of",
                   lambda layer, plan: plan.activation == "relu"
                   and "activation_run" in _plan_and_spec(layer, 0)[1].run.__qualname__),
    "name": ({"name": "Hidden"}, {"name": 3}, "name=3: give the row's name", lambda layer, plan: plan.name == "Hidden"),
    "conventions": ({"conventions": ("batch-mean",)}, {"conventions": ("batch-sum",)},
                    "unknown convention 'batch-sum'", lambda layer, plan: plan.conventions == ("batch-mean",)),
    "supports": ({"supports": {"batch": 2}}, {"supports": {"batches": 2}}, "supports has no field 'batches'",
                 lambda layer, plan: plan.supports == {"batch": (2,)}),
    "scale": ({"op": "tanh", "scale": (1.7159, 2 / 3)}, {"scale": (1.7159, 2 / 3)},
              "a scale is for an activation", lambda layer, plan: _plan_and_spec(layer, 0)[1].run.__qualname__
              .startswith("scaled_run")),
}


def documented_options() -> list[str]:
    """The options of docs/check-your-own.md's crosscheck.Layer table (its first column's names)."""
    text = (ROOT / "docs" / "check-your-own.md").read_text()
    table = text.split("| option | values |", 1)[1].split("\n\n", 1)[0]
    return [name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split("|")[1])]


def test_every_option_is_documented_and_checked_here():
    assert sorted(documented_options()) == sorted(OPTIONS)
    assert sorted(OPTION_CHECKS) == sorted(OPTIONS)


@pytest.mark.parametrize("option", sorted(OPTION_CHECKS))
def test_each_documented_option_is_validated_and_honoured(option):
    valid, invalid, problem, honoured = OPTION_CHECKS[option]

    def declared(**options):
        return crosscheck.Layer(**{"make": lambda c: ToyDense(c.in_features, c.out_features), "op": "dense",
                                   "name": "Toy", **options})
    wrong = plan_of(declared(**invalid))
    assert problem in wrong.problem and wrong.verdict == "error", wrong.problem
    layer = declared(**valid)
    plan = plan_of(layer)
    assert not plan.problem, plan.problem
    assert honoured(layer, plan), option


def test_an_unknown_option_lists_the_documented_ones_only():
    with pytest.raises(TypeError, match=r"has no option 'bias_shape'; options: make, op, .* scale$"):
        crosscheck.Layer(lambda c: None, op="relu", bias_shape=(3,))


def test_a_declared_method_the_class_lacks_is_an_error_listing_its_methods():
    plan, spec = _plan_and_spec(crosscheck.Layer(lambda c: ToyDense(c.in_features, c.out_features), op="dense",
                                                 forward="forwrd"), 0)
    assert plan.problem == "ToyDense: forward='forwrd': ToyDense has no method 'forwrd' (its methods: backward, forward)"
    assert spec.run is None


# ------------------------------------------------------------------------------ every documented supports key

def _filters(case):
    return case.arrays["filters"].shape   # HWIO in every case


# key -> (op, valid value, wrong value, an op that does not take it, what each drawn case then shows)
SUPPORTS_CHECKS = {
    "batch": ("dense", (2,), "one", "relu", lambda c: c.arrays["x"].shape[0] == 2),
    "kernel_sizes": ("conv2d", (2,), (0,), "max_pool2d", lambda c: _filters(c)[:2] == (2, 2)),
    "pool_sizes": ("max_pool2d", (3,), (1.5,), "conv2d", lambda c: c.params["ksize"] == [3, 3]),
    "strides": ("conv2d", 2, -1, "dense", lambda c: c.params["strides"] == [2, 2]),
    "in_channels": ("conv2d", (3,), (0,), "dense", lambda c: _filters(c)[2] == 3),
    "out_channels": ("conv2d", 4, "4", "max_pool2d", lambda c: _filters(c)[3] == 4),
    "features": ("dense", (5,), (), "conv2d", lambda c: c.arrays["kernel"].shape[0] == 5),
    "pads": ("conv2d", (2,), (-1,), "dense", lambda c: c.params["padding"][2] == [2, 2]),
    "padding": ("conv2d", "same", "valid", "max_pool2d",
                lambda c: c.dy.shape[2:] == tuple(-(-s // c.params["strides"][0]) for s in c.arrays["input"].shape[2:])),
    "square": ("max_pool2d", True, "yes", "dense", lambda c: c.params["ksize"][0] == c.params["ksize"][1]),
    "stride_divides": ("conv2d", True, 1, "max_pool2d", lambda c: all(
        (s + sum(p) - k) % c.params["strides"][0] == 0
        for s, p, k in zip(c.arrays["input"].shape[2:], c.params["padding"][2:], _filters(c)[:2]))),
    "bias": ("conv2d", False, "no", "relu", lambda c: "bias" not in c.arrays),
    "gradients": ("conv2d", ("filters", "bias"), ("weights",), "tanh", None),
}


def documented_supports() -> list[str]:
    text = (ROOT / "docs" / "check-your-own.md").read_text()
    table = text.split("| key | values | ops |", 1)[1].split("\n\n", 1)[0]
    return [name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split("|")[1])]


def test_every_supports_key_is_documented_and_checked_here():
    assert sorted(documented_supports()) == sorted(SUPPORTS_KEYS)
    assert sorted(SUPPORTS_CHECKS) == sorted(SUPPORTS_KEYS)


@pytest.mark.parametrize("key", sorted(SUPPORTS_CHECKS))
@settings(max_examples=8, database=None, deadline=None)
@given(data=st.data())
def test_each_supports_key_is_validated_and_honoured(key, data):
    op, valid, wrong, other_op, shows = SUPPORTS_CHECKS[key]

    def plan(op_, value):
        return plan_of(crosscheck.Layer(lambda c: None, op=op_, name="L", supports={key: value}))
    assert f"supports[{key!r}]" in plan(op, wrong).problem
    assert f"supports[{key!r}] does not apply to op={other_op!r}: it takes " in plan(other_op, valid).problem
    good = plan(op, valid)
    assert not good.problem, good.problem
    if shows is None:   # which gradients are judged: the others are left out of the verdict
        optional = _optional(set(good.supports[key]), op)
        assert "d_input" in optional and not optional & {"d_filters", "d_bias"}, optional
        return
    case = data.draw(layer_cases(good, {}))
    assert shows(case), (key, case.params, {n: a.shape for n, a in case.arrays.items()})
