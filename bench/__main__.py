"""``python -m bench``: npcnn vs TensorFlow vs naive loops vs the BLAS GEMM ceiling, in one run.

    python -m bench [--quick] [--ops conv2d,max_pool2d,...] [--dtype float32|float64|all]
                    [--shapes NAME,...] [--no-memory] [--out docs/performance.md] [--json FILE]
    python -m bench --harness [--examples N] [--pytest]   (crosscheck's own speed; bench/harness.py)
    python -m bench --mutation [--sample N] [--seed S] ...   (mutation testing; bench/mutation.py)

The figures go to ``--out`` (default docs/performance.md; bench/performance_doc.py): the run
rewrites its own section there (``--harness`` has another), naming the command, the machine, the
versions, the TensorFlow backend in force and the date. ``--json`` also writes every figure as JSON.

Medians of wall-clock time. NumPy (npcnn, naive loops, GEMM) is timed in this process, which never
imports TensorFlow; TensorFlow is timed in a child process (``bench.tf_worker``) on the same arrays.
npcnn, the GEMM ceiling and TF take turns call by call, so no two run at once and load from other
processes hits all three alike. ``bench.isolation``
re-times two cases with both in one process under explicit pool limits to show the choice does
not change the figures. The project's targets are checked at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_info, threadpool_limits

from crosscheck.oracle.backend import (BACKENDS, EIGEN, ONEDNN, REPORTED_FEATURES, VARIABLE, cpu_flags,
                                       default_on_this_cpu, installed_version, requested, variable_value)

from . import performance_doc
from .cases import DTYPES, OPS, forward_flops, gemm_dims, select
from .harness import print_harness
from .harness import run as run_harness
from .harness import targets as harness_targets
from .mutation import main as mutation_main
from .numpy_side import PASSES, arrays_for, gemm_calls, naive_calls, npcnn_calls
from .tf_worker import TFWorker
from .timing import measure, round_robin, timed

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def machine() -> dict:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    flags = cpu_flags()
    return {"cpus": os.cpu_count(), "cpu_model": model, "platform": platform.platform(),
            "cpu_features": [f for f in REPORTED_FEATURES if f in flags], "tf_default_backend": default_on_this_cpu(),
            "python": platform.python_version(), "numpy": np.__version__, "loadavg_at_start": load,
            "blas": [{k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
                     for i in threadpool_info() if i.get("user_api") == "blas"]}


class _Keep:
    """Wraps a call and keeps its last result (to check the naive loops agree, without rerunning them)."""
    def __init__(self, fn):
        self.fn, self.last = fn, None

    def __call__(self):
        self.last = self.fn()
        return self.last


def measure_rows(cases, dtypes, repeats: int, budget_s: float, quick: bool, tfs: dict, log) -> list[dict]:
    """One row per case, dtype and pass: npcnn, the GEMM ceiling and TF on each backend (``tfs``:
    backend -> TFWorker, the figure ``tf_<backend>``) timed in alternation; the naive loops (slow)
    timed afterwards on the same arrays."""
    rows = []
    warm_up(cases[0], dtypes[0], tfs)
    for case in cases:
        for dtype in dtypes:
            arrays, dy = arrays_for(case, dtype)
            ours, gemm, slow = npcnn_calls(case, arrays, dy), gemm_calls(case, dtype), naive_calls(case, arrays, dy)
            flops = forward_flops(case)
            for pass_ in PASSES:
                row = {"op": case.op, "case": case.name, "fn": case.npcnn_fn, "dtype": dtype, "pass": pass_,
                       "shapes": {k: list(v) for k, v in case.shapes.items()}, "params": case.params,
                       "note": case.note, "gemm_dims": gemm_dims(case),
                       "flops": None if flops is None else flops * (1 if pass_ == "fwd" else 3)}
                timers = {"npcnn": timed(ours[pass_])}
                if pass_ == "fwd+bwd":    # its two halves, for the targets' "where the time goes"
                    timers.update(npcnn_vjp=timed(ours["vjp"]), npcnn_pullback=timed(ours["pullback"]))
                if gemm:
                    timers["gemm"] = timed(gemm[pass_])
                for backend, worker in tfs.items():
                    timers[f"tf_{backend}"] = (lambda w=worker, key=case.key, d=dtype, p=pass_: w.time(key, d, p))
                row.update(round_robin(timers, repeats=repeats, budget_s=budget_s))
                if slow:
                    keep = _Keep(slow[pass_])
                    row["naive"] = measure(keep, repeats=1 if quick else 3, budget_s=0 if quick else 10,
                                           min_runs=1, warmup=False)
                    row["naive_max_rel_diff"] = _naive_diff(case, ours, keep.last, pass_)
                rows.append(row)
                log(f"  {case.key:22s} {dtype:8s} {pass_:8s} npcnn {row['npcnn']['median_ms']:9.2f} ms"
                    + "".join(f"  TF {b} {row['tf_' + b]['median_ms']:9.2f} ms" for b in tfs))
    return rows


def warm_up(case, dtype: str, tfs: dict) -> None:
    """A few untimed rounds of the first case: the first figures of a run read several times the
    later ones (the processes' first calls, TensorFlow's background work after its first traces)."""
    arrays, dy = arrays_for(case, dtype)
    ours = npcnn_calls(case, arrays, dy)
    for pass_ in PASSES:
        timers = {"npcnn": timed(ours[pass_]),
                  **{b: (lambda w=worker, p=pass_: w.time(case.key, dtype, p)) for b, worker in tfs.items()}}
        round_robin(timers, repeats=3, budget_s=1.0)


def _naive_diff(case, ours, naive_result, pass_) -> float:
    """npcnn vs the naive loops on the same arrays (NCHW/OIHW moved back to NHWC/HWIO): the largest
    absolute difference divided by the largest magnitude of the naive result, over every output."""
    def rel(a, b):
        return float(np.abs(a - b).max() / max(np.abs(b).max(), np.finfo(b.dtype).tiny))
    if pass_ == "fwd":
        return rel(ours["fwd"](), naive_result[0].transpose(0, 2, 3, 1))
    grads = ours["fwd+bwd"]()
    naive_grads = naive_result if isinstance(naive_result, tuple) else (naive_result,)
    diffs = [rel(grads[0], naive_grads[0].transpose(0, 2, 3, 1))]
    if case.op == "conv2d":
        diffs.append(rel(grads[1], naive_grads[1].transpose(2, 3, 1, 0)))
    return max(diffs)


def _child(module: str, args: list[str], out: Path, log, env: dict | None = None) -> dict | None:
    proc = subprocess.run([sys.executable, "-m", module, str(out), *args], cwd=ROOT, env=env or ENV,
                          capture_output=True, text=True)
    if proc.returncode:
        log(f"  {module} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
        return None
    return json.loads(out.read_text())


def derive(row: dict) -> dict:
    """Ratios and throughputs from the medians."""
    ms = row["npcnn"]["median_ms"]
    for backend in BACKENDS:
        if f"tf_{backend}" in row:
            row[f"npcnn_over_tf_{backend}"] = ms / row[f"tf_{backend}"]["median_ms"]
    if "naive" in row:
        row["naive_over_npcnn"] = row["naive"]["median_ms"] / ms
    if row["flops"]:
        row["npcnn_gflops"] = row["flops"] / ms / 1e6
    if "gemm" in row:
        row["gemm_gflops"] = row["flops"] / row["gemm"]["median_ms"] / 1e6
        row["fraction_of_gemm"] = row["gemm"]["median_ms"] / ms
    return row


#: npcnn's fwd+bwd time over TensorFlow's at most, per backend: conv2d (and dense: None, no target)
CONV_LIMIT = {EIGEN: 1.0, ONEDNN: 1.5}
#: ... and for depthwise, pooling and batch norm, on either backend
OTHER_LIMIT = 1.5
#: the share of the GEMM ceiling a conv2d fwd+bwd with at least 16 input channels reaches at least
GEMM_FRACTION = 0.80


def targets(rows, memory, harness) -> list[dict]:
    """The project's targets evaluated on this run's figures."""
    out = []

    def add(name, value, limit, met, detail=""):
        out.append({"target": name, "value": value, "limit": limit, "met": met, "detail": detail})

    forward = {(r["op"], r["case"], r["dtype"]): r for r in rows if r["pass"] == "fwd"}
    for r in rows:
        label = f"{r['op']}/{r['case']} {r['dtype']} {r['pass']}"
        cin = r["shapes"].get("filters", [0, 0, 0])[2]
        fwd_row = forward.get((r["op"], r["case"], r["dtype"]))
        if r["fn"] == "conv2d" and r["pass"] == "fwd+bwd" and cin >= 16 and "fraction_of_gemm" in r:
            add(f"conv2d fwd+bwd >= {GEMM_FRACTION:.0%} of GEMM ceiling: {label}", r["fraction_of_gemm"],
                GEMM_FRACTION, r["fraction_of_gemm"] >= GEMM_FRACTION, where_the_time_goes(r, fwd_row))
        if r["case"] == "cs231n" and r["pass"] == "fwd+bwd" and "naive_over_npcnn" in r:
            add(f"CS231n fwd+bwd speed-up over naive loops: {label}", r["naive_over_npcnn"], 500,
                r["naive_over_npcnn"] >= 500)
        if r["pass"] != "fwd+bwd" or r["op"] == "dense":
            continue
        for backend in BACKENDS:
            ratio = r.get(f"npcnn_over_tf_{backend}")
            if ratio is not None:
                limit = CONV_LIMIT[backend] if r["fn"] == "conv2d" else OTHER_LIMIT
                add(f"npcnn/TF {backend}: {label}", ratio, limit, ratio <= limit,
                    where_the_time_goes(r, fwd_row, backend))
    if memory:
        extra = memory["peak_rss_mb"] - memory["rss_before_mb"]
        # beyond the arrays it returns, one pass may hold a few chunk-sized temporaries
        bound = memory["tensors_mb"] + 4 * memory["im2col_budget_mb"]
        add("N=256 conv fwd+bwd peak RSS growth (MB) <= outputs + 4 x im2col budget", extra, bound, extra <= bound,
            f"peak {memory['peak_rss_mb']:.0f} MB; whole-batch im2col would be {memory['unchunked_im2col_mb']:.0f} MB")
    if harness:
        harness_targets(harness, add)
    return out


#: why npcnn's per-kernel-offset ops (no GEMM) trail a direct kernel, said where their targets are missed
PER_OFFSET_NOTE = ("npcnn makes one NumPy pass over the output per kernel offset and per operation (a multiply "
                   "and an add, or a compare and a select: {passes} offsets), where a direct kernel such as "
                   "oneDNN's reads each window once")


def where_the_time_goes(row: dict, fwd_row: dict | None, backend: str | None = None) -> str:
    """A fwd+bwd row's medians split: npcnn's vjp forward and pullback (and its plain forward), the
    GEMM ceiling's, and TF's (on ``backend``) forward and the rest of its fwd+bwd; where npcnn's
    GEMMs alone take longer than TF's whole pass, that ratio (no im2col design on this BLAS can do better)."""
    ms = lambda r, side: r[side]["median_ms"]  # noqa: E731
    parts = []
    if "npcnn_vjp" in row:
        parts.append(f"npcnn {ms(row, 'npcnn'):.1f} ms = vjp forward {ms(row, 'npcnn_vjp'):.1f} + pullback "
                     f"{ms(row, 'npcnn_pullback'):.1f}" + (f" (plain forward {ms(fwd_row, 'npcnn'):.1f})" if fwd_row else ""))
    if "gemm" in row:
        parts.append(f"its three GEMMs alone {ms(row, 'gemm'):.1f} ms" +
                     (f" (forward's {ms(fwd_row, 'gemm'):.1f})" if fwd_row and "gemm" in fwd_row else ""))
    side = f"tf_{backend}"
    if backend and side in row and fwd_row and side in fwd_row:
        parts.append(f"TF {backend} {ms(row, side):.1f} ms = forward {ms(fwd_row, side):.1f} + backward "
                     f"{ms(row, side) - ms(fwd_row, side):.1f} (fwd+bwd minus fwd)")
        if "gemm" in row and ms(row, "gemm") > ms(row, side):
            parts.append(f"NumPy's BLAS alone, on the GEMMs of the same size, takes {ms(row, 'gemm') / ms(row, side):.2f}x "
                         f"TF {backend}'s whole pass")
    window = row["params"].get("ksize") or (row["shapes"].get("filter") or [None, None])[:2]
    window = window if isinstance(window, (list, tuple)) else (window, window)
    if "gemm" not in row and None not in window:
        parts.append(PER_OFFSET_NOTE.format(passes=window[0] * window[-1]))
    return "; ".join(parts)


def print_table(rows, isolation, memory, goals, info) -> None:
    console = Console(width=160)
    table = Table(title=f"npcnn benchmark: medians, {info['cpus']} CPUs ({info['cpu_model']}), "
                        f"numpy {info['numpy']}", show_lines=False)
    columns = performance_doc.columns(rows)
    for name, _ in columns:
        table.add_column(name, justify="left" if name in ("case", "dtype", "pass") else "right")
    for r in rows:
        table.add_row(*(cell(r) for _, cell in columns))
    console.print(table)
    if isolation:
        for r in isolation["results"]:
            console.print(f"one process, explicit pools ({isolation['config']}): {r['case']} {r['dtype']} "
                          f"fwd+bwd npcnn x{r['npcnn_vs_separate']:.2f}, TF x{r['tf_vs_separate']:.2f} "
                          f"of the separate-process medians")
    if memory:
        console.print(f"memory: {memory['shape']} fwd+bwd in {memory['seconds']:.1f} s, peak RSS "
                      f"{memory['peak_rss_mb']:.0f} MB (before the pass {memory['rss_before_mb']:.0f} MB; "
                      f"im2col budget {memory['im2col_budget_mb']:.0f} MB, whole-batch im2col would be "
                      f"{memory['unchunked_im2col_mb']:.0f} MB)")
    print_goals(console, goals)


def print_goals(console, goals) -> None:
    goal_table = Table(title="targets")
    for col in ("target", "value", "limit", "met"):
        goal_table.add_column(col)
    for g in goals:
        goal_table.add_row(g["target"], f"{g['value']:.3g}", f"{g['limit']:g}",
                           {True: "yes", False: "NO", None: "-"}[g["met"]])
    console.print(goal_table)
    missed = [g for g in goals if g["met"] is False and g.get("detail")]
    if missed:
        console.print("where the time goes, for each target missed (medians of this run):")
        for g in missed:
            console.print(f"  {g['target']}: {g['detail']}", markup=False, soft_wrap=True)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m bench`` (``--mutation`` hands the rest to bench/mutation.py's)."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer shapes and repeats (CI smoke); no memory/isolation")
    p.add_argument("--ops", default="", help=f"comma-separated subset of {','.join(OPS)}")
    p.add_argument("--dtype", choices=[*DTYPES, "all"], default="all")
    p.add_argument("--shapes", default="", help="comma-separated case names (e.g. cifar,cs231n)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per figure (default 15, quick 3)")
    p.add_argument("--budget", type=float, default=None, help="seconds per figure before stopping early")
    p.add_argument("--no-tf", action="store_true", help="skip TensorFlow (and the isolation check)")
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="TensorFlow's CPU backends to time, each in a child process of its own "
                        f"(default {','.join(BACKENDS)}: TF_ENABLE_ONEDNN_OPTS=0 and =1)")
    p.add_argument("--no-memory", action="store_true", help="skip the N=256 peak-memory probe")
    p.add_argument("--harness", action="store_true",
                   help="measure crosscheck instead of npcnn: cases/s per op group against a bare-tape baseline, "
                        "-j 1 vs -j 2, shrink times (bench/harness.py)")
    p.add_argument("--pytest", action="store_true", help="with --harness: also time `pytest -n 2` (default profile)")
    p.add_argument("--examples", type=int, default=200, help="with --harness: cases per op (default 200)")
    p.add_argument("--threads", type=int, default=0,
                   help="limit BLAS (threadpoolctl), npcnn's chunk threads and TF intra-op pools to N threads "
                        "(default: library defaults); 1 gives stable figures on a machine other processes are using")
    p.add_argument("--out", default=str(DOC),
                   help="the Markdown file whose section this run rewrites (default docs/performance.md)")
    p.add_argument("--json", default="", metavar="FILE", help="also write every figure to FILE as JSON")
    return p


def parse_args(argv=None):
    p = parser()
    args = p.parse_args(argv)
    ops = [o for o in args.ops.split(",") if o]
    unknown = sorted(set(ops) - set(OPS))
    if unknown:
        p.error(f"unknown --ops {unknown}; choose from {list(OPS)}")
    args.backends = [] if args.no_tf else [b for b in args.backends.split(",") if b]
    unknown = sorted(set(args.backends) - set(BACKENDS))
    if unknown or (not args.no_tf and not args.backends):
        p.error(f"--backends {','.join(unknown) or '(none)'}: choose from {','.join(BACKENDS)}")
    return args, ops


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--mutation" in argv:
        return mutation_main([a for a in argv if a != "--mutation"])
    args, ops = parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)
    if args.harness:
        return harness_main(args, argv, log)
    cases = select(ops, args.quick, [s for s in args.shapes.split(",") if s])
    if not cases:
        log("no benchmark case matches --ops/--shapes/--quick")
        return 2
    dtypes = DTYPES if args.dtype == "all" else (args.dtype,)
    repeats = args.repeats or (3 if args.quick else 15)
    budget = args.budget if args.budget is not None else (0.5 if args.quick else 3.0)
    started = time.time()
    info = machine()
    log(f"{len(cases)} cases x {len(dtypes)} dtypes: npcnn, GEMM and TF (child process) in alternation")
    tfs = {b: TFWorker(intra=args.threads, inter=1 if args.threads else 0, backend=b) for b in args.backends}
    blas_limit = threadpool_limits(limits=args.threads, user_api="blas") if args.threads else None
    if args.threads:
        import npcnn  # deferred: the code under test, imported only where it is run
        npcnn.config.set_num_threads(args.threads)   # npcnn's own chunk threads (depthwise, pooling)
    try:
        tf_config = {b: worker.config() for b, worker in tfs.items()}
        rows = [derive(r) for r in measure_rows(cases, dtypes, repeats, budget, args.quick, tfs, log)]
    finally:
        for worker in tfs.values():
            worker.close()
        if blas_limit:
            blas_limit.restore_original_limits()
    isolation = memory = harness = None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if tfs and not args.quick:
            keys = [k for k in ("conv2d/cifar:float32", "max_pool2d/resnet56:float32")
                    if any(f"{r['op']}/{r['case']}:{r['dtype']}" == k for r in rows)]
            backend = args.backends[0]
            if keys:
                log(f"isolation check (npcnn and TF {backend} in one process)")
                isolation = _child("bench.isolation", [str(args.threads), *keys], tmp / "iso.json", log,
                                   {**ENV, VARIABLE: variable_value(backend)})
            for r in (isolation or {}).get("results", []):
                sep = next(x for x in rows if f"{x['op']}/{x['case']}" == r["case"] and x["dtype"] == r["dtype"]
                           and x["pass"] == "fwd+bwd")
                r["npcnn_vs_separate"] = r["npcnn_ms"] / sep["npcnn"]["median_ms"]
                r["tf_vs_separate"] = r["tf_ms"] / sep[f"tf_{backend}"]["median_ms"]
        if not (args.no_memory or args.quick):
            log("memory probe (N=256 conv fwd+bwd, child process)")
            memory = _child("bench.memory", [], tmp / "mem.json", log)
    goals = targets(rows, memory, harness)
    result = {"machine": info, "loadavg_at_end": os.getloadavg(), "seconds": time.time() - started,
              "settings": {"quick": args.quick, "repeats": repeats, "budget_s": budget, "dtypes": list(dtypes),
                           "tf": tf_config, "threads": args.threads or "library defaults",
                           "numpy_process": "no TensorFlow imported",
                           "timing": "npcnn, GEMM and TF calls alternate round by round; medians"},
              "results": rows, "isolation": isolation, "memory": memory, "harness": harness, "targets": goals}
    write_results(args, argv, "npcnn", performance_doc.npcnn_section(result, argv), result, log)
    print_table(rows, isolation, memory, goals, info)
    return 0


def write_results(args, argv: list[str], section: str, markdown: str, result: dict, log) -> None:
    """The run's section of ``--out`` (Markdown) and, with ``--json``, every figure as JSON."""
    performance_doc.write(Path(args.out), section, markdown)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    log(f"wrote {args.out}" + (f" and {args.json}" if args.json else "") + f" ({result['seconds']:.0f} s)")


def harness_main(args, argv: list[str], log) -> int:
    """``--harness``: crosscheck's own speed (bench/harness.py) and its targets, written to ``--out``."""
    started, info = time.time(), machine()
    harness = run_harness(args.examples, pytest=args.pytest, log=log, backends=args.backends or BACKENDS)
    goals = targets([], None, harness)
    result = {"machine": info, "loadavg_at_end": os.getloadavg(), "seconds": time.time() - started,
              "tf": harness_tf(args.backends or BACKENDS), "harness": harness, "targets": goals}
    write_results(args, argv, "harness", performance_doc.harness_section(result, argv), result, log)
    console = Console(width=160)
    print_harness(console, harness)
    print_goals(console, goals)
    return 0


def harness_tf(backends) -> list[dict]:
    """TensorFlow's version and each backend the rates were measured on; crosscheck's default for the rest."""
    value = os.environ.get(VARIABLE, "").strip()
    default = {"tf_version": installed_version(), "backend": requested(),
               "backend_chosen_by": "the rest: " + (f"{VARIABLE}={value}" if value else "crosscheck's default")}
    return [*({"tf_version": installed_version(), "backend": b, "backend_chosen_by": f"the rates: {VARIABLE}="
               f"{variable_value(b)}"} for b in backends), default]


if __name__ == "__main__":
    sys.exit(main())
