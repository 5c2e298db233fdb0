"""The "Neural Networks from Scratch" style and loss classes, checked with no glue: a forward that
returns None and stores self.output, a backward that stores self.dinputs, Activation_X / Layer_X
class names, loss classes (softmax cross-entropy of logits, cross-entropy of probabilities, BCE,
MSE) told by behaviour, and dropout classes judged by their own mask. The corpus's bugs
(student_files/nnfs/) are established here by finite differences or by the maths, independently of
crosscheck's opinion."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from crosscheck.check import check_target, load_user_code, rerun
from crosscheck.check.discovery import _op_of
from crosscheck.check.dropout_class import examine_dropout
from crosscheck.check.layer_access import forward_output
from crosscheck.check.loss_classes import (
    BCE,
    CE_PROBS,
    MSE,
    SOFTMAX_CE,
    LossProblem,
    examine_loss,
)
from crosscheck.check.target import examine
from crosscheck.cli import main

NNFS = Path(__file__).parent / "student_files" / "nnfs"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"nnfs_{name}", NNFS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fd(f, a: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of the scalar f at a."""
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[i] += h
        minus[i] -= h
        g[i] = (f(plus) - f(minus)) / (2 * h)
    return g


def _run_layer(make, x, dy=None, weights=None):
    """An nnfs-style layer built by ``make()`` with ``weights`` set: (output, dinputs, {weight: its
    gradient}) after forward(x) (output stored in self.output) and, with ``dy``, backward(dy)."""
    layer = make()
    for name, value in (weights or {}).items():
        setattr(layer, name, value.copy())
    layer.forward(x.copy())
    if dy is None:
        return layer.output, None, {}
    layer.backward(dy.copy())
    return layer.output, layer.dinputs, {name: getattr(layer, "d" + name) for name in weights or {}}


# ------------------------------------------------------------------------------ discovery, unit level

def test_class_names_of_the_style_say_their_op():
    named = {name: type(name, (), {}) for name in ("Layer_Dense", "Activation_ReLU", "Activation_Sigmoid",
                                                   "Activation_Linear", "Activation_Softmax", "Layer_Dropout")}
    assert [_op_of(c) for c in named.values()] == ["dense", "relu", "sigmoid", None, None, None]


def test_forward_output_reads_what_a_forward_that_returns_none_stored():
    class Stores:
        def forward(self, inputs):
            self.output = inputs * 2

    layer = Stores()
    out = forward_output(layer, layer.forward(np.ones(3)))
    assert np.array_equal(out, [2.0, 2.0, 2.0])
    out[0] = 7.0   # a copy: the layer's own output is untouched
    assert layer.output[0] == 2.0
    assert forward_output(object(), None) is None
    assert np.array_equal(forward_output(layer, np.zeros(2)), [0.0, 0.0])


def test_loss_classes_are_told_by_behaviour_with_their_label_formats():
    nnfs, other = _load("correct"), _load("softmax_ce_style")
    cce = examine_loss(nnfs.Loss_CategoricalCrossentropy, "forward", "backward")
    assert (cce.kind, cce.labels, cce.calculate, cce.clip) == (CE_PROBS, ("index", "onehot"), True, 0.0)
    combined = examine_loss(nnfs.Activation_Softmax_Loss_CategoricalCrossentropy, "forward", "backward")
    assert (combined.kind, combined.labels, combined.clip) == (SOFTMAX_CE, ("index", "onehot"), 1e-7)
    assert "capped at 16.1" in combined.note
    assert examine_loss(nnfs.Loss_BinaryCrossentropy, "forward", "backward").kind == BCE
    sce = examine_loss(other.SoftmaxCrossEntropy, "forward", "backward")
    assert (sce.kind, sce.labels, sce.clip) == (SOFTMAX_CE, ("index",), 0.0)
    assert examine_loss(other.CrossEntropyLoss, "forward", "backward").labels == ("onehot",)
    with_delta = examine_loss(other.SoftmaxWithLoss, "forward", "backward")
    assert (with_delta.kind, with_delta.offset, with_delta.clip) == (SOFTMAX_CE, 1e-7, 0.0)
    assert examine_loss(nnfs.Layer_Dense, "forward", "backward") is None


def test_a_mean_squared_error_class_is_told_from_its_numbers_not_its_name():
    class Loss_Custom:
        def forward(self, y_pred, y_true):
            return np.mean((y_pred - y_true) ** 2, axis=-1)

        def backward(self, dvalues, y_true):
            self.dinputs = -2 * (y_true - dvalues) / dvalues.shape[1] / len(dvalues)

    entry = examine_loss(Loss_Custom, "forward", "backward")
    assert (entry.kind, entry.per_sample, entry.labels) == (MSE, True, ("target",))



def test_a_loss_whose_name_says_another_kind_than_it_computes_is_noted():
    """A binary cross-entropy class computing the mean squared error is checked as that (its numbers
    decide), and its note says the name and the loss disagree: it passes with a note, not silently."""
    class Loss_BinaryCrossentropy:
        def forward(self, y_pred, y_true):
            return np.mean((y_pred - y_true) ** 2, axis=-1)

        def backward(self, dvalues, y_true):
            self.dinputs = -2 * (y_true - dvalues) / dvalues.shape[1] / len(dvalues)

    entry = examine_loss(Loss_BinaryCrossentropy, "forward", "backward")
    assert entry.kind == MSE
    assert "name says binary cross-entropy of probabilities, but its loss is mean squared error" in entry.note
    nnfs = _load("correct")   # the course's own classes: name and loss agree, no note
    assert examine_loss(nnfs.Loss_CategoricalCrossentropy, "forward", "backward").note == ""


def test_loss_classes_crosscheck_cannot_call_say_why():
    class WeightedLoss:
        def __init__(self, weights):
            self.w = weights

        def forward(self, x, y):
            return 0.0

        def backward(self):
            return None

    class OddLoss:
        def forward(self, x):
            return 0.0

        def backward(self):
            return None

    class StrangeLoss:
        def forward(self, x, y):
            return 42.0

        def backward(self):
            return None

    weighted = examine_loss(WeightedLoss, "forward", "backward")
    assert isinstance(weighted, LossProblem) and "needs weights" in weighted.why and weighted.verdict == "cannot-check"
    odd = examine_loss(OddLoss, "forward", "backward")
    assert isinstance(odd, LossProblem) and "forward takes (x)" in odd.why
    strange = examine_loss(StrangeLoss, "forward", "backward")
    assert isinstance(strange, LossProblem) and strange.verdict == "error" and "matches none" in strange.why


def test_dropout_classes_are_found_by_name_and_rate_parameter():
    entry = examine_dropout(_load("correct").Layer_Dropout, "forward", "backward")
    assert (entry.rate, entry.training) == ("rate", "")

    class Dropout:
        def __init__(self, keep_prob=0.5):
            self.keep_prob = keep_prob

        def forward(self, x, training=True):
            return x

        def backward(self, d):
            return d

    assert (examine_dropout(Dropout, "forward", "backward").training) == "training"
    assert examine_dropout(_load("correct").Activation_ReLU, "forward", "backward") is None


def test_auto_convention_checks_a_loss_only_file_as_layers():
    target, _ = examine(_load("softmax_ce_style"), "auto")
    assert target.convention == "layers" and [p.op for p in target.layers] == [SOFTMAX_CE] * 3
    rows = {r.function: r for r in check_target(_load("softmax_ce_style"), "auto", examples=4)}
    assert rows["SoftmaxCrossEntropy"].verdict == "passed"
    assert rows["CrossEntropyLoss"].verdict == "passed-with-note"
    assert "loss summed over the batch" in rows["CrossEntropyLoss"].notes[0]


# ----------------------------------------------------------- the corpus's bugs, established apart

RNG = np.random.default_rng(0)
X, DY = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 5))
W, B = RNG.standard_normal((3, 5)), RNG.standard_normal((1, 5))


@pytest.mark.parametrize("name, wrong", [("correct", False), ("bug_dense_dweights_transposed", True)])
def test_dense_weight_gradient_against_finite_differences(name, wrong):
    module = _load(name)
    def make():
        return module.Layer_Dense(3, 5)
    _, _, grads = _run_layer(make, X, DY, {"weights": W, "biases": B})
    fd = _fd(lambda w: float(np.sum(DY * _run_layer(make, X, weights={"weights": w, "biases": B})[0])), W)
    ok = grads["weights"].shape == fd.shape and np.allclose(grads["weights"], fd, atol=1e-6)
    assert ok is not wrong


@pytest.mark.parametrize("name, cls, wrong", [
    ("correct", "Activation_ReLU", False), ("bug_relu_mask_from_dvalues", "Activation_ReLU", True),
    ("correct", "Activation_Softmax", False), ("bug_softmax_diagonal", "Activation_Softmax", True),
    ("correct", "Activation_Sigmoid", False)])
def test_activation_input_gradients_against_finite_differences(name, cls, wrong):
    layer = getattr(_load(name), cls)
    dy = RNG.standard_normal(X.shape)
    _, dx, _ = _run_layer(layer, X, dy)
    fd = _fd(lambda x: float(np.sum(dy * _run_layer(layer, x)[0])), X)
    assert np.allclose(dx, fd, atol=1e-6) is not wrong


def _loss_and_grad(cls, logits, y):
    loss = cls()
    value = loss.forward(logits.copy(), y)
    loss.backward(loss.output, y)
    return value, loss.dinputs


@pytest.mark.parametrize("name, wrong", [("correct", False), ("bug_combined_not_divided", True)])
def test_combined_softmax_loss_gradient_against_finite_differences(name, wrong):
    combined = _load(name).Activation_Softmax_Loss_CategoricalCrossentropy
    y = np.array([0, 2, 1, 2])
    _, grad = _loss_and_grad(combined, X, y)
    fd = _fd(lambda x: float(combined().forward(x, y)), X)
    assert np.allclose(grad, fd, atol=1e-6) is not wrong
    if wrong:   # the gradient of the sum: N times the mean's
        assert np.allclose(grad, len(X) * fd, atol=1e-5)


def test_cce_backward_one_hot_of_samples_is_wrong_for_index_labels():
    p = np.exp(X) / np.exp(X).sum(axis=1, keepdims=True)
    y = np.array([0, 2, 1, 2])
    right = _load("correct").Loss_CategoricalCrossentropy()
    right.backward(p, y)
    fd = _fd(lambda q: float(np.mean(-np.log(q[np.arange(4), y]))), p)
    assert np.allclose(right.dinputs, fd, atol=1e-6)
    with pytest.raises(ValueError):   # eye(4)[y] is (4, 4), the probabilities (4, 3)
        _load("bug_cce_eye_of_samples").Loss_CategoricalCrossentropy().backward(p, y)


def test_dropout_backward_without_the_scale_is_wrong():
    for name, wrong in (("correct", False), ("bug_dropout_backward_unscaled", True)):
        layer = _load(name).Layer_Dropout(0.3)
        np.random.seed(3)
        x = RNG.uniform(0.5, 2.0, (20, 30))
        layer.forward(x)
        kept = layer.output != 0
        layer.backward(np.ones_like(x))   # d(sum out)/dx = keep / p_keep: the output is x * keep / p_keep
        assert np.allclose(layer.output, np.where(kept, x / 0.7, 0.0))
        assert np.allclose(layer.dinputs, np.where(kept, 1 / 0.7, 0.0)) is not wrong


def test_softmax_ce_style_bugs():
    right, buggy = _load("softmax_ce_style"), _load("softmax_ce_style_bug")
    far, label = np.array([[0.0, -1000.0]]), np.array([1])
    assert right.SoftmaxCrossEntropy().forward(far, label) == pytest.approx(1000.0)
    with np.errstate(divide="ignore"):
        assert np.isinf(buggy.SoftmaxCrossEntropy().forward(far, label))   # log(0): exp(-1000) underflowed
    onehot = np.eye(3)[[0, 2, 1, 2]]
    for module, factor in ((right, 1.0), (buggy, 1.0 / len(X))):
        loss = module.CrossEntropyLoss()
        loss.forward(X.copy(), onehot)
        fd = _fd(lambda x, module=module: float(module.CrossEntropyLoss().forward(x, onehot)), X)
        assert np.allclose(loss.backward(), factor * fd, atol=1e-6)


def test_mse_backward_that_forgets_the_outputs_is_wrong():
    y_pred, y_true = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    fd = _fd(lambda p: float(np.mean(np.mean((y_true - p) ** 2, axis=-1))), y_pred)
    for name, factor in (("training_flag", 1.0), ("training_flag_bug", 3.0)):
        loss = _load(name).Loss_MeanSquaredError()
        loss.backward(y_pred.copy(), y_true)
        assert np.allclose(loss.dinputs, factor * fd, atol=1e-6)


DROPOUT_WITH_TEST_MODE = """
import numpy as np


class Dropout:
    def __init__(self, p=0.5):
        self.keep = 1 - p

    def forward(self, x, training):
        if not training:
            return x * {test_scale}
        self.mask = (np.random.rand(*x.shape) < self.keep) / self.keep
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask
"""


@pytest.mark.parametrize("test_scale, verdict", [("1.0", "passed-with-note"), ("self.keep", "failed")])
def test_a_dropout_with_a_training_flag_is_also_checked_in_test_mode(tmp_path, test_scale, verdict):
    path = tmp_path / "dropout_flag.py"
    path.write_text(DROPOUT_WITH_TEST_MODE.replace("{test_scale}", test_scale))
    (row,) = check_target(load_user_code(str(path), timeout=30), "layers", examples=6)
    assert row.verdict == verdict, (row.verdict, row.causes, row.notes)



DROPOUT_BACKWARD_DOUBLED = """
import numpy as np


class Layer_Dropout:
    def __init__(self, rate):
        self.rate = 1 - rate

    def forward(self, inputs):
        self.binary_mask = np.random.binomial(1, self.rate, size=inputs.shape) / self.rate
        self.output = inputs * self.binary_mask

    def backward(self, dvalues):
        self.dinputs = dvalues * self.binary_mask * 2.0
"""


def test_a_dropout_backward_bug_is_judged_under_the_rate_meaning_its_forward_follows(tmp_path):
    """The rate drops units (the forward is right), the backward doubles: no meaning of the rate passes
    every tensor, and the one that fails fewest (drop) is taken, so the row blames d_x, not the rate."""
    path = tmp_path / "dropout_doubled.py"
    path.write_text(DROPOUT_BACKWARD_DOUBLED)
    (row,) = check_target(load_user_code(str(path), timeout=30), "layers", examples=6)
    assert row.verdict == "failed"
    failing = {d.tensor for o in row.outcomes for d in o.failures}
    assert failing == {"d_x"}, (failing, row.causes)
    assert "dropout: its rate is the probability of dropping a unit" in row.notes


def test_a_dropout_case_replays_under_the_rate_meaning_the_run_told(tmp_path, capsys):
    """The replay of a failing case tells the variant as the run did: it fails on d_x again, not on a
    kept fraction read under the default meaning of the rate."""
    path = tmp_path / "dropout_doubled.py"
    path.write_text(DROPOUT_BACKWARD_DOUBLED)
    assert main(["check", str(path), "--convention", "layers", "--examples", "3", "--in-process",
                 "--report", str(tmp_path / "r")]) == 1
    capsys.readouterr()
    replays = sorted((tmp_path / "r" / "cases").glob("*.json"))
    assert replays
    outcome = rerun(str(replays[0]), load_user_code(str(path), timeout=30))
    assert {d.tensor for d in outcome.failures} == {"d_x"}, [(d.tensor, d.note) for d in outcome.failures]


def test_a_loss_taking_the_labels_first_is_called_that_way():
    class KerasOrderLoss:
        def forward(self, y_true, y_pred):
            self.y_true, self.y_pred = y_true, y_pred
            return np.mean((y_true - y_pred) ** 2)

        def backward(self):
            return 2 * (self.y_pred - self.y_true) / self.y_pred.size

    entry = examine_loss(KerasOrderLoss, "forward", "backward")
    assert (entry.kind, entry.labels_first) == (MSE, True)


def test_a_cross_entropy_of_probabilities_with_a_delta_in_its_log():
    class CrossEntropyError:
        def forward(self, y, t):
            self.y, self.t = y, t
            return -np.sum(t * np.log(y + 1e-7)) / y.shape[0]

        def backward(self):
            return -self.t / (self.y + 1e-7) / self.y.shape[0]

    entry = examine_loss(CrossEntropyError, "forward", "backward")
    assert (entry.kind, entry.labels, entry.offset) == (CE_PROBS, ("onehot",), 1e-7)
