"""The JSON report: one document per run, the schema every other renderer reads.

``outcome_to_dict`` is the single serialisation of an Outcome; the terminal, pytest and HTML
reports all render these dicts. The schema is documented in ``docs/report-format.md``.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path

from .. import coverage
from ..case import (FAILING, IMPLEMENTATION_CRASH, IMPLEMENTATION_ERROR, IMPLEMENTATION_TIMEOUT, MISMATCH, PASS,
                    REFERENCE_CRASH, REFERENCE_ERROR, REFERENCE_UNSUPPORTED, STATUSES, Outcome)
from ..files import atomic_write_text
from ..registry import OPS
from ..replay import check_snippet, jsonable, replay_command, snippet

#: a run fails when an op had fewer of its cases compared (passed or mismatched) than this
MIN_COMPARED = 0.9

FORMAT = "crosscheck-report"
VERSION = 1


def _number(x):
    """A float for JSON: inf/nan as the strings "inf", "-inf", "nan" (strict JSON has none)."""
    x = float(x)
    return x if math.isfinite(x) else str(x)


def diff_to_dict(diff) -> dict:
    return {"tensor": diff.tensor, "path": diff.path, "passed": bool(diff.passed),
            "shape": list(diff.shape), "expected_shape": list(diff.expected_shape),
            "atol": _number(diff.atol), "rtol": _number(diff.rtol),
            "max_abs_err": _number(diff.max_abs_err), "max_rel_err": _number(diff.max_rel_err),
            "mismatched": int(diff.mismatched), "total": int(diff.total),
            "worst": [{"index": [int(i) for i in w.get("index", [])],
                       **{k: _number(v) for k, v in w.items() if k != "index"}} for w in diff.worst],
            "channel_map": [int(c) for c in diff.channel_map],
            "spatial_map": jsonable(diff.spatial_map),
            "diagnosis": jsonable(diff.diagnosis), "note": diff.note, "judged": bool(diff.judged)}


def outcome_to_dict(outcome: Outcome, replay_file: str | None = None, check: dict | None = None) -> dict:
    """Everything about one outcome; ``replay_file`` is the path its replay file was written to;
    ``check``: the user's target, convention and function (``crosscheck check``)."""
    case = outcome.case
    failing_path = next((d.path for d in outcome.failures), None)
    if check is not None and replay_file is not None:
        replay = {"file": str(replay_file), "command": replay_command(replay_file, check_target=check["target"]),
                  "snippet": check_snippet(replay_file, check)}
        return {**_outcome_fields(outcome), "replay": replay, "check": jsonable(check)}
    return {**_outcome_fields(outcome), "replay": None if replay_file is None else {
            "file": str(replay_file), "command": replay_command(replay_file, outcome.impl),
            "snippet": snippet(case, replay_file, outcome.impl, tf_path=failing_path)}}


def _outcome_fields(outcome: Outcome) -> dict:
    case = outcome.case
    return {
        "status": outcome.status, "op": case.op, "impl": outcome.impl,
        "dtype": case.dtype, "seed": jsonable(case.seed), "params": jsonable(case.params),
        "shapes": {k: list(v) for k, v in case.shapes().items()},
        "paths": list(outcome.paths), "message": outcome.message, "notes": list(outcome.notes),
        "diffs": [diff_to_dict(d) for d in outcome.diffs],
    }


# --- the summary: counts per op ----------------------------------------------------------------

def empty_summary() -> dict:
    return {"total": 0, "counts": {s: 0 for s in STATUSES}, "ops": {},
            "error_parity": {"checked": 0, "failed": 0}}


def _op_entry() -> dict:
    return {**{s: 0 for s in STATUSES}, "paths": [], "dtypes": [], "notes": {}, "forms": {}, "features": {}}


def add_to_summary(summary: dict, outcome: Outcome) -> None:
    entry = summary["ops"].setdefault(outcome.case.op, _op_entry())
    summary["total"] += 1
    summary["counts"][outcome.status] += 1
    entry[outcome.status] += 1
    entry["paths"] = in_path_order(outcome.case.op, [*entry["paths"], *outcome.paths])
    if outcome.case.dtype not in entry["dtypes"]:   # kept sorted: the same list however the run was dealt
        entry["dtypes"] = sorted([*entry["dtypes"], outcome.case.dtype])
    for note in outcome.notes:   # alternate TF formulations are counted even when the case passed
        entry["notes"][note] = entry["notes"].get(note, 0) + 1
    if outcome.case.op in OPS:
        coverage.record(entry, OPS[outcome.case.op], outcome.case)


def add_parity(summary: dict, parity) -> None:
    """Count one error-parity outcome (a ParityOutcome or its dict), in all and for its op: how many
    invalid calls TensorFlow refuses and the implementation refuses too, how many it computes and the
    implementation computes too, how many failed, and the op's verdict ("ok" or "failed")."""
    p = parity if isinstance(parity, dict) else parity.to_dict()
    totals = summary["error_parity"]
    totals["checked"] += 1
    totals["failed"] += 0 if p["passed"] else 1
    op = totals.setdefault("ops", {}).setdefault(p["op"], {"tf_refuses": 0, "refused": 0, "tf_computes": 0,
                                                           "computed": 0, "failed": 0})
    side = "refuse" if p["expected"] == "refuses" else "compute"
    op[f"tf_{side}s"] += 1
    op["refused" if side == "refuse" else "computed"] += 1 if p["actual"] == p["expected"] else 0
    op["failed"] += 0 if p["passed"] else 1
    _parity_verdicts(totals)


def _parity_verdicts(totals: dict) -> None:
    for entry in totals.get("ops", {}).values():
        entry["verdict"] = "failed" if entry["failed"] else "ok"


def _merge_counts(into: dict, other: dict) -> None:
    for key, n in other.items():
        if isinstance(n, dict):
            _merge_counts(into.setdefault(key, {}), n)
        elif isinstance(n, str):   # a verdict: recomputed from the merged counts
            into[key] = n
        else:
            into[key] = into.get(key, 0) + n


def in_path_order(op: str, paths) -> list[str]:
    """The distinct ``paths`` in the order the op's OpInfo lists them (any other name last): the
    same list whichever case, shard or worker used a path first."""
    order = [p.name for p in OPS[op].paths] if op in OPS else []
    return sorted(dict.fromkeys(paths), key=lambda p: order.index(p) if p in order else len(order))


def merge_summaries(a: dict, b: dict) -> dict:
    """The summary of two runs' outcomes together (xdist workers, shards)."""
    merged = json.loads(json.dumps(a))
    merged["total"] += b["total"]
    _merge_counts(merged["counts"], b["counts"])
    for key in ("crashes", "backend_disagreements"):   # lists, kept in the order found
        if b.get(key):
            merged[key] = merged.get(key, []) + b[key]
    _merge_counts(merged.setdefault("error_parity", {"checked": 0, "failed": 0}),
                  b.get("error_parity", {"checked": 0, "failed": 0}))
    _parity_verdicts(merged["error_parity"])
    for op, entry in b["ops"].items():
        into = merged["ops"].setdefault(op, _op_entry())
        for s in STATUSES:
            into[s] = into.get(s, 0) + entry.get(s, 0)
        into["paths"] = in_path_order(op, into["paths"] + entry["paths"])
        into["dtypes"] = sorted(set(into["dtypes"]) | set(entry["dtypes"]))
        for key in ("notes", "forms", "features"):
            _merge_counts(into.setdefault(key, {}), entry.get(key, {}))
    return merged


def compared_fraction(entry: dict) -> float:
    total = sum(entry.get(s, 0) for s in STATUSES)
    return (entry.get(PASS, 0) + entry.get(MISMATCH, 0)) / total if total else 1.0


def under_compared(summary: dict) -> list[str]:
    """Ops with fewer than MIN_COMPARED of their cases compared with TensorFlow."""
    return sorted(op for op, e in summary["ops"].items() if compared_fraction(e) < MIN_COMPARED)


def problems(summary: dict, require_compared: bool = True) -> list[str]:
    """Why the run fails, one line each (empty: it passes)."""
    out = [f"{summary['counts'][s]} {s}" for s in FAILING if summary["counts"].get(s)]
    if require_compared:
        out += [f"{op}: only {compared_fraction(summary['ops'][op]):.0%} of its cases compared with TensorFlow "
                f"(at least {MIN_COMPARED:.0%} must be)" for op in under_compared(summary)]
    failed = summary.get("error_parity", {}).get("failed", 0)
    if failed:
        out.append(f"{failed} error-parity failures")
    out += [f"TensorFlow crashed the process while {c}" for c in summary.get("crashes", [])]
    return out


def ok(summary: dict, require_compared: bool = True) -> bool:
    """No outcome of a FAILING status; every op compared on at least
    MIN_COMPARED of its cases; every error-parity check passed."""
    return not problems(summary, require_compared)


def build_document(summary: dict, outcomes: list[dict], **meta) -> dict:
    """The report document: header, ``meta`` (impl, command, seed, ...), summary, outcomes."""
    order = {s: i for i, s in enumerate((MISMATCH, REFERENCE_ERROR, REFERENCE_CRASH, IMPLEMENTATION_ERROR, IMPLEMENTATION_CRASH,
                                         IMPLEMENTATION_TIMEOUT, REFERENCE_UNSUPPORTED, PASS))}
    outcomes = sorted(outcomes, key=lambda o: (order.get(o["status"], len(order)), o["op"], o["dtype"],
                                               not o.get("minimal")))   # a shrunk minimal case first
    require_compared = meta.pop("require_compared", True)
    error_parity = meta.pop("error_parity", [])
    return {"format": FORMAT, "version": VERSION,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **jsonable(meta), "ok": ok(summary, require_compared), "problems": problems(summary, require_compared),
            "summary": summary, "outcomes": outcomes, "error_parity": jsonable(error_parity)}


def write_json(document: dict, path) -> Path:
    return atomic_write_text(path, json.dumps(document, indent=1, allow_nan=False))
