"""pytest integration: record outcomes, fail with the diff report, write the session's reports.

In a test::

    from crosscheck.pytest_plugin import assert_outcome_ok
    assert_outcome_ok(run_case(case))     # records it; AssertionError(report text) if it failed

or take the ``crosscheck_record`` fixture (the same ``record`` function). With
``--crosscheck-report=DIR`` the session writes ``DIR/report.json``, ``DIR/report.html`` and one
replay file per failure in ``DIR/cases/``; without it, replay files go to pytest's cache
(``.pytest_cache/d/crosscheck/cases``) so the assertion message can still name one. Every public
helper records (``assert_matches_tf``, ``check_op``, ``assert_outcome_ok``); in a hypothesis test
only the final, minimal falsifying example is kept (crosscheck.recording).

With ``--crosscheck-report=DIR`` the session marks ``DIR/report.json`` in progress when it starts and
journals every outcome the moment it is recorded (``DIR/journal.jsonl``; under pytest-xdist each
worker to its own ``DIR/.jobs/pytest-<worker id>.jsonl``: crosscheck.report.pytest_journals). The
report is built from the journals at the end: a worker that crashed loses nothing it recorded before,
and the report names it and fails. A session that dies leaves the in-progress report and the
journals, from which ``crosscheck report DIR`` rebuilds the report.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest

from . import recording
from .case import FAILING, Outcome
from .oracle import backend
from .report_names import CASES_DIR, JOBS_DIR

#: the key of ``workerinput`` that gives an xdist worker its journal's path
_JOURNAL_KEY = "crosscheck_journal"
_state: dict = {"report_dir": None, "written": None, "final": None, "xdist_controller": False}


def record(outcome: Outcome) -> dict:
    """Add ``outcome`` to this session's report; returns its report dict (crosscheck.recording)."""
    return recording.record(outcome)


def assert_outcome_ok(outcome: Outcome) -> None:
    """Record ``outcome``; raise AssertionError with its full text report on a failure (a
    reference-unsupported outcome, which a registered quirk explains, is recorded, not failed)."""
    d = record(outcome)
    if outcome.status in FAILING:
        from .report import format_outcome_text  # deferred: the report needs the crosscheck extra; the plugin loads without it
        raise AssertionError(format_outcome_text(d))


@pytest.fixture
def crosscheck_record() -> Callable[[Outcome], dict]:
    """The :func:`record` function: ``crosscheck_record(outcome)``."""
    return record


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crosscheck")
    group.addoption("--crosscheck-report", metavar="DIR", default=None,
                    help="write crosscheck's JSON and HTML reports (and replay files) for this session to DIR; "
                         "outcomes are journaled there as they come (`crosscheck report DIR` rebuilds the report "
                         "of a session that was killed)")


def pytest_configure(config: pytest.Config) -> None:
    report_dir = config.getoption("crosscheck_report", None)
    if config.getoption("help", False):   # pytest --help configures plugins too: leave the directory alone
        report_dir = None
    if report_dir:
        report_dir = Path(report_dir).resolve()
        cases_dir = report_dir / CASES_DIR
    elif getattr(config, "cache", None) is not None:
        cases_dir = config.cache.mkdir("crosscheck") / CASES_DIR
    else:
        cases_dir = Path(tempfile.gettempdir()) / "crosscheck-cases"
    recording.configure(cases_dir)     # without a report directory the session is made on first use: a
    _state.update(report_dir=report_dir, written=None, final=None,   # suite that never records imports nothing more
                  xdist_controller=False)
    if _is_worker(config):
        journal = config.workerinput.get(_JOURNAL_KEY)
        if journal:
            from .report.pytest_journals import open_worker_journal  # deferred: the report needs the crosscheck extra; the plugin loads without it
            recording.session().journal = open_worker_journal(journal, config.workerinput["workerid"])
        return
    if report_dir:   # before any xdist worker starts: the directory in progress, the session's journal open
        from .report import ReportDirError  # deferred: the report needs the crosscheck extra; the plugin loads without it
        from .report.pytest_journals import clear_worker_journals  # deferred: the report needs the crosscheck extra; the plugin loads without it
        try:
            recording.session().start(report_dir, command=_command(config))
            recording.session().owner.record(report_dir / JOBS_DIR, directory=True)   # the workers' journals
        except ReportDirError as exc:
            where = str(exc).removeprefix("--report ")   # the message names crosscheck run's option
            raise pytest.UsageError(f"--crosscheck-report: {where}") from None
        clear_worker_journals(report_dir)
    elif cases_dir.is_dir():
        for old in cases_dir.glob("*.json"):
            old.unlink(missing_ok=True)


def _command(config: pytest.Config) -> str:
    return "pytest " + " ".join(config.invocation_params.args)


def _journal(entry: dict) -> None:
    """``entry`` appended to this process's journal (none without --crosscheck-report)."""
    if recording.used() and recording.session().journal is not None:
        recording.session().journal.append(entry)


def pytest_runtest_logstart(nodeid: str, location: tuple) -> None:
    """Journal the test about to run (before its fixtures): the one a process that dies was in. (An
    xdist controller hears of its workers' tests here too: their own journals have them.)"""
    if not _state["xdist_controller"]:
        _journal({"kind": "test", "test": nodeid})


def pytest_runtest_setup(item: pytest.Item) -> None:
    obj = getattr(item, "obj", None)
    recording.begin_test(item.nodeid, bool(getattr(obj, "is_hypothesis_test", False)
                                           or getattr(obj, "hypothesis", None) is not None))


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    recording.end_test()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller, as a worker (``node``, xdist's WorkerController) is started: its journal's path."""
    if _state["report_dir"] is not None:
        from .report.pytest_journals import worker_journal_path  # deferred: the report needs the crosscheck extra; the plugin loads without it
        _state["xdist_controller"] = True
        worker_id = node.workerinput["workerid"]
        node.workerinput[_JOURNAL_KEY] = str(worker_journal_path(_state["report_dir"], worker_id))
        _journal({"kind": "worker", "worker": worker_id})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist controller: a worker that crashed (``error`` not None) is journaled; its outcomes are in its journal."""
    if error is not None and _state["report_dir"] is not None:
        _journal({"kind": "worker-down", "worker": node.workerinput["workerid"], "error": str(error)})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    config = session.config
    if _is_worker(config):
        journal = recording.session().journal if recording.used() else None
        if journal is not None:
            journal.append({"kind": "end"})
            journal.close()
        return
    if not _state.get("report_dir"):
        return
    from .report import rebuild  # deferred: the report needs the crosscheck extra; the plugin loads without it
    own = recording.session()
    complete = exitstatus != pytest.ExitCode.INTERRUPTED
    if complete:   # everything this process recorded is journaled; its workers' journals are final
        own.journal.append({"kind": "end"})
    own.journal.close()
    owner, owner.journal = own.owner, None   # the report directory, locked since the start; its journal ended
    rebuilt = rebuild(owner)   # the session's journal and its xdist workers'
    final, meta = rebuilt.session, rebuilt.meta
    final.own(owner)
    _state["tensorflow"] = backend.describe()   # the backend in force, whoever imported TensorFlow first
    meta.update(tensorflow=_state["tensorflow"])
    _state["final"] = final
    _state["written"] = final.write(_state["report_dir"], complete=complete, more_problems=rebuilt.problems, **meta)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int | pytest.ExitCode,
                            config: pytest.Config) -> None:
    written, final = _state.get("written"), _state.get("final")
    passed, failed, tests = recording.counts()
    if _is_worker(config) or not (written or passed or failed):
        return
    terminalreporter.write_sep("-", "crosscheck")
    if passed or failed:   # examples, not tests: a check_op test runs many cases
        terminalreporter.write_line(f"{passed + failed} cases in {tests} test{'s' * (tests != 1)}: {passed} passed"
                                    + (f", {failed} failed" if failed else ""))
    if not written:
        return
    if not (passed or failed) and final.summary["total"]:   # pytest -n: the workers ran the cases
        failing = sum(final.summary["counts"].get(status, 0) for status in FAILING)
        terminalreporter.write_line(f"{final.summary['total']} cases in the workers' tests: "
                                    f"{final.summary['total'] - failing} passed" + (f", {failing} failed" if failing else ""))
    terminalreporter.write_line(", ".join(f"{n} {status}" for status, n in final.summary["counts"].items()))
    if _state.get("tensorflow"):
        terminalreporter.write_line(f"reference: {backend.one_line(_state['tensorflow'])}")
    for problem in final.run_problems:
        terminalreporter.write_line(f"FAILED: {problem}", red=True)
    terminalreporter.write_line(f"report: {written[0]}  {written[1]}")
