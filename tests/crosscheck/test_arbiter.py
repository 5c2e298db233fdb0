"""The finite-difference arbiter says which side of a disagreement agrees with the mathematics, and
the TF defects of docs/tf-defects.md that it confirms."""
import warnings

import numpy as np
import pytest
import tensorflow as tf

import npcnn.functional as F
from cs231n_impls import rot180_dx, with_gradient
from crosscheck.arbiter import AGREE, gap, verdict
from crosscheck.case import MISMATCH, Case
from crosscheck.report import format_outcome_text
from crosscheck.runner import outcome_summary, run_case


def conv_case(seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((2, 5, 5, 2)), rng.standard_normal((3, 3, 2, 3))
    params = dict(strides=[1, 1], padding="SAME", dilations=[1, 1], data_format="NHWC")
    return Case("conv2d", params, {"input": x, "filters": w, "bias": rng.standard_normal(3)},
                rng.standard_normal((2, 5, 5, 3)), "float64", seed)


def test_arbiter_sides_with_tensorflow_against_a_wrong_gradient():
    outcome = run_case(conv_case(), with_gradient("conv2d", 0, rot180_dx))
    assert outcome.status == MISMATCH
    verdicts = [c["evidence"] for d in outcome.diffs if d.tensor == "d_input" for c in d.diagnosis
                if c["label"] == "arbiter"]
    assert verdicts and "the code under test disagrees with finite differences; TensorFlow agrees" in verdicts[0]
    assert not any("finite differences" in n for n in outcome.notes)   # notes count reference workarounds
    assert "arbiter" in format_outcome_text(outcome, snippet=False)


def test_arbiter_is_silent_when_both_agree():
    assert run_case(conv_case()).notes == []


def test_verdict_wording():
    assert verdict("d_x", True, False, 1e-9, 0.3).startswith(
        "d_x: TensorFlow disagrees with finite differences here; the code under test agrees")


def test_arbiter_confirms_tf_avg_pool_gradient_defect_d1():
    # docs/tf-defects.md D1: SAME avg-pool, width 4, window 5: TF's raw AvgPoolGrad is wrong
    rng = np.random.default_rng(8)
    x, dy = rng.standard_normal((1, 1, 4, 1)), rng.standard_normal((1, 1, 4, 1))
    params = dict(ksize=[1, 5], strides=[1, 1], padding="SAME", data_format="NHWC")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.avg_pool2d(xt, [1, 5], [1, 1], "SAME")
    tf_dx = tape.gradient(y, xt, output_gradients=tf.constant(dy)).numpy()
    npcnn_dx = F.vjp("avg_pool2d", x, **params)[1](dy)[0]
    f = lambda v: F.avg_pool2d(v, **params)
    tf_gap, npcnn_gap = gap(f, [x], 0, dy, tf_dx, seed=0), gap(f, [x], 0, dy, npcnn_dx, seed=0)
    assert npcnn_gap <= AGREE["float64"] < tf_gap
    assert "TensorFlow disagrees with finite differences here" in verdict(
        "d_input", npcnn_gap <= AGREE["float64"], tf_gap <= AGREE["float64"], npcnn_gap, tf_gap)


@pytest.mark.parametrize("shape", [(1, 4, 4, 2), (2, 6, 6, 3)])   # central differences, random directions
def test_gaps_evaluate_the_finite_differences_once_for_several_gradients(shape):
    """The arbiter judges the code under test's gradient and TensorFlow's from one set of forward
    evaluations; each gap is what gap() gives alone (a non-finite gradient's is infinite)."""
    from crosscheck.arbiter import gaps
    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal(shape), rng.standard_normal(shape)
    calls = []

    def f(v):
        calls.append(1)
        return np.tanh(v) * 2
    right, wrong, bad = dy * 2 / np.cosh(x) ** 2, dy / np.cosh(x) ** 2, np.full(shape, np.nan)
    together = gaps(f, [x], 0, dy, [right, wrong, bad], seed=1)
    once = len(calls)
    assert together == [gap(f, [x], 0, dy, g, seed=1) for g in (right, wrong, bad)]
    assert together[0] <= AGREE["float64"] < together[1] and together[2] == np.inf
    assert len(calls) == 3 * once          # the two finite gradients alone cost twice one gaps() call


def test_tf_depthwise_strided_dilated_output_size_defect_d4():
    # docs/tf-defects.md D4 (TF #100237): VALID, 5x5 input, 2x2 kernel, stride 2, dilation 2:
    # k_eff = 3, so the output is (5 - 3 + 2) // 2 = 2 per axis; TF returns 1
    x, w = np.ones((1, 5, 5, 1)), np.ones((2, 2, 1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf_y = tf.nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "VALID", dilations=[2, 2])
    assert tuple(tf_y.shape) == (1, 1, 1, 1)           # the defect
    assert F.depthwise_conv2d(x, w, strides=2, padding="VALID", dilations=2).shape == (1, 2, 2, 1)
    # and crosscheck's reference (zero-inserted filter, no dilation) has the right size
    rng = np.random.default_rng(0)
    case = Case("depthwise_conv2d", dict(strides=[2, 2], padding="VALID", dilations=[2, 2], data_format="NHWC"),
                {"input": rng.standard_normal((1, 5, 5, 1)), "filter": rng.standard_normal((2, 2, 1, 1))},
                rng.standard_normal((1, 2, 2, 1)), "float64", 0)
    outcome = run_case(case)
    assert outcome.status == "pass", outcome_summary(outcome)
