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

Under pytest-xdist each worker sends its summary and non-pass outcomes to the controller through
``workeroutput``; the controller merges them and writes the one report.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest

from . import recording
from .case import FAILING, Outcome
from .oracle import backend
from .report_names import CASES_DIR

_WORKER_KEY = "crosscheck"
_state: dict = {"report_dir": None, "written": None}


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


def _session():
    return recording.session()


@pytest.fixture
def crosscheck_record() -> Callable[[Outcome], dict]:
    """The :func:`record` function: ``crosscheck_record(outcome)``."""
    return record


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crosscheck")
    group.addoption("--crosscheck-report", metavar="DIR", default=None,
                    help="write crosscheck's JSON and HTML reports (and replay files) for this session to DIR")


def pytest_configure(config: pytest.Config) -> None:
    report_dir = config.getoption("crosscheck_report", None)
    if report_dir:
        report_dir = Path(report_dir).resolve()
        cases_dir = report_dir / CASES_DIR
    elif getattr(config, "cache", None) is not None:
        cases_dir = config.cache.mkdir("crosscheck") / CASES_DIR
    else:
        cases_dir = Path(tempfile.gettempdir()) / "crosscheck-cases"
    recording.configure(cases_dir)     # the session itself is made on first use: a suite that never
    _state.update(report_dir=report_dir, written=None)   # records imports nothing more of crosscheck
    if not _is_worker(config) and cases_dir.is_dir():   # once, before any xdist worker writes a case
        for old in cases_dir.glob("*.json"):
            old.unlink(missing_ok=True)


def pytest_runtest_setup(item: pytest.Item) -> None:
    obj = getattr(item, "obj", None)
    recording.begin_test(item.nodeid, bool(getattr(obj, "is_hypothesis_test", False)
                                           or getattr(obj, "hypothesis", None) is not None))


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    recording.end_test()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist controller: merge what a finished worker (``node``, xdist's WorkerController) recorded."""
    partial = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
    if partial and partial != "null":
        _session().merge_partial(json.loads(partial))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    config = session.config
    if _is_worker(config):
        config.workeroutput[_WORKER_KEY] = json.dumps(_session().to_partial() if recording.used() else None)
        return
    if _state.get("report_dir"):
        command = "pytest " + " ".join(config.invocation_params.args)
        _state["tensorflow"] = backend.describe()   # the backend in force, whoever imported TensorFlow first
        _state["written"] = _session().write(_state["report_dir"], command=command, tensorflow=_state["tensorflow"])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int | pytest.ExitCode,
                            config: pytest.Config) -> None:
    written = _state.get("written")
    if not written or _is_worker(config):
        return
    counts = _session().summary["counts"]
    terminalreporter.write_sep("-", "crosscheck")
    terminalreporter.write_line(", ".join(f"{n} {status}" for status, n in counts.items()))
    if _state.get("tensorflow"):
        terminalreporter.write_line(f"reference: {backend.one_line(_state['tensorflow'])}")
    terminalreporter.write_line(f"report: {written[0]}  {written[1]}")
