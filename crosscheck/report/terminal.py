"""The terminal report: one outcome as styled lines; plain text for pytest, rich for the CLI.

Both forms come from :func:`outcome_lines`, so the pytest assertion message and the terminal show
the same report. The first lines are short, like ``torch.testing.assert_close``'s message; the
details (case, every comparison, worst elements, mismatch map, replay) follow.
"""
from __future__ import annotations

import math
import re

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..case import (IMPLEMENTATION_CRASH, IMPLEMENTATION_ERROR, IMPLEMENTATION_TIMEOUT, MISMATCH, PASS, REFERENCE_CRASH,
                    REFERENCE_ERROR, REFERENCE_UNSUPPORTED, STATUSES, reference_name)
from ..coverage import expected_forms, missing_forms
from .json_report import add_parity, outcome_to_dict

TOP_K = 5              # worst elements shown per tensor
MAX_MAP_CHANNELS = 8   # channels drawn in the text mismatch map
MAX_MAP_SIDE = 32      # larger maps are drawn at a coarser grid (a cell is '#' if any element in it is)

_STATUS_STYLE = {PASS: "green", MISMATCH: "bold red", REFERENCE_UNSUPPORTED: "yellow", REFERENCE_ERROR: "bold red",
                 REFERENCE_CRASH: "bold red",
                 IMPLEMENTATION_ERROR: "bold magenta", IMPLEMENTATION_CRASH: "bold magenta",
                 IMPLEMENTATION_TIMEOUT: "bold magenta"}
# short: with the longest op name and seven counts the table still fits 120 columns
_STATUS_HEADER = {PASS: "pass", MISMATCH: "mism.", REFERENCE_UNSUPPORTED: "unsup.",
                  REFERENCE_ERROR: "ref-err", REFERENCE_CRASH: "tf-crash", IMPLEMENTATION_ERROR: "impl-err", IMPLEMENTATION_CRASH: "crash",
                  IMPLEMENTATION_TIMEOUT: "timeout"}


# C0 controls but tab (newlines are split into lines first), DEL, C1 controls (CSI ...), the Unicode
# marks that reorder text on screen (what a terminal would act on instead of showing), and lone
# surrogates (which no output encoding can write)
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` with every control character and bidirectional mark written as its escape (``\\x1b``,
    ``\\u202e``): text from a file or from the code under test cannot recolour, move the cursor, clear
    the terminal or reorder what is shown."""
    return _UNSAFE.sub(lambda m: ascii(m.group())[1:-1], str(text))


def _g(x) -> str:
    if isinstance(x, str):
        return x
    return f"{x:.8g}" if x == 0 or 1e-4 <= abs(x) < 1e6 else f"{x:.6e}"


def _e(x) -> str:
    return x if isinstance(x, str) else f"{x:.2e}"


def _index(ix) -> str:
    return "(" + ", ".join(str(i) for i in ix) + ("," if len(ix) == 1 else "") + ")"


def _params(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "(none)"


def _pct(n: int, total: int) -> str:
    return f"{100.0 * n / total:.1f}%" if total else "-"


def headline(d: dict) -> list[str]:
    """The short message: what failed, how many elements, the greatest differences."""
    where = f"{d['op']} [{d['dtype']}, impl {d['impl']}]"
    if d["status"] == IMPLEMENTATION_ERROR:
        last = (d["message"].strip().splitlines() or ["(no message)"])[-1]
        return [f"crosscheck: the implementation raised on {where}: {last}"]
    if d["status"] in (IMPLEMENTATION_CRASH, IMPLEMENTATION_TIMEOUT):
        return [f"crosscheck: the implementation {'crashed' if d['status'] == IMPLEMENTATION_CRASH else 'hung'} "
                f"on {where}: {d['message']}"]
    if d["status"] == REFERENCE_UNSUPPORTED:
        return [f"crosscheck: TensorFlow has no reference for {where}: {d['message'] or '(no reason given)'}"]
    if d["status"] == REFERENCE_ERROR:
        first = (d["message"].strip().splitlines() or ["(no message)"])[0]
        return [f"crosscheck: TensorFlow failed on {where} (no registered quirk covers it): {first}"]
    if d["status"] == REFERENCE_CRASH:
        return [f"crosscheck: TensorFlow crashed the process computing the reference of {where} (no registered "
                f"quirk covers it): {(d['message'].strip().splitlines() or ['(no message)'])[0]}"]
    failures = [f for f in d["diffs"] if not f["passed"] and f.get("judged", True)]
    if d["status"] == PASS or not failures:
        return [f"crosscheck: {where} matches TensorFlow on paths {', '.join(d['paths']) or '-'}"]
    f = failures[0]
    others = sorted({(g["tensor"], g["path"]) for g in failures[1:]})
    ref = reference_name(f["path"])
    lines = [f"crosscheck: {d['op']} {f['tensor']} differs from {ref} (path {f['path']}) "
             f"[{d['dtype']}, impl {d['impl']}]"]
    if f["path"] == "harness":
        lines.append(f"{f['tensor']}: {f['note']}")
    elif f["shape"] != f["expected_shape"]:
        note = f["note"] if f["note"] and not f["note"].startswith("shape ") else ""   # not the shapes again
        shapes = f"got {tuple(f['shape'])}, {ref} gives {tuple(f['expected_shape'])}"
        lines.append(f"Shape mismatch: {note} ({shapes})" if note else f"Shape mismatch: {shapes}")
    else:
        lines.append(f"Mismatched elements: {f['mismatched']} / {f['total']} ({_pct(f['mismatched'], f['total'])})")
        at = [w for w in f["worst"] if w["abs_err"] == f["max_abs_err"]][:1]
        at = f" at index {_index(at[0]['index'])}" if at else ""
        lines.append(f"Greatest absolute difference: {_g(f['max_abs_err'])}{at} "
                     f"(allowed: atol {_e(f['atol'])} + rtol {_e(f['rtol'])} * |expected|)")
        lines.append(f"Greatest relative difference: {_g(f['max_rel_err'])}")
    if others:
        lines.append("Also failing: " + ", ".join(f"{t} ({p})" for t, p in others))
    return lines


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _coarse(grid: list[list[int]]) -> tuple[list[list[int]], int]:
    h, w = len(grid), len(grid[0]) if grid else 0
    step = max(1, math.ceil(max(h, w) / MAX_MAP_SIDE))
    if step == 1:
        return grid, 1
    return [[int(any(grid[i][j] for i in range(r, min(r + step, h)) for j in range(c, min(c + step, w))))
             for c in range(0, w, step)] for r in range(0, h, step)], step


def map_lines(diff: dict) -> list[str]:
    """Text mismatch map of one tensor: one '#'/'.' block per channel with mismatches, side by side."""
    counts, spatial = diff["channel_map"], diff["spatial_map"]
    if not counts and not spatial:
        return []
    if not spatial:
        return ["  mismatches per channel: " + " ".join(f"c{c}:{n}" for c, n in enumerate(counts))]
    bad = [c for c in range(len(spatial)) if any(any(row) for row in spatial[c])]
    shown = bad[:MAX_MAP_CHANNELS]
    h, w = len(spatial[0]), len(spatial[0][0]) if spatial[0] else 0
    lines = [f"  '#' = mismatched element (H x W = {h} x {w}, batch folded); "
             f"{len(bad)} of {len(spatial)} channels have mismatches"]
    blocks = []
    for c in shown:
        grid, step = _coarse(spatial[c])
        n = counts[c] if c < len(counts) else sum(map(sum, spatial[c]))
        title = f"c{c}: {n}" + (f" ({step}x{step} cells)" if step > 1 else "")
        rows = ["".join("#" if v else "." for v in row) for row in grid]
        width = max(len(title), len(rows[0]) if rows else 0)
        blocks.append([title.ljust(width)] + [r.ljust(width) for r in rows])
    per_line = max(1, 96 // (max((len(b[0]) for b in blocks), default=1) + 3))
    for start in range(0, len(blocks), per_line):
        group = blocks[start:start + per_line]
        for r in range(max(len(b) for b in group)):
            lines.append("  " + "   ".join(b[r] if r < len(b) else " " * len(b[0]) for b in group).rstrip())
    if len(bad) > len(shown):
        lines.append(f"  ... and {len(bad) - len(shown)} more channels with mismatches (all in the HTML report)")
    return lines


def outcome_lines(d: dict, snippet: bool = True) -> list[tuple[str, str]]:
    """The full report of one outcome dict as ``(style, text)`` lines ("" = plain)."""
    out = [("bold", line) for line in headline(d)]
    add = out.append
    add(("bold", "Case"))
    rows = [["op", d["op"], "impl", d["impl"]], ["dtype", d["dtype"], "seed", str(d["seed"])],
            ["status", d["status"], "TF paths", ", ".join(d["paths"]) or "-"]]
    out += [("", line) for line in _table(rows)]
    add(("", f"  params   {_params(d['params'])}"))
    add(("", "  shapes   " + "  ".join(f"{k}={tuple(v)}" for k, v in d["shapes"].items())))
    if d["status"] in (IMPLEMENTATION_ERROR, REFERENCE_UNSUPPORTED, REFERENCE_ERROR, REFERENCE_CRASH) and d["message"]:
        add(("bold", {IMPLEMENTATION_ERROR: "Traceback of the implementation", REFERENCE_UNSUPPORTED: "Reason",
                      REFERENCE_ERROR: "What TensorFlow said", REFERENCE_CRASH: "How TensorFlow died"}[d["status"]]))
        out += [("", "  " + line) for line in d["message"].rstrip().splitlines()]
    if d["diffs"]:
        add(("bold", "Comparisons"))
        rows = [["tensor", "TF path", "verdict", "max abs err", "max rel err", "atol", "rtol", "mismatched"]]
        for f in d["diffs"]:
            if not f.get("judged", True):
                rows.append([f["tensor"], f["path"], "not judged", "-", "-", "-", "-", f"-/{f['total']}"])
                continue
            shape_bad = f["shape"] != f["expected_shape"] and f["path"] != "harness"
            rows.append([f["tensor"], f["path"], "ok" if f["passed"] else "MISMATCH",
                         "shape" if shape_bad else _e(f["max_abs_err"]), "-" if shape_bad else _e(f["max_rel_err"]),
                         _e(f["atol"]), _e(f["rtol"]), f"{f['mismatched']}/{f['total']}"])
        for line, row in zip(_table(rows), rows):
            add(("bold red" if row[2] == "MISMATCH" else "", line))
    seen = set()
    for f in d["diffs"]:
        if not f.get("judged", True) and f["tensor"] not in seen:
            seen.add(f["tensor"])
            add(("", f"{f['tensor']} not judged: {f['note']}"))
            continue
        if f["passed"] or f["tensor"] in seen or not f.get("judged", True):
            continue
        seen.add(f["tensor"])    # other paths of the same tensor repeat the same elements
        if f["worst"]:
            add(("bold", f"Worst elements of {f['tensor']} (path {f['path']}; most out of tolerance first)"))
            rows = [["index", "actual", "expected", "abs err"]]
            rows += [[_index(w["index"]), _g(w["actual"]), _g(w["expected"]), _e(w["abs_err"])]
                     for w in f["worst"][:TOP_K]]
            out += [("", line) for line in _table(rows)]
        lines = map_lines(f)
        if lines:
            add(("bold", f"Where {f['tensor']} mismatches (per channel)"))
            out += [("", line) for line in lines]
        for cause in f["diagnosis"]:
            add(("yellow", f"Likely cause: {cause.get('label', '')}"
                           + (f" — {cause['evidence']}" if cause.get("evidence") else "")))
        if f["note"]:
            add(("", f"  note: {f['note']}"))
    for note in d["notes"]:
        add(("", f"Note: {note}"))
    if d.get("replay"):
        add(("bold", f"Replay: {d['replay']['command']}"))
        if snippet:
            add(("bold", "Standalone snippet:"))
            out += [("dim", "  " + line if line else "") for line in d["replay"]["snippet"].rstrip().splitlines()]
    # messages, params and names can come from the code under test or a replay file: one line each, shown as text
    return [(style, printable(part)) for style, text in out for part in text.split("\n")]


def format_outcome_text(outcome, snippet: bool = True, replay_file: str | None = None) -> str:
    """The plain-text report of an Outcome (or an outcome dict): the pytest assertion message."""
    d = outcome if isinstance(outcome, dict) else outcome_to_dict(outcome, replay_file)
    return "\n".join(text for _, text in outcome_lines(d, snippet))


def print_outcome(console: Console, d: dict, snippet: bool = True) -> None:
    """The same report as :func:`format_outcome_text`, styled."""
    for style, text in outcome_lines(d, snippet):
        console.print(Text(text, style=style or ""), soft_wrap=True)


def summary_table(summary: dict, title: str = "crosscheck summary") -> Table:
    """op x passed / mismatched / reference-unsupported / reference-error / implementation-error, with TF paths."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("op", no_wrap=True)
    for status in STATUSES:
        table.add_column(_STATUS_HEADER[status], justify="right", style=_STATUS_STYLE[status], no_wrap=True)
    table.add_column("TF paths")
    for op in sorted(summary["ops"]):
        e = summary["ops"][op]
        table.add_row(op, *[str(e.get(s, 0)) if e.get(s) else "." for s in STATUSES], ", ".join(e["paths"]))
    c = summary["counts"]
    table.add_row("total", *[str(c.get(s, 0)) for s in STATUSES], "", style="bold")
    return table


def coverage_table(summary: dict, infos: dict) -> Table:
    """Per op: each parameter's forms as count x form (``default`` = left out), features, and what is missing."""
    table = Table(title="what was exercised (count x form; default = left out of the call)", box=box.SIMPLE_HEAD)
    for col in ("op", "parameter forms", "features", "missing"):
        table.add_column(col, overflow="fold")
    for op in sorted(summary["ops"]):
        if op not in infos:
            continue
        e, info = summary["ops"][op], infos[op]
        forms = e.get("forms", {})
        text = "; ".join(f"{name}: " + ", ".join(f"{forms.get(name, {}).get(f, 0)}x {f}" for f in expected)
                         for name, expected in expected_forms(info).items())
        features = ", ".join(f"{n}x {k}" for k, n in sorted(e.get("features", {}).items()))
        missing = "; ".join(f"{k}: {', '.join(v)}" for k, v in missing_forms(e, info).items())
        table.add_row(op, text or "-", features or "-", Text(missing, style="yellow") if missing else "-")
    return table


def parity_table(parity: list[dict], summary: dict | None = None) -> Table:
    """Error parity per op: of the invalid calls TensorFlow refuses, how many the implementation
    refuses too; of those it computes, how many the implementation computes too; the op's verdict and
    each failure (``summary``: the run's ``error_parity`` summary; counted from ``parity`` without it)."""
    if summary is None:
        summary = {"checked": 0, "failed": 0}
        for p in parity:
            add_parity({"error_parity": summary}, p)
    table = Table(title="error parity (invalid calls refused where TensorFlow refuses them; --no-error-parity skips it)",
                  box=box.SIMPLE_HEAD)
    for col in ("op", "TF refuses", "refused too", "TF computes", "computed too", "verdict", "failures"):
        table.add_column(col, overflow="fold")
    by_op: dict[str, list] = {}
    for p in parity:
        by_op.setdefault(p["op"], []).append(p)
    for op, e in sorted(summary.get("ops", {}).items()):
        bad = [p for p in by_op.get(op, []) if not p["passed"]]
        table.add_row(op, str(e["tf_refuses"]), str(e["refused"]), str(e["tf_computes"]), str(e["computed"]),
                      Text(e["verdict"], style="green" if e["verdict"] == "ok" else "bold red"),
                      Text(printable("; ".join(f"{p['label']}: {p['problem']}" for p in bad)), style="bold red")
                      if bad else "-")
    return table


def summary_text(summary: dict) -> str:
    console = Console(width=120, no_color=True, record=True, file=None)
    with console.capture() as cap:
        console.print(summary_table(summary))
    return cap.get()
