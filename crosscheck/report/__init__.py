"""Diff reports: terminal (rich) and plain text, JSON (``docs/report-format.md``) and HTML.

A :class:`ReportSession` collects the outcomes of one run: it counts every outcome in the
summary, keeps every non-pass outcome in full and writes a replay file for each mismatch and
implementation error the moment it is added (so nothing is lost if the run dies later);
:meth:`ReportSession.write` then writes ``report.json`` and ``report.html``.
"""
from __future__ import annotations

from pathlib import Path

from ..case import FAILING, PASS, Outcome
from ..replay import replay_filename, save_case
from .html_report import render_html, write_html
from .json_report import (add_parity, add_to_summary, build_document, empty_summary, merge_summaries, ok,
                          outcome_to_dict, problems, write_json)
from .terminal import coverage_table, format_outcome_text, parity_table, print_outcome, summary_table

JSON_NAME = "report.json"
HTML_NAME = "report.html"
CASES_DIR = "cases"
REPLAYED = FAILING   # statuses that get a replay file

__all__ = ["ReportSession", "format_outcome_text", "print_outcome", "summary_table", "coverage_table", "parity_table",
           "outcome_to_dict",
           "build_document", "render_html", "JSON_NAME", "HTML_NAME"]


class ReportSession:
    """The outcomes of one run. ``cases_dir`` is where replay files go (None: none are written)."""

    def __init__(self, cases_dir=None):
        self.cases_dir = None if cases_dir is None else Path(cases_dir)
        self.summary = empty_summary()
        self.outcomes: list[dict] = []   # non-pass outcomes, serialised
        self.error_parity: list[dict] = []
        self.require_compared = True

    def clear_cases(self) -> None:
        """Remove replay files left in ``cases_dir`` by an earlier run, so the directory holds
        exactly this run's cases."""
        if self.cases_dir is not None and self.cases_dir.is_dir():
            for old in self.cases_dir.glob("*.json"):
                old.unlink()

    def add(self, outcome: Outcome, check: dict | None = None) -> dict:
        """Count ``outcome``; keep it (and write its replay file) unless it passed. Returns its dict.
        ``check``: for ``crosscheck check``, the target, convention and function the case belongs to."""
        add_to_summary(self.summary, outcome)
        replay_file = None
        if outcome.status in REPLAYED and self.cases_dir is not None:
            replay_file = save_case(self.cases_dir / replay_filename(outcome), outcome.case, outcome, check=check)
        d = outcome_to_dict(outcome, replay_file, check)
        if outcome.status != PASS:
            self.outcomes.append(d)
        return d

    def count(self, outcome: Outcome) -> None:
        """Count ``outcome`` in the summary only."""
        add_to_summary(self.summary, outcome)

    def add_parity(self, parity) -> dict:
        """Count and keep one error-parity outcome (crosscheck.error_parity)."""
        add_parity(self.summary, parity)
        d = parity.to_dict()
        self.error_parity.append(d)
        return d

    @property
    def ok(self) -> bool:
        return ok(self.summary, self.require_compared)

    @property
    def problems(self) -> list[str]:
        return problems(self.summary, self.require_compared)

    def to_partial(self) -> dict:
        """This session's data as plain JSON-able values (sent from an xdist worker)."""
        return {"summary": self.summary, "outcomes": self.outcomes, "error_parity": self.error_parity}

    def merge_partial(self, partial: dict) -> None:
        self.summary = merge_summaries(self.summary, partial["summary"])
        self.outcomes += partial["outcomes"]
        self.error_parity += partial.get("error_parity", [])

    def document(self, **meta) -> dict:
        return build_document(self.summary, self.outcomes, error_parity=self.error_parity,
                              require_compared=self.require_compared, **meta)

    def write(self, report_dir, **meta) -> tuple[Path, Path]:
        """Write ``report.json`` and ``report.html`` into ``report_dir``; return their paths."""
        report_dir = Path(report_dir)
        doc = self.document(**meta)
        return write_json(doc, report_dir / JSON_NAME), write_html(doc, report_dir / HTML_NAME)
