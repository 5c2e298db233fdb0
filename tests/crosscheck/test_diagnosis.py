"""Each diagnosis hypothesis names the mistake it was built for, with evidence, and only then."""
import numpy as np
import pytest

import npcnn.functional as F
from cs231n_impls import rot180_dx, with_forward, with_gradient
from crosscheck.case import MISMATCH, PASS, Case
from crosscheck.diagnosis import LABELS
from crosscheck.runner import outcome_summary, run_case
from crosscheck.report import format_outcome_text


def conv_case(padding="SAME", strides=(1, 1), hw=(5, 6), k=(3, 3), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, *hw, 3))
    w = rng.standard_normal((*k, 3, 4))
    y = F.conv2d(x, w, strides=list(strides), padding=padding)
    params = dict(strides=list(strides), padding=padding, dilations=[1, 1], data_format="NHWC")
    return Case("conv2d", params, {"input": x, "filters": w, "bias": rng.standard_normal(4)},
                rng.standard_normal(y.shape), "float64", seed)


def labels_of(outcome, tensor):
    return {c["label"] for d in outcome.diffs if d.tensor == tensor and not d.passed for c in d.diagnosis}


def test_labels_are_documented():
    doc = open("docs/diagnosis.md").read()
    for label in LABELS:
        assert f"`{label}`" in doc, label


def test_correct_implementation_has_no_diagnosis():
    outcome = run_case(conv_case())
    assert outcome.status == PASS, outcome_summary(outcome)
    assert all(not d.diagnosis for d in outcome.diffs)


@pytest.mark.parametrize("mutate, tensor, index, label", [
    (rot180_dx, "d_input", 0, "flipped-kernel"),
    (lambda g, a, p, dy: -g, "d_filters", 1, "sign-flip"),
    (lambda g, a, p, dy: g * 0.25, "d_filters", 1, "scale-factor"),
    (lambda g, a, p, dy: np.roll(g, 1, axis=2), "d_input", 0, "spatial-shift"),
    (lambda g, a, p, dy: np.where(np.arange(g.size).reshape(g.shape) == 7, np.nan, g), "d_input", 0,
     "nan-inf-mismatch"),
    (lambda g, a, p, dy: g[..., :-1], "d_bias", 2, "shape-mismatch"),
    (lambda g, a, p, dy: np.ascontiguousarray(g.transpose(1, 0, 2, 3)), "d_filters", 1, "kernel-hw-swapped"),
])
def test_hypothesis_names_the_mistake(mutate, tensor, index, label):
    outcome = run_case(conv_case(), with_gradient("conv2d", index, mutate))
    assert outcome.status == MISMATCH
    assert label in labels_of(outcome, tensor), outcome_summary(outcome)
    evidence = [c["evidence"] for d in outcome.diffs for c in d.diagnosis if c["label"] == label]
    assert evidence and all(evidence)
    assert f"Likely cause: {label}" in format_outcome_text(outcome, snippet=False)


def test_scale_factor_states_the_factor():
    outcome = run_case(conv_case(), with_gradient("conv2d", 1, lambda g, a, p, dy: g * 0.25))
    (entry,) = [c for d in outcome.diffs if d.tensor == "d_filters" for c in d.diagnosis
                if c["label"] == "scale-factor"][:1]
    assert "1/4" in entry["evidence"]


def test_same_padding_on_the_wrong_side():
    # SAME with an even kernel pads (0, 1); a forward that pads (1, 0) is the classic mistake
    case = conv_case(padding="SAME", k=(2, 2), hw=(5, 5))
    def forward(input, filters, bias=None, **params):
        return F.conv2d(input, filters, bias, **dict(params, padding=[[0, 0], [1, 0], [1, 0], [0, 0]]))
    outcome = run_case(case, with_forward("conv2d", forward))
    assert "same-padding-wrong-side" in labels_of(outcome, "y"), outcome_summary(outcome)


def test_kernel_flipped_forward():
    case = conv_case(padding="VALID")
    def forward(input, filters, bias=None, **params):
        return F.conv2d(input, np.ascontiguousarray(filters[::-1, ::-1]), bias, **params)
    outcome = run_case(case, with_forward("conv2d", forward))
    assert "flipped-kernel" in labels_of(outcome, "y")


def test_stride_phase():
    # a strided backward whose dx is right only at the phase (0, 0)
    case = conv_case(padding="VALID", strides=(2, 2), hw=(9, 9), k=(3, 3))
    def mutate(g, a, p, dy):
        g = g.copy()
        g[:, 1::2, :, :] *= 2
        return g
    outcome = run_case(case, with_gradient("conv2d", 0, mutate))
    assert "stride-phase" in labels_of(outcome, "d_input"), outcome_summary(outcome)


def test_border_only():
    case = conv_case(padding="SAME", hw=(8, 8))
    def mutate(g, a, p, dy):
        g = g.copy()
        g[:, 0, :, :] += 1.0
        return g
    outcome = run_case(case, with_gradient("conv2d", 0, mutate))
    assert "border-only" in labels_of(outcome, "d_input"), outcome_summary(outcome)


def test_unexplained_mismatch_gets_no_label_but_the_arbiter():
    rng = np.random.default_rng(3)
    outcome = run_case(conv_case(), with_gradient("conv2d", 0, lambda g, a, p, dy: g + rng.standard_normal(g.shape)))
    assert labels_of(outcome, "d_input") == {"arbiter"}


@pytest.mark.parametrize("share, label", [(0.25, "maxpool-tie-policy"), (1.0, "maxpool-all-ties")])
def test_maxpool_tie_rules(share, label):
    # one 2x2 window of four equal values: TF gives dy to the first (row-major) cell only
    x = np.ones((1, 2, 2, 1))
    dy = np.array([[[[0.7]]]])
    case = Case("max_pool2d", dict(ksize=[2, 2], strides=[2, 2], padding="VALID", data_format="NHWC"),
                {"input": x}, dy, "float64", 0)
    outcome = run_case(case, with_gradient("max_pool2d", 0, lambda g, a, p, d: np.full_like(g, share * 0.7)))
    assert label in labels_of(outcome, "d_input"), outcome_summary(outcome)


def test_precision_only_for_a_float32_rounding_sized_excess():
    from crosscheck.diagnosis import diagnose_tensor
    from crosscheck.registry import get_op
    from crosscheck.tolerance import tolerance
    case = conv_case()
    expected = np.random.default_rng(0).standard_normal((2, 5, 6, 3)).astype(np.float32)
    tol = tolerance("float32", 27, expected)
    actual = expected.copy()
    actual[0, 0, 0, 0] += np.float32(2 * (tol.atol + tol.rtol * abs(expected[0, 0, 0, 0])))
    from crosscheck.compare import compare
    diff = compare(actual, expected, tol, tensor="d_input", path="tape")
    case32 = Case(case.op, case.params, case.arrays, case.dy, "float32", 0)
    labels = {e["label"] for e in diagnose_tensor(get_op("conv2d"), case32, diff, actual, expected, tol)}
    assert labels == {"precision-only"}
    actual[0, 0, 0, 0] += 1.0          # far beyond rounding: not precision
    diff = compare(actual, expected, tol, tensor="d_input", path="tape")
    assert "precision-only" not in {e["label"] for e in diagnose_tensor(get_op("conv2d"), case32, diff, actual,
                                                                          expected, tol)}


OWN_DEFAULTS = '''"""npcnn, except for two defaults of its own: conv2d_transpose's padding (TF: 'SAME') and leaky_relu's
alpha (TF: 0.2)."""
import npcnn
from npcnn.functional import *  # noqa
from npcnn.functional import conv2d_transpose as _transpose, leaky_relu as _leaky


def conv2d_transpose(input, filters, output_shape, strides=1, padding="VALID", dilations=1, data_format="NHWC"):
    return _transpose(input, filters, output_shape, strides, padding, dilations, data_format)


def leaky_relu(features, alpha=0.3):
    return _leaky(features, alpha)


def apply_all(x, hooks=[lambda v: v]):   # a default no pickle carries: the worker still starts
    for hook in hooks:
        x = hook(x)
    return x


def vjp(op, *arrays, **params):
    if op == "leaky_relu":
        params.setdefault("alpha", 0.3)
    if op == "conv2d_transpose":
        params.setdefault("padding", "VALID")
    return npcnn.vjp(op, *arrays, **params)
'''


@pytest.mark.parametrize("isolated", [False, True])
def test_a_default_of_the_codes_own_is_named(tmp_path, monkeypatch, isolated):
    """A case that leaves a parameter out means TensorFlow's default; when the code under test's
    function defaults to something else, the failure says so (in a worker process too)."""
    import importlib
    (tmp_path / "own_defaults.py").write_text(OWN_DEFAULTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    impl = "own_defaults" if isolated else importlib.import_module("own_defaults")
    rng = np.random.default_rng(0)
    leaky = Case("leaky_relu", {}, {"features": rng.standard_normal((2, 5))}, rng.standard_normal((2, 5)), "float64", 0)
    outcome = run_case(leaky, impl, isolated=isolated)
    assert outcome.status == MISMATCH
    causes = [c["evidence"] for d in outcome.failures for c in d.diagnosis if c["label"] == "default-differs"]
    assert causes and all("leaves alpha out" in c and "0.2" in c and "0.3" in c for c in causes)
    transpose = Case("conv2d_transpose", {"output_shape": [1, 6, 5, 2], "strides": 2},
                     {"input": rng.standard_normal((1, 3, 3, 3)), "filters": rng.standard_normal((3, 3, 2, 3))},
                     rng.standard_normal((1, 6, 5, 2)), "float64", 0)
    outcome = run_case(transpose, impl, isolated=isolated)
    assert outcome.status == "implementation-error"          # VALID cannot reach SAME's output shape
    (entry,) = [d for d in outcome.diffs if d.tensor == "defaults"]
    assert "leaves padding out, which means TensorFlow's default 'SAME'" in entry.diagnosis[0]["evidence"]
    assert "'VALID'" in entry.diagnosis[0]["evidence"]
    # spelled out, the same parameter is not a cause; npcnn's own defaults are TensorFlow's
    spelled = Case("leaky_relu", {"alpha": 0.3}, leaky.arrays, leaky.dy, "float64", 0)
    assert all(c["label"] != "default-differs" for d in run_case(spelled, impl, isolated=isolated).diffs
               for c in d.diagnosis)
    assert run_case(transpose).status == PASS


def _dense_case(n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    return Case("dense", {}, {"x": rng.standard_normal((3, n_in)), "kernel": rng.standard_normal((n_in, n_out)),
                              "bias": rng.standard_normal(n_out)}, rng.standard_normal((3, n_out)), "float64", seed)


@pytest.mark.parametrize("n_in, n_out", [(4, 4), (5, 2)])   # square: by its values; non-square: by its shape
def test_a_transposed_weight_gradient_is_named(n_in, n_out):
    outcome = run_case(_dense_case(n_in, n_out), with_gradient("dense", 1, lambda g, a, p, dy: np.ascontiguousarray(g.T)))
    assert labels_of(outcome, "d_kernel") >= {"transposed"}, outcome_summary(outcome)
    assert "layout-mixup" not in labels_of(outcome, "d_kernel")


def test_a_diagonal_only_softmax_gradient_is_named_and_a_correct_one_is_not():
    rng = np.random.default_rng(3)
    logits, dy = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    case = Case("softmax", {"axis": -1}, {"logits": logits}, dy, "float64", 3)

    def diagonal_only(g, arrays, params, dy):
        p = np.exp(arrays[0] - arrays[0].max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        return dy * p * (1 - p)
    outcome = run_case(case, with_gradient("softmax", 0, diagonal_only))
    assert labels_of(outcome, "d_logits") - {"arbiter"} == {"softmax-jacobian-diagonal-only"}, outcome_summary(outcome)
    assert run_case(case).status == PASS


def test_paths_whose_tensors_are_bitwise_equal_share_one_comparison_but_keep_their_own_entries():
    outcome = run_case(conv_case(), with_gradient("conv2d", 0, rot180_dx))
    d_input = [d for d in outcome.diffs if d.tensor == "d_input"]
    assert len({d.path for d in d_input}) == len(d_input) >= 3   # every path still listed with its verdict
    assert len({id(d.worst) for d in d_input}) == len(d_input)   # own lists: a diagnosis attached to one stays there
    assert all(not d.passed and d.mismatched == d_input[0].mismatched for d in d_input)
    assert all("flipped-kernel" in {e["label"] for e in d.diagnosis} for d in d_input), outcome_summary(outcome)
