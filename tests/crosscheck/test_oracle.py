"""The TensorFlow oracle: a case a registered quirk refuses comes back reference-unsupported naming
the quirk (never a dead process); any other TF error is a reference-error; the quirks' alternate
formulations are used and announced; the oracle agrees with public facts (the 2017 seed case)."""
import numpy as np
import pytest

from crosscheck.case import PASS, REFERENCE_ERROR, REFERENCE_UNSUPPORTED, Case
from crosscheck.runner import outcome_summary, run_case

tf = pytest.importorskip("tensorflow")


def normal(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_empty_window_max_pool_is_reference_unsupported_not_handed_to_tf():
    # VALID max-pool whose 3x3 window exceeds the 2x2 input: an uninitialised gradient (SIGFPE per TF #125509)
    x = normal((1, 2, 2, 1), "float32")
    case = Case("max_pool2d", dict(ksize=[3, 3], strides=[1, 1], padding="VALID", data_format="NHWC"),
                {"input": x}, normal((1, 1, 1, 1), "float32"), "float32", 0)
    outcome = run_case(case)
    assert outcome.status == REFERENCE_UNSUPPORTED
    assert "maxpool-empty-window" in outcome.message


def test_empty_conv_output_is_not_handed_to_tf():
    case = Case("conv2d", dict(strides=[1, 1], padding="VALID", dilations=[1, 1], data_format="NHWC"),
                {"input": normal((1, 2, 2, 1), "float32"), "filters": normal((3, 3, 1, 1), "float32")},
                normal((1, 1, 1, 1), "float32"), "float32", 0)
    outcome = run_case(case)
    assert outcome.status == REFERENCE_UNSUPPORTED
    assert "window-larger-than-input" in outcome.message


SAME_12 = dict(strides=[1, 2], padding="SAME", dilations=[1, 1], data_format="NHWC")
EMPTY_OUTPUT_CASES = {   # SAME on an input with an empty H (or W): an empty output, a batch of 2
    "conv2d": (dict(SAME_12), {"input": (2, 0, 5, 2), "filters": (3, 3, 2, 4), "bias": (4,)}, (2, 0, 3, 4), "d_filters"),
    "conv2d NCHW": (dict(SAME_12, data_format="NCHW"), {"input": (2, 2, 5, 0), "filters": (3, 3, 2, 4)}, (2, 4, 5, 0),
                    "d_filters"),
    "conv2d_backprop_input": (dict(SAME_12, input_sizes=[2, 0, 5, 2]),
                              {"filters": (3, 3, 2, 4), "out_backprop": (2, 0, 3, 4)}, (2, 0, 5, 2), "d_filters"),
    "conv2d_backprop_filter": (dict(SAME_12, filter_sizes=[3, 3, 2, 4]),
                               {"input": (2, 0, 5, 2), "out_backprop": (2, 0, 3, 4)}, (3, 3, 2, 4), "y"),
    "conv2d_transpose": (dict(SAME_12, output_shape=[2, 0, 5, 2]), {"input": (2, 0, 3, 4), "filters": (3, 3, 2, 4)},
                         (2, 0, 5, 2), "d_filters"),
    "depthwise_conv2d": (dict(SAME_12, strides=[1, 1]), {"input": (2, 0, 5, 3), "filter": (3, 3, 3, 2)}, (2, 0, 5, 6),
                         "d_filter"),
}


@pytest.mark.parametrize("name", sorted(EMPTY_OUTPUT_CASES))
def test_an_empty_output_has_a_zero_filter_gradient_though_tf_leaves_it_uninitialised(name):
    """Quirk empty-output-filter-gradient: TF's filter gradient here is garbage; the reference is 0
    (computed on the empty batch), the empty tensors keep the batch of 2, npcnn passes, and an
    implementation that returns garbage there fails."""
    import types
    import npcnn.functional as F
    from crosscheck.oracle.reference import compute_reference
    params, shapes, dy_shape, filter_grad = EMPTY_OUTPUT_CASES[name]
    op = name.split()[0]
    case = Case(op, params, {k: normal(s, "float32", i) for i, (k, s) in enumerate(shapes.items())},
                normal(dy_shape, "float32", 9), "float32", 0)
    ref = compute_reference(case)
    assert any("empty-output-filter-gradient" in n for n in ref.notes)
    for tensors in ref.paths.values():
        for tensor, value in tensors.items():
            if tensor == filter_grad or tensor == "d_bias":
                assert value.size and np.all(value == 0), (tensor, value)
            else:
                assert value.size == 0 and value.shape[0] == 2, (tensor, value.shape)
    assert run_case(case).status == PASS

    def garbage_filter_grad(op_name, *arrays, **kw):
        out, pullback = F.vjp(op_name, *arrays, **kw)
        if filter_grad == "y":
            return np.full_like(out, 7.0), pullback
        index = list(shapes).index(filter_grad[2:])
        return out, lambda dy: tuple(np.full_like(g, 7.0) if i == index else g for i, g in enumerate(pullback(dy)))
    forward = getattr(F, op)
    if filter_grad == "y":
        forward = lambda *a, **kw: np.full(params["filter_sizes"], 7.0, "float32")   # noqa: E731
    broken = types.SimpleNamespace(**{op: forward}, vjp=garbage_filter_grad, __name__="garbage")
    outcome = run_case(case, broken)
    assert outcome.status == "mismatch", outcome_summary(outcome)
    assert {d.tensor for d in outcome.failures} <= {filter_grad, "vjp:y"}


@pytest.mark.parametrize("op", ["conv2d", "avg_pool2d"])
def test_a_1x1_window_striding_over_an_empty_axis_never_reaches_tfs_crashing_kernel(op):
    """TF's filter gradient with a 1x1 filter and stride 3 along an empty W kills the process
    (SIGSEGV; quirk empty-output-filter-gradient): conv2d's reference, and avg_pool2d's built from
    tf.nn.conv2d, are computed on the empty batch instead; this test process would die otherwise."""
    x = normal((3, 21, 0, 3), "float32")
    if op == "conv2d":
        case = Case(op, dict(strides=[1, 3], padding="SAME"), {"input": x, "filters": normal((1, 1, 3, 3), "float32")},
                    normal((3, 21, 0, 3), "float32"), "float32", 0)
    else:
        case = Case(op, dict(ksize=1, strides=[1, 3], padding="SAME"), {"input": x}, normal((3, 21, 0, 3), "float32"),
                    "float32", 0)
    outcome = run_case(case)
    assert outcome.status == PASS, outcome_summary(outcome)
    assert any("empty-output-filter-gradient" in n for n in outcome.notes)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dilated_conv_gradient_uses_the_zero_dilated_kernel(dtype):
    x, w = normal((2, 11, 9, 3), dtype, 1), normal((3, 2, 3, 4), dtype, 2)
    params = dict(strides=[2, 1], padding="SAME", dilations=[2, 3], data_format="NHWC")
    y_shape = (2, 6, 9, 4)
    case = Case("conv2d", params, {"input": x, "filters": w}, normal(y_shape, dtype, 3), dtype, 0)
    outcome = run_case(case)
    assert outcome.status == PASS, outcome_summary(outcome)
    assert any("zero-dilated" in n for n in outcome.notes)
    assert {"tape", "backprop_ops", "tf_conv2d_transpose"} <= set(outcome.paths)


def test_tf_itself_cannot_differentiate_a_dilated_conv_in_float64():
    # the reason for the alternate path (quirk dilated-conv-gradient); if TF fixes this, the workaround can go
    x = tf.constant(normal((1, 7, 7, 1), "float64"))
    w = tf.constant(normal((2, 2, 1, 1), "float64"))
    with pytest.raises(tf.errors.OpError):
        with tf.GradientTape() as tape:
            tape.watch(w)
            y = tf.nn.conv2d(x, w, 1, "VALID", dilations=2)
        tape.gradient(y, w, output_gradients=tf.ones_like(y)).numpy()


def test_grouped_conv_is_computed_group_by_group_and_float64_nchw_is_transposed():
    x, w = normal((2, 4, 7, 5), "float64", 4), normal((3, 3, 2, 6), "float64", 5)  # NCHW, groups = 2
    params = dict(strides=[1, 2], padding=[[0, 0], [0, 0], [2, 0], [1, 3]], dilations=[1, 1], data_format="NCHW")
    case = Case("conv2d", params, {"input": x, "filters": w, "bias": normal((6,), "float64", 6)},
                normal((2, 6, 7, 4), "float64", 7), "float64", 0)
    outcome = run_case(case)
    assert outcome.status == PASS, outcome_summary(outcome)
    assert any("group by group" in n for n in outcome.notes)
    assert {d.tensor for d in outcome.diffs} == {"y", "vjp:y", "d_input", "d_filters", "d_bias"}


def test_conv2d_is_compared_against_all_four_paths_when_keras_can_express_it():
    params = dict(strides=[2, 2], padding="SAME", dilations=[1, 1], data_format="NHWC")
    case = Case("conv2d", params, {"input": normal((1, 6, 5, 2), "float32"), "filters": normal((3, 3, 2, 3), "float32")},
                normal((1, 3, 3, 3), "float32"), "float32", 0)
    outcome = run_case(case)
    assert outcome.status == PASS, outcome_summary(outcome)
    assert outcome.paths == ["tape", "backprop_ops", "tf_conv2d_transpose", "keras_conv2d_transpose"]
    dx_paths = {d.path for d in outcome.diffs if d.tensor == "d_input"}
    assert dx_paths == set(outcome.paths)


def test_a_preferred_path_is_computed_alone_or_the_first_that_applies_instead():
    from crosscheck.oracle.reference import compute_reference
    params = dict(strides=[1, 1], dilations=[1, 1], data_format="NHWC")
    arrays = {"input": normal((1, 5, 5, 2), "float64"), "filters": normal((3, 3, 2, 3), "float64")}
    same = Case("conv2d", dict(params, padding="SAME"), arrays, normal((1, 5, 5, 3), "float64"), "float64", 0)
    assert list(compute_reference(same, prefer="keras_conv2d_transpose").paths) == ["keras_conv2d_transpose"]
    explicit = Case("conv2d", dict(params, padding=[[0, 0], [1, 1], [1, 1], [0, 0]]), arrays, same.dy, "float64", 0)
    assert list(compute_reference(explicit, prefer="keras_conv2d_transpose").paths) == ["tape"]   # Keras: no explicit pads


def test_first_path_mode_compares_one_path_and_rechecks_every_path_on_a_mismatch():
    import types
    import npcnn.functional as F
    params = dict(strides=[2, 2], padding="SAME", dilations=[1, 1], data_format="NHWC")
    case = Case("conv2d", params, {"input": normal((1, 6, 5, 2), "float64"), "filters": normal((3, 3, 2, 3), "float64")},
                normal((1, 3, 3, 3), "float64"), "float64", 0)
    fast = run_case(case, paths="first")
    assert fast.status == PASS and fast.paths == ["tape"], outcome_summary(fast)
    assert not any("not used" in n for n in fast.notes)

    def vjp_with_doubled_dx(op, *arrays, **params):
        out, pullback = F.vjp(op, *arrays, **params)
        return out, lambda dy: (2 * pullback(dy)[0], *pullback(dy)[1:])

    broken = types.SimpleNamespace(conv2d=F.conv2d, vjp=vjp_with_doubled_dx, __name__="doubled_dx")
    outcome = run_case(case, broken, paths="first")
    assert outcome.status == "mismatch"
    assert outcome.paths == ["tape", "backprop_ops", "tf_conv2d_transpose", "keras_conv2d_transpose"]
    assert {d.path for d in outcome.failures} == set(outcome.paths)
    assert all(d.tensor == "d_input" for d in outcome.failures)
    assert any(item["label"] == "scale-factor" for item in outcome.failures[0].diagnosis)
    with pytest.raises(ValueError, match="paths"):
        run_case(case, paths="some")


def test_keras_path_is_skipped_with_a_reason_for_explicit_padding():
    params = dict(strides=[1, 1], padding=[[0, 0], [1, 2], [0, 0], [0, 0]], dilations=[1, 1], data_format="NHWC")
    case = Case("conv2d", params, {"input": normal((1, 4, 4, 1), "float32"), "filters": normal((2, 2, 1, 1), "float32")},
                normal((1, 6, 3, 1), "float32"), "float32", 0)
    outcome = run_case(case)
    assert outcome.status == PASS, outcome_summary(outcome)
    assert "keras_conv2d_transpose" not in outcome.paths
    assert any("keras_conv2d_transpose not used" in n and "explicit" in n for n in outcome.notes)


def test_the_2017_strided_same_seed_case_agrees():
    # 3x3 input, 1x1 kernel, stride 3, SAME: no padding is needed, so the one output reads the
    # top-left element (1 * 10), and the filter gradient is that element times dy (1 * 100).
    x = np.array([1, 2, 3, 4, 5, 6, 7, 8, 0], dtype="float32").reshape(1, 3, 3, 1)
    w = np.array([10], dtype="float32").reshape(1, 1, 1, 1)
    dy = np.array([100], dtype="float32").reshape(1, 1, 1, 1)
    params = dict(strides=[3, 3], padding="SAME", dilations=[1, 1], data_format="NHWC")
    outcome = run_case(Case("conv2d", params, {"input": x, "filters": w}, dy, "float32", 0))
    assert outcome.status == PASS, outcome_summary(outcome)
    expected = {(d.path, d.tensor): d for d in outcome.diffs}
    assert expected[("tape", "y")].max_abs_err == 0
    from crosscheck.oracle.reference import compute_reference
    ref = compute_reference(Case("conv2d", params, {"input": x, "filters": w}, dy, "float32", 0))
    assert ref.paths["tape"]["y"].reshape(-1).tolist() == [10.0]
    assert ref.paths["tape"]["d_filters"].reshape(-1).tolist() == [100.0]
    assert ref.paths["backprop_ops"]["d_filters"].reshape(-1).tolist() == [100.0]


def test_depthwise_with_unequal_strides_uses_grouped_conv():
    params = dict(strides=[1, 2], padding="VALID", dilations=[2, 1], data_format="NHWC")
    case = Case("depthwise_conv2d", params, {"input": normal((1, 7, 8, 3), "float32"),
                                              "filter": normal((2, 3, 3, 2), "float32")},
                normal((1, 5, 3, 6), "float32"), "float32", 0)
    outcome = run_case(case)
    assert outcome.status == PASS, outcome_summary(outcome)
    assert any("depthwise-unequal-strides" in n and "group by group" in n for n in outcome.notes)


def test_tf_op_errors_on_a_case_no_quirk_covers_are_reference_errors():
    # a conv2d_transpose output_shape the conv cannot map back: TF raises, and no quirk says why
    from crosscheck.oracle.reference import TFReferenceError, compute_reference
    params = dict(output_shape=[1, 9, 9, 1], strides=[1, 1], padding="VALID", dilations=[1, 1], data_format="NHWC")
    case = Case("conv2d_transpose", params, {"input": normal((1, 3, 3, 1), "float32"),
                                              "filters": normal((2, 2, 1, 1), "float32")},
                normal((1, 9, 9, 1), "float32"), "float32", 0)
    with pytest.raises(TFReferenceError, match="TensorFlow raised"):
        compute_reference(case)
    import types

    def zeros(**kw):
        return np.zeros((1, 9, 9, 1), "float32")

    def vjp(op, input, filters, **kw):
        return zeros(), lambda dy: (np.zeros_like(input), np.zeros_like(filters))
    lenient = types.SimpleNamespace(conv2d_transpose=zeros, vjp=vjp, __name__="lenient")
    assert run_case(case, lenient).status == REFERENCE_ERROR


def test_a_broken_implementation_is_a_mismatch_at_the_right_tensor():
    # conv2d_backprop_input with an unflipped kernel (a classic from-scratch bug)
    import types
    import npcnn.functional as F

    def unflipped(input_sizes, filters, out_backprop, **params):
        return F.conv2d_backprop_input(input_sizes, filters[::-1, ::-1], out_backprop, **params)

    broken = types.SimpleNamespace(**{n: getattr(F, n) for n in dir(F) if not n.startswith("_")})
    broken.conv2d_backprop_input = unflipped
    broken.__name__ = "broken"
    params = dict(input_sizes=[1, 5, 5, 2], strides=[1, 1], padding="VALID", dilations=[1, 1], data_format="NHWC")
    case = Case("conv2d_backprop_input", params, {"filters": normal((3, 3, 2, 2), "float64"),
                                                  "out_backprop": normal((1, 3, 3, 2), "float64")},
                normal((1, 5, 5, 2), "float64"), "float64", 0)
    outcome = run_case(case, broken)
    assert outcome.status == "mismatch"
    assert [d.tensor for d in outcome.failures] == ["y"]
    assert outcome.failures[0].worst and outcome.failures[0].channel_map


def test_implementation_exceptions_are_reported_with_the_traceback():
    import types
    import npcnn.functional as F

    def boom(**kwargs):
        raise IndexError("index 7 is out of bounds")

    broken = types.SimpleNamespace(relu=boom, vjp=F.vjp, __name__="boom")
    case = Case("relu", {}, {"features": normal((3,), "float32")}, normal((3,), "float32"), "float32", 0)
    outcome = run_case(case, broken)
    assert outcome.status == "implementation-error"
    assert "IndexError" in outcome.message and "Traceback" in outcome.message


def test_fuzz_op_is_deterministic_in_its_seed_and_reports_progress():
    from crosscheck.fuzz import fuzz_op
    seen = []
    first = fuzz_op("avg_pool2d", examples=8, dtype="float64", seed=5, on_outcome=seen.append)
    second = fuzz_op("avg_pool2d", examples=8, dtype="float64", seed=5)
    other = fuzz_op("avg_pool2d", examples=8, dtype="float64", seed=6)
    assert len(first) == len(seen) == 8
    key = [(o.case.params, o.case.shapes(), o.case.seed) for o in first]
    assert key == [(o.case.params, o.case.shapes(), o.case.seed) for o in second]
    assert key != [(o.case.params, o.case.shapes(), o.case.seed) for o in other]
    assert all(o.status == PASS for o in first)


def test_tf_avg_pool_gradient_bug_is_detected_and_the_conv_formulation_used():
    # TF 2.21 CPU: SAME avg-pool, width 4, window 5 -> tf's gradient disagrees with finite
    # differences of tf's own forward; npcnn (which agrees with finite differences) must pass
    from crosscheck.finite_diff import numerical_vjp
    x, dy = normal((1, 1, 4, 1), "float64", 8), normal((1, 1, 4, 1), "float64", 9)
    params = dict(ksize=[1, 5], strides=[1, 1], padding="SAME", data_format="NHWC")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.avg_pool2d(xt, [1, 5], [1, 1], "SAME")
    tf_dx = tape.gradient(y, xt, output_gradients=tf.constant(dy)).numpy()
    fd_dx = numerical_vjp(lambda v: tf.nn.avg_pool2d(v, [1, 5], [1, 1], "SAME").numpy(), [x], dy)[0]
    assert np.abs(tf_dx - fd_dx).max() > 1e-3  # the TF bug this test is about
    outcome = run_case(Case("avg_pool2d", params, {"input": x}, dy, "float64", 0))
    assert outcome.status == PASS, outcome_summary(outcome)
    assert any("avg-pool-grad-same-window" in n for n in outcome.notes)
    (d_input,) = [d for d in outcome.diffs if d.tensor == "d_input"]
    assert d_input.path == "tape_avg_pool_as_conv"  # TF's own (wrong) d_input is not the reference
    assert d_input.max_abs_err < 1e-12


@pytest.mark.parametrize("strides, padding, x_hw, dilations", [
    ((2, 2), "SAME", (6, 5), (1, 1)), ((2, 3), "VALID", (9, 8), (1, 1)), ((3, 2), "VALID", (10, 7), (1, 1)),
    ((1, 1), "SAME", (5, 4), (2, 1)), ((2, 1), "SAME", (8, 6), (1, 2))])
def test_keras_path_is_what_a_built_conv2d_transpose_layer_computes(strides, padding, x_hw, dilations):
    # the path calls keras.ops.conv_transpose as Conv2DTranspose.call does; a real layer must agree exactly
    import keras
    from crosscheck.oracle import tf_lib as T
    from crosscheck.oracle.reference import resolve
    from crosscheck.geometry import resolve as window
    w = normal((3, 2, 2, 4), "float64", 1)
    out = window(x_hw, (3, 2), strides, dilations, padding).out
    params = dict(strides=list(strides), padding=padding, dilations=list(dilations), data_format="NHWC")
    case = Case("conv2d", params, {"input": normal((2, *x_hw, 2), "float64"), "filters": w},
                normal((2, *out, 4), "float64", 2), "float64", 0)
    _, call = resolve(case)
    g = T.conv_setup(case.arrays["input"].shape, w.shape, call)
    wd = T.zero_dilate(w, dilations)
    output_padding, why_not = T.keras_output_padding(g, out, wd.shape[:2])
    assert why_not == ""
    layer = keras.layers.Conv2DTranspose(filters=2, kernel_size=wd.shape[:2], strides=strides, padding=padding.lower(),
                                         output_padding=output_padding, use_bias=False, dtype="float64")
    layer.build((None, None, None, 4))
    layer.kernel.assign(wd)
    expected = layer(tf.constant(case.dy)).numpy()
    got = T.keras_conv2d_transpose(tf.constant(case.dy), w, g).numpy()
    assert got.shape == expected.shape == case.arrays["input"].shape
    np.testing.assert_array_equal(got, expected)


def test_zero_dilated_kernel_is_the_same_from_numpy_and_from_a_tensor_and_its_gradient_samples_the_taps():
    from crosscheck.oracle import tf_lib as T
    w = normal((3, 2, 2, 5), "float64")
    from_numpy = T.zero_dilate(w, (2, 3))
    assert from_numpy.shape == (5, 4, 2, 5)
    np.testing.assert_array_equal(from_numpy[::2, ::3], w)
    assert np.count_nonzero(from_numpy) == np.count_nonzero(w)
    t = tf.constant(w)
    g = normal((5, 4, 2, 5), "float64", 1)
    with tf.GradientTape() as tape:
        tape.watch(t)
        from_tensor = T.zero_dilate(t, (2, 3))
    np.testing.assert_array_equal(from_tensor.numpy(), from_numpy)
    np.testing.assert_array_equal(tape.gradient(from_tensor, t, output_gradients=tf.constant(g)).numpy(), g[::2, ::3])


def test_the_paths_of_one_case_share_each_array_s_tensor_and_nothing_outlives_the_case():
    from crosscheck.oracle import tf_lib as T
    a = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    assert T.constant(a) is not T.constant(a)          # outside a case: a fresh tensor each time
    with T.shared_constants():
        assert T.constant(a) is T.constant(a)
        nchw = T.nhwc_constant(a, "NCHW")
        assert nchw is T.nhwc_constant(a, "NCHW") and nchw is not T.constant(a)
        np.testing.assert_array_equal(nchw.numpy(), a.transpose(0, 2, 3, 1))
    with T.shared_constants():
        b = a.copy()
        b[0, 0, 0, 0] = 7.0
        assert T.constant(b).numpy()[0, 0, 0, 0] == 7.0
