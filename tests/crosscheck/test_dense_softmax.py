"""A layer class whose name says no layer op (``Softmax(input_len, nodes)``, ``Output(n_in, n_out)``)
but whose constructor sizes a weight matrix and a bias: discovered as a dense layer followed by the
activation its forward applies, told by its behaviour (crosscheck.check.dense_activation); a standalone
softmax with no weights stays a softmax layer; a dense + softmax backward that keeps only the softmax
Jacobian's diagonal is named."""
from pathlib import Path

import numpy as np
import pytest

from crosscheck.case import Case
from crosscheck.check import check_target, load_user_code
from crosscheck.check.discovery import Undiscovered, discover
from crosscheck.check.layer_declaration import Layer
from crosscheck.check.run import own_diff
from crosscheck.check.self_examine import examine_class

FILES = Path(__file__).parent / "student_files"

HOSTILE = '''
import numpy as np


class Output:
    """rows (N, D) -> softmax(x @ W + b): the name says nothing"""
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out) * 0.1
        self.b = np.zeros((1, n_out))

    def forward(self, x):
        self.x = x
        z = x @ self.W + self.b
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.p = e / e.sum(axis=1, keepdims=True)
        return self.p

    def backward(self, dp):
        dz = self.p * (dp - np.sum(dp * self.p, axis=1, keepdims=True))
        self.dW = self.x.T @ dz
        self.db = dz.sum(axis=0, keepdims=True)
        return dz @ self.W.T


class SoftmaxColumns:
    """examples as columns (D, N), weights (out, in)"""
    def __init__(self, input_size, output_size):
        self.W = np.random.randn(output_size, input_size)
        self.b = np.zeros((output_size, 1))

    def forward(self, x):
        self.x = x
        z = self.W @ x + self.b
        e = np.exp(z - z.max(axis=0, keepdims=True))
        self.p = e / e.sum(axis=0, keepdims=True)
        return self.p

    def backward(self, dp):
        dz = self.p * (dp - np.sum(dp * self.p, axis=0, keepdims=True))
        self.dW = dz @ self.x.T
        self.db = dz.sum(axis=1, keepdims=True)
        return self.W.T @ dz


class SoftmaxLogits:
    """the name says softmax, the forward returns the logits"""
    def __init__(self, input_len, nodes):
        self.weights = np.random.randn(input_len, nodes)
        self.biases = np.zeros(nodes)

    def forward(self, x):
        self.x = x
        return x @ self.weights + self.biases

    def backward(self, d):
        self.dweights = self.x.T @ d
        self.dbiases = d.sum(axis=0)
        return d @ self.weights.T


class SoftmaxNoBias:
    """one example; the forward forgets the bias (the bug), backprop steps in place"""
    def __init__(self, input_len, nodes):
        self.weights = np.random.randn(input_len, nodes)
        self.biases = np.zeros(nodes)

    def forward(self, x):
        self.x = x.flatten()
        z = self.x @ self.weights
        e = np.exp(z - z.max())
        self.p = e / e.sum()
        return self.p

    def backprop(self, d, learn_rate):
        dz = self.p * (d - d @ self.p)
        dx = self.weights @ dz
        self.weights -= learn_rate * np.outer(self.x, dz)
        self.biases -= learn_rate * dz
        return dx


class Hidden:
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out)
        self.b = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        self.y = np.tanh(x @ self.W + self.b)
        return self.y

    def backward(self, dy):
        dz = dy * (1 - self.y ** 2)
        self.dW = self.x.T @ dz
        self.db = dz.sum(axis=0)
        return dz @ self.W.T


class Doubler:
    """weights sized by the constructor, but 2 x @ W is no dense layer with an activation"""
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out)

    def forward(self, x):
        return 2 * x @ self.W

    def backward(self, d):
        return 2 * d @ self.W.T


class SoftmaxAxis:
    """a standalone softmax whose constructor takes the axis: no weights"""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        self.p = e / e.sum(axis=self.axis, keepdims=True)
        return self.p

    def backward(self, dp):
        return self.p * (dp - np.sum(dp * self.p, axis=self.axis, keepdims=True))

class OutputFolded:
    """softmax output whose backward takes dL/dz (the softmax folded into the cross-entropy)"""
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out)
        self.b = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        z = x @ self.W + self.b
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def backward(self, dz):
        self.dW = self.x.T @ dz
        self.db = dz.sum(axis=0)
        return dz @ self.W.T


class SoftmaxLazy:
    """weights created at the first forward, from the input's size"""
    def __init__(self, nodes):
        self.nodes = nodes
        self.weights = None
        self.biases = None

    def forward(self, x):
        if self.weights is None:
            self.weights = np.random.randn(x.shape[1], self.nodes)
            self.biases = np.zeros(self.nodes)
        self.x = x
        z = x @ self.weights + self.biases
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.p = e / e.sum(axis=1, keepdims=True)
        return self.p

    def backward(self, dp):
        dz = self.p * (dp - np.sum(dp * self.p, axis=1, keepdims=True))
        self.dweights = self.x.T @ dz
        self.dbiases = dz.sum(axis=0)
        return dz @ self.weights.T


class SoftmaxAB:
    """constructor parameters whose names say nothing: sizes tried in turn"""
    def __init__(self, a, b):
        self.W = np.random.randn(a, b)
        self.b = np.zeros(b)

    def forward(self, x):
        self.x = x
        z = x @ self.W + self.b
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.p = e / e.sum(axis=1, keepdims=True)
        return self.p

    def backward(self, dp):
        dz = self.p * (dp - np.sum(dp * self.p, axis=1, keepdims=True))
        self.dW, self.db = self.x.T @ dz, dz.sum(axis=0)
        return dz @ self.W.T
'''


@pytest.fixture
def hostile(tmp_path):
    path = tmp_path / "hostile_dense.py"
    path.write_text(HOSTILE)
    return load_user_code(str(path), timeout=30)


def test_the_in_place_softmax_of_the_blog_style_is_a_dense_layer_followed_by_softmax():
    module = load_user_code(str(FILES / "layers" / "style_inplace.py"), timeout=30)
    layer = discover(module.Softmax, "NCHW")
    assert isinstance(layer, Layer), layer
    assert (layer.op, layer.activation, layer.layout, layer.filter_layout) == ("dense", "softmax", "D", "IO")
    assert layer.weights == {"kernel": "weights", "bias": "biases"}
    assert (layer.grads, layer.learning_rate_arg, layer.learning_rate) == ("update", "learn_rate", 1.0)
    assert layer.note == ""   # its name says softmax and its forward computes it
    assert examine_class(module.Softmax, layer) is None   # kept as discovered


def test_a_standalone_softmax_without_weights_stays_a_softmax_layer():
    module = load_user_code(str(FILES / "self_consistency" / "softmax.py"), timeout=30)
    discovered = discover(module.Softmax, "NCHW")
    assert isinstance(discovered, Undiscovered)
    layer = examine_class(module.Softmax, discovered)
    assert isinstance(layer, Layer) and (layer.op, layer.activation) == ("softmax", None)


def test_the_activation_and_the_layout_are_told_by_behaviour(hostile):
    output = discover(hostile.Output, "NCHW")
    assert (output.activation, output.layout) == ("softmax", "NCHW")
    assert "Output's forward computes softmax(x @ W + b): a dense layer followed by softmax" in output.note
    columns = discover(hostile.SoftmaxColumns, "NCHW")
    assert (columns.activation, columns.layout, columns.filter_layout, columns.note) == ("softmax", "DN", "OI", "")
    hidden = discover(hostile.Hidden, "NCHW")
    assert hidden.activation == "tanh" and "computes tanh(x @ W + b)" in hidden.note


def test_a_name_that_says_softmax_is_checked_as_what_the_forward_computes(hostile):
    logits = discover(hostile.SoftmaxLogits, "NCHW")
    assert logits.op == "dense" and logits.activation is None
    assert "SoftmaxLogits's name says softmax, but its forward computes x @ W + b" in logits.note
    # a forward matching nothing keeps the softmax its name says: the bug fails against TensorFlow
    no_bias = discover(hostile.SoftmaxNoBias, "NCHW")
    assert (no_bias.activation, no_bias.layout, no_bias.grads) == ("softmax", "D", "update")


def test_a_class_computing_no_activation_of_an_affine_map_is_not_discovered(hostile):
    for cls in (hostile.Doubler, hostile.SoftmaxAxis):
        discovered = discover(cls, "NCHW")
        assert isinstance(discovered, Undiscovered) and "its name does not say which op" in discovered.message
        problem = examine_class(cls, discovered)
        assert "its constructor needs" in problem.why and "declare it with crosscheck.Layer" in problem.why


def test_verdicts_of_dense_layers_told_by_behaviour(hostile):
    rows = {r.function: r for r in check_target(hostile, "layers", examples=3, only=[
        "Output", "SoftmaxColumns", "SoftmaxNoBias"])}
    assert rows["Output"].verdict == "passed-with-note", (rows["Output"].causes, rows["Output"].message[:300])
    assert rows["SoftmaxColumns"].verdict == "passed", (rows["SoftmaxColumns"].causes, rows["SoftmaxColumns"].notes)
    no_bias = rows["SoftmaxNoBias"]
    assert no_bias.verdict == "failed"
    assert any(d.tensor == "y" and not d.passed for o in no_bias.outcomes for d in o.diffs)


def _dense_softmax_grads(x, kernel, bias, dy, diagonal_only):
    z = x @ kernel + bias
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    g = dy * p * (1 - p) if diagonal_only else p * (dy - np.sum(dy * p, axis=1, keepdims=True))
    return {"d_x": g @ kernel.T, "d_kernel": x.T @ g, "d_bias": g.sum(axis=0)}


def test_a_dense_softmax_backward_with_the_jacobians_diagonal_only_is_named():
    rng = np.random.default_rng(3)
    x, kernel, bias, dy = (rng.standard_normal(s) for s in ((2, 4), (4, 3), (3,), (2, 3)))
    case = Case("dense", {}, {"x": x, "kernel": kernel, "bias": bias}, dy, "float64", 0)
    right = _dense_softmax_grads(x, kernel, bias, dy, diagonal_only=False)
    wrong = _dense_softmax_grads(x, kernel, bias, dy, diagonal_only=True)
    for tensor in ("d_x", "d_kernel", "d_bias"):
        diff = own_diff(case, wrong[tensor], right[tensor], tensor, "tape (softmax of dense)", 4)
        assert not diff.passed and [e["label"] for e in diff.diagnosis] == ["softmax-jacobian-diagonal-only"], tensor
        other = own_diff(case, 2 * right[tensor], right[tensor], tensor, "tape (softmax of dense)", 4)
        assert "softmax-jacobian-diagonal-only" not in [e["label"] for e in other.diagnosis], tensor
        # a dense layer with another activation: its path says so, the label is not offered
        sigmoid = own_diff(case, wrong[tensor], right[tensor], tensor, "tape (sigmoid of dense)", 4)
        assert "softmax-jacobian-diagonal-only" not in [e["label"] for e in sigmoid.diagnosis], tensor


def test_sizes_given_lazily_or_by_names_that_say_nothing_are_found(hostile):
    lazy = discover(hostile.SoftmaxLazy, "NCHW")
    assert (lazy.activation, lazy.weights, lazy.note) == ("softmax", {"kernel": "weights", "bias": "biases"}, "")
    ab = discover(hostile.SoftmaxAB, "NCHW")
    assert (ab.activation, ab.filter_layout) == ("softmax", "IO")


def test_a_backward_that_leaves_the_softmax_to_the_loss_cannot_be_checked_not_failed(hostile):
    folded = discover(hostile.OutputFolded, "NCHW")
    assert isinstance(folded, Undiscovered) and folded.verdict == "cannot-check"
    assert "its backward takes the gradient of x @ W + b" in folded.message and "not a claim" in folded.message
    assert examine_class(hostile.OutputFolded, folded) is None   # kept: not the constructor's error
