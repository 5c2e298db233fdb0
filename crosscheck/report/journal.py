"""A run's report directory while the run is going: nothing found is lost, nothing stale is trusted.

At the start (:func:`open_report_dir`) the directory is checked (a directory, writable: otherwise
:class:`ReportDirError` before any work), the previous run's ``report.json``, ``report.html``,
journal and replay files are removed, and ``report.json`` is replaced by an *in-progress* document
(``"ok": false``, ``"in_progress": true``), so no earlier verdict can be read as this run's.

During the run every outcome is appended to ``journal.jsonl`` as one JSON line, flushed at once:
``{"kind": "meta", ...}`` first, then ``{"kind": "outcome", "summary": <this outcome's summary>,
"outcome": <its dict, or null for a pass>}``, ``{"kind": "minimal", "outcome": ...}`` (a shrunk
case) and ``{"kind": "parity", "parity": ...}`` lines, and ``{"kind": "end"}`` when the run finished. After a SIGKILL the journal and the replay files still
hold everything found; :func:`rebuild` (``crosscheck report DIR``) turns them into report.json and
report.html. The final documents are written atomically (a temporary file, then ``os.replace``).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

JOURNAL_NAME = "journal.jsonl"


class ReportDirError(Exception):
    """The report directory cannot be used (a file in its place, not writable)."""


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_report_dir(report_dir) -> Path:
    """``report_dir`` as a Path, created if missing; ReportDirError when it cannot hold a report."""
    report_dir = Path(report_dir)
    if report_dir.exists() and not report_dir.is_dir():
        raise ReportDirError(f"--report {report_dir}: a file is in its place (a report is a directory)")
    try:
        (report_dir / "cases").mkdir(parents=True, exist_ok=True)
        probe = report_dir / ".crosscheck-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ReportDirError(f"--report {report_dir}: cannot write there ({exc.strerror or exc})") from None
    return report_dir


def in_progress_document(meta: dict) -> dict:
    from .json_report import FORMAT, VERSION
    return {"format": FORMAT, "version": VERSION, "in_progress": True, "ok": False,
            "problems": [f"the run is in progress, or ended without writing its report: `crosscheck report "
                         f"{meta.get('report_dir', 'DIR')}` rebuilds it from {JOURNAL_NAME} and the replay files"],
            **{k: v for k, v in meta.items() if k != "report_dir"}}


class Journal:
    """``journal.jsonl`` of one run, appended line by line."""

    def __init__(self, path):
        self.path = Path(path)
        self.file = open(self.path, "a", encoding="utf-8")

    def append(self, entry: dict) -> None:
        from ..replay import jsonable
        self.file.write(json.dumps(jsonable(entry), allow_nan=False) + "\n")
        self.file.flush()

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


def open_report_dir(report_dir, meta: dict) -> Journal:
    """Check ``report_dir``, clear the previous run's files, mark the directory in progress and
    start the journal (its first line: ``meta``)."""
    from . import HTML_NAME, JSON_NAME
    report_dir = check_report_dir(report_dir)
    for old in [report_dir / HTML_NAME, report_dir / JOURNAL_NAME, *(report_dir / "cases").glob("*.json")]:
        old.unlink(missing_ok=True)
    from ..replay import jsonable
    atomic_write_text(report_dir / JSON_NAME,
                      json.dumps(jsonable(in_progress_document({**meta, "report_dir": str(report_dir)})), indent=1))
    journal = Journal(report_dir / JOURNAL_NAME)
    journal.append({"kind": "meta", **meta})
    return journal


def read_journal(report_dir) -> list[dict]:
    """The journal's entries; a last line cut short by a kill is left out."""
    path = Path(report_dir) / JOURNAL_NAME
    if not path.is_file():
        raise ReportDirError(f"{report_dir}: no {JOURNAL_NAME} (not a report directory of crosscheck run/check?)")
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return entries


def _session_from(entries: list[dict]):
    from . import ReportSession
    from .json_report import merge_summaries
    session = ReportSession(None)
    for e in entries:
        if e.get("kind") == "outcome":
            session.summary = merge_summaries(session.summary, e["summary"])
            if e.get("outcome") is not None:
                session.outcomes.append(e["outcome"])
        elif e.get("kind") == "minimal":
            session.outcomes.append(e["outcome"])
        elif e.get("kind") == "parity":
            session.summary["error_parity"]["checked"] += 1
            session.summary["error_parity"]["failed"] += 0 if e["parity"]["passed"] else 1
            session.error_parity.append(e["parity"])
    return session


def _meta(entries: list[dict]) -> dict:
    return next((e for e in entries if e.get("kind") == "meta"), {})


def _finished(entries: list[dict]) -> bool:
    return any(e.get("kind") == "end" for e in entries)


#: where ``crosscheck run -j N`` keeps its shards' report directories while they run
JOBS_DIR = ".jobs"


def job_dirs(report_dir) -> list[Path]:
    """The shard directories of a ``crosscheck run -j N`` under ``report_dir`` (empty if none)."""
    jobs = Path(report_dir) / JOBS_DIR

    def order(d: Path):   # shard K's attempts: shardK, shardK.1, shardK.2, ... (restarts after TensorFlow crashes)
        k, _, attempt = d.name[5:].partition(".")
        return int(k or 0), int(attempt or 0)
    return sorted((d for d in jobs.glob("shard*") if d.is_dir()), key=order) if jobs.is_dir() else []


def rebuild(report_dir):
    """report.json and report.html from the journal (a ``-j N`` run's: its shards' journals, merged);
    returns (session, meta, complete)."""
    shards = [] if (Path(report_dir) / JOURNAL_NAME).is_file() else job_dirs(report_dir)
    if shards:
        session, meta, complete = merge_shards(shards, report_dir)
        meta.pop("merged_from", None)
        return session, meta, complete
    entries = read_journal(report_dir)
    meta = _meta(entries)
    session = _session_from(entries)
    session.require_compared = meta.get("require_compared", True)
    return session, {k: v for k, v in meta.items() if k not in ("kind", "require_compared")}, _finished(entries)


#: what every shard of one campaign must share (else the merge is not the whole run)
SHARED_META = ("impl", "seed", "examples", "dtypes", "paths", "all_ops", "networks")


def _moved(entries: list[dict], src: Path, out_dir: Path) -> list[dict]:
    """``entries`` of the report directory ``src`` with its replay files copied into ``out_dir/cases``
    and the paths that name them rewritten."""
    import shutil
    for case in (src / "cases").glob("*.json"):
        shutil.copyfile(case, out_dir / "cases" / case.name)
    old, new = json.dumps(str(src / "cases"))[1:-1], json.dumps(str(out_dir / "cases"))[1:-1]
    for e in entries:
        if e.get("kind") in ("outcome", "minimal") and e.get("outcome") and e["outcome"].get("replay"):
            e["outcome"]["replay"] = json.loads(json.dumps(e["outcome"]["replay"]).replace(old, new))
        if e.get("kind") == "outcome" and e["summary"].get("backend_disagreements"):
            e["summary"]["backend_disagreements"] = json.loads(
                json.dumps(e["summary"]["backend_disagreements"]).replace(old, new))
    return entries


def combine_attempts(attempt_dirs, out_dir):
    """One report directory ``out_dir`` (its journal and replay files) from the attempts of one shard
    (restarted after TensorFlow crashes), as if one process had run it; returns (session, meta, complete)."""
    out_dir = check_report_dir(out_dir)
    entries, last = [], []
    for i, d in enumerate(attempt_dirs):
        last = read_journal(d)
        entries += [e for e in _moved(last, Path(d), out_dir) if not (i and e.get("kind") == "meta")]
    with open(out_dir / JOURNAL_NAME, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(e, allow_nan=False) + "\n" for e in entries)
    meta = _meta(entries)
    session = _session_from(entries)
    session.require_compared = meta.get("require_compared", True)
    return session, {k: v for k, v in meta.items() if k not in ("kind", "require_compared")}, _finished(last)


def merge_shards(shard_dirs, out_dir):
    """One report of the shards of a ``crosscheck run --shard K/N`` campaign: the journals'
    outcomes in shard order (each (op, dtype) belongs to one shard, and the report orders outcomes
    by status, op and dtype, keeping each pair's own order: the whole run's order) and their replay
    files copied into ``out_dir/cases`` (paths in the outcomes rewritten). A shard restarted after a
    TensorFlow crash has several directories (attempts, in order): their journals are one shard's.
    Returns ``(session, meta, complete)``; ReportDirError when the directories are not the N
    shards of one campaign."""
    metas, journals = [], []
    for d in shard_dirs:
        try:
            entries = read_journal(d)
        except ReportDirError:
            raise ReportDirError(f"{d}: not a shard of a campaign (no {JOURNAL_NAME}: a merged or whole run's report "
                                 "directory?)") from None
        meta = _meta(entries)
        if not meta.get("shard"):
            raise ReportDirError(f"{d}: not a shard of a campaign (its run had no --shard K/N)")
        metas.append(meta)
        journals.append(entries)
    parts = [tuple(int(v) for v in m["shard"].split("/")) for m in metas]   # (K, N) of each
    counts = {n for _, n in parts}
    n = counts.pop() if len(counts) == 1 else None
    attempts = [i for i in range(len(parts)) if not metas[i].get("resumed")]   # each shard's first attempt
    if n is None or sorted(parts[i][0] for i in attempts) != list(range(1, n + 1)):
        raise ReportDirError(f"need the shards 1/N .. N/N of one campaign exactly once, got "
                             f"{', '.join(m['shard'] for m in metas)}")
    for key in SHARED_META:
        values = {json.dumps(m.get(key)) for m in metas}
        if len(values) > 1:
            raise ReportDirError(f"the shards were run with different {key}: {', '.join(sorted(values))}")
    if any(Path(out_dir).resolve() == Path(d).resolve() for d in shard_dirs):
        raise ReportDirError(f"--report {out_dir} is one of the shards: merge into another directory")
    out_dir = check_report_dir(out_dir)
    for old_case in (out_dir / "cases").glob("*.json"):   # a previous merge's
        old_case.unlink()
    order = sorted(range(len(metas)), key=lambda i: parts[i][0])   # stable: a shard's attempts in their order
    entries = []
    for i in order:
        entries += _moved(journals[i], Path(shard_dirs[i]), out_dir)
    session = _session_from(entries)
    first = metas[order[0]]
    position = {op: i for i, op in enumerate(first.get("all_ops") or [])}
    session.error_parity.sort(key=lambda p: position.get(p.get("op"), len(position)))   # the whole run's order
    session.require_compared = first.get("require_compared", True)
    meta = {**{k: first.get(k) for k in SHARED_META}, "ops": first.get("all_ops"), "tensorflow": first.get("tensorflow"),
            "merged_from": [str(shard_dirs[i]) for i in order],
            "command": " ".join(["crosscheck merge", *map(str, shard_dirs), "--report", str(out_dir)])}
    last = {parts[i][0]: journals[i] for i in order}   # each shard's last attempt
    return session, meta, all(_finished(j) for j in last.values())
