"""The HTML report: one self-contained file (inline CSS and SVG; no JavaScript, no external URLs).

Rendered from the JSON report document, so it shows exactly what the JSON holds: the summary
table, then every non-pass outcome in a collapsible ``<details>`` with its comparisons, worst
elements, one SVG mismatch image per channel, the replay command and the standalone snippet.
"""
from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

from ..case import (IMPLEMENTATION_CRASH, IMPLEMENTATION_ERROR, IMPLEMENTATION_TIMEOUT, MISMATCH, REFERENCE_CRASH,
                    REFERENCE_ERROR, REFERENCE_UNSUPPORTED, STATUSES)
from ..files import atomic_write_text
from ..oracle.backend import one_line
from .terminal import TOP_K, _e, _g, _index, _params, headline

CELL = 7  # SVG pixels per tensor element

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:2em} table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left} th{background:#f3f3f3}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.mismatch{color:#b00020;font-weight:bold} .implementation-error,.implementation-crash,.implementation-timeout{color:#8e24aa;font-weight:bold}
.reference-unsupported{color:#a66f00} .reference-error{color:#b00020;font-weight:bold} .pass{color:#2e7d32}
details{border:1px solid #ddd;border-radius:4px;margin:.6em 0;padding:.3em .8em}
summary{cursor:pointer;font-weight:bold} pre{background:#f7f7f7;padding:.6em;overflow-x:auto}
.maps{display:flex;flex-wrap:wrap;gap:12px} figure{margin:0} figcaption{font-size:12px;color:#555}
svg rect.ok{fill:#e8f5e9} svg rect.bad{fill:#d32f2f} svg line{stroke:#fff;stroke-width:1} .cause{background:#fff8e1;padding:.3em .6em}
"""


def channel_svg(grid: list[list[int]]) -> str:
    """One channel's H x W mismatch mask as an inline SVG: a light cell grid, red where mismatched."""
    h, w = len(grid), len(grid[0]) if grid else 0
    cells = "".join(f'<rect class="bad" x="{j * CELL}" y="{i * CELL}" width="{CELL - 1}" height="{CELL - 1}"/>'
                    for i, row in enumerate(grid) for j, v in enumerate(row) if v)
    lines = "".join(f'<line x1="0" y1="{i * CELL - 0.5}" x2="{w * CELL}" y2="{i * CELL - 0.5}"/>'
                    for i in range(1, h)) + "".join(
        f'<line x1="{j * CELL - 0.5}" y1="0" x2="{j * CELL - 0.5}" y2="{h * CELL}"/>' for j in range(1, w))
    return (f'<svg width="{w * CELL}" height="{h * CELL}" role="img">'
            f'<rect class="ok" width="{w * CELL}" height="{h * CELL}"/>{lines}{cells}</svg>')


def _maps(diff: dict) -> str:
    spatial, counts = diff["spatial_map"], diff["channel_map"]
    if spatial:
        figs = []
        for c, grid in enumerate(spatial):
            n = counts[c] if c < len(counts) else sum(map(sum, grid))
            figs.append(f"<figure>{channel_svg(grid)}<figcaption>channel {c}: {n} mismatched"
                        f"</figcaption></figure>")
        h, w = len(spatial[0]), len(spatial[0][0]) if spatial[0] else 0
        return (f"<p>Where {escape(diff['tensor'])} mismatches (H x W = {h} x {w} per channel, batch folded; "
                f"red = mismatched):</p><div class=maps>{''.join(figs)}</div>")
    if counts:
        cells = "".join(f"<td class=n>{n}</td>" for n in counts)
        heads = "".join(f"<th>c{c}</th>" for c in range(len(counts)))
        return f"<p>Mismatches per channel:</p><table><tr>{heads}</tr><tr>{cells}</tr></table>"
    return ""


def _table(header: list[str] | None, rows: list[list[str]], numeric=()) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def outcome_html(d: dict) -> str:
    parts = [f"<pre>{escape(chr(10).join(headline(d)))}</pre>"]
    case_rows = [["op", escape(d["op"])], ["implementation", escape(d["impl"])], ["dtype", d["dtype"]],
                 ["seed", escape(str(d["seed"]))], ["params", escape(_params(d["params"]))],
                 ["shapes", escape("  ".join(f"{k}={tuple(v)}" for k, v in d["shapes"].items()))],
                 ["TF paths", escape(", ".join(d["paths"]) or "-")]]
    parts.append(_table(None, case_rows))
    if d["message"]:
        title = "Traceback" if d["status"] == IMPLEMENTATION_ERROR else "Reason"
        parts.append(f"<p>{title}:</p><pre>{escape(d['message'])}</pre>")
    if d["diffs"]:
        rows = [[escape(f["tensor"]), escape(f["path"]),
                 "<span class=pass>ok</span>" if f["passed"] else "<span class=mismatch>MISMATCH</span>",
                 _e(f["max_abs_err"]), _e(f["max_rel_err"]), _e(f["atol"]), _e(f["rtol"]),
                 f"{f['mismatched']} / {f['total']}"] for f in d["diffs"]]
        parts.append(_table(["tensor", "TF path", "verdict", "max abs err", "max rel err", "atol", "rtol",
                             "mismatched"], rows, numeric=(3, 4, 5, 6, 7)))
    seen = set()
    for f in d["diffs"]:
        if f["passed"] or f["tensor"] in seen:
            continue
        seen.add(f["tensor"])
        parts.append(f"<h3>{escape(f['tensor'])} (path {escape(f['path'])})</h3>")
        if f["worst"]:
            rows = [[_index(w["index"]), _g(w["actual"]), _g(w["expected"]), _e(w["abs_err"])]
                    for w in f["worst"][:TOP_K]]
            parts.append("<p>Worst elements (most out of tolerance first):</p>" + _table(["index", "actual", "expected", "abs err"], rows,
                                                            numeric=(1, 2, 3)))
        parts.append(_maps(f))
        for cause in f["diagnosis"]:
            parts.append(f"<p class=cause>Likely cause: <b>{escape(str(cause.get('label', '')))}</b> "
                         f"{escape(str(cause.get('evidence', '')))}</p>")
        if f["note"]:
            parts.append(f"<p>Note: {escape(f['note'])}</p>")
    parts += [f"<p>Note: {escape(n)}</p>" for n in d["notes"]]
    if d.get("replay"):
        parts.append(f"<p>Replay: <code>{escape(d['replay']['command'])}</code></p>"
                     f"<p>Standalone snippet:</p><pre>{escape(d['replay']['snippet'])}</pre>")
    return "\n".join(parts)


def render_html(document: dict) -> str:
    summary = document["summary"]
    rows = []
    for op in sorted(summary["ops"]):
        e = summary["ops"][op]
        rows.append([escape(op), ", ".join(sorted(e["dtypes"])),
                     *[f"<span class={s}>{e[s]}</span>" if e.get(s) else "." for s in STATUSES],
                     escape(", ".join(e["paths"]))])
    c = summary["counts"]
    rows.append(["<b>total</b>", "", *[f"<b>{c.get(s, 0)}</b>" for s in STATUSES], ""])
    table = _table(["op", "dtypes", *STATUSES, "TF paths"], rows, numeric=tuple(range(2, 2 + len(STATUSES))))
    verdict = ("<span class=pass>no failures</span>" if document["ok"] else
               "<span class=mismatch>failed: " + escape("; ".join(document.get("problems", []))) + "</span>")
    meta = "".join(f"<li>{escape(k)}: <code>{escape(str(document[k]))}</code></li>"
                   for k in ("impl", "command", "seed", "created") if document.get(k) is not None)
    if isinstance(document.get("tensorflow"), dict):
        meta += f"<li>reference: {escape(one_line(document['tensorflow']))}</li>"
    sections = []
    found = document.get("summary", {}).get("backend_disagreements") or []
    if found:
        sections.append("<h2>TensorFlow's backends disagree (Eigen vs oneDNN; not the code under test's verdict)</h2>"
                        + _table(["op", "dtype", "tensor, path: verdict", "replay"],
                                 [[escape(d["op"]), escape(d["dtype"]),
                                   escape("; ".join(f"{t['tensor']}, {t['path']}: {t['verdict']}" for t in d["tensors"])
                                          or f"eigen {d['eigen']}, onednn {d['onednn']}"),
                                   escape(str(d.get("replay", "-")))] for d in found]))
    parity = [p for p in document.get("error_parity", []) if not p["passed"]]
    if parity:
        sections.append("<h2 class=mismatch>Error parity failures</h2>" + _table(
            ["op", "call", "TensorFlow", "implementation", "problem"],
            [[escape(p["op"]), escape(p["label"]), escape(p["why"]), escape(p["detail"]), escape(p["problem"])]
             for p in parity]))
    for status, title in ((MISMATCH, "Mismatches"), (REFERENCE_ERROR, "Reference errors"),
                          (REFERENCE_CRASH, "TensorFlow crashes"),
                          (IMPLEMENTATION_ERROR, "Implementation errors"), (IMPLEMENTATION_CRASH, "Crashes"),
                          (IMPLEMENTATION_TIMEOUT, "Timeouts"),
                          (REFERENCE_UNSUPPORTED, "Reference unsupported")):
        found = sorted((o for o in document["outcomes"] if o["status"] == status), key=_case_size)
        if found:
            items = "".join(
                f"<details{' open' if status == MISMATCH and i < 3 else ''}><summary class={status}>"
                f"{escape(o['op'])} · {o['dtype']} · {escape(_failing_tensors(o))}"
                + (f" · {escape(o['impl'])}: {escape(o['cause'])}" if o.get("cause") else "")
                + f" · {escape(_shapes(o))}</summary>{outcome_html(o)}</details>" for i, o in enumerate(found))
            sections.append(f"<h2 class={status}>{title} ({len(found)})</h2>{items}")
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>crosscheck report</title>"
            f"<style>{_CSS}</style></head><body><h1>crosscheck report</h1><p>{verdict}</p><ul>{meta}</ul>"
            f"<h2>Summary</h2>{table}{''.join(sections)}</body></html>\n")


def _case_size(o: dict) -> int:
    """Elements in the case's arrays: the report lists the smallest failing case first."""
    return sum(int(np.prod(shape)) for shape in o.get("shapes", {}).values() if isinstance(shape, (list, tuple)))


def _shapes(o: dict) -> str:
    return " ".join(f"{k}={tuple(v)}" for k, v in o.get("shapes", {}).items() if isinstance(v, (list, tuple)))


def _failing_tensors(o: dict) -> str:
    return ", ".join(sorted({f["tensor"] for f in o["diffs"] if not f["passed"] and f.get("judged", True)})) or o["status"]


def write_html(document: dict, path) -> Path:
    return atomic_write_text(path, render_html(document))
