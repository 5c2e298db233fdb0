"""A run's report directory: what it holds, and its life while the run is going (nothing found is
lost, nothing stale is trusted).

At the start (:func:`open_report_dir`) the directory is checked (a directory, writable: otherwise
:class:`ReportDirError` before any work), the previous run's ``report.json``, ``report.html``,
journal and replay files are removed, and ``report.json`` is replaced by an *in-progress* document
(``"ok": false``, ``"in_progress": true``), so no earlier verdict can be read as this run's. During
the run every outcome goes to the journal (:mod:`.journal`) and every failing case to a replay file
under ``cases/``; after a SIGKILL they still hold everything found, and ``crosscheck report DIR``
(:mod:`.merge`) rebuilds report.json and report.html from them. The final documents are written
atomically (a temporary file, then ``os.replace``).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..files import atomic_write_text
from ..replay import jsonable
from ..report_names import CASES_DIR, HTML_NAME, JOBS_DIR, JOURNAL_NAME, JSON_NAME
from .journal import Journal, read_entries
from .json_report import FORMAT, VERSION


def job_dirs(report_dir) -> list[Path]:
    """The shard directories of a ``crosscheck run -j N`` under ``report_dir`` (empty if none)."""
    jobs = Path(report_dir) / JOBS_DIR

    def order(d: Path):   # shard K's attempts: shardK, shardK.1, shardK.2, ... (restarts after TensorFlow crashes)
        k, _, attempt = d.name[5:].partition(".")
        return int(k or 0), int(attempt or 0)
    return sorted((d for d in jobs.glob("shard*") if d.is_dir()), key=order) if jobs.is_dir() else []




class ReportDirError(Exception):
    """The report directory cannot be used (a file in its place, not writable)."""


def check_report_dir(report_dir) -> Path:
    """``report_dir`` as a Path, created if missing; ReportDirError when it cannot hold a report."""
    report_dir = Path(report_dir)
    if report_dir.exists() and not report_dir.is_dir():
        raise ReportDirError(f"--report {report_dir}: a file is in its place (a report is a directory)")
    try:
        (report_dir / CASES_DIR).mkdir(parents=True, exist_ok=True)
        probe = report_dir / ".crosscheck-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ReportDirError(f"--report {report_dir}: cannot write there ({exc.strerror or exc})") from None
    return report_dir


def in_progress_document(meta: dict) -> dict:
    return {"format": FORMAT, "version": VERSION, "in_progress": True, "ok": False,
            "problems": [f"the run is in progress, or ended without writing its report: `crosscheck report "
                         f"{meta.get('report_dir', 'DIR')}` rebuilds it from {JOURNAL_NAME} and the replay files"],
            **{k: v for k, v in meta.items() if k != "report_dir"}}


def open_report_dir(report_dir, meta: dict) -> Journal:
    """Check ``report_dir``, clear the previous run's files, mark the directory in progress and
    start the journal (its first line: ``meta``)."""
    report_dir = check_report_dir(report_dir)
    for old in [report_dir / HTML_NAME, report_dir / JOURNAL_NAME, *(report_dir / CASES_DIR).glob("*.json")]:
        old.unlink(missing_ok=True)
    atomic_write_text(report_dir / JSON_NAME,
                      json.dumps(jsonable(in_progress_document({**meta, "report_dir": str(report_dir)})), indent=1))
    journal = Journal(report_dir / JOURNAL_NAME)
    journal.append({"kind": "meta", **meta})
    return journal


def read_journal(report_dir) -> list[dict]:
    """The journal's entries of ``report_dir``; ReportDirError when it has none."""
    path = Path(report_dir) / JOURNAL_NAME
    if not path.is_file():
        raise ReportDirError(f"{report_dir}: no {JOURNAL_NAME} (not a report directory of crosscheck run/check?)")
    return read_entries(path)
