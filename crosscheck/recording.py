"""The outcomes a test session records (``crosscheck.pytest_plugin``, and every public helper that
runs a case: ``assert_matches_tf``, ``check_op``, ``assert_outcome_ok``), without importing pytest.

Inside a hypothesis test, a failing example is re-run many times while hypothesis shrinks it; only
the test's final (minimal) falsifying example is kept in the report, marked ``"minimal": true``,
with the shapes of the first failing example beside it (``"first_failing_shapes"``) and the number
of failing examples tried. Replay files of the examples it shrank past are removed as it goes. Each
failing example is journaled (``{"kind": "example", ...}``) as it comes: if the process dies inside
the test, the latest one is kept (crosscheck.report.pytest_journals).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from .case import FAILING, Outcome

_state: dict = {"session": None, "cases_dir": None, "test": None, "hypothesis": False, "pending": None}
#: what this process ran: cases by passed / failed, and the tests that ran them (the pytest summary line)
_counts: dict = {"passed": 0, "failed": 0, "tests": set()}


def configure(cases_dir) -> None:
    """Where this session's replay files go; the session is made when something is recorded."""
    _state.update(session=None, cases_dir=Path(cases_dir))


def used() -> bool:
    return _state["session"] is not None


def session():
    """The session's ReportSession (its replay files in a temporary folder outside a pytest run
    with the plugin)."""
    from .report import ReportSession  # deferred: the report needs the crosscheck extra (rich, hypothesis); the plugin loads without it
    if _state["session"] is None:
        _state["session"] = ReportSession(_state["cases_dir"] or Path(tempfile.gettempdir()) / "crosscheck-cases")
    return _state["session"]


def begin_test(nodeid: str, uses_hypothesis: bool) -> None:
    _state.update(test=nodeid, hypothesis=uses_hypothesis, pending=None)


def record(outcome: Outcome) -> dict:
    """Add ``outcome`` to this session's report; returns its report dict."""
    s = session()
    _counts["failed" if outcome.status in FAILING else "passed"] += 1
    _counts["tests"].add(_state["test"])
    if not (_state["hypothesis"] and outcome.status in FAILING):
        return s.add(outcome, test=_state["test"])
    from .replay import replay_filename, save_case  # deferred: the report needs the crosscheck extra (rich, hypothesis); the plugin loads without it
    from .report.json_report import add_to_summary, empty_summary, outcome_to_dict  # deferred: the report needs the crosscheck extra (rich, hypothesis); the plugin loads without it
    replay_file = None
    if s.cases_dir is not None:
        replay_file = save_case(s.cases_dir / replay_filename(outcome), outcome.case, outcome)
    d = {**outcome_to_dict(outcome, replay_file), "test": _state["test"]}
    pending = _state["pending"]
    if pending is None:
        pending = _state["pending"] = {"first_shapes": d["shapes"], "tried": 0}
    elif pending["file"] is not None and pending["file"] != replay_file:
        Path(pending["file"]).unlink(missing_ok=True)   # shrunk past: only the latest example's file is kept
    pending.update(tried=pending["tried"] + 1, outcome=outcome, dict=d, file=replay_file)
    if s.journal is not None:   # the latest failing example, the one kept if the process dies in this test
        one = empty_summary()
        add_to_summary(one, outcome)
        s.journal.append({"kind": "example", "summary": one, "outcome": d})
    return d


def end_test() -> None:
    """Keep a hypothesis test's last failing example (the minimal one hypothesis re-raised)."""
    pending = _state["pending"]
    if pending is not None:
        from .report.json_report import add_to_summary  # deferred: the report needs the crosscheck extra (rich, hypothesis); the plugin loads without it
        s = session()
        d = pending["dict"]
        add_to_summary(s.summary, pending["outcome"])
        d.update(minimal=True, first_failing_shapes=pending["first_shapes"], failing_examples_tried=pending["tried"])
        s.outcomes.append(d)
        s._journal(pending["outcome"], d)
    _state.update(test=None, hypothesis=False, pending=None)


def counts() -> tuple[int, int, int]:
    """(cases passed, cases failed, tests that ran cases) in this process so far; a hypothesis test's
    failing examples count once each as hypothesis shrinks them."""
    return _counts["passed"], _counts["failed"], len(_counts["tests"])
