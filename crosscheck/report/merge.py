"""A report rebuilt from journals: one run's after it died (:func:`rebuild`, ``crosscheck report DIR``),
one shard's attempts as one shard (:func:`combine_attempts`), a campaign's shards as one run
(:func:`merge_shards`, ``crosscheck merge``)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..report_names import CASES_DIR, JOURNAL_NAME
from .json_report import merge_summaries
from .pytest_journals import session_entries
from .report_dir import ReportDirError, check_report_dir, job_dirs, read_journal
from .session import ReportSession


def _session_from(entries: list[dict]):
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


def rebuild(report_dir):
    """report.json and report.html from the journal (a ``-j N`` run's: its shards' journals, merged;
    a pytest session's: its xdist workers' journals too, :mod:`.pytest_journals`); returns
    (session, meta, complete)."""
    shards = [] if (Path(report_dir) / JOURNAL_NAME).is_file() else job_dirs(report_dir)
    if shards:
        session, meta, complete = merge_shards(shards, report_dir)
        meta.pop("merged_from", None)
        return session, meta, complete
    entries = read_journal(report_dir)
    merged, run_problems = session_entries(report_dir, entries)   # a pytest session's: its xdist workers' too
    meta = _meta(entries)
    session = _session_from(merged)
    session.require_compared = meta.get("require_compared", True)
    session.run_problems = run_problems
    return session, {k: v for k, v in meta.items() if k not in ("kind", "require_compared")}, _finished(entries)


#: what every shard of one campaign must share (else the merge is not the whole run)
SHARED_META = ("impl", "seed", "examples", "dtypes", "paths", "all_ops", "networks")


def _moved(entries: list[dict], src: Path, out_dir: Path) -> list[dict]:
    """``entries`` of the report directory ``src`` with its replay files copied into ``out_dir/cases``
    and the paths that name them rewritten."""
    for case in (src / CASES_DIR).glob("*.json"):
        shutil.copyfile(case, out_dir / CASES_DIR / case.name)
    old, new = json.dumps(str(src / CASES_DIR))[1:-1], json.dumps(str(out_dir / CASES_DIR))[1:-1]
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
    for old_case in (out_dir / CASES_DIR).glob("*.json"):   # a previous merge's
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
