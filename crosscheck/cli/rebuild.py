"""``crosscheck merge`` (one report from a campaign's shard reports) and ``crosscheck report``
(report.json and report.html rebuilt from the journal of a run that was killed)."""
from __future__ import annotations

from rich.console import Console

from ..report import ReportDirError, merge_shards, rebuild
from .common import UsageError
from .tables import print_rebuilt


def cmd_merge(args, console: Console) -> int:
    """One report from the N shard reports of a campaign (what the unsharded run would have written)."""
    try:
        session, meta, complete = merge_shards(args.dirs, args.report)
    except ReportDirError as exc:
        raise UsageError(str(exc)) from None
    paths = session.write(args.report, complete=complete, **meta)
    return print_rebuilt(console, session, f"crosscheck merge: {len(args.dirs)} shards", complete, paths,
                         "" if complete else "; a shard was interrupted")


def cmd_report(args, console: Console) -> int:
    """report.json and report.html rebuilt from the journal of a run (for one that was killed)."""
    try:
        session, meta, complete = rebuild(args.dir)
    except ReportDirError as exc:
        raise UsageError(str(exc)) from None
    paths = session.write(args.dir, complete=complete, rebuilt_from_journal=True, **meta)
    state = "complete" if complete else "interrupted: the report holds what was found until then"
    return print_rebuilt(console, session, f"crosscheck report {args.dir}: {meta.get('command', '')}", complete,
                         paths, f"; the run was {state}")
