"""The ``crosscheck`` command: ``run`` (fuzz ops against TensorFlow), ``replay`` (one saved case), ``ops``.

Exit status: 0 all good; 1 a mismatch, an implementation error or a TensorFlow crash was found; 2 usage
error (unknown op, an --impl module that cannot be imported, an unreadable replay file); 3 crosscheck
itself crashed (a shard died outside any case): the report holds what the rest of the run found.
"""
from __future__ import annotations

import argparse
import copy
import os
import signal
import sys
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .case import FAILING, IMPLEMENTATION_CRASH, IMPLEMENTATION_TIMEOUT, PATH_MODES, REFERENCE_UNSUPPORTED
from .implementation import DEFAULT_IMPL
from .oracle import backend
from .supervision import Resume, Shard, ShardUsageError, exit_with_parent, start_shard
from .threads import limit_threads

# Examples per op and dtype in a default `crosscheck run`: every op in float32 and float64 (2,500
# cases for 25 ops) took 23 s in all (16 s fuzzing) on this project's 2-core machine; the budget is 60 s.
DEFAULT_EXAMPLES = 50
# Random architectures per optimizer with --networks: about 0.6 s each on 2 cores.
DEFAULT_NETWORK_EXAMPLES = 15
DEFAULT_REPORT_DIR = "crosscheck-report"
DTYPES = ("float32", "float64")
MAX_PRINTED_REPORTS = 3     # full mismatch reports printed in the terminal; all are in the files

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CRASHED = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crosscheck",
                                description="Compare CNN ops (npcnn or your own module) against TensorFlow.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="fuzz registered ops against TensorFlow and write a diff report",
                         epilog="exit status: 0 no mismatch, 1 a mismatch, an implementation error or a TensorFlow "
                                "crash, 2 usage error, 3 crosscheck itself crashed (the report holds what was found)")
    run.add_argument("--ops", nargs="+", metavar="OP", help="ops to check (default: all; see `crosscheck ops`)")
    run.add_argument("--examples", type=int, default=None, metavar="N",
                     help=f"examples per op and dtype (default {DEFAULT_EXAMPLES}), or architectures per "
                          f"optimizer with --networks (default {DEFAULT_NETWORK_EXAMPLES})")
    run.add_argument("--networks", action="store_true",
                     help="whole-network parity against Keras instead of per-op fuzzing (random CNNs in float64: "
                          "layer outputs, loss, gradients and parameters after 10 SGD-momentum / Adam / RMSprop "
                          "steps); "
                          "with --ops, the ops are fuzzed too")
    run.add_argument("--dtype", choices=[*DTYPES, "all"], default="all", help="dtype(s) to check (default all)")
    run.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the example generator (default 0)")
    run.add_argument("--report", default=DEFAULT_REPORT_DIR, metavar="DIR",
                     help=f"where report.json, report.html and cases/*.json go (default ./{DEFAULT_REPORT_DIR})")
    run.add_argument("--paths", choices=PATH_MODES, default="all",
                     help="TF paths per case: all (default), or first: only the first path that works, every "
                          "path again for a case that mismatches (1.6-2x faster on conv2d)")
    run.add_argument("--impl", default=DEFAULT_IMPL, metavar="MODULE",
                     help=f"module offering npcnn.functional's functions and vjp (default {DEFAULT_IMPL})")
    run.add_argument("--fail-fast", action="store_true", help="stop at the first failure (the report holds it)")
    run.add_argument("--no-large", action="store_true",
                     help="skip the one realistic-size case of the ops that have one (conv2d, depthwise, pools)")
    run.add_argument("--timeout", type=float, default=60.0, metavar="S",
                     help="seconds one call of the code under test may take (default 60); a call that does not "
                          "return is an implementation-timeout, the run goes on")
    run.add_argument("--in-process", action="store_true",
                     help="run the code under test in crosscheck's own process (for a debugger); by default it runs "
                          "in a worker process, so that a crash or a hang costs one case, not the run")
    run.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                     help="run in N processes ((op, dtype) pairs dealt as N shards, merged into one report: the "
                          "same cases, outcomes and report as one process gives; default: the usable cores, at "
                          "most one per (op, dtype); 1 with --shard, --fail-fast or --in-process)")
    run.add_argument("--shrink-time", type=float, default=20.0, metavar="S",
                     help="seconds per op to shrink each (op, dtype)'s first failing case to a minimal one, "
                          "reported first (default 20; 0: no shrinking)")
    run.add_argument("--shard", default=None, metavar="K/N",
                     help="run the K-th of N deterministic parts of the work ((op, dtype) pairs dealt round-robin); "
                          "`crosscheck merge` combines the N reports into the whole run's")
    run.add_argument("--no-error-parity", action="store_true",
                     help="skip the error-parity checks (invalid calls must be refused as TensorFlow refuses them)")
    _backend_option(run, both=True)
    run.add_argument("--resume", default=None, help=argparse.SUPPRESS)   # a restarted shard's units (supervision.py)
    run.add_argument("--in-shard", action="store_true", help=argparse.SUPPRESS)   # a supervised shard process
    replay = sub.add_parser("replay", help="re-run one saved case and print its report",
                            epilog="exit status: 0 the case passes now, 1 it still fails, 2 usage error")
    replay.add_argument("case", metavar="CASE.json")
    replay.add_argument("--impl", default=None, metavar="MODULE",
                        help=f"implementation to run (default {DEFAULT_IMPL}; the file never chooses code to run)")
    replay.add_argument("--timeout", type=float, default=60.0, metavar="S",
                        help="seconds the code under test may take (default 60)")
    replay.add_argument("--check", default=None, metavar="PATH_OR_MODULE",
                        help="for a case of `crosscheck check`: the file or module to run it on")
    _backend_option(replay)
    replay.add_argument("--here", action="store_true", help=argparse.SUPPRESS)   # in this process (the child's side)
    sub.add_parser("ops", help="list the ops, their parameters and TensorFlow paths")
    sub.add_parser("train-digits", add_help=False,
                            help="train npcnn's example CNN on scikit-learn's digits "
                                 "(python -m npcnn.examples.train_digits; --help for its options)")
    report = sub.add_parser("report", help="rebuild report.json and report.html of a run that was killed",
                            description="Rebuild DIR/report.json and DIR/report.html from DIR/journal.jsonl (every "
                                        "outcome a run or check found, written as it came) and print the verdict.")
    report.add_argument("dir", metavar="DIR")
    merge = sub.add_parser("merge", help="combine the reports of the shards of a `crosscheck run --shard K/N` campaign",
                           epilog="exit status: 0 the whole run passes, 1 it fails, 2 the directories are not the "
                                  "N shards of one campaign")
    merge.add_argument("dirs", nargs="+", metavar="DIR")
    merge.add_argument("--report", default=DEFAULT_REPORT_DIR, metavar="OUT",
                       help=f"where the merged report goes (default ./{DEFAULT_REPORT_DIR})")
    check = sub.add_parser("check", help="check your own code (a .py file or a module) in a course's convention or "
                                         "as layer classes",
                           epilog="exit status: 0 every function found passes (notes allowed), 1 a failure, a stub or "
                                  "an error (including a file that cannot be loaded), 2 usage error")
    check.add_argument("target", metavar="PATH_OR_MODULE")
    check.add_argument("--convention", choices=["cs231n", "deeplearning-ai", "layers"], default="cs231n",
                       help="cs231n (assignment-2 functions), deeplearning-ai (Coursera CNN step by step) or layers "
                            "(classes with forward/backward; crosscheck.Layer declarations); default cs231n")
    check.add_argument("--examples", type=int, default=10, metavar="N", help="examples per function (default 10)")
    check.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the example generator (default 0)")
    check.add_argument("--functions", nargs="+", metavar="NAME", help="check only these functions (or classes)")
    check.add_argument("--report", default=DEFAULT_REPORT_DIR, metavar="DIR",
                       help=f"where report.json, report.html and a replay file per failure go (default "
                            f"./{DEFAULT_REPORT_DIR})")
    check.add_argument("--ties", choices=["note", "tf"], default="note",
                       help="max-pool tie rules other than TensorFlow's (the first maximum): a note (default) or, with "
                            "tf, a failure")
    check.add_argument("--cs231n-year", type=int, default=None, metavar="YYYY",
                       help="pin the year's conventions (dropout p: drop probability up to 2017, keep probability "
                            "from 2018) instead of detecting them")
    check.add_argument("--timeout", type=float, default=60.0, metavar="S",
                       help="seconds an import or one call of your code may take (default 60)")
    _backend_option(check)
    check.add_argument("--in-process", action="store_true",
                       help="run your code in crosscheck's own process (for a debugger); by default each case runs "
                            "in a worker process, so that a crash or a hang costs one case, not the run")
    return p


def _backend_option(parser, both: bool = False) -> None:
    parser.add_argument("--tf-backend", choices=[*backend.BACKENDS, *(["both"] if both else [])], default=None,
                        help="TensorFlow's CPU kernels for the reference: eigen (the default, the same verdict on every "
                             "machine), onednn (TensorFlow's own default on AVX-512 VNNI / AMX CPUs)"
                             + (", or both: the run on Eigen, and every case also computed on oneDNN in another "
                                "process, their disagreements listed apart" if both else "")
                             + f"; default: {backend.VARIABLE} if set, else eigen")


def _choose_backend(args) -> None:
    """Set TensorFlow's backend before anything imports it (children inherit it)."""
    name = getattr(args, "tf_backend", None)
    try:
        if name is None:
            backend.choose()
        else:
            backend.choose(backend.EIGEN if name == "both" else name, chosen_by=f"--tf-backend {name}")
    except backend.BackendError as exc:
        raise UsageError(str(exc)) from None


def _usable_report_dir(path: str) -> Path:
    """``--report`` checked before any work: a directory crosscheck can write (exit 2 otherwise)."""
    from .report import ReportDirError
    from .report import check_report_dir
    try:
        return check_report_dir(path)
    except ReportDirError as exc:
        raise UsageError(str(exc)) from None


class Terminated(KeyboardInterrupt):
    """SIGTERM (what CI time limits send): handled like Ctrl-C, so the report is written."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _load_impl(name: str, isolated: bool = True, timeout: float | None = 60.0):
    """The implementation under test, in a worker process unless ``isolated`` is False."""
    from .implementation import load_impl
    try:
        return load_impl(name, isolated=isolated, timeout=timeout)
    except Exception as exc:   # ImportError, a module without vjp, a crash at import: the reason, no traceback of ours
        text = str(exc).strip()
        raise UsageError(f"cannot use --impl {name}: {type(exc).__name__}: "
                         + (text.splitlines()[-1] if text else "") + (f"\n{text}" if "\n" in text else "")) from None


def _select_ops(names):
    from .registry import OPS
    if not names:
        return sorted(OPS)
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise UsageError(f"unknown op{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"known ops: {', '.join(sorted(OPS))}")
    return list(dict.fromkeys(names))


def _without_options(argv: list[str], names: tuple[str, ...]) -> list[str]:
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


def _shard_main(argv: list) -> None:
    """A shard of ``crosscheck run -j N``, forked from the fork server (:mod:`crosscheck.forking`):
    ``crosscheck ARGV`` as ``python -m crosscheck ARGV`` would run it."""
    exit_with_parent()
    sys.exit(main(argv))


def cmd_run_parallel(args, console: Console) -> int:
    """``crosscheck run`` (``-j N``, N >= 1): N child runs ``--shard k/N`` (each with its own worker
    process; forked from the fork server that has imported TensorFlow, see :mod:`crosscheck.forking`),
    merged into ``--report`` exactly as :func:`cmd_merge` does, then printed as one run. A shard
    that TensorFlow kills is restarted past the unit it died in (:mod:`crosscheck.supervision`): that
    case becomes a reference-crash outcome and the run goes on. Interrupted (Ctrl-C, SIGTERM), the
    shards are stopped, write what they found, and that is merged and written; if this process is
    killed, the shards stop too and ``crosscheck report DIR`` merges their journals."""
    import shutil
    from .report import ReportDirError, merge_shards
    from .report import JOBS_DIR, combine_attempts, open_report_dir
    from .report.journal import JOURNAL_NAME
    own_shard = _parse_shard(args.shard)   # --shard K/N: this run is one shard of a campaign
    report_dir = _usable_report_dir(args.report)
    open_report_dir(report_dir, {"command": " ".join(["crosscheck", *args.argv]),
                                 **({} if own_shard else {"jobs": args.jobs})}).close()
    (report_dir / JOURNAL_NAME).unlink()   # the shards journal their own outcomes (under .jobs/)
    jobs_dir = report_dir / JOBS_DIR
    shutil.rmtree(jobs_dir, ignore_errors=True)
    jobs_dir.mkdir(parents=True)
    base = _without_options(args.argv, ("-j", "--jobs", "--report", "--shard"))
    shards = ([Shard(own_shard[0], own_shard[1], base, jobs_dir, _shard_main)] if own_shard else
              [Shard(k, args.jobs, base, jobs_dir, _shard_main) for k in range(1, args.jobs + 1)])
    start = time.perf_counter()

    def lost_lines() -> list[str]:   # shards crosscheck itself lost (exit 3)
        return [shard.lost for shard in shards if shard.lost]

    def merged(complete_run: bool):
        if own_shard:   # the shard's own report directory, mergeable with the campaign's other shards
            session, meta, complete = combine_attempts(shards[0].dirs, report_dir)
        else:
            session, meta, complete = merge_shards([d for shard in shards for d in shard.dirs], report_dir)
        session.tensorflow = meta.get("tensorflow")
        meta.update(command=" ".join(["crosscheck", *args.argv]), **({} if own_shard else {"jobs": args.jobs}))
        meta.pop("merged_from", None)
        lost = lost_lines()
        paths = session.write(report_dir, complete=complete and complete_run and not lost, more_problems=lost,
                              elapsed_s=round(time.perf_counter() - start, 2), **meta)
        if not lost:   # a lost shard's directory and log stay, for whoever looks into it
            shutil.rmtree(jobs_dir, ignore_errors=True)
        return session, paths, complete and complete_run and not lost

    for shard in shards:
        shard.start()
    try:
        running = list(shards)
        while running:
            running = [shard for shard in running if not shard.poll()]
            if running:
                time.sleep(0.05)
    except ShardUsageError as exc:   # e.g. an --impl that cannot be imported: the shard's own message
        for shard in shards:
            shard.stop()
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:   # Ctrl-C reached the shards too (one process group); SIGTERM only this one
        for shard in shards:
            shard.stop()
        try:
            merged(complete_run=False)
        except ReportDirError:    # a shard stopped before its report directory existed: the journals stay
            pass
        raise
    try:
        session, (json_path, html_path), complete = merged(complete_run=True)
    except ReportDirError as exc:
        raise UsageError(str(exc)) from None
    print_run(console, session, args, time.perf_counter() - start)
    console.print(f"report: {json_path}  {html_path}")
    lost = lost_lines()
    for line in lost:
        Console(stderr=True, highlight=False).print(f"crosscheck: {line}; the report holds what the other units "
                                                    f"found", markup=False, soft_wrap=True)
    return EXIT_CRASHED if lost else EXIT_OK if session.ok and complete else EXIT_FAILED


def cmd_run(args, console: Console) -> int:
    from .report import ReportSession
    if args.examples is not None and args.examples < 1:
        raise UsageError("--examples must be at least 1")
    all_ops = _select_ops(args.ops) if args.ops or not args.networks else []
    dtypes = DTYPES if args.dtype == "all" else (args.dtype,)
    if args.jobs is None:
        # one process where a serial run is the point: a shard, stopping at the first failure, a debugger
        args.jobs = 1 if args.shard or args.fail_fast or args.in_process else default_jobs(len(all_ops) * len(dtypes))
    elif args.jobs < 1:
        raise UsageError("-j/--jobs must be at least 1")
    if args.shard and args.jobs > 1:
        raise UsageError("-j and --shard do not combine: give each shard its own machine or job")
    if not (args.in_shard or args.in_process):
        return cmd_run_parallel(args, console)   # shards in processes of their own: a TensorFlow crash costs a case
    shard = _parse_shard(args.shard)
    units = shard_units(all_ops, dtypes, shard)
    mine = set(units)
    ops = [op for op in all_ops if any((op, dtype) in mine for dtype in dtypes)]
    op_examples = args.examples or DEFAULT_EXAMPLES
    net_examples = args.examples or DEFAULT_NETWORK_EXAMPLES if args.networks else 0
    report_dir = _usable_report_dir(args.report)
    impl = _load_impl(args.impl, isolated=not args.in_process, timeout=args.timeout)
    limit_threads()
    from .coverage import missing_forms
    from .error_parity import run_error_parity
    from .fuzz import fuzz_op, large_cases, record_drawn_forms, shrink_op, top_up_forms
    from .registry import OPS
    if net_examples:
        if args.impl != DEFAULT_IMPL:
            raise UsageError("--networks checks npcnn's layers and optimizers; it does not take --impl")
        from .networks import OPTIMIZERS, fuzz_networks
    else:
        OPTIMIZERS = ()
    if shard and shard[0] != 1:
        net_examples, OPTIMIZERS = 0, ()     # the networks belong to shard 1
    meta = dict(impl=args.impl, seed=args.seed, examples=op_examples, dtypes=list(dtypes), ops=ops, paths=args.paths,
                command=" ".join(["crosscheck", *args.argv]), tensorflow=backend.describe())
    if shard:
        meta.update(shard=f"{shard[0]}/{shard[1]}", all_ops=all_ops, networks=bool(args.networks),
                    units=[list(u) for u in units])
    if args.resume:
        meta["resumed"] = True   # a later attempt of a shard TensorFlow crashed (supervision.py)
    session = ReportSession()
    session.start(report_dir, **meta)
    session.tensorflow = meta["tensorflow"]
    resume = Resume.load(args.resume, session.journal)
    guard = _both_backends_guard(resume.guard, session) if args.tf_backend == "both" else resume.guard
    stop = (lambda _: not session.ok) if args.fail_fast else None
    start = time.perf_counter()
    complete = False
    try:
        with Progress(TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=not console.is_terminal) as progress:
            total = len(mine) * op_examples + len(OPTIMIZERS) * net_examples
            overall = progress.add_task("crosscheck", total=total)
            first_failing: dict = {}   # (op, dtype) -> (Outcome, its dict): the case to shrink

            def record(o):
                d = session.add(o)
                if o.status in FAILING:
                    first_failing.setdefault((o.case.op, o.case.dtype), (o, d))
                progress.advance(overall)
            # an op's own work (error parity, the large case, form top-ups) goes with its first dtype
            owned = [op for op in ops if (op, dtypes[0]) in mine]
            if owned and not args.no_error_parity:
                progress.update(overall, description="error parity")
                run_error_parity(owned, impl, on_outcome=session.add_parity, resume=resume)
            for op in ops:
                for dtype in dtypes:
                    if stop and stop(None):
                        break
                    if (op, dtype) not in mine:
                        continue
                    progress.update(overall, description=f"{op} [{dtype}]")
                    done_before = progress.tasks[overall].completed
                    fuzz_op(op, examples=op_examples, dtype=dtype, seed=args.seed, impl=impl, paths=args.paths,
                            on_outcome=record, stop=stop, guard=guard)
                    # hypothesis may stop early (few distinct examples): keep the bar honest
                    progress.update(overall, completed=done_before + op_examples)
                    if (op, dtype) in first_failing and args.shrink_time > 0 and _unit(
                            resume, session, f"shrink:{op}:{dtype}",
                            f"shrinking {op} [{dtype}] (the first failing case stands unshrunk)") == "run":
                        progress.update(overall, description=f"{op} [{dtype}] shrinking")
                        first, first_dict = first_failing[(op, dtype)]
                        minimal, tried = shrink_op(op, first, examples=op_examples, dtype=dtype, seed=args.seed,
                                                   impl=impl, paths=args.paths,
                                                   budget_s=args.shrink_time / len(dtypes))
                        session.add_minimal(minimal, first_dict, tried)
                if op not in owned:
                    continue
                if not args.no_large and not (stop and stop(None)):
                    large_cases(op, dtype=dtypes[0], seed=args.seed, impl=impl, paths=args.paths, on_outcome=record,
                                guard=guard)
                entry = copy.deepcopy(session.summary["ops"].get(op, {}))
                for dtype in dtypes:
                    if (op, dtype) not in mine:   # run by another shard: its draws' forms count all the same
                        record_drawn_forms(entry, op, examples=op_examples, dtype=dtype, seed=args.seed)
                missing = missing_forms(entry, OPS[op])
                if missing and not (stop and stop(None)):
                    progress.update(overall, description=f"{op} [forms the draws missed]")
                    top_up_forms(op, missing, dtype=dtypes[0], seed=args.seed, impl=impl, paths=args.paths,
                                 on_outcome=record, stop=stop, guard=guard)
            for optimizer in OPTIMIZERS if net_examples else ():
                progress.update(overall, description=f"networks [{optimizer}]")
                if _unit(resume, session, f"networks:{optimizer}", f"networks [{optimizer}]") == "run":
                    fuzz_networks(optimizer, examples=net_examples, seed=args.seed, on_outcome=record)
        complete = True
    finally:   # interrupted (SIGINT, SIGTERM) or not, what was found so far is written
        elapsed = time.perf_counter() - start
        json_path, html_path = session.write(report_dir, complete=complete, elapsed_s=round(elapsed, 2), **meta)
    print_run(console, session, args, elapsed)
    console.print(f"report: {json_path}  {html_path}")
    return EXIT_OK if session.ok else EXIT_FAILED


def _both_backends_guard(guard, session):
    """``guard`` that also computes each case on oneDNN and records where the backends disagree."""
    from .backend_differ import disagreement

    def both(key, case, run):
        def run_both():
            outcome = run()
            found = disagreement(case)
            if found is not None:
                session.add_backend_disagreement(found, case)
            return outcome
        return guard(key, case, run_both)
    return both


def _unit(resume, session, key: str, where: str) -> str:
    """Work that is not one case (a shrink, an optimizer's networks) as a journaled unit: "run",
    "done", or "crashed" (TensorFlow crashed in it before: a problem of the run, said ``where``)."""
    state = resume.unit(key)
    if state == "crashed":
        session.add_crash(where, resume.crashed[key])
    return state


def print_run(console: Console, session, args, elapsed: float) -> None:
    """The run's summary, coverage and error-parity tables, the first failures and the verdict."""
    from .registry import OPS
    from .report import coverage_table, parity_table, print_outcome, summary_table
    if getattr(session, "tensorflow", None):
        console.print(f"reference: {backend.one_line(session.tensorflow)}", markup=False, soft_wrap=True)
    console.print(summary_table(session.summary, title=f"crosscheck run: {args.impl}, seed {args.seed}"))
    if session.summary["ops"]:
        console.print(coverage_table(session.summary, OPS))
    if session.error_parity:
        console.print(parity_table(session.error_parity))
    failed = sorted((o for o in session.outcomes if o["status"] in FAILING), key=lambda o: not o.get("minimal"))
    for d in failed[:MAX_PRINTED_REPORTS]:
        console.rule(f"{d['status']}: {d['op']} [{d['dtype']}]")
        if d.get("minimal"):
            console.print(f"[bold]minimal failing case[/] (shrunk from the first failing one, shapes "
                          f"{d['first_failing_shapes']}; {d['shrink_cases_tried']} cases tried)", soft_wrap=True)
        print_outcome(console, d)
    if len(failed) > MAX_PRINTED_REPORTS:
        console.print(f"... {len(failed) - MAX_PRINTED_REPORTS} more failures, all in the report files")
    print_unsupported(console, session.outcomes)
    print_notes(console, session.summary)
    print_backend_disagreements(console, session.summary, both=getattr(args, "tf_backend", None) == "both")
    counts = session.summary["counts"]
    parity = session.summary["error_parity"]
    verdict = "[green]OK[/]" if session.ok else "[bold red]FAILED[/]"
    console.print(f"{verdict}: {counts['pass']} passed, {counts['mismatch']} mismatched, "
                  f"{counts['reference-unsupported']} reference-unsupported, {counts['reference-error']} reference "
                  f"errors, {counts['implementation-error']} implementation errors"
                  + "".join(f", {counts[s]} {word}" for s, word in ((IMPLEMENTATION_CRASH, "crashed"),
                                                                      (IMPLEMENTATION_TIMEOUT, "timed out"))
                            if counts.get(s))
                  + "; error parity "
                  f"{parity['checked'] - parity['failed']}/{parity['checked']} in {elapsed:.1f} s")
    for problem in session.problems:
        console.print(f"  [bold red]fails:[/] {problem}", soft_wrap=True)


def print_backend_disagreements(console: Console, summary: dict, both: bool, limit: int = 10) -> None:
    """--tf-backend both: the cases on which TensorFlow's Eigen and oneDNN kernels disagree (not the
    code under test's verdict), each with the third opinion's verdict."""
    found = summary.get("backend_disagreements") or []
    if not (found or both):
        return
    console.print(f"[cyan]TensorFlow's backends disagree (Eigen vs oneDNN; not the code under test's verdict): "
                  f"{len(found)} case{'s' if len(found) != 1 else ''}[/]")
    for d in found[:limit]:
        what = "; ".join(f"{t['tensor']} on {t['path']} (max abs {t['max_abs_error']:.3g}): {t['verdict']}"
                         for t in d["tensors"][:3]) or f"eigen {d['eigen']}, onednn {d['onednn']}"
        console.print(f"  {d['op']} [{d['dtype']}] {what}  replay: {d.get('replay', '-')}", markup=False,
                      soft_wrap=True)
    if len(found) > limit:
        console.print(f"  ... {len(found) - limit} more in report.json (summary.backend_disagreements)")


def print_notes(console: Console, summary: dict, limit: int = 12) -> None:
    """How often each op's reference needed an alternate TF formulation (or skipped a path), with counts."""
    notes = sorted((op, note, n) for op, e in summary["ops"].items() for note, n in e.get("notes", {}).items())
    if notes:
        console.print("[cyan]references built another TF way (each case says so in the report):[/]")
    for op, note, n in notes[:limit]:
        console.print(f"  {n:4d} x {op}: {note}", markup=False, soft_wrap=True)
    if len(notes) > limit:
        console.print(f"  ... {len(notes) - limit} more notes in report.json (summary.ops.*.notes)")


def print_unsupported(console: Console, outcomes: list[dict], limit: int = 10) -> None:
    """Reference-unsupported outcomes (each names its registered quirk), grouped by op and reason, with counts."""
    reasons: dict[tuple, int] = {}
    for o in outcomes:
        if o["status"] == REFERENCE_UNSUPPORTED:
            key = (o["op"], (o["message"].strip().splitlines() or ["(no reason given)"])[0])
            reasons[key] = reasons.get(key, 0) + 1
    if reasons:
        console.print("[yellow]reference-unsupported (registered TensorFlow quirks, docs/tf-defects.md):[/]")
    for (op, reason), n in sorted(reasons.items())[:limit]:
        console.print(f"  {n:4d} x {op}: {reason}", markup=False)
    if len(reasons) > limit:
        console.print(f"  ... {len(reasons) - limit} more reasons in the report files")


def cmd_replay(args, console: Console) -> int:
    """Re-run one saved case, in a child process (``--here``: in this one), so that a case
    TensorFlow crashes on is reported as such. A replay file is data: it never chooses the code
    that runs (npcnn, the ``--impl`` given here, or the ``--check`` target given here)."""
    import tempfile
    from .replay import ReplayFileError, read_replay
    try:
        read_replay(args.case)
    except (OSError, ReplayFileError) as exc:
        raise UsageError(f"cannot use replay file {args.case}: {exc}") from None
    if args.here:
        return _replay_here(args, console)
    from .isolation import describe_exit
    from .supervision import fatal_line
    with tempfile.TemporaryDirectory(prefix="crosscheck-replay-") as tmp:
        log_path = Path(tmp) / "replay.log"
        child, log = start_shard([*args.argv, "--here"], log_path, "crosscheck-replay", _shard_main)
        try:
            code = child.wait()
        finally:
            if log is not None:
                log.close()
        text = log_path.read_text(errors="replace")
    if code in (EXIT_OK, EXIT_FAILED, EXIT_USAGE):
        sys.stdout.write(text)
        return code
    console.print(f"status: reference-crash (still fails): the process replaying this case was {describe_exit(code)}; "
                  f"TensorFlow's last words: {fatal_line(text)}", markup=False, soft_wrap=True)
    return EXIT_FAILED


def _replay_here(args, console: Console) -> int:
    from .replay import read_replay
    from .report import ReportSession, print_outcome
    doc, case = read_replay(args.case)
    limit_threads()
    recorded = doc.get("impl") or DEFAULT_IMPL
    check = doc.get("check")
    if check:
        if not args.check:
            raise UsageError(f"{args.case} is a case of `crosscheck check` ({check.get('function')}, "
                             f"{check.get('convention')} convention); run: crosscheck replay {args.case} "
                             f"--check {check.get('target')}")
        from .check import LoadError, load_user_code, rerun
        try:
            outcome = rerun(args.case, load_user_code(args.check))
        except (LoadError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        impl_name = f"{args.check} ({check.get('function')})"
    elif case.op == "network":   # npcnn's own layers and optimizers against Keras; no --impl
        from .networks import replay_network
        outcome, impl_name = replay_network(case), "npcnn.Sequential"
    else:
        from .runner import run_case
        impl_name = args.impl or DEFAULT_IMPL
        if recorded != impl_name:
            console.print(f"this case was found with implementation {recorded!r}; replaying it against {impl_name}. "
                          f"To replay it against {recorded}: crosscheck replay {args.case} --impl {recorded}",
                          markup=False, soft_wrap=True)
        outcome = run_case(case, impl=_load_impl(impl_name, timeout=args.timeout))
    outcome.impl = impl_name
    d = ReportSession(None).add(outcome)
    d["replay"] = None
    print_outcome(console, d, snippet=False)
    failed = outcome.status in FAILING
    console.print(f"status: {outcome.status}" + (" (still fails)" if failed else ""))
    return EXIT_FAILED if failed else EXIT_OK


def cmd_ops(args, console: Console) -> int:
    from .oracle.quirks import QUIRKS
    from .params import REQUIRED
    from .registry import OPS
    console.print(f"{len(OPS)} ops (arrays marked * are differentiated; tensors are y and d_<array>)", style="bold",
                  markup=False)
    for name in sorted(OPS):
        info = OPS[name]
        console.print(f"\n{name} — {info.description}", markup=False, style="bold")
        arrays = ", ".join(a + ("*" if a in info.differentiable else "") + (" (optional)" if a in info.optional_arrays
                                                                             else "") for a in info.arrays)
        console.print(f"  arrays      {arrays}", markup=False)
        for i, (k, p) in enumerate(info.params.items()):
            default = "required" if p.default is REQUIRED else f"default {p.default!r}"
            forms = f"; forms: {', '.join(p.forms)}" if p.forms else ""
            console.print(f"  {'parameters' if i == 0 else '':<10}  {k}: {p.doc} ({default}{forms})", markup=False)
        console.print(f"  TF paths    {', '.join(info.path_names)}", markup=False)
        quirks = [q.id for q in QUIRKS if name in q.ops]
        if quirks:
            console.print(f"  TF quirks   {', '.join(quirks)}", markup=False)
        console.print(f"  tolerance   {info.tolerance_class}", markup=False)
    return EXIT_OK


def _parse_shard(text):
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


def cmd_merge(args, console: Console) -> int:
    """One report from the N shard reports of a campaign (what the unsharded run would have written)."""
    from .report import ReportDirError, merge_shards
    try:
        session, meta, complete = merge_shards(args.dirs, args.report)
    except ReportDirError as exc:
        raise UsageError(str(exc)) from None
    paths = session.write(args.report, complete=complete, **meta)
    return _print_rebuilt(console, session, f"crosscheck merge: {len(args.dirs)} shards", complete, paths,
                          "" if complete else "; a shard was interrupted")


def cmd_report(args, console: Console) -> int:
    """report.json and report.html rebuilt from the journal of a run (for one that was killed)."""
    from .report import ReportDirError, rebuild
    try:
        session, meta, complete = rebuild(args.dir)
    except ReportDirError as exc:
        raise UsageError(str(exc)) from None
    paths = session.write(args.dir, complete=complete, rebuilt_from_journal=True, **meta)
    state = "complete" if complete else "interrupted: the report holds what was found until then"
    return _print_rebuilt(console, session, f"crosscheck report {args.dir}: {meta.get('command', '')}", complete,
                          paths, f"; the run was {state}")


def _print_rebuilt(console: Console, session, title: str, complete: bool, paths, state: str) -> int:
    """The summary table, verdict line, problems and report paths of a report written from journals."""
    from .report import summary_table
    ok = session.ok and complete
    console.print(summary_table(session.summary, title=title))
    console.print(f"{'[green]OK[/]' if ok else '[bold red]FAILED[/]'}: {session.summary['total']} cases, "
                  f"{len(session.outcomes)} not passing{state}")
    for problem in session.problems:
        console.print(f"  [bold red]fails:[/] {problem}", soft_wrap=True)
    console.print(f"report: {paths[0]}  {paths[1]}")
    return EXIT_OK if ok else EXIT_FAILED


def cmd_train_digits(args, console: Console) -> int:
    from npcnn.examples.train_digits import main as train_digits
    train_digits(args.example_args)
    return EXIT_OK


def cmd_check(args, console: Console) -> int:
    from .check import CallTimeout, LoadError, check_target, function_names, load_user_code, rows_ok  # noqa: F401
    from .report import ReportSession
    if args.examples < 1:
        raise UsageError("--examples must be at least 1")
    known = function_names(args.convention)
    unknown = [f for f in (args.functions or []) if known and f not in known]
    if unknown:
        raise UsageError(f"unknown function {', '.join(unknown)}; known: {', '.join(known)}")
    report_dir = _usable_report_dir(args.report)
    session = ReportSession()
    session.require_compared = False
    meta = dict(impl=args.target, convention=args.convention, seed=args.seed, examples=args.examples,
                command=" ".join(["crosscheck", *args.argv]), tensorflow=backend.describe())
    session.start(report_dir, **meta)
    worker = None
    try:
        if not args.in_process:   # first in a worker: an import that crashes or hangs ends here, with a message
            worker = start_check_worker(args.target, args.convention, args.timeout)
        module = load_user_code(args.target, timeout=args.timeout)
    except LoadError as exc:
        console.print(f"[bold red]crosscheck check: cannot load {args.target}[/]")
        console.print(str(exc), markup=False)
        console.print("[bold red]FAILED[/]: nothing was checked")
        session.write(report_dir, functions=[], load_error=str(exc), more_problems=[f"cannot load {args.target}"],
                      **meta)
        return EXIT_FAILED
    start = time.perf_counter()
    found: dict[int, dict] = {}     # id(outcome) -> its report dict (failures: replay file written at once)
    check_info = lambda function: {"target": args.target, "convention": args.convention,  # noqa: E731
                                   "function": function, "ties": args.ties, "year": args.cs231n_year}

    def record(function: str, outcome) -> None:
        outcome.impl = function
        if outcome.status in FAILING:
            found[id(outcome)] = session.add(outcome, check=check_info(function))
        else:
            session.count(outcome)
    complete, rows = False, []
    try:
        rows = check_target(module, args.convention, examples=args.examples, seed=args.seed, only=args.functions,
                            ties=args.ties, year=args.cs231n_year, timeout=args.timeout, worker=worker,
                            on_outcome=record)
        complete = True
    finally:
        if worker is not None:
            worker.close()
        if not complete:   # interrupted: every failure found so far is in the report and cases/
            session.write(report_dir, complete=False, functions=[r.to_dict() for r in rows], **meta)
    elapsed = time.perf_counter() - start
    if not rows:
        console.print(f"[bold red]crosscheck check: {args.target} defines none of the {args.convention} functions[/] "
                      f"({', '.join(known) or 'layer classes with forward and backward'})", soft_wrap=True)
        session.write(report_dir, functions=[], more_problems=[f"{args.target} defines none of the "
                                                               f"{args.convention} functions"], **meta)
        return EXIT_FAILED
    console.print(f"reference: {backend.one_line(meta['tensorflow'])}", markup=False, soft_wrap=True)
    print_check_table(console, rows, args.target, args.convention)
    examples = []   # the report lists the smallest case of each cause; cases/ keeps every failing one
    for row in rows:
        written = {}
        for cause, example in row.examples.items():
            d = found.get(id(example)) or session.add(example, check=check_info(row.function))
            if any(d is e for e in written.values()):
                continue
            d["cause"] = cause
            written[cause] = d
            examples.append(d)
        if row.message:
            console.rule(f"{row.verdict}: {row.function}")
            console.print(row.message, markup=False)
        print_row_examples(console, row, written)
    session.outcomes = examples
    json_path, html_path = session.write(report_dir, functions=[r.to_dict() for r in rows], **meta, more_problems=[
        f"{r.function}: {r.verdict}" for r in rows if r.verdict not in ("passed", "passed-with-note")])
    console.print(f"report: {json_path}  {html_path}")
    ok = rows_ok(rows)
    passing = sum(r.verdict in ("passed", "passed-with-note") for r in rows)
    console.print(f"{'[green]OK[/]' if ok else '[bold red]FAILED[/]'}: {passing} of {len(rows)} functions pass in "
                  f"{elapsed:.1f} s")
    return EXIT_OK if ok else EXIT_FAILED


def start_check_worker(target: str, convention: str, timeout: float | None):
    """A started CheckWorker of ``target``; LoadError when importing it fails, crashes or hangs."""
    from .check import LoadError
    from .check.worker import CheckWorker
    from .isolation import WorkerCrash, WorkerTimeout
    worker = CheckWorker(target, convention, timeout)
    try:
        worker.start()
    except ImportError as exc:
        raise LoadError(str(exc)) from None
    except WorkerTimeout:
        raise LoadError(f"importing {target} did not finish within {timeout:g} s (an endless loop or a wait at "
                        "module level?); --timeout S allows more") from None
    except WorkerCrash as exc:
        raise LoadError(f"importing {target} crashed the Python process: {str(exc).rsplit(': ', 1)[-1]}") from None
    return worker


def print_row_examples(console: Console, row, written: dict) -> None:
    """The full report of the smallest example of the row's first cause; one line for the others."""
    from .report import print_outcome
    for i, (cause, d) in enumerate(written.items()):
        if i == 0:
            console.rule(f"{row.verdict}: {row.function} ({cause}, smallest example)")
            print_outcome(console, d, snippet=False)
        else:
            console.print(f"  also {cause} on {row.causes[cause]} cases; smallest: {d['shapes']} -> "
                          f"{(d.get('replay') or {}).get('command', '')}", markup=False, soft_wrap=True)


def _short_note(note: str) -> str:
    """A tie-rule note's rule (its reasoning is printed under the table); other notes whole."""
    if not note.startswith("tie rule: "):
        return note
    return f"tie rule: {note[len('tie rule: '):].split(' (')[0]} (see note)"


def print_check_table(console: Console, rows, target: str, convention: str) -> None:
    """One row per function: verdict, examples tried, failing examples, causes with counts, notes."""
    from rich import box
    from rich.table import Table
    from rich.text import Text
    style = {"passed": "green", "passed-with-note": "cyan", "failed": "bold red", "not-implemented": "yellow",
             "error": "bold magenta"}
    console.print(f"crosscheck check {target} ({convention} convention, float64)", style="bold", markup=False,
                  soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD)
    for col in ("function", "verdict", "examples", "failing", "likely causes / notes"):
        table.add_column(col, no_wrap=col != "likely causes / notes", overflow="fold")
    for r in rows:
        what = ", ".join(f"{n}x {c}" for c, n in sorted(r.causes.items(), key=lambda kv: -kv[1]))
        if r.notes:   # the note's first clause here, the whole note under the table
            what = "; ".join([what] * bool(what) + [_short_note(n) for n in r.notes])
        if r.message and not what:
            what = r.message.splitlines()[0]
        table.add_row(r.function, Text(r.verdict, style=style.get(r.verdict, "")), str(r.tried), str(r.failing),
                      Text(what))
    console.print(table)
    long_notes = [(r.function, n) for r in rows for n in r.notes if n.startswith("tie rule")]
    for function, note in long_notes:
        console.print(f"note on {function}: {note}", markup=False, soft_wrap=True)


_COMMANDS = {"run": cmd_run, "replay": cmd_replay, "ops": cmd_ops, "train-digits": cmd_train_digits, "check": cmd_check,
             "report": cmd_report, "merge": cmd_merge}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "train-digits":   # the example parses its own options
        args.example_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # piped output (CI logs, subprocess) gets a wide fixed width instead of 80 columns
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        if args.command in ("run", "replay", "check"):
            _choose_backend(args)
        return _COMMANDS[args.command](args, console)
    except UsageError as exc:
        Console(stderr=True, highlight=False).print(f"crosscheck: error: {exc}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        Console(stderr=True).print(f"crosscheck: {what} (the report holds what was found so far)")
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
