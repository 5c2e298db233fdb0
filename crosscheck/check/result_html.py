"""The verdict table of a :class:`crosscheck.check.jupyter.CheckResult`: as HTML (what a notebook
shows) and as text (its repr). One row per function: verdict, examples, failing, causes / notes;
under the table, the smallest failing case of each failed function in one line."""
from __future__ import annotations

from html import escape

import numpy as np

from ..case import Outcome

COLOURS = {"passed": "#1a7f37", "passed-with-note": "#0969da", "failed": "#cf222e", "not-implemented": "#9a6700",
           "cannot-check": "#8250df", "error": "#8250df"}
COLUMNS = ("function", "verdict", "examples", "failing", "likely causes / notes")


def causes_and_notes(row) -> str:
    what = [f"{n}x {cause}" for cause, n in sorted(row.causes.items(), key=lambda kv: -kv[1])]
    what += list(row.notes)
    if row.message and not what:
        what.append(row.message.splitlines()[0])
    return "; ".join(what)


def case_summary(outcome: Outcome | None) -> str:
    """One line: the op, its shapes and parameters, and what went wrong (the worst element, or what
    the code raised)."""
    if outcome is None:
        return ""
    case = outcome.case
    shapes = ", ".join(f"{k}={tuple(np.shape(v))}" for k, v in case.arrays.items())
    params = ", ".join(f"{k}={v}" for k, v in case.params.items() if k not in ("data_format", "dilations"))
    head = f"{case.op}({shapes}{', ' + params if params else ''})"
    failures = outcome.failures
    if failures:
        d = failures[0]
        if d.note or not d.worst:
            return f"{head}: {d.tensor} {d.note or 'differs'}"
        worst = d.worst[0]
        return (f"{head}: {d.tensor} differs at {d.mismatched} of {d.total} elements; worst at {worst['index']}: "
                f"yours {worst['actual']:.6g}, TensorFlow {worst['expected']:.6g}")
    lines = [line for line in (outcome.message or "").strip().splitlines() if line.strip()]
    return f"{head}: {lines[-1].strip() if lines else outcome.status}"


def text_table(rows, convention: str, notes=()) -> str:
    """The verdict table as plain text (a CheckResult's repr)."""
    cells = [COLUMNS] + [(r.function, r.verdict, str(r.tried), str(r.failing), causes_and_notes(r)) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS) - 1)]
    lines = [f"crosscheck check ({convention} convention, float64)"]
    lines += ["  ".join(c[i].ljust(widths[i]) for i in range(len(widths))) + "  " + c[-1] for c in cells]
    lines += [f"smallest failing case of {r.function}: {case_summary(r.first_failure)}" for r in rows
              if r.first_failure is not None]
    lines += [f"note: {n}" for n in notes]
    ok = all(r.verdict in ("passed", "passed-with-note") for r in rows)
    lines.append(f"{'OK' if ok and rows else 'FAILED'}: {sum(r.verdict in ('passed', 'passed-with-note') for r in rows)}"
                 f" of {len(rows)} functions pass")
    return "\n".join(lines)


def html_table(rows, convention: str, notes=()) -> str:
    """The verdict table as an HTML fragment (a CheckResult's ``_repr_html_``)."""
    head = "".join(f"<th style='text-align:left'>{escape(c)}</th>" for c in COLUMNS)
    body = []
    for r in rows:
        colour = COLOURS.get(r.verdict, "inherit")
        body.append(f"<tr><td><code>{escape(r.function)}</code></td>"
                    f"<td style='color:{colour};font-weight:bold'>{escape(r.verdict)}</td>"
                    f"<td>{r.tried}</td><td>{r.failing}</td>"
                    f"<td style='text-align:left'>{escape(causes_and_notes(r))}</td></tr>")
    smallest = [f"<li><code>{escape(r.function)}</code>: {escape(case_summary(r.first_failure))}</li>"
                for r in rows if r.first_failure is not None]
    passing = sum(r.verdict in ("passed", "passed-with-note") for r in rows)
    parts = [(f"<div class='crosscheck-result'><p><b>crosscheck check</b> ({escape(convention)} convention, "
              f"float64): {passing} of {len(rows)} functions pass</p>"),
             f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"]
    if smallest:
        parts.append(f"<p>Smallest failing case of each failed function:</p><ul>{''.join(smallest)}</ul>")
    parts += [f"<p>Note: {escape(n)}</p>" for n in notes]
    parts.append("</div>")
    return "".join(parts)
