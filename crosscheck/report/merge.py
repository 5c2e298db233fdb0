"""A report rebuilt from journals: one run's after it died (:func:`rebuild`, ``crosscheck report DIR``),
one shard's attempts as one shard (:func:`combine_attempts`), a campaign's shards as one run
(:func:`merge_shards`, ``crosscheck merge``).

Every whole journal line is kept: a line that cannot be used is skipped and counted (the report
says how many, and cannot pass). Replay files move with their outcomes: each outcome's replay file
is found by its name in its shard's ``cases/`` (wherever that shard ran: on another machine, under
another ``--report``), copied into the output's ``cases/``, and the report's references rewritten to
the copy. A file or field that cannot be used is a :class:`ReportDirError` naming it.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from ..report_names import CASES_DIR, JOURNAL_NAME, JSON_NAME
from .html_report import outcome_html
from .json_report import add_parity, merge_summaries
from .pytest_journals import session_entries
from .report_dir import ReportDir, ReportDirError, job_dirs, read_journal_of
from .session import ReportSession
from .terminal import format_outcome_text


@dataclass
class Rebuilt:
    """A report rebuilt from journals: the ``session`` to write, the report's ``meta``, whether every
    journal reached its end (``complete``), and ``problems`` (lines skipped, shards lost)."""
    session: ReportSession
    meta: dict
    complete: bool
    problems: list = field(default_factory=list)
    skipped: int = 0   # journal lines that could not be used


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
            add_parity(session.summary, e["parity"])
            session.error_parity.append(e["parity"])
    return session


def _meta(entries: list[dict]) -> dict:
    return next((e for e in entries if e.get("kind") == "meta"), {})


def _finished(entries: list[dict]) -> bool:
    return any(e.get("kind") == "end" for e in entries)


def _renders(outcome: dict) -> bool:
    """Whether the report's renderers can show ``outcome`` (a journal's outcome with every field they read)."""
    try:
        outcome_html(outcome)
        format_outcome_text(outcome)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return False
    return True


def load_journal(report_dir) -> tuple[list[dict], list[str]]:
    """The usable entries of ``report_dir``'s journal and why lines were skipped (``"DIR/journal.jsonl
    line N: why"``); ReportDirError when it has no journal or its meta line is malformed."""
    text = read_journal_of(report_dir)
    path = Path(report_dir) / JOURNAL_NAME
    entries, skipped = [], [f"{path} {why}" for why in text.skipped]
    for e in text.entries:
        if e.get("kind") in ("outcome", "minimal") and e.get("outcome") is not None and not _renders(e["outcome"]):
            skipped.append(f"{path}: an outcome of {e['outcome'].get('op')} lacks fields the report shows")
        else:
            entries.append(e)
    meta = _meta(entries)
    for key, kinds in (("command", str), ("require_compared", bool), ("resumed", bool), ("all_ops", list),
                       ("ops", list), ("dtypes", list)):
        if key in meta and meta[key] is not None and not isinstance(meta[key], kinds):
            raise ReportDirError(f'{path}: meta field "{key}" is {json.dumps(meta[key])[:80]}, not a {kinds.__name__}')
    return entries, skipped


def _skipped_problem(skipped: list[str]) -> list[str]:
    if not skipped:
        return []
    return [f"{len(skipped)} journal line{'s' * (len(skipped) > 1)} could not be read and {'were' if len(skipped) > 1 else 'was'} "
            f"skipped (their outcomes are missing from this report): {'; '.join(skipped[:3])}"
            + (" ..." if len(skipped) > 3 else "")]


def _rewritten(value, old: str, new: str):
    """``value`` (a replay reference: strings, or lists and objects of them) with ``old`` replaced by ``new``."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _rewritten(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewritten(v, old, new) for v in value]
    return value


def _moved(entries: list[dict], src: Path, owner: ReportDir) -> list[dict]:
    """``entries`` of the report directory ``src`` with its replay files copied into ``owner``'s
    ``cases/`` and every reference to them rewritten to the copy (the shard may have run under
    another path: each file is found by its name in ``src/cases``). ReportDirError when a replay
    file an outcome references is not there, or is not a file."""
    copied: dict[str, str] = {}

    def moved_file(old: str) -> str:
        name = PurePath(old).name
        if name not in copied:
            source, target = src / CASES_DIR / name, owner.path / CASES_DIR / name
            if not source.is_file():
                raise ReportDirError(f"{source}: the replay file of an outcome in {src / JOURNAL_NAME} "
                                     f"{'is not a file' if source.exists() else 'is missing'}")
            owner.record(target)
            if source.resolve() != target.resolve():
                try:
                    shutil.copyfile(source, target)
                except OSError as exc:
                    raise ReportDirError(f"cannot copy {source} to {target}: {exc.strerror or exc}") from None
            copied[name] = str(target)
        return copied[name]

    for e in entries:
        outcome = e.get("outcome") if e.get("kind") in ("outcome", "minimal") else None
        if outcome and outcome.get("replay"):
            old = outcome["replay"]["file"]
            outcome["replay"] = _rewritten(outcome["replay"], old, moved_file(old))
        for found in (e.get("summary") or {}).get("backend_disagreements", []) if e.get("kind") == "outcome" else []:
            if isinstance(found.get("replay"), str):
                old = found["replay"]
                found.update(_rewritten({k: found[k] for k in ("replay", "snippet") if k in found}, old, moved_file(old)))
    return entries


def _plain_meta(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k not in ("kind", "require_compared")}


def combine_attempts(attempt_dirs, owner: ReportDir) -> Rebuilt:
    """One report directory (``owner``: its journal and replay files) from the attempts of one shard
    (restarted after TensorFlow crashes), as if one process had run it."""
    entries, last, skipped = [], [], []
    for i, d in enumerate(attempt_dirs):
        last, lines_skipped = load_journal(d)
        skipped += lines_skipped
        entries += [e for e in _moved(last, Path(d), owner) if not (i and e.get("kind") == "meta")]
    owner.write_text(owner.path / JOURNAL_NAME, "".join(json.dumps(e, allow_nan=False) + "\n" for e in entries))
    meta = _meta(entries)
    session = _session_from(entries)
    session.require_compared = meta.get("require_compared", True)
    return Rebuilt(session, _plain_meta(meta), _finished(last), _skipped_problem(skipped), len(skipped))


#: what every shard of one campaign must share (else the merge is not the whole run)
SHARED_META = ("impl", "seed", "examples", "dtypes", "paths", "all_ops", "networks")


def shard_of(d, meta: dict) -> tuple[int, int]:
    """(K, N) of the shard whose journal's meta line is ``meta``; ReportDirError naming the field."""
    value = meta.get("shard")
    if not value:
        raise ReportDirError(f"{d}: not a shard of a campaign (its run had no --shard K/N)")
    try:
        k, n = (int(v) for v in str(value).split("/"))
    except ValueError:
        k = n = 0
    if not (isinstance(value, str) and 1 <= k <= n):
        raise ReportDirError(f'{Path(d) / JOURNAL_NAME}: meta field "shard" is {json.dumps(value)[:80]}, not K/N '
                             "with 1 <= K <= N")
    return k, n


def _journals(shard_dirs, lenient: bool) -> tuple[list, list, list, list]:
    """(directories, their entries, their metas, lines skipped) of the shards that have a journal;
    ``lenient``: a shard without one is left out (named by :func:`rebuild`), else ReportDirError."""
    dirs, journals, metas, skipped, metaless = [], [], [], [], []
    for d in shard_dirs:
        try:
            entries, lines_skipped = load_journal(d)
        except ReportDirError as exc:
            if lenient:   # none, or one that cannot be read (a directory in its place): named as lost
                continue
            if (Path(d) / JOURNAL_NAME).exists():
                raise
            raise ReportDirError(f"{d}: not a shard of a campaign (no {JOURNAL_NAME}: a merged or whole run's "
                                 "report directory?)") from exc
        if lenient and not _meta(entries):   # killed before its first line, or that line is corrupt
            if any(e.get("kind") in ("outcome", "minimal", "parity") for e in entries):
                metaless.append((Path(d), entries, lines_skipped))
            continue
        dirs.append(Path(d))
        journals.append(entries)
        metas.append(_meta(entries))
        skipped += lines_skipped
    for d, entries, lines_skipped in metaless:   # its outcomes kept: its meta is its neighbours', with its own shard
        k, _, attempt = d.name[5:].partition(".")
        if not (metas and d.name.startswith("shard") and k.isdigit() and (not attempt or attempt.isdigit())):
            continue
        n = shard_of(dirs[0], metas[0])[1]
        meta = {key: value for key, value in metas[0].items() if key not in ("units", "resumed")}
        meta.update(shard=f"{int(k)}/{n}", **({"resumed": True} if attempt else {}))
        dirs.append(d)
        journals.append([meta, *entries])
        metas.append(meta)
        skipped += lines_skipped
    return dirs, journals, metas, skipped


@dataclass
class Campaign:
    """The shards of a campaign, read and checked (nothing written yet): their directories,
    journals, metas and (K, N), the lines skipped, and the output directory's path."""
    shard_dirs: list
    dirs: list
    journals: list
    metas: list
    parts: list
    n: int
    skipped: list
    out: Path


def read_campaign(shard_dirs, out_dir, lenient: bool = False) -> Campaign:
    """The shards ``shard_dirs`` of one ``crosscheck run --shard K/N`` campaign, to merge into
    ``out_dir``; ReportDirError when they are not the N shards of one campaign (``lenient``: the
    shards that left a journal) or ``out_dir`` is one of them. Reads only: nothing is written."""
    shard_dirs, out = [Path(d) for d in shard_dirs], Path(out_dir)
    if any(out.resolve() == d.resolve() for d in shard_dirs):
        raise ReportDirError(f"--report {out} is one of the shards: merge into another directory")
    dirs, journals, metas, skipped = _journals(shard_dirs, lenient)
    if not dirs:
        raise ReportDirError(f"{out}: none of its shards left a journal ({', '.join(map(str, shard_dirs))})")
    parts = [shard_of(d, m) for d, m in zip(dirs, metas)]   # (K, N) of each
    counts = {n for _, n in parts}
    n = counts.pop() if len(counts) == 1 else None
    firsts = sorted(parts[i][0] for i in range(len(parts)) if not metas[i].get("resumed"))   # each shard's first attempt
    if n is None or (not lenient and firsts != list(range(1, n + 1))) or len(set(firsts)) != len(firsts):
        raise ReportDirError(f"need the shards 1/N .. N/N of one campaign exactly once, got "
                             f"{', '.join(m['shard'] for m in metas)}")
    for key in SHARED_META:
        values = {json.dumps(m.get(key)) for m in metas}
        if len(values) > 1:
            raise ReportDirError(f"the shards were run with different {key}: {', '.join(sorted(values))}")
    return Campaign(shard_dirs, dirs, journals, metas, parts, n, skipped, out)


def merge_campaign(campaign: Campaign, owner: ReportDir) -> Rebuilt:
    """One report of a campaign's shards (:func:`read_campaign`): the journals' outcomes in shard
    order (each (op, dtype) belongs to one shard, and the report orders outcomes by status, op and
    dtype, keeping each pair's own order: the whole run's order) and their replay files copied into
    ``owner``'s ``cases/`` (references rewritten). A shard restarted after a TensorFlow crash has
    several directories (attempts, in order): their journals are one shard's. A shard that left no
    journal (lenient reading) is named in the problems."""
    c = campaign
    order = sorted(range(len(c.metas)), key=lambda i: c.parts[i][0])   # stable: a shard's attempts in their order
    entries = []
    for i in order:
        entries += _moved(c.journals[i], c.dirs[i], owner)
    session = _session_from(entries)
    first = c.metas[order[0]]
    all_ops = first.get("all_ops") or []
    position = {op: i for i, op in enumerate(all_ops) if isinstance(op, str)}
    session.error_parity.sort(key=lambda p: position.get(p.get("op"), len(position)))   # the whole run's order
    session.require_compared = first.get("require_compared", True)
    meta = {**{k: first.get(k) for k in SHARED_META}, "ops": first.get("all_ops"), "tensorflow": first.get("tensorflow"),
            "merged_from": [str(c.dirs[i]) for i in order],
            "command": " ".join(["crosscheck merge", *map(str, c.shard_dirs), "--report", str(c.out)])}
    last = {c.parts[i][0]: c.journals[i] for i in order}   # each shard's last attempt
    lost = [f"shard {k}/{c.n} left no usable journal (none, an empty one, or one that cannot be read): its units "
            "are missing from this report"
            for k in range(1, c.n + 1) if k not in last]
    return Rebuilt(session, meta, not lost and all(_finished(j) for j in last.values()),
                   lost + _skipped_problem(c.skipped), len(c.skipped))


def merge_shards(shard_dirs, owner: ReportDir, lenient: bool = False) -> Rebuilt:
    """:func:`read_campaign` then :func:`merge_campaign` into ``owner``."""
    return merge_campaign(read_campaign(shard_dirs, owner.path, lenient), owner)


def _run_document(report_dir: Path) -> dict:
    """The in-progress report.json of a ``-j`` run (its command, its job count), or {} if unreadable."""
    try:
        doc = json.loads((report_dir / JSON_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def rebuild(owner: ReportDir) -> Rebuilt:
    """report.json and report.html's content from ``owner``'s journal, or for a ``-j N`` run from its
    shards' journals (merged shard by shard: a shard without a journal is named, the others kept;
    for a ``--shard K/N`` run, its attempts combined into its own journal)."""
    report_dir = owner.path
    shards = [] if (report_dir / JOURNAL_NAME).exists() else job_dirs(report_dir)
    if shards:
        run = _run_document(report_dir)
        ks = {d.name[5:].partition(".")[0] for d in shards}
        if "jobs" not in run and len(ks) == 1:   # one shard of a campaign: its attempts, as the run writes them
            rebuilt = combine_attempts(shards, owner)
        else:
            rebuilt = merge_shards(shards, owner, lenient=True)
            rebuilt.meta.pop("merged_from", None)
            if isinstance(run.get("command"), str):
                rebuilt.meta["command"] = run["command"]
        return rebuilt
    entries, skipped = load_journal(report_dir)
    merged, run_problems = session_entries(report_dir, entries)   # a pytest session's: its xdist workers' too
    merged = _moved(merged, report_dir, owner)   # references to DIR/cases as this command names DIR; each checked
    meta = _meta(entries)
    session = _session_from(merged)
    session.require_compared = meta.get("require_compared", True)
    session.run_problems = run_problems
    return Rebuilt(session, _plain_meta(meta), _finished(entries), _skipped_problem(skipped), len(skipped))
