"""``crosscheck run``: fuzz the registered ops against TensorFlow and write a diff report.

:func:`cmd_run` checks the options and hands the run to shard processes (:mod:`.run_parallel`);
a shard process (``--in-shard``), or the whole run with ``--in-process``, does its units here
(:class:`RunLoop`): error parity, each (op, dtype)'s fuzzed cases and the shrink of its first
failing case, each op's large case and form top-ups, then the networks.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..backend_differ import disagreement
from ..case import FAILING
from ..coverage import missing_forms
from ..error_parity import run_error_parity
from ..fuzz import fuzz_op, large_cases, record_drawn_forms, shrink_op, top_up_forms
from ..implementation import DEFAULT_IMPL, functions_of
from ..oracle import backend
from ..registry import OPS
from ..report import ReportSession
from ..supervision import Resume
from ..threads import limit_threads
from .common import (DEFAULT_EXAMPLES, DEFAULT_NETWORK_EXAMPLES, DTYPES, EXIT_FAILED, EXIT_OK, UsageError, command_line,
                     load_impl_under_test, usable_junit_path, usable_report_dir, write_run_junit)
from .run_parallel import cmd_run_parallel, default_jobs, parse_shard, shard_units
from .tables import print_run


def select_ops(names) -> list[str]:
    """The ops ``--ops`` names (every registered op for none), in the order given, separated by spaces or
    commas; UsageError for unknown ones."""
    if not names:
        return sorted(OPS)
    names = [n for name in names for n in name.split(",") if n]
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise UsageError(f"unknown op{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"known ops: {', '.join(sorted(OPS))}")
    return list(dict.fromkeys(names))


def cmd_run(args, console: Console, child_main: Callable) -> int:
    """The options checked, then the run in shard processes (each running ``child_main``), or here
    (a shard process, or ``--in-process``)."""
    if args.examples is not None and args.examples < 1:
        raise UsageError("--examples must be at least 1")
    all_ops = select_ops(args.ops) if args.ops or not args.networks else []
    dtypes = DTYPES if args.dtype == "all" else (args.dtype,)
    if args.jobs is None:
        # one process where a serial run is the point: a shard, stopping at the first failure, a debugger
        args.jobs = 1 if args.shard or args.fail_fast or args.in_process else default_jobs(len(all_ops) * len(dtypes))
    elif args.jobs < 1:
        raise UsageError("-j/--jobs must be at least 1")
    if args.shard and args.jobs > 1:
        raise UsageError("-j and --shard do not combine: give each shard its own machine or job")
    args.junit_xml = usable_junit_path(args.junit_xml)
    all_ops = ops_provided(args, console, all_ops)
    if not (args.in_shard or args.in_process):
        return cmd_run_parallel(args, console, child_main)   # shards in processes of their own: a crash costs a case
    return run_here(args, console, RunPlan.of(args, all_ops, dtypes))


def ops_provided(args, console: Console, all_ops: list) -> list:
    """Without ``--ops``, the ops an ``--impl`` module defines: the others are listed as not provided
    (one line, and ``not_provided`` in the report) instead of failing every case; the shards get the
    ops as ``--ops``. With ``--ops``, every op named is checked."""
    args.not_provided = []
    if args.ops or args.in_shard or args.impl == DEFAULT_IMPL or not all_ops:
        return all_ops
    defined = functions_of(args.impl, in_process=args.in_process, timeout=args.timeout)
    if defined is None or "vjp" not in defined:   # the run's own loading says what is wrong
        return all_ops
    provided = [op for op in all_ops if op in defined]
    if not provided:
        raise UsageError(f"--impl {args.impl} defines none of crosscheck's ops ({', '.join(all_ops)}): name its "
                         "functions as TensorFlow's ops are named")
    args.not_provided = [op for op in all_ops if op not in defined]
    if args.not_provided:
        args.ops = provided
        console.print(f"not provided by {args.impl} (not checked; --ops names ops to check): "
                      f"{', '.join(args.not_provided)}", markup=False, soft_wrap=True)
    return provided


@dataclass
class RunPlan:
    """The work of this process: its (op, dtype) units of the run's ``all_ops`` x ``dtypes`` (all of
    them, or shard ``shard``'s), the ops among them, and the networks (shard 1's)."""
    all_ops: list
    dtypes: tuple
    shard: tuple | None
    units: list
    ops: list
    op_examples: int
    net_examples: int

    @classmethod
    def of(cls, args, all_ops: list, dtypes: tuple) -> "RunPlan":
        shard = parse_shard(args.shard)
        units = shard_units(all_ops, dtypes, shard)
        ops = [op for op in all_ops if any((op, dtype) in units for dtype in dtypes)]
        net_examples = args.examples or DEFAULT_NETWORK_EXAMPLES if args.networks else 0
        return cls(all_ops, dtypes, shard, units, ops, args.examples or DEFAULT_EXAMPLES, net_examples)

    def owned(self) -> list[str]:
        """The ops whose own work (error parity, the large case, form top-ups) is done here: it goes
        with the op's first dtype."""
        return [op for op in self.ops if (op, self.dtypes[0]) in self.units]


def network_optimizers(args, plan: RunPlan) -> tuple:
    """The optimizers whose networks this process checks (none without --networks, or in shards but the first)."""
    if not plan.net_examples:
        return ()
    if args.impl != DEFAULT_IMPL:
        raise UsageError("--networks checks npcnn's layers and optimizers; it does not take --impl")
    from ..networks import OPTIMIZERS  # deferred: crosscheck.networks imports npcnn, the code under test
    if plan.shard and plan.shard[0] != 1:
        return ()     # the networks belong to shard 1
    return tuple(OPTIMIZERS)


def run_meta(args, plan: RunPlan) -> dict:
    """What the report says about the run."""
    meta = dict(impl=args.impl, seed=args.seed, examples=plan.op_examples, dtypes=list(plan.dtypes), ops=plan.ops,
                paths=args.paths, command=command_line(args), tensorflow=backend.describe())
    if plan.shard:
        meta.update(shard=f"{plan.shard[0]}/{plan.shard[1]}", all_ops=plan.all_ops, networks=bool(args.networks),
                    units=[list(u) for u in plan.units])
    if args.resume:
        meta["resumed"] = True   # a later attempt of a shard TensorFlow crashed (supervision.py)
    if args.not_provided:
        meta["not_provided"] = args.not_provided
    return meta


def run_here(args, console: Console, plan: RunPlan) -> int:
    """The plan's work in this process, its report written whether it finishes or is interrupted."""
    report_dir = usable_report_dir(args.report)
    optimizers = network_optimizers(args, plan)
    meta = run_meta(args, plan)
    session = ReportSession()
    session.start(report_dir, replace=args.replace_report, **meta)   # locked before any work
    try:
        impl = load_impl_under_test(args.impl, isolated=not args.in_process, timeout=args.timeout)
    except UsageError as exc:   # the report says so, rather than "in progress"
        session.write(report_dir, complete=True, more_problems=[f"the run did not start: {exc}"], **meta)
        raise
    limit_threads()
    session.tensorflow = meta["tensorflow"]
    resume = Resume.load(args.resume, session.journal)
    start = time.perf_counter()
    complete = False
    try:
        with Progress(TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=not console.is_terminal, disable=args.quiet) as progress:
            RunLoop(args, plan, optimizers, impl, session, resume, progress).run()
        complete = True
    finally:   # interrupted (SIGINT, SIGTERM) or not, what was found so far is written
        elapsed = time.perf_counter() - start
        json_path, html_path = session.write(report_dir, complete=complete, elapsed_s=round(elapsed, 2), **meta)
        write_run_junit(args.junit_xml, report_dir)
    print_run(console, session, args, elapsed)
    console.print(f"report: {json_path}  {html_path}")
    return EXIT_OK if session.ok else EXIT_FAILED


class RunLoop:
    """One process's units of a run, in order, each outcome added to ``session`` and counted on the
    progress bar; with ``--fail-fast`` it stops at the first failure."""

    def __init__(self, args, plan: RunPlan, optimizers: tuple, impl, session, resume: Resume, progress: Progress):
        self.args, self.plan, self.optimizers, self.impl = args, plan, optimizers, impl
        self.session, self.resume, self.progress = session, resume, progress
        self.mine = set(plan.units)
        self.guard = both_backends_guard(resume.guard, session) if args.tf_backend == "both" else resume.guard
        self.stop = (lambda _: not session.ok) if args.fail_fast else None
        self.first_failing: dict = {}   # (op, dtype) -> (Outcome, its dict): the case to shrink
        total = len(self.mine) * plan.op_examples + len(optimizers) * plan.net_examples
        self.overall = progress.add_task("crosscheck", total=total)

    def stopped(self) -> bool:
        return bool(self.stop and self.stop(None))

    def describe(self, what: str) -> None:
        self.progress.update(self.overall, description=what)

    def record(self, outcome) -> None:
        d = self.session.add(outcome)
        if outcome.status in FAILING:
            self.first_failing.setdefault((outcome.case.op, outcome.case.dtype), (outcome, d))
        self.progress.advance(self.overall)

    def run(self) -> None:
        owned = self.plan.owned()
        if owned and not self.args.no_error_parity:
            self.describe("error parity")
            run_error_parity(owned, self.impl, on_outcome=self.session.add_parity, resume=self.resume)
        for op in self.plan.ops:
            for dtype in self.plan.dtypes:
                if self.stopped():
                    break
                if (op, dtype) in self.mine:
                    self.fuzz(op, dtype)
                    self.shrink(op, dtype)
            if op in owned:
                self.op_extras(op)
        for optimizer in self.optimizers:
            self.networks(optimizer)

    def fuzz(self, op: str, dtype: str) -> None:
        """The (op, dtype)'s drawn examples."""
        args, examples = self.args, self.plan.op_examples
        self.describe(f"{op} [{dtype}]")
        done_before = self.progress.tasks[self.overall].completed
        fuzz_op(op, examples=examples, dtype=dtype, seed=args.seed, impl=self.impl, paths=args.paths,
                on_outcome=self.record, stop=self.stop, guard=self.guard)
        # hypothesis may stop early (few distinct examples): keep the bar honest
        self.progress.update(self.overall, completed=done_before + examples)

    def shrink(self, op: str, dtype: str) -> None:
        """The (op, dtype)'s first failing case shrunk to a minimal one (within --shrink-time)."""
        args = self.args
        if (op, dtype) in self.first_failing and args.shrink_time > 0 and journaled_unit(
                self.resume, self.session, f"shrink:{op}:{dtype}",
                f"shrinking {op} [{dtype}] (the first failing case stands unshrunk)") == "run":
            self.describe(f"{op} [{dtype}] shrinking")
            first, first_dict = self.first_failing[(op, dtype)]
            minimal, tried = shrink_op(op, first, examples=self.plan.op_examples, dtype=dtype, seed=args.seed,
                                       impl=self.impl, paths=args.paths,
                                       budget_s=args.shrink_time / len(self.plan.dtypes))
            self.session.add_minimal(minimal, first_dict, tried)

    def op_extras(self, op: str) -> None:
        """The op's large case, and cases of the parameter forms the whole run's draws missed."""
        args, dtype = self.args, self.plan.dtypes[0]
        if not args.no_large and not self.stopped():
            large_cases(op, dtype=dtype, seed=args.seed, impl=self.impl, paths=args.paths, on_outcome=self.record,
                        guard=self.guard)
        entry = copy.deepcopy(self.session.summary["ops"].get(op, {}))
        for other in self.plan.dtypes:
            if (op, other) not in self.mine:   # run by another shard: its draws' forms count all the same
                record_drawn_forms(entry, op, examples=self.plan.op_examples, dtype=other, seed=args.seed)
        missing = missing_forms(entry, OPS[op])
        if missing and not self.stopped():
            self.describe(f"{op} [forms the draws missed]")
            top_up_forms(op, missing, dtype=dtype, seed=args.seed, impl=self.impl, paths=args.paths,
                         on_outcome=self.record, stop=self.stop, guard=self.guard)

    def networks(self, optimizer: str) -> None:
        """Random networks trained with ``optimizer``, compared with Keras."""
        from ..networks import fuzz_networks  # deferred: crosscheck.networks imports npcnn, the code under test
        self.describe(f"networks [{optimizer}]")
        if journaled_unit(self.resume, self.session, f"networks:{optimizer}", f"networks [{optimizer}]") == "run":
            fuzz_networks(optimizer, examples=self.plan.net_examples, seed=self.args.seed, on_outcome=self.record)


def both_backends_guard(guard, session):
    """``guard`` that also computes each case on oneDNN and records where the backends disagree."""
    def both(key, case, run):
        def run_both():
            outcome = run()
            found = disagreement(case)
            if found is not None:
                session.add_backend_disagreement(found, case)
            return outcome
        return guard(key, case, run_both)
    return both


def journaled_unit(resume, session, key: str, where: str) -> str:
    """Work that is not one case (a shrink, an optimizer's networks) as a journaled unit: "run",
    "done", or "crashed" (TensorFlow crashed in it before: a problem of the run, said ``where``)."""
    state = resume.unit(key)
    if state == "crashed":
        session.add_crash(where, resume.crashed[key])
    return state
