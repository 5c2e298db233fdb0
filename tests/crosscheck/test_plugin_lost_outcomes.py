"""The pytest plugin never reports OK for a session that lost outcomes: a test that kills its process
(``os.abort()``) after others recorded mismatches, under pytest-xdist and without it. The outcomes
are hand-made (no TensorFlow), so each pytest session takes a few seconds."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crosscheck.cli import main as crosscheck_main
from crosscheck.report import ReportDir, ReportSession, rebuild
from crosscheck.report.journal import Journal
from crosscheck.report.pytest_journals import open_worker_journal, session_entries, worker_journal_path
from crosscheck.report.report_dir import read_journal
from crosscheck.report_names import JOURNAL_NAME

from _outcomes import mismatch_outcome, pass_outcome

ROOT = Path(__file__).resolve().parents[2]

ABORTING_TESTS = '''
import os
import pytest
from hypothesis import given, settings, strategies as st
from _outcomes import mismatch_outcome, pass_outcome
from crosscheck.pytest_plugin import assert_outcome_ok, record


def test_a_pass():
    record(pass_outcome())


@pytest.mark.parametrize("seed", range(3))
def test_mismatch(seed):
    outcome = mismatch_outcome()
    outcome.case.seed = seed      # three different cases: three replay files
    assert_outcome_ok(outcome)


calls = []


@settings(max_examples=20, deadline=None, database=None)
@given(n=st.integers(0, 1000))
def test_z_abort(n):
    calls.append(n)
    if len(calls) == 2:   # hypothesis calls again after the first failure (to shrink or to replay it)
        os.abort()
    outcome = mismatch_outcome()
    outcome.case.seed = 100 + n
    assert_outcome_ok(outcome)
'''

STALE_OK = {"format": "crosscheck-report", "version": 1, "ok": True, "problems": [], "outcomes": []}


def _rebuilt(report: Path):
    """(session, complete) of the report rebuilt from ``report``'s journals, as `crosscheck report` does."""
    owner = ReportDir.reopen(report, "crosscheck report")
    try:
        rebuilt = rebuild(owner)
    finally:
        owner.close()
    return rebuilt.session, rebuilt.complete


def _run_pytest(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_lost.py").write_text(ABORTING_TESTS)
    report = tmp_path / "rep"
    report.mkdir()
    (report / "report.json").write_text(json.dumps(STALE_OK))   # an earlier session's verdict
    (report / ".crosscheck-manifest").write_text('"report.json"\n')   # which that session wrote
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *options,
           f"--crosscheck-report={report}", "--rootdir", str(tmp_path), "-c", os.devnull, "test_lost.py"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(ROOT)])}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False)


def _assert_lost_nothing(doc: dict, report: Path) -> None:
    """Not OK; the three mismatches and the failing example of the hypothesis test the process died
    in listed, each replay file referenced and every one in cases/ named."""
    assert doc["ok"] is False and not doc.get("in_progress")
    assert doc["summary"]["counts"]["mismatch"] == 4 and doc["summary"]["counts"]["pass"] == 1
    referenced = {o["replay"]["file"] for o in doc["outcomes"] if o["status"] == "mismatch"}
    assert len(referenced) == 4 and all(Path(f).is_file() for f in referenced)
    assert referenced == {str(p) for p in (report / "cases").glob("*.json")}
    by_test = {o["test"]: o for o in doc["outcomes"]}
    assert set(by_test) == {f"test_lost.py::test_mismatch[{i}]" for i in range(3)} | {"test_lost.py::test_z_abort"}
    died_in = by_test["test_lost.py::test_z_abort"]
    assert died_in["failing_examples_tried"] == 1 and "process died inside this hypothesis test" in died_in["notes"][-1]


def test_xdist_worker_that_crashes_loses_nothing_and_fails_the_report(tmp_path):
    # one file, one worker (loadfile): the worker that aborts is the one that recorded everything
    proc = _run_pytest(tmp_path, "-p", "xdist", "-n", "2", "--dist", "loadfile", "--max-worker-restart", "0")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    report = tmp_path / "rep"
    doc = json.loads((report / "report.json").read_text())
    _assert_lost_nothing(doc, report)
    (crash,) = [p for p in doc["problems"] if p.startswith("pytest-xdist worker")]
    assert "crashed" in crash and "test_lost.py::test_z_abort" in crash
    assert "FAILED: pytest-xdist worker" in out and "test_z_abort" in out
    assert sorted(p.name for p in (report / ".jobs").glob("pytest-*.jsonl")) == ["pytest-gw0.jsonl",
                                                                                "pytest-gw1.jsonl"]

    # the same verdict rebuilt from the journals, as `crosscheck report DIR` does
    session, complete = _rebuilt(report)
    assert complete and not session.ok and any("crashed" in p for p in session.problems)
    assert sorted(o["status"] for o in session.outcomes) == ["mismatch"] * 4


def test_session_killed_in_a_test_leaves_an_in_progress_report_and_its_journal(tmp_path, capsys):
    proc = _run_pytest(tmp_path)
    assert proc.returncode == -6, (proc.stdout + proc.stderr)[-3000:]   # SIGABRT
    report = tmp_path / "rep"
    marker = json.loads((report / "report.json").read_text())
    assert marker["in_progress"] is True and marker["ok"] is False   # not the earlier session's OK
    assert "crosscheck report" in marker["problems"][0]
    assert (report / JOURNAL_NAME).is_file()

    assert crosscheck_main(["report", str(report)]) == 1
    assert "test_z_abort" in capsys.readouterr().out
    doc = json.loads((report / "report.json").read_text())
    _assert_lost_nothing(doc, report)
    assert doc["interrupted"] is True
    assert any("test_lost.py::test_z_abort" in p and "did not finish" in p for p in doc["problems"])


def _session_journal(report: Path, workers: list[str]) -> Journal:
    (report / "cases").mkdir(parents=True)
    journal = Journal(report / JOURNAL_NAME)
    journal.append({"kind": "meta", "command": "pytest -n 2"})
    for w in workers:
        journal.append({"kind": "worker", "worker": w})
    return journal


def _worker_journal(report: Path, worker: str, outcomes, tests, finished: bool) -> None:
    session = ReportSession(report / "cases")
    session.journal = open_worker_journal(worker_journal_path(report, worker), worker)
    for test, outcome in zip(tests, outcomes):
        session.journal.append({"kind": "test", "test": test})
        session.add(outcome)
    if finished:
        session.journal.append({"kind": "end"})
    session.journal.close()


def test_killed_controller_rebuilds_from_every_worker_journal(tmp_path):
    """The whole session killed (a CI time limit): the controller's journal has no end line, one
    worker finished its journal, the other did not. The rebuilt report has both workers' outcomes,
    names the unfinished one and the test it was in, and is interrupted."""
    report = tmp_path / "rep"
    _session_journal(report, ["gw0", "gw1"]).close()
    _worker_journal(report, "gw0", [pass_outcome(), mismatch_outcome()], ["t.py::a", "t.py::b"], finished=True)
    _worker_journal(report, "gw1", [pass_outcome()], ["t.py::c"], finished=False)
    session, complete = _rebuilt(report)
    assert not complete and not session.ok
    assert session.summary["counts"]["pass"] == 2 and session.summary["counts"]["mismatch"] == 1
    (problem,) = session.run_problems
    assert problem.startswith("pytest-xdist worker gw1 did not finish") and "t.py::c" in problem


def test_worker_journals_that_lie_are_problems_not_reads(tmp_path):
    """A worker line whose id is a path, a worker that never wrote its journal, one whose journal is
    not UTF-8, one named twice whose journal ended but whom xdist saw crash, a worker-down line with
    a list for a worker: each a problem or ignored, never a traceback; nothing outside DIR/.jobs is read."""
    report = tmp_path / "rep"
    outside = tmp_path / "outside.jsonl"
    Journal(outside).append({"kind": "outcome", "summary": {}, "outcome": None})
    journal = _session_journal(report, ["../../outside", "gw3", "gw4", "gw5", "gw4"])
    journal.append({"kind": "worker-down", "worker": "gw4", "error": "Not properly terminated\nmore"})
    journal.append({"kind": "worker-down", "worker": ["gw4"], "error": None})
    journal.append({"kind": "end"})
    journal.close()
    _worker_journal(report, "gw4", [pass_outcome()], ["t.py::d"], finished=True)
    worker_journal_path(report, "gw5").write_bytes(b'{"kind": "meta"}\n\xff\xfe\n')
    entries, problems = session_entries(report, read_journal(report))
    assert [e["summary"]["counts"]["pass"] for e in entries if e.get("kind") == "outcome"] == [1]   # gw4's, once
    assert len(problems) == 4, problems
    assert "'../../outside' is not an xdist worker id" in problems[0]
    assert "gw3" in problems[1] and "left no journal" in problems[1]
    assert problems[2] == "pytest-xdist worker gw4 crashed after its last test (Not properly terminated)"
    assert problems[3].startswith("pytest-xdist worker gw5")   # unreadable, or read up to the bad line: unfinished


def test_a_run_journal_of_crosscheck_run_gains_nothing(tmp_path):
    """Journals of other runs (no test or worker lines) come back unchanged, with no problems."""
    report = tmp_path / "rep"
    journal = _session_journal(report, [])
    journal.append({"kind": "started", "key": "relu:float64:0#0"})
    journal.close()
    entries = read_journal(report)
    assert session_entries(report, entries) == (entries, [])


@pytest.mark.parametrize("worker_id", ["", "a/b", "..", "x" * 65, 3])
def test_worker_journal_path_refuses_what_is_not_a_worker_id(tmp_path, worker_id):
    with pytest.raises(ValueError, match="worker_id"):
        worker_journal_path(tmp_path, worker_id)
