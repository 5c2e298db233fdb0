"""The pytest plugin's report: every public helper records; under hypothesis only the final, minimal
falsifying example is kept (marked, with the first failing example's shapes), not every shrink step."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crosscheck import forking

ROOT = Path(__file__).resolve().parents[2]

INNER = '''
import numpy as np
from hypothesis import given, settings, strategies as st

import crosscheck
from crosscheck.case import Case


def relu(features):
    return np.maximum(features, 0)


def bad_backward(dy, features):
    return (dy * (features > 0) * 2.0,)   # a doubled gradient


def good_backward(dy, features):
    return (dy * (features > 0),)


@settings(max_examples=30, deadline=None, database=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), seed=st.integers(0, 2**31 - 1))
def test_relu_under_hypothesis(n, m, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, m))
    case = Case("relu", {}, {"features": x}, rng.standard_normal((n, m)), "float64", seed)
    crosscheck.assert_matches_tf(case, relu, bad_backward)


def test_plain_call_is_recorded():
    rng = np.random.default_rng(0)
    case = Case("relu", {}, {"features": rng.standard_normal((2, 3))}, rng.standard_normal((2, 3)), "float64", 0)
    crosscheck.assert_matches_tf(case, relu, good_backward)
'''


def _pytest_main(args: list) -> None:
    """A forked child's body: ``pytest ARGS``, its exit status the child's."""
    sys.exit(pytest.main(args))


def pytest_session(args: list, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m pytest ARGS`` in ``cwd``, in a process forked from this process's fork server
    (:mod:`crosscheck.forking`: TensorFlow and crosscheck imported, no TensorFlow op run), else a new
    ``python``; stdout and stderr together, as both ``stdout`` and ``stderr``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = cwd / "pytest-session.log"
    saved = os.getcwd()
    os.chdir(cwd)
    try:
        child = forking.start(_pytest_main, (args,), output=log, environ=env, name="crosscheck-test-session")
    finally:
        os.chdir(saved)
    if child is None:
        return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=600)
    code = child.wait(timeout=600)
    return subprocess.CompletedProcess(["pytest", *args], code, log.read_text(), log.read_text())


def test_only_the_minimal_hypothesis_example_is_kept(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER)
    r = pytest_session(["-q", "-p", "no:cacheprovider", "test_inner.py", "--crosscheck-report=rep", "-p",
                        "no:randomly"], tmp_path)
    assert r.returncode == 1, r.stdout[-3000:]
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    failing = [o for o in doc["outcomes"] if o["status"] == "mismatch"]
    assert len(failing) == 1, [o["shapes"] for o in failing]
    (o,) = failing
    assert o["minimal"] is True and o["test"].endswith("test_relu_under_hypothesis")
    assert o["failing_examples_tried"] >= 1 and "features" in o["first_failing_shapes"]
    assert o["shapes"]["features"] == [1, 1]            # hypothesis shrinks to the smallest case
    assert len(list((tmp_path / "rep" / "cases").glob("*.json"))) == 1
    assert doc["summary"]["counts"]["pass"] >= 1        # the plain test's call was recorded too
    # the shrunk case has one element: its diagnosis is the finite-difference verdict, never a scale
    # factor (any ratio fits one element)
    assert "Likely cause: arbiter" in r.stdout and "scale-factor" not in r.stdout
