"""``python -m bench --harness``: how fast crosscheck checks, each figure measured in this run.

* **cases per second per op group** (the registry's families: conv, pooling, activations = the
  element-wise ops, core, losses, normalization): ``crosscheck.fuzz.fuzz_op`` of every op of the
  group, float32, the default strategy and every TF path (``crosscheck run``'s defaults), in one
  child process after a warm-up; conv2d alone is reported too, with every path and ``--paths first``;
* the **bare-tape baseline**: one eager ``tf.GradientTape`` conv2d call (forward, input and filter
  gradients with a random upstream gradient, results fetched), measured in the same child process;
  each group's milliseconds per case divided by it gives a ratio that does not depend on the machine;
* **journaled units**: ``crosscheck run`` journals each case before TensorFlow sees it (so that a
  TensorFlow crash costs one case, crosscheck/supervision.py); conv2d and relu fuzzed with and
  without that journal, alternating in the same process: the ratio of the medians;
* **serial vs -j 2**: wall time of the default ``crosscheck run`` with ``-j 1`` and with ``-j 2``;
* **shrink times**: a conv2d whose input gradient loses its last row when H > 5, fuzzed until it
  fails, then shrunk (``crosscheck.fuzz.shrink_op``): seconds, cases tried, first and minimal shapes;
* with ``--pytest``: wall time of README's test command (``pytest -n 2``) under the default hypothesis profile.

    python -m bench.harness rates OUT.json EXAMPLES     # the first two figures only (a child process)
    python -m bench.harness shrink OUT.json             # the shrink figure only (a child process)
"""
from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.table import Table

from crosscheck.fuzz import fuzz_op, shrink_op
from crosscheck.registry import FAMILY
from crosscheck.report.journal import Journal
from crosscheck.runner import summarize
from crosscheck.supervision import Resume

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

#: conv2d whose input gradient loses its last row when the input is taller than 5 (also tests/crosscheck/test_shrink.py's)
TALL_BUG = '''import npcnn
from npcnn.functional import *  # noqa


def vjp(op, *arrays, **params):
    y, pullback = npcnn.vjp(op, *arrays, **params)
    if op != "conv2d":
        return y, pullback
    h_axis = 1 if params.get("data_format", "NHWC") == "NHWC" else 2

    def wrong_when_taller_than_5(dy):
        grads = list(pullback(dy))
        if grads[0].shape[h_axis] > 5:
            index = [slice(None)] * 4
            index[h_axis] = -1
            grads[0] = grads[0].copy()
            grads[0][tuple(index)] = 0          # the last row's gradient is lost
        return tuple(grads)
    return y, wrong_when_taller_than_5
'''


def bare_tape_ms(repeats: int = 300) -> float:
    """Median milliseconds of one eager GradientTape conv2d: x (2, 10, 10, 4), w (3, 3, 4, 8), SAME."""
    import tensorflow as tf  # deferred: imports TensorFlow
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 10, 10, 4), dtype=np.float32), rng.standard_normal((3, 3, 4, 8), dtype=np.float32)
    dy = rng.standard_normal((2, 10, 10, 8), dtype=np.float32)

    def once():
        xt, wt = tf.constant(x), tf.constant(w)
        with tf.GradientTape() as tape:
            tape.watch([xt, wt])
            y = tf.nn.conv2d(xt, wt, 1, "SAME")
        dx, dw = tape.gradient(y, [xt, wt], output_gradients=tf.constant(dy))
        return y.numpy(), dx.numpy(), dw.numpy()
    for _ in range(20):
        once()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        once()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def op_groups() -> dict[str, list[str]]:
    """The registry's families, plus conv2d alone."""
    groups: dict[str, list[str]] = {"conv2d": ["conv2d"]}
    for op, family in FAMILY.items():
        groups.setdefault(family, []).append(op)
    return groups


def fuzz_rates(examples: int) -> dict:
    """Cases per second per op group (float32, seed 1, every path), conv2d also with --paths first,
    and the bare-tape baseline, all in this process."""
    baseline = bare_tape_ms()
    groups = {}
    # conv2d with --paths first right after conv2d with every path: the pair is measured in the same
    # minute and process state (the machine's speed drifts over a run)
    groups_all = [(name, ops, "all") for name, ops in op_groups().items()]
    runs = groups_all[:1] + [("conv2d --paths first", ["conv2d"], "first")] + groups_all[1:]
    for name, ops, paths in runs:
        cases, seconds, statuses = 0, 0.0, {}
        for op in ops:
            fuzz_op(op, examples=5, dtype="float32", seed=99, paths=paths)   # first use: imports, TF kernels
            t = time.perf_counter()
            outcomes = fuzz_op(op, examples=examples, dtype="float32", seed=1, paths=paths)
            seconds += time.perf_counter() - t
            cases += len(outcomes)
            for status, n in summarize(outcomes).items():
                statuses[status] = statuses.get(status, 0) + n
        ms = 1000 * seconds / cases
        groups[name] = {"ops": ops, "paths": paths, "cases": cases, "seconds": seconds, "cases_per_s": cases / seconds,
                        "ms_per_case": ms, "over_bare_tape": ms / baseline,
                        "statuses": {k: v for k, v in statuses.items() if v}}
    return {"bare_tape_ms": baseline, "examples_per_op": examples, "groups": groups,
            "journal_overhead": journal_overhead(examples)}


def journal_overhead(examples: int, rounds: int = 6) -> dict:
    """Seconds to fuzz ``examples`` float32 cases of conv2d and of relu with each case journaled as a
    unit (crosscheck.supervision.Resume.guard) and without, alternating; medians and their ratio."""
    out = {}
    for op in ("conv2d", "relu"):
        times: dict[str, list] = {"plain": [], "journaled": []}
        with tempfile.TemporaryDirectory() as tmp:
            journal = Journal(Path(tmp, "journal.jsonl"))
            fuzz_op(op, examples=5, dtype="float32", seed=98)   # first use: imports, TF kernels
            for r in range(rounds):
                for kind in (("plain", "journaled") if r % 2 == 0 else ("journaled", "plain")):
                    guard = Resume(journal=journal).guard if kind == "journaled" else None
                    t = time.perf_counter()
                    fuzz_op(op, examples=examples, dtype="float32", seed=2, guard=guard)
                    times[kind].append(time.perf_counter() - t)
            journal.close()
        plain, journaled = statistics.median(times["plain"]), statistics.median(times["journaled"])
        out[op] = {"plain_s": plain, "journaled_s": journaled, "ratio": journaled / plain, "rounds": rounds}
    return out


def shrink_figures() -> dict:
    """Fuzz the tall-input conv2d bug (float64, seed 0) until it fails, then shrink it (60 s budget)."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "tall_bug.py").write_text(TALL_BUG)
        sys.path.insert(0, tmp)
        impl = importlib.import_module("tall_bug")
        t = time.perf_counter()
        outcomes = fuzz_op("conv2d", examples=50, dtype="float64", seed=0, impl=impl,
                           stop=lambda found: any(o.status == "mismatch" for o in found))
        fuzz_s = time.perf_counter() - t
        first = next(o for o in outcomes if o.status == "mismatch")
        t = time.perf_counter()
        minimal, tried = shrink_op("conv2d", first, examples=50, dtype="float64", seed=0, impl=impl, budget_s=60)
        return {"bug": "conv2d input gradient loses its last row when H > 5", "cases_to_first_failure": len(outcomes),
                "fuzz_s": fuzz_s, "shrink_s": time.perf_counter() - t, "shrink_cases_tried": tried,
                "first_shapes": first.case.shapes(), "minimal_shapes": minimal.case.shapes(),
                "minimal_params": minimal.case.params}


def _child(kind: str, *args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "out.json")
        subprocess.run([sys.executable, "-m", "bench.harness", kind, str(out), *map(str, args)], cwd=ROOT, check=True,
                       env=ENV)
        return json.loads(out.read_text())


def _wall(cmd: list[str]) -> dict:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=ENV)
    return {"cmd": " ".join(cmd), "seconds": time.perf_counter() - t, "returncode": proc.returncode,
            "tail": proc.stdout.strip().splitlines()[-2:] if proc.stdout.strip() else []}


def run(examples: int = 200, pytest: bool = False, log=print) -> dict:
    log(f"harness: cases/s per op group ({examples} cases per op) and the bare-tape baseline")
    result = {"rates": _child("rates", examples)}
    log("harness: default `crosscheck run`, -j 1 and -j 2")
    crosscheck_bin = str(Path(sys.executable).with_name("crosscheck"))
    with tempfile.TemporaryDirectory() as tmp:
        serial = _wall([crosscheck_bin, "run", "-j", "1", "--report", str(Path(tmp, "serial"))])
        parallel = _wall([crosscheck_bin, "run", "-j", "2", "--report", str(Path(tmp, "parallel"))])
    result["crosscheck_run"] = {"serial": serial, "j2": parallel, "j2_over_serial": parallel["seconds"] / serial["seconds"]}
    log("harness: shrinking a conv2d bug to its minimal case")
    result["shrink"] = _child("shrink")
    if pytest:
        log("harness: pytest -n 2 under the default hypothesis profile")
        result["pytest_n2"] = _wall([sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider"])
    return result


def targets(harness: dict, add) -> None:
    """The harness's targets, through ``add(name, value, limit, met)``."""
    groups = harness["rates"]["groups"]
    rate = groups["conv2d"]["cases_per_s"]
    add("conv2d cases/s, every TF path, one process", rate, 150, rate >= 150)
    rate = groups["activations"]["cases_per_s"]
    add("element-wise (activations) cases/s, one process", rate, 300, rate >= 300)
    for op, j in harness["rates"].get("journal_overhead", {}).items():
        add(f"{op}: per-case cost with each case journaled / without", j["ratio"], 1.05, j["ratio"] <= 1.05)
    run = harness["crosscheck_run"]
    ran = all(run[k]["returncode"] in (0, 1) for k in ("serial", "j2"))
    add("default `crosscheck run` seconds (default -j)", run["j2"]["seconds"], 60, ran and run["j2"]["seconds"] <= 60)
    add("`crosscheck run -j 2` / `-j 1` wall time", run["j2_over_serial"], 1.0, run["j2_over_serial"] < 1.0)
    minimal = harness["shrink"]["minimal_shapes"]["input"]
    add("shrink seconds to the minimal case (conv2d, H > 5 bug)", harness["shrink"]["shrink_s"], 20,
        harness["shrink"]["shrink_s"] <= 20 and minimal[0] == 1)
    if "pytest_n2" in harness:
        p = harness["pytest_n2"]
        add("`pytest -n 2` seconds under the default hypothesis profile (every test passed)", p["seconds"], 90,
            p["seconds"] <= 90 and p["returncode"] == 0)


def print_harness(console, harness: dict) -> None:
    rates = harness["rates"]
    table = Table(title=f"harness: cases per second (float32, {rates['examples_per_op']} cases per op, every TF path "
                        f"unless marked; bare-tape conv2d baseline {rates['bare_tape_ms']:.2f} ms)")
    for col in ("group", "ops", "cases", "cases/s", "ms/case", "x bare tape"):
        table.add_column(col, justify="left" if col in ("group", "ops") else "right")
    for name, g in rates["groups"].items():
        ops = g["ops"][0] if len(g["ops"]) == 1 else f"{len(g['ops'])} ops"
        table.add_row(name, ops, str(g["cases"]), f"{g['cases_per_s']:.0f}", f"{g['ms_per_case']:.2f}",
                      f"{g['over_bare_tape']:.1f}")
    console.print(table)
    for op, j in rates.get("journal_overhead", {}).items():
        console.print(f"journaled units, {op}: {j['journaled_s']:.2f} s with, {j['plain_s']:.2f} s without (median of "
                      f"{j['rounds']}, alternating): ratio {j['ratio']:.3f}")
    run = harness["crosscheck_run"]
    console.print(f"default `crosscheck run`: -j 1 {run['serial']['seconds']:.1f} s, -j 2 {run['j2']['seconds']:.1f} s "
                  f"(ratio {run['j2_over_serial']:.2f})")
    s = harness["shrink"]
    console.print(f"shrink ({s['bug']}): first failure after {s['cases_to_first_failure']} cases ({s['fuzz_s']:.1f} s) "
                  f"at input {s['first_shapes']['input']}; minimal input {s['minimal_shapes']['input']}, filters "
                  f"{s['minimal_shapes']['filters']} after {s['shrink_cases_tried']} cases in {s['shrink_s']:.1f} s")
    if "pytest_n2" in harness:
        console.print(f"pytest -n 2 (default hypothesis profile): {harness['pytest_n2']['seconds']:.1f} s, exit "
                      f"{harness['pytest_n2']['returncode']}")


if __name__ == "__main__" and len(sys.argv) > 2:
    kind, out = sys.argv[1], sys.argv[2]
    figures = fuzz_rates(int(sys.argv[3])) if kind == "rates" else shrink_figures()
    Path(out).write_text(json.dumps(figures, default=str))
