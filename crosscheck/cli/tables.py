"""What the commands print: a run's tables, failures and verdict, a check's table, a rebuilt report's
summary. ``quiet`` (``-q``) keeps the verdict lines only."""
from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..case import FAILING, IMPLEMENTATION_CRASH, IMPLEMENTATION_TIMEOUT, REFERENCE_UNSUPPORTED
from ..oracle import backend
from ..registry import OPS
from ..report import coverage_table, parity_table, print_outcome, summary_table
from ..report.terminal import printable
from .common import EXIT_FAILED, EXIT_OK

MAX_PRINTED_REPORTS = 3     # full mismatch reports printed in the terminal; all are in the files
PASSING_VERDICTS = ("passed", "passed-with-note")   # crosscheck check's verdicts that pass


# ------------------------------------------------------------------------------ crosscheck run

def print_run(console: Console, session, args, elapsed: float) -> None:
    """The run's summary, coverage and error-parity tables, the first failures and the verdict
    (with ``args.quiet``: the verdict only)."""
    if not getattr(args, "quiet", False):
        print_run_details(console, session, args)
    print_run_verdict(console, session, elapsed)
    missing = getattr(args, "not_provided", None)
    if missing:   # beside the verdict: it covers the ops the module defines, no more
        console.print(f"  not checked: {len(missing)} ops {args.impl} does not provide", markup=False, soft_wrap=True)


def print_run_details(console: Console, session, args) -> None:
    """Everything a run prints before its verdict."""
    if getattr(session, "tensorflow", None):
        console.print(f"reference: {backend.one_line(session.tensorflow)}", markup=False, soft_wrap=True)
    console.print(summary_table(session.summary, title=f"crosscheck run: {args.impl}, seed {args.seed}"))
    if session.summary["ops"]:
        console.print(coverage_table(session.summary, OPS))
    if session.error_parity:
        console.print(parity_table(session.error_parity, session.summary["error_parity"]))
    print_failures(console, session.outcomes)
    print_unsupported(console, session.outcomes)
    print_notes(console, session.summary)
    print_backend_disagreements(console, session.summary, both=getattr(args, "tf_backend", None) == "both")


def print_failures(console: Console, outcomes: list[dict]) -> None:
    """The full reports of the first failures (shrunk minimal cases first)."""
    failed = sorted((o for o in outcomes if o["status"] in FAILING), key=lambda o: not o.get("minimal"))
    for d in failed[:MAX_PRINTED_REPORTS]:
        console.rule(f"{d['status']}: {d['op']} [{d['dtype']}]")
        if d.get("minimal"):
            console.print(f"[bold]minimal failing case[/] (shrunk from the first failing one, shapes "
                          f"{d['first_failing_shapes']}; {d['shrink_cases_tried']} cases tried)", soft_wrap=True)
        print_outcome(console, d)
    if len(failed) > MAX_PRINTED_REPORTS:
        console.print(f"... {len(failed) - MAX_PRINTED_REPORTS} more failures, all in the report files")


def print_run_verdict(console: Console, session, elapsed: float) -> None:
    """OK or FAILED with the counts per status and error parity, and why the run fails."""
    counts = session.summary["counts"]
    parity = session.summary["error_parity"]
    verdict = "[green]OK[/]" if session.ok else "[bold red]FAILED[/]"
    console.print(f"{verdict}: {counts['pass']} passed, {counts['mismatch']} mismatched, "
                  f"{counts['reference-unsupported']} reference-unsupported, {counts['reference-error']} reference "
                  f"errors, {counts['implementation-error']} implementation errors"
                  + "".join(f", {counts[s]} {word}" for s, word in ((IMPLEMENTATION_CRASH, "crashed"),
                                                                      (IMPLEMENTATION_TIMEOUT, "timed out"))
                            if counts.get(s))
                  + "; error parity " + _parity_verdict(parity) + f" in {elapsed:.1f} s")
    print_problems(console, session.problems)


def _parity_verdict(parity: dict) -> str:
    """"ok on 2 ops (35 invalid calls)", "failed on conv2d (3 of 33 invalid calls)", or "not checked"."""
    ops = parity.get("ops", {})
    if not parity["checked"]:
        return "not checked"
    failed = [op for op, e in sorted(ops.items()) if e["verdict"] != "ok"]
    if not failed:
        return f"ok on {len(ops)} op{'s' * (len(ops) != 1)} ({parity['checked']} invalid calls)"
    return ("failed on " + ", ".join(f"{op} ({ops[op]['failed']} of {ops[op]['tf_refuses'] + ops[op]['tf_computes']} "
                                     "invalid calls)" for op in failed))


def print_problems(console: Console, problems) -> None:
    for problem in problems:
        # a problem can quote TensorFlow's or the code under test's words: shown as text, never as markup
        console.print(Text.assemble("  ", ("fails:", "bold red"), " ", printable(str(problem))), soft_wrap=True)


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


# ------------------------------------------------------------------- crosscheck merge / report

def print_rebuilt(console: Console, session, title: str, complete: bool, paths, state: str) -> int:
    """The summary table, verdict line, problems and report paths of a report written from journals."""
    ok = session.ok and complete
    console.print(summary_table(session.summary, title=title))
    console.print(f"{'[green]OK[/]' if ok else '[bold red]FAILED[/]'}: {session.summary['total']} cases, "
                  f"{len(session.outcomes)} not passing{state}")
    print_problems(console, session.problems)
    console.print(f"report: {paths[0]}  {paths[1]}")
    return EXIT_OK if ok else EXIT_FAILED


# ---------------------------------------------------------------------------- crosscheck check

def _short_note(note: str) -> str:
    """A tie-rule note's rule (its reasoning is printed under the table); other notes whole."""
    if not note.startswith("tie rule: "):
        return note
    return f"tie rule: {note[len('tie rule: '):].split(' (')[0]} (see note)"


def print_check_table(console: Console, rows, target: str, convention: str) -> None:
    """One row per function: verdict, examples tried, failing examples, causes with counts, notes."""
    style = {"passed": "green", "passed-with-note": "cyan", "failed": "bold red", "not-implemented": "yellow",
             "cannot-check": "magenta", "error": "bold magenta"}
    console.print(f"crosscheck check {target} ({convention} convention, float64)", style="bold", markup=False,
                  soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD)
    for col in ("function", "verdict", "examples", "failing", "likely causes / notes"):
        table.add_column(col, no_wrap=col != "likely causes / notes", overflow="fold")
    for r in rows:
        what = ", ".join(f"{n}x {c}" for c, n in sorted(r.causes.items(), key=lambda kv: -kv[1]))
        if r.notes:   # the note's first clause here, the whole note under the table
            what = "; ".join([what] * bool(what) + [_short_note(n) for n in r.notes])
        if r.self_consistency and not any("judged against your own forward" in n for n in r.notes):
            what = "; ".join([what] * bool(what) + [f"self-consistency: {r.self_consistency}"])
        if r.message and not what:
            what = r.message.splitlines()[0]
        table.add_row(r.function, Text(r.verdict, style=style.get(r.verdict, "")), str(r.tried), str(r.failing),
                      Text(printable(what)))
    console.print(table)
    long_notes = [(r.function, n) for r in rows for n in r.notes if n.startswith("tie rule")]
    for function, note in long_notes:
        console.print(f"note on {function}: {note}", markup=False, soft_wrap=True)


def print_row_examples(console: Console, row, written: dict) -> None:
    """The full report of the smallest example of the row's first cause; one line for the others."""
    for i, (cause, d) in enumerate(written.items()):
        if i == 0:
            console.rule(f"{row.verdict}: {row.function} ({cause}, smallest example)")
            print_outcome(console, d, snippet=False)
        else:
            console.print(f"  also {cause} on {row.causes[cause]} cases; smallest: {d['shapes']} -> "
                          f"{(d.get('replay') or {}).get('command', '')}", markup=False, soft_wrap=True)


def print_check_verdict(console: Console, rows, ok: bool, elapsed: float) -> None:
    """OK or FAILED: how many of the functions pass."""
    passing = sum(r.verdict in PASSING_VERDICTS for r in rows)
    uncheckable = sum(r.verdict == "cannot-check" for r in rows)
    if uncheckable and passing + uncheckable == len(rows):   # nothing of the user's code failed
        console.print(f"[magenta]NOT CHECKED[/]: {passing} of {len(rows)} functions pass; {uncheckable} could not "
                      f"be checked as written (not a failure of your code: {'its' if uncheckable == 1 else 'each'} "
                      f"message says why and what to declare) in {elapsed:.1f} s")
        return
    also = (f"; {uncheckable} could not be checked as written (not a failure of your code)" if uncheckable else "")
    console.print(f"{'[green]OK[/]' if ok else '[bold red]FAILED[/]'}: {passing} of {len(rows)} functions pass"
                  f"{also} in {elapsed:.1f} s")
