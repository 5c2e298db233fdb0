"""A run's report directory: what it holds, and its life while the run is going (nothing found is
lost, nothing stale is trusted, nothing crosscheck did not write is deleted).

At the start (:meth:`ReportDir.start`) the directory is checked (a directory, writable: otherwise
:class:`ReportDirError` before any work) and locked for the run (:mod:`.ownership`: a second run on
it is refused, naming the holder); the files the previous run's manifest lists are deleted (a
directory holding files of crosscheck's names that no manifest lists is refused unless the run was
told to replace them), and ``report.json`` is replaced by an *in-progress* document (``"ok":
false``, ``"in_progress": true``), so no earlier verdict can be read as this run's. During the run
every file written is recorded in the manifest first, every outcome goes to the journal
(:mod:`.journal`) and every failing case to a replay file under ``cases/``; after a SIGKILL they
still hold everything found, and ``crosscheck report DIR`` (:mod:`.merge`) rebuilds report.json and
report.html from them. The final documents are written atomically (a temporary file, then
``os.replace``). A write that fails is a :class:`~crosscheck.files.ReportWriteError`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..files import atomic_write_text, writing
from ..replay import jsonable
from ..report_names import CASES_DIR, HTML_NAME, JOBS_DIR, JOURNAL_NAME, JSON_NAME
from .journal import Journal, JournalText, read_journal_text
from .json_report import FORMAT, VERSION
from .ownership import DirInUse, DirLock, Manifest, clear_previous_run


def job_dirs(report_dir) -> list[Path]:
    """The shard directories of a ``crosscheck run -j N`` under ``report_dir`` (empty if none)."""
    jobs = Path(report_dir) / JOBS_DIR

    def order(d: Path):   # shard K's attempts: shardK, shardK.1, shardK.2, ... (restarts after TensorFlow crashes)
        k, _, attempt = d.name[5:].partition(".")
        return int(k or 0), int(attempt or 0)

    def is_shard(d: Path) -> bool:
        k, _, attempt = d.name[5:].partition(".")
        return d.is_dir() and k.isdigit() and (attempt == "" or attempt.isdigit())
    return sorted((d for d in jobs.glob("shard*") if is_shard(d)), key=order) if jobs.is_dir() else []


class ReportDirError(Exception):
    """The report directory cannot be used (a file in its place, not writable, in use by another
    run, files crosscheck did not write), or a file in it cannot be read: one line."""


def check_report_dir(report_dir) -> Path:
    """``report_dir`` as a Path, created if missing; ReportDirError when it cannot hold a report."""
    report_dir = Path(report_dir)
    if report_dir.exists() and not report_dir.is_dir():
        raise ReportDirError(f"--report {report_dir}: a file is in its place (a report is a directory)")
    cases = report_dir / CASES_DIR
    if os.path.lexists(cases) and not cases.is_dir():
        raise ReportDirError(f"--report {report_dir}: {cases} is not a directory (the replay files go there)")
    try:
        cases.mkdir(parents=True, exist_ok=True)
        probe = report_dir / f".crosscheck-write-test.{os.getpid()}"   # one per process: runs may race here
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


class ReportDir:
    """A report directory this process owns: its lock, its manifest, and the run's journal (None
    for a run whose shards journal, or a report rebuilt from journals)."""

    opened: set = set()   # the ones this process holds (closed all at once when a command ends: close_all)

    def __init__(self, path: Path, lock: DirLock, manifest: Manifest):
        self.path, self.lock, self.manifest = path, lock, manifest
        self.journal: Journal | None = None
        ReportDir.opened.add(self)

    @classmethod
    def _locked(cls, report_dir, command: str) -> tuple[Path, DirLock]:
        path = check_report_dir(report_dir)
        try:
            return path, DirLock.acquire(path, command)
        except DirInUse as exc:
            raise ReportDirError(f"--report {exc}") from None
        except OSError as exc:
            raise ReportDirError(f"--report {path}: cannot lock it ({exc.strerror or exc})") from None

    @classmethod
    def start(cls, report_dir, meta: dict, replace: bool = False, journal: bool = True) -> "ReportDir":
        """``report_dir`` locked for a new run, the previous run's files deleted, marked in progress,
        and (``journal``) its journal started with ``meta`` as the first line."""
        path, lock = cls._locked(report_dir, str(meta.get("command", "")))
        owned = None
        try:
            try:
                clear_previous_run(path, replace)
            except ValueError as exc:
                raise ReportDirError(f"--report {exc}") from None
            except OSError as exc:
                raise ReportDirError(f"--report {path}: cannot delete the previous run's files "
                                     f"({exc.strerror or exc}: {exc.filename})") from None
            owned = cls(path, lock, Manifest(path, fresh=True))
            owned.opened.discard(owned)   # until it is whole: the except below releases what was made
            owned.write_text(path / JSON_NAME, json.dumps(jsonable(in_progress_document({**meta, "report_dir": str(path)})),
                                                          indent=1))
            if journal:
                owned.journal = Journal(path / JOURNAL_NAME, record=owned.record)
                owned.journal.append({"kind": "meta", **meta})
        except BaseException:
            if owned is not None:
                owned.close()
            lock.release()
            raise
        ReportDir.opened.add(owned)
        return owned

    @classmethod
    def reopen(cls, report_dir, command: str) -> "ReportDir":
        """An existing report directory locked to rewrite its reports (``crosscheck report``): nothing
        deleted, the files written added to its manifest."""
        if not Path(report_dir).is_dir():
            raise ReportDirError(f"{report_dir}: no such directory")
        for name in (JSON_NAME, HTML_NAME):
            if (Path(report_dir) / name).is_dir():
                raise ReportDirError(f"{Path(report_dir) / name}: a directory is in its place (crosscheck writes a "
                                     "file there)")
        path, lock = cls._locked(report_dir, command)
        try:
            return cls(path, lock, Manifest(path, fresh=False))
        except BaseException:
            lock.release()
            raise

    def record(self, path, directory: bool = False) -> None:
        """``path`` listed in the manifest before it is written (ReportWriteError if it cannot be)."""
        self.manifest.record(path, directory)

    def write_text(self, path, text: str) -> Path:
        """``text`` written atomically to ``path`` (in this directory), recorded first."""
        self.record(path)
        with writing(path):
            return atomic_write_text(path, text)

    def close(self) -> None:
        """The journal and manifest closed, the lock released."""
        if self.journal is not None:
            self.journal.close()
        self.manifest.close()
        self.lock.release()
        ReportDir.opened.discard(self)

    @classmethod
    def close_all(cls) -> None:
        """Every report directory this process holds closed and unlocked (a command's end, however it ended)."""
        for owned in list(cls.opened):
            owned.close()
        DirLock.release_all()


def read_journal_of(report_dir) -> JournalText:
    """The journal of ``report_dir``: its usable entries and skipped lines; ReportDirError when it
    has none or it cannot be read."""
    path = Path(report_dir) / JOURNAL_NAME
    if path.is_dir():
        raise ReportDirError(f"{path}: a directory is in its place (the journal is a file)")
    if not path.is_file():
        raise ReportDirError(f"{report_dir}: no {JOURNAL_NAME} (not a report directory of crosscheck run/check?)")
    try:
        return read_journal_text(path)
    except OSError as exc:
        raise ReportDirError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def read_journal(report_dir) -> list[dict]:
    """The usable entries of the journal of ``report_dir``; ReportDirError when it has none."""
    return read_journal_of(report_dir).entries
