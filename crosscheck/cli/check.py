"""``crosscheck check PATH_OR_MODULE``: a user's own code (a course's convention, or layer classes)
checked against TensorFlow, one verdict per function, the smallest failing case of each cause reported."""
from __future__ import annotations

import os
import time

from rich.console import Console

from ..case import FAILING
from ..check import LoadError, Target, check_target, function_names, load_user_code, rows_ok
from ..check.auto_convention import AUTO, pick_convention
from ..check.notebook import skipped_cells
from ..check.worker import CheckWorker
from ..isolation import WorkerCrash, WorkerTimeout
from ..oracle import backend
from ..report import ReportSession
from .common import (EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, command_line, usable_junit_path, usable_report_dir,
                     write_check_junit)
from .tables import PASSING_VERDICTS, print_check_table, print_check_verdict, print_row_examples


def cmd_check(args, console: Console) -> int:
    known = check_options(args)
    run = CheckRun(args)
    try:
        worker, code = load_target(args)
    except LoadError as exc:
        console.print(f"[bold red]crosscheck check: cannot load {args.target}[/]")
        console.print(str(exc), markup=False, soft_wrap=True)
        console.print("[bold red]FAILED[/]: nothing was checked")
        run.write([], functions=[], load_error=str(exc), more_problems=[f"cannot load {args.target}"])
        return EXIT_FAILED
    refused = describe_load(args, code, run, console)
    if refused:
        if worker is not None:
            worker.close()
        console.print(f"crosscheck check: {refused}", markup=False, soft_wrap=True)
        run.write([], functions=[], more_problems=[refused])
        return EXIT_USAGE
    start = time.perf_counter()
    rows = run.check(code, worker)
    elapsed = time.perf_counter() - start
    if not rows and run.meta.get("convention_picked") == "":
        console.print(f"[bold red]crosscheck check: {args.target} defines none of the cs231n functions, none of "
                      "the deeplearning-ai functions and no layer classes (forward and backward)[/]", soft_wrap=True)
        run.write([], functions=[], more_problems=[f"{args.target} defines nothing crosscheck knows how to check"])
        return EXIT_FAILED
    if not rows:
        console.print(f"[bold red]crosscheck check: {args.target} defines none of the {args.convention} functions[/] "
                      f"({', '.join(known) or 'layer classes with forward and backward'})", soft_wrap=True)
        run.write([], functions=[], more_problems=[f"{args.target} defines none of the {args.convention} functions"])
        return EXIT_FAILED
    run.accept_conventions(rows)
    written = run.keep_examples(rows)
    if not args.quiet:
        console.print(f"reference: {backend.one_line(run.meta['tensorflow'])}", markup=False, soft_wrap=True)
        print_check_table(console, rows, args.target, args.convention)
        for row, row_written in zip(rows, written):
            if row.message:
                console.rule(f"{row.verdict}: {row.function}")
                console.print(row.message, markup=False)
            print_row_examples(console, row, row_written)
    json_path, html_path = run.write(rows, functions=[r.to_dict() for r in rows], more_problems=[
        f"{r.function}: {r.verdict}" for r in rows if r.verdict not in PASSING_VERDICTS])
    console.print(f"report: {json_path}  {html_path}")
    ok = rows_ok(rows)
    print_check_verdict(console, rows, ok, elapsed)
    return EXIT_OK if ok else EXIT_FAILED


def check_options(args) -> list[str]:
    """UsageError for --examples below 1 or a --functions name the convention does not have; the
    convention's function names (none for layers)."""
    if args.examples < 1:
        raise UsageError("--examples must be at least 1")
    if args.convention == AUTO:   # the names are checked once the file says its convention
        return []
    known = function_names(args.convention)
    unknown = [f for f in (args.functions or []) if known and f not in known]
    if unknown:
        raise UsageError(f"unknown function {', '.join(unknown)}; known: {', '.join(known)}")
    return known


def describe_load(args, code, run: CheckRun, console: Console) -> str:
    """Resolve ``--convention auto`` (print which convention, and why) and print the load's notes (a
    notebook's skipped cells); both go into the report. A --functions name the picked convention
    does not have: the usage error's message (else "")."""
    if isinstance(code, Target):
        picked, why, notes = code.convention, code.picked, code.load_notes
    else:
        picked, why = pick_convention(code) if args.convention == AUTO else (args.convention, "")
        notes = skipped_cells(code)
    if args.convention == AUTO:
        args.convention = run.meta["convention"] = picked
        run.meta["convention_picked"] = why
        if why:
            console.print(f"convention: {picked} (picked automatically: {why}; --convention NAME chooses)",
                          markup=False, soft_wrap=True)
        known = function_names(picked)
        unknown = [f for f in (args.functions or []) if known and f not in known]
        if unknown:
            return f"unknown function {', '.join(unknown)}; known ({picked}): {', '.join(known)}"
    if notes:
        run.meta["load_notes"] = list(notes)
        console.print(f"note: {len(notes)} cell{'s' * (len(notes) > 1)} of {args.target} did not run (their "
                      "definitions, if any, are missing; this is not a verdict):", markup=False, soft_wrap=True)
        for note in notes:
            console.print(f"  {note}", markup=False, soft_wrap=True)
    return ""


def load_target(args) -> tuple:
    """(the started worker, the Target it reported), or with --in-process (None, the user's module
    imported here); LoadError when the file cannot be imported. Without --in-process this process
    never imports the user's file: what it defines comes back as plain values."""
    if args.in_process:
        return None, load_user_code(args.target, timeout=args.timeout)
    worker = start_check_worker(args.target, args.convention, args.timeout)
    return worker, worker.examined


def start_check_worker(target: str, convention: str, timeout: float | None):
    """A started CheckWorker of ``target``; LoadError when importing it fails, crashes or hangs."""
    worker = CheckWorker(target, convention, timeout)
    try:
        worker.start()
    except ImportError as exc:
        raise LoadError(str(exc)) from None
    except WorkerTimeout:
        raise LoadError(f"importing {target} did not finish within {timeout:g} s (an endless loop or a wait at "
                        "module level?); --timeout S allows more") from None
    except WorkerCrash as exc:
        how = exc.how
        if how.startswith("exited"):   # os._exit() or a C exit() at module level
            raise LoadError(f"importing {target} ended the Python process before the import finished ({how})") from None
        raise LoadError(f"importing {target} crashed the Python process: {how}") from None
    return worker


class CheckRun:
    """The report of one ``crosscheck check``: its directory (and --junit-xml) checked and started,
    each outcome counted, each failing one kept with its replay file the moment it is found."""

    def __init__(self, args):
        self.args = args
        # absolute before any user code runs: a chdir in the user's module (in the worker, or here
        # with --in-process) moves neither the report nor the replay files the terminal names
        self.junit = usable_junit_path(None if args.junit_xml is None else os.path.abspath(args.junit_xml))
        self.report_dir = usable_report_dir(os.path.abspath(args.report))
        self.session = ReportSession()
        self.session.require_compared = False
        self.meta = dict(impl=args.target, convention=args.convention, seed=args.seed, examples=args.examples,
                         command=command_line(args), tensorflow=backend.describe())
        self.session.start(self.report_dir, replace=self.args.replace_report, **self.meta)
        self.found: dict[int, dict] = {}     # id(outcome) -> its report dict (failures: replay file written at once)
        self.recorded: dict[str, list] = {}  # function -> its outcomes as they came (a row's, in its order)

    def check_info(self, function: str) -> dict:
        """What a replay file of ``function``'s case needs to run it again."""
        args = self.args
        return {"target": args.target, "convention": args.convention, "function": function, "ties": args.ties,
                "year": args.cs231n_year, "expect": list(args.expect or ())}

    def record(self, function: str, outcome) -> None:
        outcome.impl = function
        self.recorded.setdefault(function, []).append(outcome)
        if outcome.status in FAILING:
            self.found[id(outcome)] = self.session.add(outcome, check=self.check_info(function))
        else:
            self.session.count(outcome)

    def check(self, code: Target | object, worker) -> list:
        """The rows (one verdict per function) of ``code`` (the worker's Target, or the module imported
        here with --in-process); interrupted, the report holds every failure found so far."""
        args = self.args
        complete, rows = False, []
        try:
            rows = check_target(code, args.convention, examples=args.examples, seed=args.seed, only=args.functions,
                                ties=args.ties, year=args.cs231n_year, timeout=args.timeout, worker=worker,
                                on_outcome=self.record, expect=tuple(args.expect or ()))
            complete = True
        finally:
            if worker is not None:
                worker.close()
            if not complete:   # interrupted: every failure found so far is in the report and cases/
                self.write(rows, complete=False, functions=[r.to_dict() for r in rows])
        return rows

    def accept_conventions(self, rows) -> None:
        """The cases each row accepts under a convention (a tie rule, gradients averaged over the
        batch), recorded as failures when they came: counted as passes with a note, their replay
        files removed (:meth:`crosscheck.report.ReportSession.accept`)."""
        for row in (r for top in rows for r in (top, *top.beside)):
            recorded = self.recorded.get(row.function, [])
            if len(recorded) != len(row.outcomes):   # not this row's run (it was not recorded here)
                continue
            for i in row.accepted:
                original = recorded[i]
                if original.status in FAILING:
                    self.session.accept(original, self.found.pop(id(original), None))

    def keep_examples(self, rows) -> list[dict]:
        """The report's outcomes: the smallest case of each cause of each row (cases/ keeps every
        failing one); per row, {cause: its outcome dict}."""
        examples, written_per_row = [], []
        for row in rows:
            written = {}
            for cause, example in row.examples.items():
                d = self.found.get(id(example)) or self.session.add(example, check=self.check_info(row.function))
                if any(d is e for e in written.values()):
                    continue
                d["cause"] = cause
                written[cause] = d
                examples.append(d)
            written_per_row.append(written)
        self.session.outcomes = examples
        return written_per_row

    def write(self, rows, complete: bool = True, **fields):
        """report.json and report.html (and the JUnit XML); their paths."""
        paths = self.session.write(self.report_dir, complete=complete, **fields, **self.meta)
        write_check_junit(self.junit, self.report_dir, rows)
        return paths
