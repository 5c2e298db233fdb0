"""The outcomes a test session records (``crosscheck.pytest_plugin``, and every public helper that
runs a case: ``assert_matches_tf``, ``check_op``, ``assert_outcome_ok``), without importing pytest.

Inside a hypothesis test, a failing example is re-run many times while hypothesis shrinks it; only
the test's final (minimal) falsifying example is kept in the report, marked ``"minimal": true``,
with the shapes of the first failing example beside it (``"first_failing_shapes"``) and the number
of failing examples tried. Replay files of the examples it shrank past are removed.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from .case import FAILING, Outcome

_state: dict = {"session": None, "cases_dir": None, "test": None, "hypothesis": False, "pending": None}


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
    if not (_state["hypothesis"] and outcome.status in FAILING):
        d = s.add(outcome)
        if _state["test"]:
            d["test"] = _state["test"]
        return d
    from .replay import replay_filename, save_case  # deferred: the report needs the crosscheck extra (rich, hypothesis); the plugin loads without it
    from .report import outcome_to_dict  # deferred: the report needs the crosscheck extra (rich, hypothesis); the plugin loads without it
    replay_file = None
    if s.cases_dir is not None:
        replay_file = save_case(s.cases_dir / replay_filename(outcome), outcome.case, outcome)
    d = outcome_to_dict(outcome, replay_file)
    pending = _state["pending"]
    if pending is None:
        _state["pending"] = {"first_shapes": d["shapes"], "tried": 1, "outcome": outcome, "dict": d,
                             "files": [replay_file]}
    else:
        pending.update(tried=pending["tried"] + 1, outcome=outcome, dict=d)
        pending["files"].append(replay_file)
    return d


def end_test() -> None:
    """Keep a hypothesis test's last failing example (the minimal one hypothesis re-raised)."""
    pending = _state["pending"]
    if pending is not None:
        from .report.json_report import add_to_summary  # deferred: the report needs the crosscheck extra (rich, hypothesis); the plugin loads without it
        s = session()
        d = pending["dict"]
        keep = d["replay"]["file"] if d.get("replay") else None
        for f in pending["files"]:
            if f is not None and str(f) != keep:
                Path(f).unlink(missing_ok=True)
        add_to_summary(s.summary, pending["outcome"])
        d.update(test=_state["test"], minimal=True, first_failing_shapes=pending["first_shapes"],
                 failing_examples_tried=pending["tried"])
        s.outcomes.append(d)
        s._journal(pending["outcome"], d)
    _state.update(test=None, hypothesis=False, pending=None)
