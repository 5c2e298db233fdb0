"""The verdict in both directions against implementations that are wrong in the ways issue 10 found
crosscheck blind to: a wrong output-size rule, a rejected padding form, a wrong default, a wrong vjp
forward value, an overflow only large logits reach, code that writes into its inputs or returns the
wrong type, and checks that no longer refuse. Each is a copy of npcnn with one change (or a thin
wrapper), checked as ``crosscheck run --impl`` would check it."""
import types

import numpy as np
import pytest

from crosscheck.case import MISMATCH, PASS, REFERENCE_ERROR, REFERENCE_UNSUPPORTED, Case
from crosscheck.error_parity import run_error_parity
from crosscheck.fuzz import fuzz_op
from crosscheck.report import ReportSession
from crosscheck.runner import outcome_summary, run_case
from _mutants import npcnn_with

pytest.importorskip("tensorflow")


def statuses(outcomes):
    return {o.status for o in outcomes}


def labels(outcome):
    return {e["label"] for d in outcome.diffs for e in d.diagnosis}


def test_a_wrong_same_output_size_is_an_output_shape_mismatch_not_unsupported(tmp_path):
    impl = npcnn_with(tmp_path, "npcnn_floor_same", "padding.py", "out = -(-size // s)", "out = size // s")
    for op in ("conv2d", "max_pool2d"):
        outcomes = fuzz_op(op, examples=40, dtype="float32", seed=0, impl=impl)
        assert REFERENCE_UNSUPPORTED not in statuses(outcomes)
        shape_bad = [o for o in outcomes if o.status == MISMATCH and "output-shape" in labels(o)]
        assert shape_bad, [outcome_summary(o) for o in outcomes if o.status != PASS][:3]
        o = shape_bad[0]
        evidence = next(e["evidence"] for d in o.diffs for e in d.diagnosis if e["label"] == "output-shape")
        assert "SAME gives ceil(in / stride)" in evidence
        not_judged = [d for d in o.diffs if not d.judged]
        assert not_judged and all(d.tensor.startswith("d_") for d in not_judged)
        assert all(not d.tensor.startswith("d_") for d in o.failures)   # gradients are not more failures


def test_rejecting_the_four_pair_padding_form_fails_the_run(tmp_path):
    impl = npcnn_with(tmp_path, "npcnn_no_4pairs", "padding.py", "if len(pairs) not in (2, 4)", "if len(pairs) != 2")
    outcomes = fuzz_op("conv2d", examples=40, dtype="float64", seed=1, impl=impl)
    assert "implementation-error" in statuses(outcomes) and REFERENCE_UNSUPPORTED not in statuses(outcomes)


def test_a_wrong_default_is_caught(tmp_path):
    impl = npcnn_with(tmp_path, "npcnn_softmax_axis0", "functional/activations.py",
                      "def softmax(logits: ArrayLike, axis: int = -1)", "def softmax(logits: ArrayLike, axis: int = 0)")
    outcomes = fuzz_op("softmax", examples=40, dtype="float64", seed=2, impl=impl)
    bad = [o for o in outcomes if o.status == MISMATCH]
    assert bad and all("axis" not in o.case.params for o in bad)


def test_the_vjp_forward_value_is_compared(tmp_path):
    impl = npcnn_with(tmp_path, "npcnn_ce_mean", "functional/losses.py",
                      "    loss = -(lab * logp).sum(axis=axis)\n", "    loss = -(lab * logp).mean(axis=axis)\n")
    outcomes = fuzz_op("softmax_cross_entropy_with_logits", examples=30, dtype="float64", seed=3, impl=impl)
    bad = [o for o in outcomes if o.status == MISMATCH]
    assert bad and all({d.tensor for d in o.failures} == {"vjp:y"} for o in bad)


def test_a_softmax_that_subtracts_the_min_is_caught_by_large_logits(tmp_path):
    impl = npcnn_with(tmp_path, "npcnn_softmax_min", "functional/activations.py",
                      "e = np.exp(x - x.max(axis=axis, keepdims=True))", "e = np.exp(x - x.min(axis=axis, keepdims=True))")
    outcomes = fuzz_op("softmax", examples=60, dtype="float32", seed=4, impl=impl)
    assert MISMATCH in statuses(outcomes)


def _relu_case():
    x = np.array([[-1.0, 2.0], [3.0, -4.0]], np.float32)
    return Case("relu", {}, {"features": x}, np.array([[1.0, 1.0], [1.0, 1.0]], np.float32), "float32", 0)


def test_an_implementation_that_writes_into_its_input_is_caught_and_the_case_kept(tmp_path):
    import npcnn.functional as F

    def relu(features):
        y = F.relu(features)
        features[...] = 0.0        # clobbers the caller's array
        return y

    case = _relu_case()
    original = case.arrays["features"].copy()
    outcome = run_case(case, types.SimpleNamespace(relu=relu, vjp=F.vjp, __name__="clobber"))
    assert outcome.status == MISMATCH and "modifies-input" in labels(outcome)
    assert np.array_equal(case.arrays["features"], original)                  # the case is pristine
    assert all(d.passed for d in outcome.diffs if d.tensor == "y")           # the reference used the original
    session = ReportSession(tmp_path / "cases")
    d = session.add(outcome)
    from crosscheck.replay import load_case
    assert np.array_equal(load_case(d["replay"]["file"]).arrays["features"], original)


def test_a_pullback_that_writes_into_dy_is_caught():
    import npcnn

    def vjp(op, *arrays, **params):
        y, pullback = npcnn.vjp(op, *arrays, **params)

        def clobbering(dy):
            g = pullback(dy)
            dy *= 2
            return g
        return y, clobbering

    outcome = run_case(_relu_case(), types.SimpleNamespace(relu=npcnn.functional.relu, vjp=vjp, __name__="clobber"))
    assert outcome.status == MISMATCH
    assert any(d.tensor == "input dy" for d in outcome.failures)


@pytest.mark.parametrize("wrap, problem", [
    (lambda y: y.astype(np.float64), "dtype float64"),
    (lambda y: y.tolist(), "list"),
])
def test_an_output_of_the_wrong_type_is_a_mismatch(wrap, problem):
    import npcnn.functional as F
    impl = types.SimpleNamespace(relu=lambda features: wrap(F.relu(features)), vjp=F.vjp, __name__="wrong_type")
    outcome = run_case(_relu_case(), impl)
    assert outcome.status == MISMATCH and "output-type" in labels(outcome)
    assert any(problem in d.note for d in outcome.failures)


def test_checks_that_no_longer_refuse_are_caught_by_error_parity(tmp_path):
    lenient_strides = npcnn_with(tmp_path, "npcnn_stride0", "padding.py",
                                 "    if min(pair) < minimum:\n", "    if min(pair) < minimum - 1:\n")
    failed = [p for p in run_error_parity(["conv2d"], lenient_strides) if not p.passed]
    assert any(p.label == "stride 0" for p in failed)
    wrapping_axis = npcnn_with(tmp_path, "npcnn_axis_wraps", "functional/activations.py",
                               "    if not -x.ndim <= axis < x.ndim:\n        raise ValueError(",
                               "    axis = axis % max(x.ndim, 1)\n    if not -x.ndim <= axis < x.ndim:\n        raise ValueError(")
    failed = [p for p in run_error_parity(["softmax"], wrapping_axis) if not p.passed]
    assert any(p.label == "axis equal to the rank" for p in failed)
    import npcnn.functional as F
    assert all(p.passed for p in run_error_parity(["conv2d", "softmax"], F))


def test_a_reference_error_and_too_few_compared_cases_fail_the_run():
    from crosscheck.case import Outcome
    session = ReportSession(None)
    session.add(Outcome(_relu_case(), PASS))
    assert session.ok
    session.add(Outcome(_relu_case(), REFERENCE_ERROR, message="TensorFlow raised InvalidArgumentError"))
    assert not session.ok and any("reference-error" in p for p in session.problems)
    session = ReportSession(None)
    for status in [PASS] * 8 + [REFERENCE_UNSUPPORTED] * 2:
        session.add(Outcome(_relu_case(), status, message="quirk"))
    assert not session.ok and any("only 80% of its cases compared" in p for p in session.problems)
