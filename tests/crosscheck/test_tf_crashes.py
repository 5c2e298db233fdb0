"""A TensorFlow crash costs one case, not the run (crosscheck/supervision.py), and the backend a run
uses is the one its report names (crosscheck/oracle/backend.py).

TensorFlow is made to abort inside a reference computation (or an error-parity call) once, by the
wrappers of _tf_faults.py, which the fork server that every shard and ``check`` worker is forked
from has loaded (conftest.py), armed by an environment variable around one command run in this
process (test_cli.crosscheck); the run must finish with exit 1, every other case in the report, the
crash recorded with its replay file. What depends on how TensorFlow starts (the backend) is run in
a new process.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _tf_faults import VARIABLE as FAULT, fault
from crosscheck.oracle.backend import EIGEN, VARIABLE, requested
from crosscheck.supervision import Resume, crash_after, fatal_line
from test_cli import crosscheck

ROOT = Path(__file__).resolve().parents[2]

def _run(tmp_path, monkeypatch, where: str, jobs: str, examples: int = 12, extra=()):
    monkeypatch.setenv(FAULT, fault(where, tmp_path / "aborted"))
    proc = crosscheck(["run", "--ops", "relu", "sigmoid", "--examples", str(examples), "-j", jobs, "--no-large",
                       "--report", "rep", *extra], tmp_path, tmp_path)
    monkeypatch.delenv(FAULT)
    return proc, json.loads((tmp_path / "rep" / "report.json").read_text())


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_tensorflow_abort_in_a_reference_costs_one_case(tmp_path, monkeypatch, jobs):
    proc, doc = _run(tmp_path, monkeypatch, "reference", jobs)
    assert (tmp_path / "aborted").exists(), "the injected abort never ran"
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    counts = doc["summary"]["counts"]
    assert counts["reference-crash"] == 1 and counts["pass"] == 2 * 2 * 12 - 1, counts   # every other case
    crashed = [o for o in doc["outcomes"] if o["status"] == "reference-crash"]
    assert crashed[0]["op"] == "relu" and crashed[0]["dtype"] == "float32"
    assert "SIGABRT" in crashed[0]["message"] and "Check failed: injected by the test" in crashed[0]["message"]
    replay = tmp_path / (crashed[0]["replay"]["file"] if isinstance(crashed[0]["replay"], dict) else crashed[0]["replay"])
    assert replay.is_file() and json.loads(replay.read_text())["case"]["op"] == "relu"
    assert doc["summary"]["error_parity"]["failed"] == 0 and doc["summary"]["error_parity"]["checked"] > 0
    assert "reference-crash" in proc.stdout


def test_a_tensorflow_abort_in_one_shard_of_a_campaign_costs_one_case(tmp_path, monkeypatch):
    """--shard K/N (a campaign over machines): the shard's report directory holds its attempts as one
    shard, which `crosscheck merge` takes like any other."""
    proc, doc = _run(tmp_path, monkeypatch, "reference", "1", extra=("--shard", "1/2"))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert doc["shard"] == "1/2" and doc["summary"]["counts"]["reference-crash"] == 1
    other = crosscheck(["run", "--ops", "relu", "sigmoid", "--examples", "12", "--no-large", "--shard", "2/2",
                        "--report", "rep2"], tmp_path, tmp_path)
    assert other.returncode == 0, other.stdout[-3000:]
    merged = crosscheck(["merge", "rep", "rep2", "--report", "whole"], tmp_path, tmp_path)
    assert merged.returncode == 1, merged.stdout[-3000:] + merged.stderr[-3000:]
    whole = json.loads((tmp_path / "whole" / "report.json").read_text())
    assert whole["summary"]["counts"]["reference-crash"] == 1 and whole["summary"]["counts"]["pass"] == 2 * 2 * 12 - 1


def test_a_tensorflow_abort_in_error_parity_costs_one_call(tmp_path, monkeypatch):
    proc, doc = _run(tmp_path, monkeypatch, "parity", "1", examples=3)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    failed = [p for p in doc["error_parity"] if not p["passed"]]
    assert len(failed) == 1 and failed[0]["op"] == "relu" and "killed by signal SIGABRT" in failed[0]["problem"]
    assert doc["summary"]["counts"]["pass"] == 2 * 2 * 3          # the fuzzed cases all ran
    parity_relu = [p for p in doc["error_parity"] if p["op"] == "relu"]
    assert len(parity_relu) > 1 and all(p["passed"] for p in parity_relu if p is not failed[0])


def test_the_unit_a_shard_died_in_is_its_last_started_one(tmp_path):
    entries = [{"kind": "meta"}, {"kind": "started", "key": "a"}, {"kind": "outcome"}, {"kind": "started", "key": "b"}]
    assert crash_after(entries) == (["a"], "b")
    assert crash_after([{"kind": "meta"}]) == ([], None)
    text = "I0000 noise\nF0000 00:00 tensor_format.h:428] Check failed: index >= 0\n*** Check failure stack trace: ***\n    @ 0x1 f\n"
    assert fatal_line(text).startswith("F0000") and "Check failed" in fatal_line(text)
    resume = Resume(done={"a"}, crashed={"b": {"how": "killed by signal SIGABRT", "line": "F0000 x"}})
    assert resume.guard("a", None, lambda: pytest.fail("a done unit ran again")) is None
    crashed = resume.guard("b", "the case", lambda: pytest.fail("the crashing unit ran again"))
    assert crashed.status == "reference-crash" and "SIGABRT" in crashed.message and crashed.case == "the case"
    assert resume.guard("c", None, lambda: "ran") == "ran"


@pytest.mark.parametrize("value,backend", [("0", "eigen"), ("1", "onednn")])
def test_the_report_names_the_backend_in_force(tmp_path, value, backend):
    env = {**os.environ, VARIABLE: value, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "crosscheck", "run", "--ops", "conv2d", "--examples", "4", "--dtype",
                           "float32", "--no-large", "--report", "rep"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["tensorflow"]["backend"] == backend and doc["tensorflow"]["chosen_by"] == f"{VARIABLE}={value}"
    assert f"{backend} kernels" in proc.stdout


def test_the_backend_option_overrides_the_environment(tmp_path):
    env = {**os.environ, VARIABLE: "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "crosscheck", "run", "--ops", "relu", "--examples", "2",
                           "--tf-backend", "eigen", "--report", "rep"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["tensorflow"]["backend"] == "eigen" and doc["tensorflow"]["chosen_by"] == "--tf-backend eigen"


def test_both_backends_lists_where_they_disagree_with_a_verdict(tmp_path):
    """float32 conv2d on an empty batch: oneDNN returns its input unchanged (quirk onednn-empty-tensor);
    the run's own verdict (Eigen) passes, the disagreement is listed with who is right. The oneDNN
    side is a worker the run starts as a new process either way; the run itself goes in this process
    where its TensorFlow (and its fork server's, where the shards are forked) is Eigen's."""
    args = ["run", "--ops", "conv2d", "--dtype", "float32", "--examples", "30", "--no-large", "--no-error-parity",
            "--tf-backend", "both", "--report", "rep"]
    if requested() == EIGEN:
        proc = crosscheck(args, tmp_path, tmp_path)
    else:
        proc = subprocess.run([sys.executable, "-m", "crosscheck", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=900, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stdout[-3000:]
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    found = doc["summary"]["backend_disagreements"]
    assert found and "TensorFlow's backends disagree" in proc.stdout
    shapes = [t for d in found for t in d["tensors"] if "shapes:" in t["verdict"]]
    assert shapes and all(t["verdict"].startswith("Eigen is right, oneDNN is wrong") for t in shapes)
    assert all((tmp_path / d["replay"]).is_file() for d in found)


def test_a_crashed_xdist_worker_does_not_hang_the_suite(tmp_path):
    """The suite's xdist settings (pyproject.toml: --dist loadscope, --max-worker-restart 0): a test
    that kills its worker fails the session at once instead of deadlocking a replaced worker."""
    (tmp_path / "test_a.py").write_text("def test_pass_1():\n    pass\n\ndef test_pass_2():\n    pass\n")
    (tmp_path / "test_b.py").write_text("import os\n\ndef test_crash():\n    os.abort()\n\ndef test_after():\n    pass\n")
    (tmp_path / "test_c.py").write_text("def test_pass_3():\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = " + _ADDOPTS + "\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "test_crash" in proc.stdout, proc.stdout[-2000:]


def _pyproject_addopts() -> str:
    import tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]


_ADDOPTS = _pyproject_addopts()


def test_a_tensorflow_abort_in_a_check_worker_is_not_blamed_on_the_users_code(tmp_path, monkeypatch):
    """``crosscheck check`` computes the reference in the worker that runs the user's file: a crash
    while TensorFlow computes is a reference-crash, not an implementation-crash of the user's code."""
    monkeypatch.setenv(FAULT, fault("reference", tmp_path / "aborted", dtype="float64"))
    proc = crosscheck(["check", str(ROOT / "tests/crosscheck/cs231n_reference.py"), "--functions", "relu_forward",
                       "relu_backward", "--examples", "4", "--report", "rep"], tmp_path, tmp_path)
    monkeypatch.delenv(FAULT)
    assert (tmp_path / "aborted").exists(), "the injected abort never ran"
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    statuses = [o["status"] for o in doc["outcomes"]]
    assert statuses.count("reference-crash") == 1 and "implementation-crash" not in statuses, statuses
    assert "tensorflow-crash" in proc.stdout
    expected = "onednn" if os.environ.get(VARIABLE) == "1" else "eigen"   # the test process's, inherited
    assert doc["tensorflow"]["backend"] == expected and f"{expected} kernels" in proc.stdout


def test_a_shard_that_dies_of_crosschecks_own_error_is_exit_3_with_its_traceback(tmp_path, monkeypatch):
    """Not TensorFlow: crosscheck itself raised in a shard. Exit 3, the traceback shown, the log kept,
    and the other shard's outcomes in the report."""
    monkeypatch.setenv(FAULT, fault("own-error", tmp_path / "raised"))
    proc = crosscheck(["run", "--ops", "relu", "sigmoid", "--examples", "4", "--dtype", "float32", "-j", "2",
                       "--no-large", "--no-error-parity", "--report", "rep"], tmp_path, tmp_path)
    monkeypatch.delenv(FAULT)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "stopped before its end" in proc.stderr and "injected by the test" in proc.stderr
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["ok"] is False and doc["summary"]["ops"]["sigmoid"]["pass"] == 4
    assert list((tmp_path / "rep" / ".jobs").glob("shard*.log"))


def test_where_tensorflow_was_imported_first_the_backend_in_force_is_reported_not_changed():
    """A user's suite that imports TensorFlow before crosscheck: crosscheck cannot choose any more; it
    reports what TensorFlow runs, and refuses to claim another backend when asked for one."""
    code = ("import tensorflow\n"
            "from tensorflow.python.util import _pywrap_util_port\n"
            "from crosscheck.oracle import backend\n"
            "actual = 'onednn' if _pywrap_util_port.IsMklEnabled() else 'eigen'\n"
            "assert backend.choose() == actual and backend.describe()['backend'] == actual\n"
            "assert backend.describe()['chosen_by'].startswith(\"TensorFlow's own default\")\n"
            "other = 'eigen' if actual == 'onednn' else 'onednn'\n"
            "try:\n"
            "    backend.choose(other)\n"
            "except backend.BackendError as e:\n"
            "    print('refused', e)\n")
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          cwd=ROOT)
    assert proc.returncode == 0 and "refused" in proc.stdout, proc.stdout + proc.stderr[-2000:]
