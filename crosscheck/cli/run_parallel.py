"""``crosscheck run`` in shard processes: the (op, dtype) units dealt to N shards (``-j N``, or one
shard ``--shard K/N`` of a campaign), each shard a ``crosscheck run --in-shard`` process of its own
(forked from the fork server that has imported TensorFlow, see :mod:`crosscheck.forking`),
supervised (:mod:`crosscheck.supervision`: a shard that TensorFlow kills is restarted past the unit
it died in), and their reports merged into ``--report`` exactly as ``crosscheck merge`` does.

    default_jobs(n_units)         the processes a run uses by default
    shard_units(ops, dtypes, s)   the (op, dtype) units of shard s = (K, N)
    cmd_run_parallel(args, ...)   the supervisor: start the shards, wait, merge, print
"""
from __future__ import annotations

import os
import shutil
import time
from typing import Callable

from rich.console import Console

from ..files import ReportWriteError
from ..report import JOBS_DIR, ReportDir, ReportDirError, combine_attempts, merge_shards
from ..supervision import Shard, ShardUsageError, ShardWriteError
from .common import EXIT_CRASHED, EXIT_FAILED, EXIT_OK, UsageError, command_line, usable_report_dir, write_run_junit
from .tables import print_run

# options of the whole run that its shards do not take (each shard gets its own --shard and --report)
NOT_FOR_SHARDS = ("-j", "--jobs", "--report", "--shard", "--junit-xml")


def default_jobs(n_units: int) -> int:
    """The cores this process may use, at most one per (op, dtype) (the work is dealt so)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, n_units))


def shard_units(ops, dtypes, shard) -> list[tuple[str, str]]:
    """The (op, dtype) units of shard ``(K, N)`` (all of them for None): op ``i`` in dtype ``j``
    goes to shard ``(i + j) % N + 1``, so an op's dtypes run in different shards and each shard
    gets about the same mix of ops."""
    units = [(i, j, op, dtype) for i, op in enumerate(ops) for j, dtype in enumerate(dtypes)]
    return [(op, dtype) for i, j, op, dtype in units if shard is None or (i + j) % shard[1] == shard[0] - 1]


def parse_shard(text):
    """``"K/N"`` -> ``(K, N)`` with 1 <= K <= N; None for no sharding."""
    if text is None:
        return None
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard takes K/N (for example 2/4), got {text!r}") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def without_options(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """``argv`` without the options ``names`` and their values (``-j 2``, ``--jobs=2``, ``-j2``)."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token in names:
            skip = True
        elif not any(token.startswith(n + "=") or (len(n) == 2 and token.startswith(n) and token[2:].isdigit())
                     for n in names):
            out.append(token)
    return out


class ShardedRun:
    """The shard processes of one ``crosscheck run`` and the merge of their reports into ``--report``.
    ``child_main(argv)`` is what a shard process runs (``crosscheck ARGV``)."""

    def __init__(self, args, child_main: Callable):
        self.args = args
        self.own_shard = parse_shard(args.shard)   # --shard K/N: this run is one shard of a campaign
        self.report_dir = usable_report_dir(args.report)
        self.owner = self._own_report_dir()
        self.jobs_dir = self.report_dir / JOBS_DIR
        base = without_options(args.argv, NOT_FOR_SHARDS)
        if args.not_provided:   # the ops the --impl module defines, found once here (cmd_run)
            base += ["--ops", *args.ops]
        if self.own_shard:
            self.shards = [Shard(self.own_shard[0], self.own_shard[1], base, self.jobs_dir, child_main)]
        else:
            self.shards = [Shard(k, args.jobs, base, self.jobs_dir, child_main) for k in range(1, args.jobs + 1)]
        self.start = time.perf_counter()

    def _run_meta(self) -> dict:
        """What the merged report says about the command (a -j run: its job count)."""
        return {"command": command_line(self.args), **({} if self.own_shard else {"jobs": self.args.jobs}),
                **({"not_provided": self.args.not_provided} if self.args.not_provided else {})}

    def _own_report_dir(self) -> ReportDir:
        """The report directory locked for this run and marked in progress (no journal: the shards
        journal their own outcomes), and an empty ``.jobs/`` for the shards' own directories."""
        try:
            owner = ReportDir.start(self.report_dir, self._run_meta(), replace=self.args.replace_report, journal=False)
        except ReportDirError as exc:
            raise UsageError(str(exc)) from None
        jobs_dir = self.report_dir / JOBS_DIR
        owner.record(jobs_dir, directory=True)
        try:
            jobs_dir.mkdir()
        except OSError as exc:
            owner.close()
            raise UsageError(f"--report {self.report_dir}: cannot make {jobs_dir} ({exc.strerror or exc})") from None
        return owner

    def lost_lines(self) -> list[str]:
        """Why shards that crosscheck itself lost (exit 3) ended."""
        return [shard.lost for shard in self.shards if shard.lost]

    def stop(self) -> None:
        for shard in self.shards:
            shard.stop()

    def wait(self) -> None:
        """Start the shards and wait until each has ended for good (restarted past TensorFlow crashes).
        Interrupted (Ctrl-C, SIGTERM), the shards are stopped and what they found is merged and written."""
        for shard in self.shards:
            shard.start()
        try:
            running = list(self.shards)
            while running:
                running = [shard for shard in running if not shard.poll()]
                if running:
                    time.sleep(0.05)
        except ShardUsageError as exc:   # e.g. an --impl that cannot be imported: the shard's own message
            self.stop()
            try:   # the report says so, rather than "in progress"
                self.merge(complete_run=True, problems=[f"the run did not start: {exc}"])
            except (ReportDirError, ReportWriteError, OSError):
                pass
            raise UsageError(str(exc)) from None
        except ShardWriteError as exc:   # a shard could not write its report files (disk full?): so ends the run
            self.stop()
            try:
                self.merge(complete_run=False)
            except (ReportDirError, ReportWriteError):
                pass
            raise ReportWriteError(str(exc)) from None
        except KeyboardInterrupt:   # Ctrl-C reached the shards too (one process group); SIGTERM only this one
            self.stop()
            try:
                self.merge(complete_run=False)
            except ReportDirError:    # a shard stopped before its report directory existed: the journals stay
                pass
            raise

    def merge(self, complete_run: bool, problems: list | None = None):
        """The shards' reports merged into ``--report`` (and ``--junit-xml``); (session, paths, complete).
        ``problems``: why the run fails beside its outcomes."""
        if self.own_shard:   # the shard's own report directory, mergeable with the campaign's other shards
            rebuilt = combine_attempts(self.shards[0].dirs, self.owner)
        else:
            rebuilt = merge_shards([d for shard in self.shards for d in shard.dirs], self.owner,
                                   lenient=not complete_run)   # interrupted: a shard may not have started
        session, meta, complete = rebuilt.session, rebuilt.meta, rebuilt.complete
        session.own(self.owner)
        session.tensorflow = meta.get("tensorflow")
        meta.update(self._run_meta())
        meta.pop("merged_from", None)
        lost = self.lost_lines()
        complete = complete and complete_run and not lost
        paths = session.write(self.report_dir, complete=complete, more_problems=[*(problems or []), *lost, *rebuilt.problems],
                              elapsed_s=round(time.perf_counter() - self.start, 2), **meta)
        write_run_junit(self.args.junit_xml, self.report_dir)
        if not lost:   # a lost shard's directory and log stay, for whoever looks into it
            shutil.rmtree(self.jobs_dir, ignore_errors=True)
        return session, paths, complete


def cmd_run_parallel(args, console: Console, child_main: Callable) -> int:
    """``crosscheck run`` (``-j N``, N >= 1): N child runs ``--shard k/N`` (each with its own worker
    process), each running ``child_main(argv)``, merged into ``--report`` exactly as ``crosscheck
    merge`` does, then printed as one run. A shard that TensorFlow kills is restarted past the unit
    it died in: that case becomes a reference-crash outcome and the run goes on. Interrupted
    (Ctrl-C, SIGTERM), the shards are stopped, write what they found, and that is merged and
    written; if this process is killed, the shards stop too and ``crosscheck report DIR`` merges
    their journals."""
    run = ShardedRun(args, child_main)
    run.wait()
    try:
        session, (json_path, html_path), complete = run.merge(complete_run=True)
    except ReportDirError as exc:
        raise UsageError(str(exc)) from None
    print_run(console, session, args, time.perf_counter() - run.start)
    console.print(f"report: {json_path}  {html_path}")
    lost = run.lost_lines()
    for line in lost:
        Console(stderr=True, highlight=False).print(f"crosscheck: {line}; the report holds what the other units "
                                                    f"found", markup=False, soft_wrap=True)
    return EXIT_CRASHED if lost else EXIT_OK if session.ok and complete else EXIT_FAILED
