"""The tolerance policy: a one-element error of 1e-3 relative (float32) or 1e-8 relative (float64)
in a correct output or gradient of a real case is caught, at exactly that element; correct float32
results with a lot of accumulation noise are not flagged."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crosscheck.case import PASS, VJP_Y, Case
from crosscheck.implementation import call_impl, load_impl
from crosscheck.registry import OPS, case_strategy
from crosscheck.runner import compare_all, outcome_summary, run_case
from crosscheck.tolerance import EPS, SAFETY, detectable_relative_error, tolerance

pytest.importorskip("tensorflow")

INJECTED = {"float32": 1e-3, "float64": 1e-8}
OPS_UNDER_TEST = sorted(OPS)


def checked_indices(expected: np.ndarray, scale: float) -> set:
    """The largest element and the smallest one at least as large as the tolerance's scale (the
    tensor's rms, or the op's floor): the policy's promise covers every element of that size. Far
    smaller elements (cancellations) sit below the scale-tied atol (docs/tolerances.md)."""
    flat = np.abs(expected.astype(np.float64)).reshape(-1)
    candidates = np.flatnonzero((flat >= scale * (1 - 1e-9)) & (flat > 0))  # rms of one element may round above it
    if candidates.size == 0:
        return set()
    return {int(np.argmax(flat)), int(candidates[np.argmin(flat[candidates])])}


def inject(actual: np.ndarray, index: int, rel: float) -> np.ndarray:
    bad = np.array(actual, copy=True, order="C")  # C order: reshape(-1) must be a view, not a copy
    flat = bad.reshape(-1)
    flat[index] = flat[index] * (1 + rel)
    return bad


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", OPS_UNDER_TEST)
@settings(max_examples=6, derandomize=True)
@given(data=st.data())
def test_one_element_error_is_caught(op, dtype, data):
    from crosscheck.oracle.reference import compute_reference
    info = OPS[op]
    case = data.draw(case_strategy(op, dtype))
    call = info.resolve(case)
    actual = {k: v for k, v in call_impl(info, case, load_impl()).tensors.items() if k != VJP_Y}
    ref = compute_reference(case)
    clean = compare_all(info, call, actual, ref)
    assert all(d.passed for d in clean), [d for d in clean if not d.passed]
    floors, terms = info.tensor_scale_floor(call), info.tensor_terms(call)
    injected = 0
    for path, tensors in ref.paths.items():
        for tensor, expected in tensors.items():
            scale = tolerance(dtype, terms.get(tensor, 1), expected, floors.get(tensor, 0.0)).scale
            for index in checked_indices(expected, scale):
                bad = inject(actual[tensor], index, INJECTED[dtype])
                assert bad.reshape(-1)[index] != actual[tensor].reshape(-1)[index], "nothing was injected"
                one = type(ref)(paths={path: {tensor: expected}})
                (diff,) = compare_all(info, call, {**actual, tensor: bad}, one)
                assert not diff.passed, (f"{op} {dtype} {path}/{tensor}: a {INJECTED[dtype]:g} relative error at "
                                         f"{index} went unnoticed (atol {diff.atol:.3g}, rtol {diff.rtol:.3g})")
                assert diff.mismatched == 1
                assert diff.worst[0]["index"] == [int(i) for i in np.unravel_index(index, expected.shape)]
                injected += 1
    # a case whose every tensor is zero up to rounding (one class: log_softmax = 0) has nothing to
    # scale; hypothesis draws another one in its place
    assume(injected > 0)


def test_the_policy_detects_the_required_errors_at_the_largest_term_counts():
    # the largest K the strategies produce: N*OH*OW = 4*24*24 for a filter gradient
    k = 4 * 24 * 24
    assert detectable_relative_error("float32", k) < INJECTED["float32"]
    assert detectable_relative_error("float64", k) < INJECTED["float64"]


def test_tolerance_scales_with_the_square_root_of_the_term_count():
    e = np.ones(10)
    t1, t100 = tolerance("float32", 1, e), tolerance("float32", 100, e)
    assert t100.rtol == pytest.approx(10 * t1.rtol)
    assert t1.rtol == pytest.approx(SAFETY["float32"] * EPS["float32"])
    assert tolerance("float64", 100, e).rtol < 1e-12


@pytest.mark.parametrize("op", ["conv2d", "conv2d_backprop_filter"])
def test_float32_accumulation_noise_on_a_large_conv_is_not_a_false_alarm(op):
    # K = 5*5*64 = 1600 terms per output, N*OH*OW = 8*32*32 = 8192 per filter-gradient element
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 32, 32, 64)).astype("float32")
    w = rng.standard_normal((5, 5, 64, 16)).astype("float32")
    dy = rng.standard_normal((8, 32, 32, 16)).astype("float32")
    params = dict(strides=[1, 1], padding="SAME", dilations=[1, 1], data_format="NHWC")
    if op == "conv2d":
        case = Case("conv2d", params, {"input": x, "filters": w}, dy, "float32", 3)
    else:
        case = Case("conv2d_backprop_filter", dict(filter_sizes=list(w.shape), **params),
                    {"input": x, "out_backprop": dy}, rng.standard_normal(w.shape).astype("float32"), "float32", 3)
    outcome = run_case(case)
    assert outcome.status == PASS, outcome_summary(outcome)
    # the comparison is not vacuous: float32 rounding differences are present
    assert max(d.max_abs_err for d in outcome.diffs) > 0


def test_relative_error_against_an_expected_zero_is_infinite_not_the_largest_float():
    from crosscheck.compare import compare
    expected = np.zeros(4)
    diff = compare(np.array([0.0, 0.0, 1.0, 0.0]), expected, tolerance("float64", 1, expected), tensor="y", path="tape")
    assert diff.max_rel_err == np.inf and diff.mismatched == 1


@pytest.mark.parametrize("actual, expected, mismatched", [
    (np.array(1.6), np.array(1.5), 1),                                  # a 0-d tensor (a loss)
    (np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), 0),              # NaN equals NaN
    (np.array([np.inf, -np.inf]), np.array([np.inf, -np.inf]), 0),      # the same infinities
    (np.array([np.inf, 1.0]), np.array([-np.inf, 1.0]), 1),             # opposite infinities
    (np.array([np.nan, 1.0]), np.array([0.0, 1.0]), 1),                 # NaN against a number
    (np.array([5.0, 1.0]), np.array([np.inf, 1.0]), 1),                 # a number against inf
    (np.zeros((0, 3)), np.zeros((0, 3)), 0),                            # empty
    (np.zeros((2, 3)), np.zeros((3, 2)), 6),                            # another shape
    (None, np.zeros(2), 2),                                             # no value
])
def test_compare_handles_scalars_nonfinite_values_and_empty_tensors(actual, expected, mismatched):
    from crosscheck.compare import compare, within
    diff = compare(actual, expected, tolerance("float64", 1, expected), tensor="y", path="tape")
    assert diff.mismatched == mismatched and diff.passed == (mismatched == 0)
    # the diagnosis's quick check says the same
    assert within(actual, expected, tolerance("float64", 1, expected)) == (diff.passed, diff.max_abs_err)
    if actual is None or actual.shape != expected.shape:
        return
    if mismatched:
        assert diff.max_abs_err == np.inf or diff.max_abs_err > 0.05
        assert diff.worst[0]["index"] == ([] if actual.ndim == 0 else [0])
