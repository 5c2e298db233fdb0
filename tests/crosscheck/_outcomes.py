"""Hand-made Outcomes for the report and replay tests (no TensorFlow involved)."""
import numpy as np

from crosscheck.case import IMPLEMENTATION_ERROR, MISMATCH, PASS, REFERENCE_UNSUPPORTED, Case, Outcome, TensorDiff


def conv_case(dtype="float32", seed=7) -> Case:
    rng = np.random.default_rng(seed)
    return Case(op="conv2d",
                params={"strides": [2, 1], "padding": [[0, 0], [1, 0], [0, 2], [0, 0]], "dilations": [1, 1],
                        "data_format": "NHWC"},
                arrays={"input": rng.standard_normal((2, 5, 4, 3)).astype(dtype),
                        "filters": rng.standard_normal((3, 2, 3, 2)).astype(dtype)},
                dy=rng.standard_normal((2, 2, 5, 2)).astype(dtype), dtype=dtype, seed=seed)


def mismatch_outcome(impl="broken_mod") -> Outcome:
    spatial = [[[0] * 4 for _ in range(5)] for _ in range(3)]
    spatial[1][3][2] = spatial[1][4][0] = 1
    diff = TensorDiff(tensor="d_input", path="tape", passed=False, shape=(2, 5, 4, 3), expected_shape=(2, 5, 4, 3),
                      atol=1.5e-6, rtol=1.2e-5, max_abs_err=0.8125, max_rel_err=3.25, mismatched=2, total=120,
                      worst=[{"index": [0, 3, 2, 1], "actual": 0.625, "expected": -0.1875, "abs_err": 0.8125},
                             {"index": [1, 4, 0, 1], "actual": 1.5, "expected": 1.25, "abs_err": 0.25}],
                      channel_map=[0, 2, 0], spatial_map=spatial,
                      diagnosis=[{"label": "kernel not flipped", "evidence": "matches the unflipped correlation"}])
    ok = TensorDiff(tensor="y", path="tape", passed=True, shape=(2, 2, 5, 2), expected_shape=(2, 2, 5, 2),
                    atol=1e-6, rtol=1e-5, max_abs_err=2e-7, max_rel_err=1e-7, total=40)
    return Outcome(case=conv_case(), status=MISMATCH, paths=["tape", "raw"], diffs=[ok, diff], impl=impl,
                   notes=["reference computed in NHWC"])


def error_outcome() -> Outcome:
    return Outcome(case=conv_case("float64"), status=IMPLEMENTATION_ERROR,
                   message='Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad filters')


def unsupported_outcome() -> Outcome:
    return Outcome(case=conv_case("float64"), status=REFERENCE_UNSUPPORTED, paths=[],
                   message="TensorFlow CPU has no float64 grouped-conv gradient")


def pass_outcome() -> Outcome:
    return Outcome(case=conv_case(), status=PASS, paths=["tape", "raw", "keras"])
