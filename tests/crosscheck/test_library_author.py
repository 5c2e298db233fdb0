"""A library author's pytest test: a conv2d that supports only some configurations, checked in at most
10 lines with crosscheck.strategies and check_op; green on the correct library, failing on the buggy one,
and the failure's replay line, run as printed, reproduces it (tests/crosscheck/library_author/).

tinyconv (library_author/correct) supports NHWC float32, strides 1-2, SAME/VALID, no dilation, no
groups, no bias; library_author/buggy is the same with one real bug: SAME padding's odd pixel put
before (top/left), where TensorFlow puts it after (bottom/right).
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import crosscheck
from crosscheck import callables, strategies
from crosscheck.api import _user_seed, check_op

HERE = Path(__file__).parent / "library_author"
USER_TEST = HERE / "conv2d_check.py"
ROOT = Path(crosscheck.__file__).resolve().parents[1]
#: the user's own hypothesis profile: check_op takes its max_examples
USER_CONFTEST = ("from hypothesis import settings\n"
                 "settings.register_profile('small', max_examples=12)\nsettings.load_profile('small')\n")


def _library(variant: str):
    sys.path.insert(0, str(HERE / variant))
    try:
        for name in [m for m in sys.modules if m == "tinyconv" or m.startswith("tinyconv.")]:
            del sys.modules[name]
        import tinyconv  # deferred: the variant's folder is on sys.path only here
        return tinyconv
    finally:
        sys.path.remove(str(HERE / variant))
        for name in [m for m in sys.modules if m == "tinyconv" or m.startswith("tinyconv.")]:
            del sys.modules[name]


def test_the_bug_is_real_by_known_math():
    """SAME, 2x2 ones kernel, stride 1 on 3x3: TensorFlow pads one row and column after, so the first
    output sums x[0:2, 0:2] and the last one x[2, 2] alone."""
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    w = np.ones((2, 2, 1, 1), np.float32)
    good, bad = (_library(v).conv2d(x, w, strides=1, padding="SAME") for v in ("correct", "buggy"))
    assert good[0, 0, 0, 0] == 1 + 2 + 4 + 5 and good[0, 2, 2, 0] == 9
    assert bad[0, 0, 0, 0] == 1 and bad[0, 2, 2, 0] == 5 + 6 + 8 + 9


def _run_user_test(tmp_path: Path, variant: str) -> subprocess.CompletedProcess:
    (tmp_path / USER_TEST.name).write_text(USER_TEST.read_text())
    (tmp_path / "conftest.py").write_text(USER_CONFTEST)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE / variant)])}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-o", "addopts=", USER_TEST.name],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_library_authors_test_is_short_and_its_failure_replays(tmp_path):
    assert len(USER_TEST.read_text().splitlines()) <= 10
    green = _run_user_test(tmp_path, "correct")
    assert green.returncode == 0, green.stdout[-3000:]
    assert "12 cases in 1 test: 12 passed" in green.stdout   # examples counted, the user's profile honoured

    red = _run_user_test(tmp_path, "buggy")
    assert red.returncode == 1, red.stdout[-3000:]
    assert "api.py" not in red.stdout and "crosscheck/__init__.py" not in red.stdout   # __tracebackhide__
    assert "same-padding-wrong-side" in red.stdout
    replay = [line.split("Replay: ", 1)[1] for line in red.stdout.splitlines() if "Replay: " in line]
    assert replay and replay[0].startswith("python -c ")

    def rerun(variant: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE / variant)])}
        return subprocess.run(["bash", "-c", replay[0]], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
    again = rerun("buggy")
    assert again.returncode == 1 and "differs from TensorFlow" in again.stderr, again.stderr[-2000:]
    fixed = rerun("correct")
    assert fixed.returncode == 0 and fixed.stdout.strip() == "pass", fixed.stderr[-2000:]

    assert f"Replay: {replay[0]}" in again.stderr   # the rerun names the same file, not a copy of it
    # the replayed failure's standalone snippet (assert_matches_tf's report) runs as printed too
    lines = again.stderr.splitlines()
    start = lines.index("Standalone snippet:") + 1
    snippet = "\n".join(line[2:] for line in lines[start:] if line.startswith("  ") or not line)
    assert "import tinyconv.conv" in snippet
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE / "buggy")])}
    ran = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert ran.returncode == 1 and "differs from TensorFlow" in ran.stderr, ran.stderr[-2000:]


def test_check_op_takes_atol_and_rtol():
    """A forward off by 1e-3 everywhere fails under the policy's float64 tolerance and passes with atol=1e-2."""
    def relu(features):
        return np.maximum(features, 0) + 1e-3
    def relu_backward(dy, features):
        return dy * (features > 0)
    cases = strategies.cases("relu", dtypes=("float64",))
    with pytest.raises(AssertionError, match="3 of 3 cases of relu fail"):
        check_op("relu", relu, relu_backward, cases=cases, examples=3)
    assert all(o.status == "pass" for o in check_op("relu", relu, relu_backward, cases=cases, examples=3, atol=1e-2))
    with pytest.raises(ValueError, match="atol must be a finite number >= 0, got -1"):
        check_op("relu", relu, relu_backward, cases=cases, examples=1, atol=-1)


@settings(max_examples=25, database=None)
@given(case=strategies.conv2d(strides=(1, (1, 2)), padding=("VALID", ((0, 1), (2, 0))), layout="NCHW",
                              dtypes=("float64",), batch=(2,), channels=(3,), groups=(1,), bias=True, empty=False))
def test_restricted_conv2d_cases_keep_to_the_restrictions(case):
    assert case.params["strides"] in ([1, 1], [1, 2]) and case.params["dilations"] in ([1, 1], [2, 2], [3, 3], [1, 2],
                                                                                       [1, 3], [2, 1], [2, 3], [3, 1], [3, 2])
    assert case.params["padding"] in ("VALID", [[0, 0], [0, 0], [0, 1], [2, 0]])
    x, w = case.arrays["input"], case.arrays["filters"]
    assert case.params["data_format"] == "NCHW" and case.dtype == "float64" and x.shape[:2] == (2, 3)
    assert w.shape[2] == 3 and case.arrays["bias"].shape == (w.shape[3],) and case.dy.shape[:2] == (2, w.shape[3])
    assert 0 not in x.shape


@pytest.mark.parametrize("restriction, message", [
    ({"stride": 1}, ("conv2d has no restriction 'stride'; valid: batch, bias, channels, dilations, dtypes, empty, "
                     "groups, layout, padding, strides")),
    ({"strides": (1, 0)}, "strides: 0 is neither an int >= 1 nor an (h, w) pair of them"),
    ({"padding": "same"}, "padding: 'same' is not one of SAME, VALID, EXPLICIT, an int or ((top, bottom), (left, right))"),
    ({"layout": "NWHC"}, "layout: 'NWHC' is not one of NHWC, NCHW"),
    ({"dtypes": ("float16",)}, "dtypes: 'float16' is not one of float32, float64"),
    ({"bias": "no"}, "bias must be True or False, got 'no'"),
    ({"batch": (-1,)}, "batch must be ints >= 0, got (-1,)"),
    ({"channels": 3, "groups": 2}, "channels (3,) and groups (2,): no channel count is a multiple of a group count"),
])
def test_unknown_restrictions_and_values_are_refused(restriction, message):
    with pytest.raises(ValueError) as raised:
        strategies.conv2d(**restriction)
    assert str(raised.value) == message


def test_restrictions_only_where_the_op_has_them():
    with pytest.raises(ValueError, match="dense has no restriction 'layout'; valid: bias, dtypes"):
        strategies.dense(layout="NHWC")
    with pytest.raises(ValueError, match="padding: 'EXPLICIT' is not one of SAME, VALID$"):
        strategies.avg_pool2d(padding="EXPLICIT")


def test_replay_line_of_a_function_that_cannot_be_imported_says_how_to_replay():
    impl = callables.impl_name(lambda input: input, None, atol=0.5)
    assert impl == "callables ?test_replay_line_of_a_function_that_cannot_be_imported_says_how_to_replay.<locals>.<lambda> - atol=0.5"
    line = callables.replay_line("/r/case.json", impl)
    assert line.startswith('crosscheck.replay_case("/r/case.json", forward, atol=0.5)  # in Python, with your functions')
    assert not line.startswith("python")   # names no module


def test_replay_line_names_the_importable_module():
    assert callables.impl_name(np.maximum, None) == "callables numpy:maximum -"
    assert callables.impl_name(np.add.reduce, None) == "callables ?ufunc.reduce -"   # a builtin method: no importable name
    impl = callables.impl_name(callables.impl_name, callables.importable_name, rtol=0.1)
    assert callables.replay_line("/r/c.json", impl) == (
        "python -c 'import crosscheck, crosscheck.callables; print(crosscheck.replay_case(\"/r/c.json\", "
        "crosscheck.callables.impl_name, crosscheck.callables.importable_name, rtol=0.1).status)'")


def test_the_seed_follows_the_users_hypothesis_seed(monkeypatch):
    import hypothesis.core  # deferred: only to set pytest's --hypothesis-seed as its plugin does
    assert _user_seed(None) == 0 and _user_seed(7) == 7
    monkeypatch.setattr(hypothesis.core, "global_force_seed", 1234)
    assert _user_seed(None) == 1234 and _user_seed(7) == 7


@settings(max_examples=15, database=None)
@given(pool=strategies.max_pool2d(ksize=(2, 5), padding=((3, 3), (0, 0)), layout="NHWC"),
       grouped=strategies.conv2d(channels=(4, 6), groups=2, layout="NHWC"))
def test_one_pads_value_and_grouped_channels(pool, grouped):
    """One ((top, bottom), (left, right)) is one padding, kept below max_pool2d's window as TensorFlow
    requires; a grouped conv draws the allowed input channel counts."""
    assert pool.params["padding"] == [[0, 0], [3, 3], [0, 0], [0, 0]] and pool.params["ksize"] == [5, 5]
    x, w = grouped.arrays["input"], grouped.arrays["filters"]
    assert x.shape[3] in (4, 6) and w.shape[2] * 2 == x.shape[3]


def test_check_op_refuses_a_bad_example_count_and_cases_of_another_op():
    tinyconv = _library("correct")
    with pytest.raises(ValueError, match="examples must be an int >= 1, got 0"):
        check_op("conv2d", tinyconv.conv2d, tinyconv.conv2d_backward, examples=0)
    with pytest.raises(ValueError, match="cases: drew a case of relu, not of conv2d"):
        check_op("conv2d", tinyconv.conv2d, tinyconv.conv2d_backward, cases=strategies.cases("relu"), examples=1)
