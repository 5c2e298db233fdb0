"""Reports of a run: the session that collects outcomes (``session.py``), the report directory and
its life (``report_dir.py``; its lock and manifest: ``ownership.py``), the journal written as outcomes come (``journal.py``), reports rebuilt
and merged from journals (``merge.py``), and the renderers: terminal and plain text
(``terminal.py``), JSON (``json_report.py``, docs/report-format.md) and HTML (``html_report.py``).
The names most callers need are importable from here."""
from __future__ import annotations

from ..report_names import CASES_DIR, HTML_NAME, JOBS_DIR, JSON_NAME
from .html_report import render_html, write_html
from .json_report import build_document, outcome_to_dict
from .merge import Rebuilt, combine_attempts, merge_shards, rebuild
from .report_dir import ReportDir, ReportDirError, check_report_dir
from .session import ReportSession
from .terminal import coverage_table, format_outcome_text, parity_table, print_outcome, summary_table

__all__ = ["ReportSession", "ReportDir", "ReportDirError", "Rebuilt", "check_report_dir", "rebuild", "merge_shards",
           "combine_attempts", "format_outcome_text", "print_outcome", "summary_table", "coverage_table",
           "parity_table", "outcome_to_dict", "build_document", "render_html", "write_html", "JSON_NAME",
           "HTML_NAME", "CASES_DIR", "JOBS_DIR"]
