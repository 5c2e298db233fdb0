"""Conventions told from bugs (gradients and losses averaged over the batch: a note, or, declared,
the expected gradient) and diagnoses that need evidence (no scale factor from one element; the
stride ignored in a backward and wrong window offsets named; the larger failing case decides)."""
import sys
from pathlib import Path

import numpy as np
import pytest

import npcnn.functional as F
from cs231n_impls import with_gradient
from crosscheck.case import MISMATCH, PASS, Case, Outcome, TensorDiff
from crosscheck.check import check_target, load_user_code
from crosscheck.check.conventions import batch_mean, conventions_problem
from crosscheck.check.layer_declaration import Layer
from crosscheck.check.causes import decided_causes
from crosscheck.check.run import Spec, judge
from crosscheck.check.target import plan_of
from crosscheck.runner import outcome_summary, run_case

FILES = Path(__file__).parent / "student_files"
BATCH_MEAN_NOTE = "gradients averaged over the batch"


# ---------------------------------------------------------------------- synthetic outcomes

def _diff(tensor, factor, total=6):
    """A TensorDiff whose actual is ``factor`` times the reference (1.0: passed)."""
    passed = factor == 1.0
    diagnosis = [] if passed or total < 2 else [{"label": "scale-factor", "evidence": f"times {factor}",
                                                  "factor": float(factor)}]
    worst = [{"index": [0], "actual": 2.0 * factor, "expected": 2.0, "abs_err": abs(2.0 * factor - 2.0)}]
    return TensorDiff(tensor, "tape", passed, (total,), (total,), 1e-12, 1e-12, mismatched=0 if passed else total,
                      total=total, worst=[] if passed else worst, diagnosis=diagnosis)


def dense_outcome(n, kernel=1.0, bias=1.0, x=1.0, y=1.0, bias_size=3):
    """A dense case with batch ``n`` whose gradients are the reference times the given factors."""
    case = Case("dense", {}, {"x": np.ones((n, 2)), "kernel": np.ones((2, bias_size)), "bias": np.ones(bias_size)},
                np.ones((n, bias_size)), "float64", n)
    diffs = [_diff("y", y), _diff("d_x", x), _diff("d_kernel", kernel), _diff("d_bias", bias, total=bias_size)]
    return Outcome(case, PASS if all(d.passed for d in diffs) else MISMATCH, diffs=diffs, impl="Dense")


def loss_outcome(n, factor):
    case = Case("softmax_loss", {}, {"x": np.ones((n, 4)), "y": np.zeros(n, dtype=np.int64)}, None, "float64", n)
    diffs = [_diff("loss", factor, total=1), _diff("d_x", factor, total=4 * n)]
    return Outcome(case, PASS if factor == 1.0 else MISMATCH, diffs=diffs, impl="softmax_loss")


LAYER_SPEC = Spec("Dense", (), None, None, ("y", "d_x", "d_kernel", "d_bias"), detect=("batch-mean",))


def test_gradients_divided_by_the_batch_size_are_a_note():
    outcomes = [dense_outcome(n, kernel=1 / n, bias=1 / n) for n in (1, 2, 3, 4)]
    row = judge(LAYER_SPEC, outcomes)
    assert row.verdict == "passed-with-note", (row.causes, row.notes)
    assert BATCH_MEAN_NOTE in row.notes[0] and "d_bias, d_kernel" in row.notes[0]
    assert "input gradient is divided too" not in row.notes[0]


def test_an_input_gradient_divided_too_is_named():
    row = judge(LAYER_SPEC, [dense_outcome(n, kernel=1 / n, bias=1 / n, x=1 / n) for n in (1, 2, 3)])
    assert row.verdict == "passed-with-note"
    assert "d_x" in row.notes[0] and "input gradient is divided too" in row.notes[0]


def test_a_constant_factor_is_a_bug_even_where_it_equals_one_over_n():
    outcomes = [dense_outcome(n, kernel=0.5, bias=0.5) for n in (1, 2, 2, 3)]
    row = judge(LAYER_SPEC, outcomes)
    assert row.verdict == "failed" and "scale-factor" in row.causes and not row.notes


def test_one_batch_size_does_not_show_the_convention_unless_declared():
    outcomes = [dense_outcome(2, kernel=0.5, bias=0.5) for _ in range(3)]
    assert judge(LAYER_SPEC, outcomes).verdict == "failed"
    declared = judge(Spec("Dense", (), None, None, (), conventions=("batch-mean",)), outcomes)
    assert declared.verdict == "passed-with-note" and BATCH_MEAN_NOTE in declared.notes[0]


def test_declared_batch_mean_makes_a_sum_fail_as_scale_factor_n():
    outcomes = [dense_outcome(n) for n in (1, 3)]    # summed: TensorFlow's gradients
    row = judge(Spec("Dense", (), None, None, ()), outcomes, expect=("batch-mean",))
    assert row.verdict == "failed" and row.causes == {"scale-factor": 1}
    (example,) = row.examples.values()
    evidence = [e["evidence"] for d in example.failures for e in d.diagnosis]
    assert any("N = 3 times the batch mean" in text for text in evidence)


def test_only_some_parameter_gradients_divided_is_a_bug():
    outcomes = [dense_outcome(n, kernel=1 / n) for n in (1, 2, 3)]     # db summed, dW averaged
    row = judge(LAYER_SPEC, outcomes)
    assert row.verdict == "failed" and "scale-factor" in row.causes and not row.notes


def test_a_real_bug_beside_the_convention_still_fails_with_its_cause():
    outcomes = [dense_outcome(n, kernel=1 / n, bias=1 / n, x=-1.0) for n in (1, 2, 3)]
    for o in outcomes:
        next(d for d in o.diffs if d.tensor == "d_x").diagnosis = [{"label": "sign-flip", "evidence": "minus"}]
    row = judge(LAYER_SPEC, outcomes)
    assert row.verdict == "failed" and set(row.causes) == {"sign-flip"}
    assert BATCH_MEAN_NOTE in row.notes[0]


def test_one_element_gradients_alone_are_no_evidence():
    outcomes = [dense_outcome(n, kernel=1 / n, bias=1 / n, bias_size=1) for n in (1, 2, 3)]
    for o in outcomes:   # a 1x1 kernel: every gradient a single element
        for d in o.diffs:
            d.total, d.diagnosis = 1, []
    assert batch_mean(outcomes, declared=False) == (outcomes, "")


def test_a_loss_and_its_gradient_summed_together_are_a_note():
    spec = Spec("loss", (), None, None, ("loss", "d_x"), detect=("batch-mean",))
    row = judge(spec, [loss_outcome(n, float(n)) for n in (1, 2, 5)])
    assert row.verdict == "passed-with-note" and "loss summed over the batch" in row.notes[0], row.notes


def test_a_loss_averaged_twice_is_a_bug_not_the_convention():
    """Every loss reference (CS231n's, the loss classes') is the batch mean already: a loss and its
    gradient 1/N times it divide by N twice, a scale-factor bug, never "averaged over the batch"."""
    spec = Spec("loss", (), None, None, ("loss", "d_x"), detect=("batch-mean",))
    row = judge(spec, [loss_outcome(n, 1 / n) for n in (1, 2, 5)])
    assert row.verdict == "failed" and "scale-factor" in row.causes and not row.notes, (row.causes, row.notes)
    declared = Spec("loss", (), None, None, ("loss", "d_x"), conventions=("batch-mean",))
    assert judge(declared, [loss_outcome(n, 1 / n) for n in (1, 2, 5)]).verdict == "failed"


def test_declared_batch_mean_accepts_a_loss_the_reference_averages_and_refuses_its_sum():
    spec = Spec("loss", (), None, None, ("loss", "d_x"), conventions=("batch-mean",))
    assert judge(spec, [loss_outcome(n, 1.0) for n in (1, 2, 5)]).verdict == "passed"
    assert judge(spec, [loss_outcome(n, float(n)) for n in (1, 2, 5)]).verdict == "failed"


def test_a_loss_whose_gradient_alone_is_divided_is_a_bug():
    outcomes = [loss_outcome(n, 1.0) for n in (1, 2, 5)]
    for o in outcomes[1:]:
        o.diffs[1] = _diff("d_x", 1 / batch_of(o), total=4 * batch_of(o))
        o.status = MISMATCH
    row = judge(Spec("loss", (), None, None, ("loss", "d_x"), detect=("batch-mean",)), outcomes)
    assert row.verdict == "failed" and not row.notes


def _loss_value_scaled(n, factor):
    outcome = loss_outcome(n, 1.0)
    outcome.diffs[0] = _diff("loss", factor, total=1)
    outcome.status = PASS if factor == 1.0 else MISMATCH
    return outcome


def test_a_loss_value_alone_n_times_the_reference_across_batch_sizes_is_a_scale_factor():
    spec = Spec("loss", (), None, None, ("loss", "d_x"), detect=("batch-mean",))
    row = judge(spec, [_loss_value_scaled(n, float(n)) for n in (1, 2, 3, 5)])
    assert row.verdict == "failed" and row.causes == {"scale-factor": 3}
    evidence = [e["evidence"] for d in row.examples["scale-factor"].failures for e in d.diagnosis]
    assert any("N times it on every failing case (batch sizes [2, 3, 5])" in text for text in evidence)
    twice = judge(spec, [_loss_value_scaled(n, 1 / n) for n in (1, 2, 3, 5)])   # the mean divided by N again
    evidence = [e["evidence"] for d in twice.examples["scale-factor"].failures for e in d.diagnosis]
    assert any("a division by the batch size too many" in text for text in evidence), evidence
    constant = judge(spec, [_loss_value_scaled(n, 2.0) for n in (1, 2, 3, 5)])   # one element: no factor named
    assert constant.causes == {"unexplained": 4}


def batch_of(outcome):
    return outcome.case.arrays["x"].shape[0]


def test_conventions_are_validated():
    assert conventions_problem(("batch-mean",)) == ""
    assert "unknown convention 'batch-sum'; known: batch-mean" in conventions_problem(("batch-sum",))
    assert conventions_problem("batch-mean") == ""     # one name alone
    assert "must be a tuple" in conventions_problem(None)
    plan = plan_of(Layer(make=lambda c: None, op="dense", name="Dense", conventions=("mean",)))
    assert plan.problem == "Dense: conventions: unknown convention 'mean'; known: batch-mean"
    plan = plan_of(Layer(make=lambda c: None, op="dense", name="Dense", conventions=("batch-mean",)))
    assert plan.problem == "" and plan.conventions == ("batch-mean",)


# ------------------------------------------------------------------------------- evidence

def _labelled(labels, size):
    case = Case("dense", {}, {"x": np.ones((size, 1))}, None, "float64", size)
    d = TensorDiff("d_x", "tape", False, (size,), (size,), 0, 0, mismatched=1, total=size,
                   diagnosis=[{"label": label, "evidence": "."} for label in labels])
    return Outcome(case, MISMATCH, diffs=[d])


def test_the_larger_failing_case_decides_between_causes():
    small, large = _labelled(["scale-factor", "stride-ignored-in-dW"], 2), _labelled(["stride-ignored-in-dW"], 9)
    assert [causes for _, causes in decided_causes([small, large])] == [["stride-ignored-in-dW"]] * 2
    row = judge(Spec("f", (), None, None, ("d_x",)), [small, large])
    assert row.causes == {"stride-ignored-in-dW": 2}


def test_a_shift_that_a_padding_on_the_wrong_side_explains_is_not_a_second_cause():
    both = _labelled(["spatial-shift", "same-padding-wrong-side"], 9)
    assert [causes for _, causes in decided_causes([both])] == [["same-padding-wrong-side"]]
    (_, alone), = decided_causes([_labelled(["spatial-shift"], 9)])
    assert alone == ["spatial-shift"]


def conv_case(strides=(2, 2), hw=(7, 7), k=(3, 3), c=2, f=3, padding="VALID", seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((2, *hw, c)), rng.standard_normal((*k, c, f))
    y = F.conv2d(x, w, strides=list(strides), padding=padding)
    params = {"strides": list(strides), "padding": padding, "dilations": [1, 1], "data_format": "NHWC"}
    return Case("conv2d", params, {"input": x, "filters": w, "bias": rng.standard_normal(f)},
                rng.standard_normal(y.shape), "float64", seed)


def labels_of(outcome, tensor):
    return {e["label"] for d in outcome.diffs if d.tensor == tensor and not d.passed for e in d.diagnosis}


def test_a_scale_factor_is_never_named_from_one_element():
    case = conv_case(strides=(1, 1), hw=(3, 3), k=(1, 1), c=1, f=1)
    outcome = run_case(case, with_gradient("conv2d", 1, lambda g, a, p, dy: g * 4.68))
    assert outcome.status == MISMATCH and "scale-factor" not in labels_of(outcome, "d_filters")
    wider = run_case(conv_case(strides=(1, 1)), with_gradient("conv2d", 1, lambda g, a, p, dy: g * 4.68))
    factors = [e["factor"] for d in wider.diffs if d.tensor == "d_filters" for e in d.diagnosis
               if e["label"] == "scale-factor"]
    assert factors and factors == pytest.approx([4.68] * len(factors))


def _stride_ignored_dx(g, arrays, params, dy):
    x, w = arrays[0], arrays[1]
    h, wd = x.shape[1:3]
    dx = np.zeros_like(x)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            rows, cols = slice(i, min(i + w.shape[0], h)), slice(j, min(j + w.shape[1], wd))
            part = np.einsum("nf,abcf->nabc", dy[:, i, j], w)
            dx[:, rows, cols] += part[:, :rows.stop - i, :cols.stop - j]
    return dx


def _stride_ignored_dw(g, arrays, params, dy):
    x = arrays[0]
    oh, ow = dy.shape[1:3]
    return np.stack([np.stack([np.einsum("nhwc,nhwf->cf", x[:, a:a + oh, b:b + ow], dy)
                               for b in range(g.shape[1])]) for a in range(g.shape[0])])


@pytest.mark.parametrize("index, tensor, mutate, label", [
    (0, "d_input", _stride_ignored_dx, "stride-ignored-in-dX"),
    (1, "d_filters", _stride_ignored_dw, "stride-ignored-in-dW"),
    (1, "d_filters", lambda g, a, p, dy: np.ascontiguousarray(g.transpose(1, 0, 2, 3)), "kernel-hw-swapped"),
])
def test_window_mistakes_in_a_conv_backward_are_named(index, tensor, mutate, label):
    outcome = run_case(conv_case(), with_gradient("conv2d", index, mutate))
    labels = labels_of(outcome, tensor)
    assert label in labels and "scale-factor" not in labels and "stride-phase" not in labels, outcome_summary(outcome)
    assert "hw-swapped" not in labels   # a filter's H/W swap is kernel-hw-swapped only


def test_a_pooling_gradient_at_the_wrong_window_offset_is_named():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 8, 3))
    params = {"ksize": [2, 2], "strides": [2, 2], "padding": "VALID", "data_format": "NHWC"}
    case = Case("avg_pool2d", params, {"input": x}, rng.standard_normal((2, 3, 4, 3)), "float64", 1)

    def offset(g, arrays, p, dy):
        dx = np.zeros_like(arrays[0])
        for i in range(dy.shape[1]):
            for j in range(dy.shape[2]):
                dx[:, i:i + 2, j:j + 2] += dy[:, i, j, None, None] / 4
        return dx
    outcome = run_case(case, with_gradient("avg_pool2d", 0, offset))
    assert "wrong-window-offset" in labels_of(outcome, "d_input"), outcome_summary(outcome)


def test_a_library_filter_gradient_that_ignores_the_stride_is_not_a_scale_factor():
    sys.path.insert(0, str(FILES / "conventions"))
    import lib_backprop_filter
    rng = np.random.default_rng(2)
    for hw, k, c, f in ((7, 3, 3, 4), (3, 1, 1, 1)):
        oh = (hw - k) // 2 + 1
        case = Case("conv2d_backprop_filter", {"filter_sizes": [k, k, c, f], "strides": [2, 2], "padding": "VALID",
                                               "dilations": [1, 1], "data_format": "NHWC"},
                    {"input": rng.standard_normal((2, hw, hw, c)), "out_backprop": rng.standard_normal((2, oh, oh, f))},
                    None, "float64", 2)
        outcome = run_case(case, lib_backprop_filter)
        assert labels_of(outcome, "y") == {"stride-ignored-in-dW"}, outcome_summary(outcome)


# ---------------------------------------------------------------------------------- files

def test_a_batch_mean_layer_file_passes_with_the_note():
    rows = check_target(load_user_code(str(FILES / "conventions/mean_grads.py")), "layers", examples=6)
    assert {r.function: r.verdict for r in rows} == {"Conv2d": "passed-with-note", "Linear": "passed-with-note"}
    assert all(any(BATCH_MEAN_NOTE in note for note in r.notes) for r in rows)


def test_a_loss_summed_over_the_batch_passes_with_the_note():
    rows = check_target(load_user_code(str(FILES / "conventions/loss_sum.py")), "cs231n", examples=6)
    assert {r.function: r.verdict for r in rows} == {"softmax_loss": "passed-with-note", "svm_loss": "passed-with-note"}
    assert all("loss summed over the batch" in r.notes[0] for r in rows)


def test_declared_batch_mean_fails_a_summing_layer_file():
    module = load_user_code(str(FILES / "layers/style_attrs.py"))
    (row,) = check_target(module, "layers", examples=4, only=["Linear"], expect=("batch-mean",))
    assert row.verdict == "failed" and set(row.causes) == {"scale-factor"}, (row.causes, row.notes)
    with pytest.raises(ValueError, match="unknown convention 'mean'"):
        check_target(module, "layers", examples=1, only=["Linear"], expect=("mean",))


# -------------------------------------------- the corpus's bugs, established without crosscheck

def _numeric(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        plus = f()
        a[i] = old - eps
        g[i] = (plus - f()) / (2 * eps)
        a[i] = old
    return g


def _layer_errors(layer, x, weights, grads):
    """{tensor: max |layer's gradient - finite differences of sum(forward * dout)|}, dW and db also
    times N (the batch-mean convention); ``weights``/``grads``: (W, b) and (dW, db) getters."""
    rng = np.random.default_rng(0)
    dout = rng.standard_normal(layer.forward(x).shape)
    dx = layer.backward(dout)
    loss = lambda: float((layer.forward(x) * dout).sum())   # noqa: E731
    errors = {"dx": np.abs(dx - _numeric(loss, x)).max()}
    for name, param, grad in zip(("dW", "db"), weights(layer), grads(layer)):
        numeric = _numeric(loss, param).ravel()
        errors[name] = np.abs(np.ravel(grad) - numeric).max()
        errors[name + "*N"] = np.abs(np.ravel(grad) * x.shape[0] - numeric).max()
    return {k: bool(v < 1e-6) for k, v in errors.items()}


def _module(name):
    sys.path.insert(0, str(FILES / "conventions"))
    return __import__(name)


def test_the_corpus_conventions_and_bugs_are_what_finite_differences_say():
    rng = np.random.default_rng(1)
    nchw, nhwc = rng.standard_normal((3, 2, 7, 7)), rng.standard_normal((3, 7, 7, 2))
    attrs = (lambda L: (L.W, L.b), lambda L: (L.dW, L.db))
    right = {"dx": True, "dW": True, "dW*N": False, "db": True, "db*N": False}
    mean = {"dx": True, "dW": False, "dW*N": True, "db": False, "db*N": True}
    for module, conv_dx, linear in (("mean_grads", True, mean), ("mean_grads_bug", False, {**mean, "db": True,
                                                                                             "db*N": False})):
        m = _module(module)
        assert _layer_errors(m.Conv2d(2, 3, 3, stride=2, padding=1), nchw, *attrs) == {**mean, "dx": conv_dx}
        assert _layer_errors(m.Linear(4, 5), rng.standard_normal((3, 4)), *attrs) == linear
    swapped = _layer_errors(_module("conv_taps_swapped").ConvLayer(2, 3, 3, stride=2, padding=1), nchw, *attrs)
    assert swapped == {**right, "dW": False}
    dicts = (lambda L: (L.parameters["W"], L.parameters["b"]), lambda L: (L.gradients["W"], L.gradients["b"]))
    conv = _module("conv_dw_stride").Conv2D
    assert _layer_errors(conv(2, 3, 3, stride=1, pad=1), nhwc, *dicts) == right
    assert _layer_errors(conv(2, 3, 3, stride=2, pad=1), nhwc, *dicts) == {**right, "dW": False}
    x, y = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    for module, softmax_ok in (("loss_sum", True), ("loss_sum_bug", False)):
        for fn, ok in (("softmax_loss", softmax_ok), ("svm_loss", True)):
            f = getattr(_module(module), fn)
            loss, dx = f(x, y)
            assert (np.abs(dx - _numeric(lambda: f(x, y)[0], x)).max() < 1e-6) == ok, (module, fn)
            per_example = [f(x[i:i + 1], y[i:i + 1])[0] for i in range(4)]
            assert loss == pytest.approx(sum(per_example))      # the sum over the batch, not the mean

