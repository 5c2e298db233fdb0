"""``crosscheck merge`` (one report from a campaign's shard reports) and ``crosscheck report``
(report.json and report.html rebuilt from the journal of a run that was killed). Each locks the
directory it writes (a run still writing there is refused) and records what it writes in its
manifest."""
from __future__ import annotations

from rich.console import Console

from ..report import ReportDirError, rebuild
from ..report.merge import merge_campaign, read_campaign
from ..report.report_dir import ReportDir
from .common import UsageError, command_line
from .tables import print_rebuilt


def cmd_merge(args, console: Console) -> int:
    """One report from the N shard reports of a campaign (what the unsharded run would have written)."""
    try:   # the shards checked before the output directory is touched
        campaign = read_campaign(args.dirs, args.report)
        owner = ReportDir.start(args.report, {"command": command_line(args)}, replace=args.replace_report,
                                journal=False)
    except ReportDirError as exc:
        raise UsageError(str(exc)) from None
    try:
        merged = merge_campaign(campaign, owner)
    except ReportDirError as exc:
        owner.close()
        raise UsageError(str(exc)) from None
    merged.session.own(owner)
    paths = merged.session.write(args.report, complete=merged.complete, more_problems=merged.problems,
                                 journal_lines_skipped=merged.skipped, **merged.meta)
    return print_rebuilt(console, merged.session, f"crosscheck merge: {len(args.dirs)} shards", merged.complete,
                         paths, "" if merged.complete else "; a shard was interrupted")


def cmd_report(args, console: Console) -> int:
    """report.json and report.html rebuilt from the journal of a run (for one that was killed)."""
    try:
        owner = ReportDir.reopen(args.dir, command_line(args))
    except ReportDirError as exc:
        raise UsageError(str(exc)) from None
    try:
        rebuilt = rebuild(owner)
    except ReportDirError as exc:
        owner.close()
        raise UsageError(str(exc)) from None
    rebuilt.session.own(owner)
    paths = rebuilt.session.write(args.dir, complete=rebuilt.complete, more_problems=rebuilt.problems,
                                  rebuilt_from_journal=True, journal_lines_skipped=rebuilt.skipped, **rebuilt.meta)
    state = "complete" if rebuilt.complete else "interrupted: the report holds what was found until then"
    return print_rebuilt(console, rebuilt.session, f"crosscheck report {args.dir}: {rebuilt.meta.get('command', '')}",
                         rebuilt.complete, paths, f"; the run was {state}"
                         + (f"; {rebuilt.skipped} journal lines skipped" if rebuilt.skipped else ""))
