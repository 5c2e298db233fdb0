"""The self-consistency verdict (a backward against finite differences of its own forward) and
identification of an op by its behaviour (crosscheck.check.self_consistency, identify, self_examine)."""
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from crosscheck.check import check_target, load_user_code
from crosscheck.check.discovery import discover
from crosscheck.check.identify import identify
from crosscheck.check.layer_declaration import Layer
from crosscheck.check.self_checked import (
    FunctionPair,
    Subject,
    parameters,
    run_subject,
    subject_cases,
)
from crosscheck.check.self_consistency import NO_OP_NOTE, judge_gradients
from crosscheck.check.self_examine import SelfEntry, examine_class, function_pairs

FILES = Path(__file__).parent / "student_files" / "self_consistency"
sys.path.insert(0, str(FILES.parent))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _swish(x):
    return x * _sigmoid(x)


def _swish_grad(x):
    s = _sigmoid(x)
    return s + x * s * (1 - s)


def test_correct_gradients_of_input_and_parameters_pass():
    rng = np.random.default_rng(0)
    x, w, b, dy = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3), \
        rng.standard_normal((4, 3))

    def forward(x, W, b):
        return np.tanh(x @ W + b)
    dz = dy * (1 - forward(x, w, b) ** 2)
    diffs = judge_gradients(forward, {"x": x, "W": w, "b": b}, {"x": dz @ w.T, "W": x.T @ dz, "b": dz.sum(0)},
                            dy, seed=1)
    assert [d.tensor for d in diffs] == ["d_x", "d_W", "d_b"]
    assert all(d.passed and d.judged for d in diffs), [(d.tensor, d.max_abs_err, d.atol) for d in diffs]


def test_a_planted_bug_fails_and_names_where():
    rng = np.random.default_rng(1)
    x, w, dy = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    dw_batch_mean = x.T @ dy / 4   # a parameter gradient divided by the batch size
    (dx, dw) = judge_gradients(lambda x, W: x @ W, {"x": x, "W": w}, {"x": dy @ w.T, "W": dw_batch_mean}, dy, seed=2)
    assert dx.passed and not dw.passed
    assert dw.mismatched == dw.total == 15 and dw.shape == (5, 3)
    assert all(len(e["index"]) == 2 for e in dw.worst)          # indices in the array, not in the sample


def test_wrong_shape_and_missing_gradient():
    x, dy = np.ones((3, 4)), np.ones((3, 4))
    (d,) = judge_gradients(lambda x: np.tanh(x), {"x": x}, {"x": np.ones((4, 3))}, dy, seed=0)
    assert not d.passed and "shape" in d.note
    (d,) = judge_gradients(lambda x: np.tanh(x), {"x": x}, {"x": None}, dy, seed=0, missing_notes={"x": "a first layer"})
    assert not d.judged and d.note == "a first layer"


def test_large_arrays_are_judged_on_a_bounded_random_subset():
    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal((20, 30)), rng.standard_normal((20, 30))
    (d,) = judge_gradients(_swish, {"x": x}, {"x": dy * _swish_grad(x)}, dy, seed=4, max_elements=40)
    assert d.passed and d.total == 40 and "40 of 600" in d.note


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=subject_cases((((4, 5), (4, 5)), ((2, 3, 4, 4), (2, 3, 4, 4)))))
def test_random_upstream_gradients_catch_a_backward_that_ignores_dout(case):
    """A backward returning f'(x) without dout agrees with finite differences of sum(f) (an upstream
    gradient of ones); the cases' upstream gradients are random, so it fails."""
    assert np.unique(case.dy).size > 1
    right = Subject("Swish", lambda: FunctionPair(_swish, lambda dout, x: dout * _swish_grad(x), "dout_x"))
    assert run_subject(right, case).status == "pass"
    assert run_subject(Subject("Swish", _IgnoresDout), case).status == "mismatch"
    x = case.arrays["input"]
    (d,) = judge_gradients(lambda input: _swish(input), {"input": x}, {"input": _swish_grad(x)}, np.ones_like(x),
                           seed=0)
    assert d.passed   # the blind spot of sum() as the loss


class _IgnoresDout:
    def forward(self, x):
        self.x = x
        return _swish(x)

    def backward(self, dout):
        return _swish_grad(self.x)


@pytest.mark.parametrize("forward, op", [
    (lambda x: np.maximum(0, x), "relu"),
    (lambda x: 1 / (1 + np.exp(-x)), "sigmoid"),
    (np.tanh, "tanh"),
    (lambda x: np.where(x > 0, x, np.exp(x) - 1), "elu"),
    (lambda x: np.log(1 + np.exp(x)), "softplus"),
    (lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True),
     "softmax"),
])
def test_registry_activations_are_identified_by_behaviour(forward, op):
    ident = identify(forward)
    assert ident.op == op and ident.tf_judged


def test_activations_without_a_registry_op_are_named():
    assert identify(_swish).name.startswith("swish") and not identify(_swish).op
    assert identify(lambda x: x * np.tanh(np.log1p(np.exp(x)))).name.startswith("mish")
    assert not identify(lambda x: x ** 2).found


def test_scaled_tanh_is_detected_with_its_factors():
    ident = identify(lambda x: 1.7159 * np.tanh(2 * x / 3))
    params = dict(ident.params)
    assert ident.name == "scaled tanh: 1.7159 * tanh(0.6667 x)" and not ident.tf_judged
    assert abs(params["a"] - 1.7159) < 1e-9 and abs(params["b"] - 2 / 3) < 1e-9


def test_a_class_named_relu_computing_leaky_relu_is_told_apart():
    module = load_user_code(str(FILES / "relu_leaky.py"), timeout=30)
    found = examine_class(module.ReLU, discover(module.ReLU, "NCHW"))
    assert isinstance(found, SelfEntry)
    assert "ReLU's name says relu, but its forward computes leaky_relu(alpha=0.01)" in found.subject.notes
    assert NO_OP_NOTE in found.subject.notes


def test_a_class_whose_forward_computes_an_unrelated_op_is_judged_as_named(tmp_path):
    (tmp_path / "misnamed.py").write_text(
        "import numpy as np\n\n\nclass Sigmoid:\n    def forward(self, x):\n        self.y = np.tanh(x)\n"
        "        return self.y\n\n    def backward(self, dout):\n        return dout * (1 - self.y ** 2)\n")
    module = load_user_code(str(tmp_path / "misnamed.py"), timeout=30)
    found = examine_class(module.Sigmoid, discover(module.Sigmoid, "NCHW"))
    assert isinstance(found, Layer) and found.op == "sigmoid"   # TensorFlow's sigmoid judges it: it fails
    assert "Sigmoid's name says sigmoid, but its forward computes tanh" in found.note


def test_a_softmax_class_is_identified_and_judged_by_tensorflow():
    module = load_user_code(str(FILES / "softmax.py"), timeout=30)
    found = examine_class(module.Softmax, discover(module.Softmax, "NCHW"))
    assert isinstance(found, Layer) and found.op == "softmax" and not found.note


def test_function_pairs_and_their_backward_styles():
    module = load_user_code(str(FILES / "activations.py"), timeout=30)
    found = {getattr(e, "name", None) or e.subject.name: e for e in function_pairs(module)}
    assert set(found) == {"sigmoid", "softplus", "swish"}
    assert isinstance(found["sigmoid"], Layer) and "takes the forward's output" in found["sigmoid"].note
    assert found["sigmoid"].make(None).style == "derivative_y"
    assert isinstance(found["swish"], SelfEntry) and found["swish"].subject.make().style == "dout_x"


def test_a_network_is_judged_on_its_input_and_every_layers_parameters():
    module = load_user_code(str(FILES / "network_bug.py"), timeout=30)
    assert parameters(module.Net()) == ["layers[0].W", "layers[0].b", "layers[3].W", "layers[3].b"]
    found = examine_class(module.Net, discover(module.Net, "NCHW"))
    assert isinstance(found, SelfEntry) and found.shapes[0] == ((2, 1, 6, 6), (2, 3))
    rows = {r.function: r for r in check_target(module, "layers", examples=2, only=["Net", "Dense"])}
    net = rows["Net"]
    assert net.verdict == "failed" and NO_OP_NOTE in net.notes
    failing = {d.tensor for o in net.outcomes for d in o.failures}
    assert failing == {"d_layers[0].W"}
    assert rows["Dense"].verdict == "passed" and rows["Dense"].self_consistency == "passed"
    assert rows["Dense"].to_dict()["self_consistency"] == "passed"


HOSTILE = '''
import numpy as np

class DropoutNet:
    def forward(self, x):
        self.mask = np.random.rand(*x.shape) > 0.5
        return x * self.mask
    def backward(self, dout):
        return dout * self.mask

class Stub:
    def forward(self, x):
        return np.sin(x)
    def backward(self, dout):
        return None

class HiddenTanh:
    def __init__(self):
        self.W = np.random.randn(3, 2)
    def forward(self, x):
        self.x = x
        self.h = np.tanh(x @ self.W)
        return self.h
    def backward(self, dout):
        dz = dout * (1 - self.h ** 2)
        self.dW = self.x.T @ dz
        return dz @ self.W.T, self.dW

class Torchy:
    def __init__(self):
        self.weight = np.random.randn(3, 5)
    def forward(self, x):
        self.x = x
        return x @ self.weight.T
    def backward(self, g):
        self.d_weight = g.T @ self.x
        return g @ self.weight

class NeedsSizes:
    def __init__(self, sizes):
        self.sizes = sizes
    def forward(self, x):
        return x
    def backward(self, dout):
        return dout
'''


def test_code_that_cannot_be_judged_or_is_a_stub_is_told_so(tmp_path):
    path = tmp_path / "hostile_layers.py"
    path.write_text(HOSTILE)
    rows = {r.function: r for r in check_target(load_user_code(str(path), timeout=30), "layers", examples=2)}
    assert rows["DropoutNet"].verdict == "cannot-check" and "two forward passes" in rows["DropoutNet"].message
    assert rows["Stub"].verdict == "not-implemented"
    assert rows["NeedsSizes"].verdict == "error" and "needs sizes" in rows["NeedsSizes"].message
    hidden = rows["HiddenTanh"]   # input shape (N, 3) told by its weights; a backward returning (dx, dW) read
    assert hidden.verdict == "passed-with-note", (hidden.verdict, hidden.causes, hidden.message)
    judged = {d.tensor for o in hidden.outcomes for d in o.diffs if d.judged}
    assert judged == {"d_input", "d_W"} and hidden.outcomes[0].case.arrays["input"].shape[1] == 3
    torchy = rows["Torchy"]   # a dense layer told by its (out, in) weight and its behaviour: TensorFlow judges it
    assert torchy.verdict == "passed-with-note" and "computes a dense layer x @ W" in torchy.notes[0]
    assert {o.case.op for o in torchy.outcomes} == {"dense"} and torchy.self_consistency == "passed"


def test_a_float32_forward_is_judged_with_float32_steps():
    rng = np.random.default_rng(5)
    x, dy = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))

    def forward32(x):
        return _swish(x.astype(np.float32))
    (d,) = judge_gradients(forward32, {"x": x}, {"x": dy * _swish_grad(x)}, dy, seed=0)
    assert d.passed and d.rtol == 1e-2
    (d,) = judge_gradients(forward32, {"x": x}, {"x": dy * _sigmoid(x)}, dy, seed=0)   # the x * s' term dropped
    assert not d.passed


FORGETS_DW = '''
import numpy as np

class Scale:
    def __init__(self):
        self.W = np.linspace(0.5, 2.0, 4)
        self.b = np.zeros(4)
    def forward(self, x):
        self.x = x
        return x * self.W + self.b
    def backward(self, dout):
        self.db = dout.reshape(-1, 4).sum(axis=0)
'''


def test_a_parameter_gradient_left_out_beside_others_is_never_a_pass(tmp_path):
    """A backward that leaves out the input gradient and dW but computes db: a missing dW under a
    first-layer note would pass unseen; the row cannot be checked and says which gradient is missing."""
    path = tmp_path / "forgets_dw.py"
    path.write_text(FORGETS_DW)
    row = check_target(load_user_code(str(path), timeout=30), "layers", examples=2)[0]
    assert row.verdict == "cannot-check" and "no d_W where crosscheck looks" in row.message, (row.verdict, row.message)
