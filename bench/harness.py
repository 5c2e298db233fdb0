"""``python -m bench --harness``: how fast crosscheck checks, each figure measured in this run; the
rates and the baseline on each of TensorFlow's CPU backends (Eigen, oneDNN: a child process each,
which records the backend it really ran), the rest on crosscheck's default backend.

* **cases per second per op group** (the registry's families: conv, pooling, activations = the
  element-wise ops, core, losses, normalization): ``crosscheck.fuzz.fuzz_op`` of every op of the
  group, float32, the default strategy and every TF path (``crosscheck run``'s defaults), in one
  child process with crosscheck's thread limits applied before anything is timed, after a warm-up
  of every op; the rate counts passing cases over their own time (a failing case stops early and
  would inflate it; failing cases are counted apart); conv2d alone is reported too, with every path
  and ``--paths first``, the two interleaved in rounds of their own seeds;
* the **bare-tape baseline**: one eager ``tf.GradientTape`` conv2d call (forward, input and filter
  gradients with a random upstream gradient, results fetched) on a shape new to the process, as
  drawn cases mostly are, measured in the same child process (the same call on one warm shape is
  reported beside it); each group's milliseconds per case divided by it gives a ratio that carries
  across machines;
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
from crosscheck.oracle.backend import BACKENDS, VARIABLE, in_force, variable_value
from crosscheck.registry import FAMILY
from crosscheck.report.journal import Journal
from crosscheck.supervision import Resume
from crosscheck.threads import limit_threads

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


def bare_tape_ms(repeats: int = 300, fresh: bool = True) -> float:
    """Median milliseconds of one eager GradientTape conv2d (forward, input and filter gradients with
    a random upstream gradient, results fetched): x (2, H, W, 4), w (3, 3, 4, 8), SAME. ``fresh``:
    every call on an (H, W) from 6 to 25 this process has not seen yet, as the cases crosscheck
    draws mostly are (a backend's per-shape set-up included: about 1 ms with oneDNN); else the same
    (10, 10) each time, after a warm-up."""
    import tensorflow as tf  # deferred: imports TensorFlow
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 3, 4, 8), dtype=np.float32)
    warm_ups = {(8, 8), (9, 8), (10, 10)}
    sizes = ([hw for hw in ((h, wd) for h in range(6, 26) for wd in range(6, 26)) if hw not in warm_ups][:repeats]
             if fresh else [(10, 10)] * repeats)

    def once(h, wd):
        x = rng.standard_normal((2, h, wd, 4), dtype=np.float32)
        dy = rng.standard_normal((2, h, wd, 8), dtype=np.float32)
        xt, wt = tf.constant(x), tf.constant(w)
        with tf.GradientTape() as tape:
            tape.watch([xt, wt])
            y = tf.nn.conv2d(xt, wt, 1, "SAME")
        dx, dw = tape.gradient(y, [xt, wt], output_gradients=tf.constant(dy))
        return y.numpy(), dx.numpy(), dw.numpy()
    for i in range(20):
        once(8 + i % 2, 8)   # imports, eager op set-up: shapes the timed calls never use
    times = []
    for h, wd in sizes:
        t = time.perf_counter()
        once(h, wd)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def op_groups() -> dict[str, list[str]]:
    """The registry's families, plus conv2d alone."""
    groups: dict[str, list[str]] = {"conv2d": ["conv2d"]}
    for op, family in FAMILY.items():
        groups.setdefault(family, []).append(op)
    return groups


def _timed_cases(op: str, examples: int, seed: int, paths: str) -> tuple[dict, list[float]]:
    """Fuzz ``examples`` float32 cases of ``op``: ({status: count}, seconds of each passing case). A
    case's time runs from the previous outcome (or the start) to its own: drawing it included."""
    stamps, statuses = [time.perf_counter()], []

    def seen(outcome):
        stamps.append(time.perf_counter())
        statuses.append(outcome.status)
    fuzz_op(op, examples=examples, dtype="float32", seed=seed, paths=paths, on_outcome=seen)
    counts = {status: statuses.count(status) for status in set(statuses)}
    return counts, [b - a for a, b, status in zip(stamps, stamps[1:], statuses) if status == "pass"]


def _group(name: str, ops: list[str], paths: str, runs: list[tuple[dict, list[float]]], baseline: float) -> dict:
    """A group's figures: the rate over its passing cases only (a failing case stops early and would
    inflate it); failing cases are counted apart."""
    statuses: dict = {}
    times = [t for _, ts in runs for t in ts]
    for counts, _ in runs:
        for status, n in counts.items():
            statuses[status] = statuses.get(status, 0) + n
    seconds = sum(times)
    ms = 1000 * seconds / max(len(times), 1)
    return {"ops": ops, "paths": paths, "cases": sum(statuses.values()), "passing": len(times),
            "not_passing": sum(statuses.values()) - len(times), "seconds": seconds,
            "cases_per_s": len(times) / seconds if seconds else 0.0, "ms_per_case": ms, "over_bare_tape": ms / baseline,
            "statuses": {k: v for k, v in statuses.items() if v}}


def fuzz_rates(examples: int, rounds: int = 4) -> dict:
    """Cases per second per op group (float32, every path), conv2d also with --paths first, and the
    bare-tape baseline, all in this process, after crosscheck's thread limits (what ``crosscheck run``
    applies before its first case; applied later they would silently do nothing). conv2d with every
    path and with --paths first are interleaved: ``rounds`` rounds, each on a seed of its own for
    both, in alternating order, so that neither runs on the other's warm caches throughout."""
    threads = limit_threads()
    baseline, warm = bare_tape_ms(), bare_tape_ms(fresh=False)
    for op in FAMILY:
        fuzz_op(op, examples=3, dtype="float32", seed=99)   # first use of each op: imports, TF kernels
    pair: dict = {"all": [], "first": []}
    per_round = max(1, examples // rounds)
    for r in range(rounds):
        for paths in (("all", "first") if r % 2 == 0 else ("first", "all")):
            pair[paths].append(_timed_cases("conv2d", per_round, 100 + r, paths))
    groups = {"conv2d": _group("conv2d", ["conv2d"], "all", pair["all"], baseline),
              "conv2d --paths first": _group("conv2d --paths first", ["conv2d"], "first", pair["first"], baseline)}
    for name, ops in op_groups().items():
        if name != "conv2d":
            groups[name] = _group(name, ops, "all", [_timed_cases(op, examples, 1, "all") for op in ops], baseline)
    return {"tf_backend": in_force(), "bare_tape_ms": baseline, "bare_tape_warm_ms": warm, "examples_per_op": examples,
            "threads": threads,
            "groups": groups,
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


def _child(kind: str, *args, backend: str | None = None) -> dict:
    """``python -m bench.harness KIND`` in a child process, on TensorFlow's ``backend`` (None: the
    environment's choice, else crosscheck's default)."""
    env = ENV if backend is None else {**ENV, VARIABLE: variable_value(backend)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "out.json")
        subprocess.run([sys.executable, "-m", "bench.harness", kind, str(out), *map(str, args)], cwd=ROOT, check=True,
                       env=env)
        return json.loads(out.read_text())


def _wall(cmd: list[str]) -> dict:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=ENV)
    return {"cmd": " ".join(cmd), "seconds": time.perf_counter() - t, "returncode": proc.returncode,
            "tail": proc.stdout.strip().splitlines()[-2:] if proc.stdout.strip() else []}


def run(examples: int = 200, pytest: bool = False, log=print, backends=BACKENDS) -> dict:
    """Every figure: the rates on each of TensorFlow's ``backends`` (a child process each), then
    ``crosscheck run`` and the shrink on crosscheck's default backend."""
    result: dict = {"rates": {}}
    for backend in backends:
        log(f"harness: cases/s per op group ({examples} cases per op) and the bare-tape baseline, TF {backend}")
        rates = result["rates"][backend] = _child("rates", examples, backend=backend)
        if rates["tf_backend"] != backend:
            log(f"harness: TensorFlow ran its {rates['tf_backend']} kernels where {backend} was asked for")
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
    """The harness's targets, through ``add(name, value, limit, met)``: the rates on each backend."""
    for backend, rates in harness["rates"].items():
        groups = rates["groups"]
        rate = groups["conv2d"]["cases_per_s"]
        add(f"conv2d cases/s, every TF path, one process (passing cases), TF {backend}", rate, 200, rate >= 200,
            _per_case(groups["conv2d"], rates, groups["conv2d --paths first"]))
        rate = groups["activations"]["cases_per_s"]
        add(f"element-wise (activations) cases/s, one process (passing cases), TF {backend}", rate, 400, rate >= 400)
        for op, j in rates.get("journal_overhead", {}).items():
            add(f"{op}: per-case cost with each case journaled / without, TF {backend}", j["ratio"], 1.05,
                j["ratio"] <= 1.05)
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


def _per_case(group: dict, rates: dict, first: dict) -> str:
    """Where a group's time per case goes, against the bare tape measured beside it."""
    return (f"{group['ms_per_case']:.2f} ms per case = {group['over_bare_tape']:.1f} bare-tape calls of "
            f"{rates['bare_tape_ms']:.2f} ms on shapes new to the process ({rates['bare_tape_warm_ms']:.2f} ms on a warm "
            f"one: TensorFlow's set-up per new shape); the first path alone {first['ms_per_case']:.2f} ms")


def print_harness(console, harness: dict) -> None:
    for backend, rates in harness["rates"].items():
        print_rates(console, backend, rates)
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


def print_rates(console, backend: str, rates: dict) -> None:
    table = Table(title=f"harness, TF {backend}: cases per second (float32, {rates['examples_per_op']} cases per op, "
                        f"every TF path unless marked; bare-tape conv2d baseline {rates['bare_tape_ms']:.2f} ms on "
                        f"fresh shapes, {rates.get('bare_tape_warm_ms', float('nan')):.2f} ms on one warm shape)")
    for col in ("group", "ops", "cases", "not passing", "cases/s", "ms/case", "x bare tape"):
        table.add_column(col, justify="left" if col in ("group", "ops") else "right")
    for name, g in rates["groups"].items():
        ops = g["ops"][0] if len(g["ops"]) == 1 else f"{len(g['ops'])} ops"
        table.add_row(name, ops, str(g["cases"]), str(g.get("not_passing", 0)), f"{g['cases_per_s']:.0f}",
                      f"{g['ms_per_case']:.2f}", f"{g['over_bare_tape']:.1f}")
    console.print(table)
    if not rates.get("threads", {}).get("tf_applied", True):
        console.print("[bold red]TensorFlow's thread limits could not be applied: the rates are not comparable[/]")
    for op, j in rates.get("journal_overhead", {}).items():
        console.print(f"journaled units, {op}: {j['journaled_s']:.2f} s with, {j['plain_s']:.2f} s without (median of "
                      f"{j['rounds']}, alternating): ratio {j['ratio']:.3f}")


if __name__ == "__main__" and len(sys.argv) > 2:
    kind, out = sys.argv[1], sys.argv[2]
    figures = fuzz_rates(int(sys.argv[3])) if kind == "rates" else shrink_figures()
    Path(out).write_text(json.dumps(figures, default=str))
