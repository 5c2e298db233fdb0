"""Harness throughput (the --harness section), each figure from a fresh process:

* checked examples per second of ``crosscheck.runner.fuzz_op("conv2d")`` with the default strategy
  (hypothesis draw + npcnn forward/vjp + TensorFlow + compare), one process, after a warm-up, with
  every TF path per case (``crosscheck run``'s default) and with the first path only (``--paths first``);
* wall time of the default ``crosscheck run`` (every op, both dtypes, default example count);
* wall time of the whole ``pytest`` suite under the ``ci`` hypothesis profile (``CI=true``, what
  ``.ci/run`` runs), serially and with ``-n 2`` (pytest-xdist).

    python -m bench.harness fuzz OUT.json EXAMPLES [all|first]    # the first figure only
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fuzz_rate(examples: int, dtype: str = "float32", paths: str = "all") -> dict:
    from crosscheck.runner import fuzz_op, summarize
    fuzz_op("conv2d", examples=5, dtype=dtype, seed=99, paths=paths)  # imports TF, warms caches
    t = time.perf_counter()
    outcomes = fuzz_op("conv2d", examples=examples, dtype=dtype, seed=1, paths=paths)
    seconds = time.perf_counter() - t
    return {"op": "conv2d", "dtype": dtype, "paths": paths, "examples": len(outcomes), "seconds": seconds,
            "examples_per_s": len(outcomes) / seconds, "statuses": summarize(outcomes)}


def _wall(cmd: list[str], env=None) -> dict:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    return {"cmd": " ".join(cmd), "seconds": time.perf_counter() - t, "returncode": proc.returncode,
            "tail": proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []}


def run(examples: int = 300, pytest_paths=()) -> dict:
    env = {**os.environ, "CI": "true", "TF_CPP_MIN_LOG_LEVEL": "3"}
    fuzz = {}
    with tempfile.TemporaryDirectory() as tmp:
        for paths in ("all", "first"):
            out = Path(tmp, f"fuzz-{paths}.json")
            subprocess.run([sys.executable, "-m", "bench.harness", "fuzz", str(out), str(examples), paths], cwd=ROOT,
                           check=True, env=env)
            fuzz[paths] = json.loads(out.read_text())
        crosscheck_bin = str(Path(sys.executable).with_name("crosscheck"))
        run_default = _wall([crosscheck_bin, "run", "--report", str(Path(tmp, "report"))], env)
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_paths]
    serial = _wall(pytest, env)
    parallel = _wall([*pytest, "-n", "2"], env)
    return {"fuzz": fuzz["all"], "fuzz_first_path": fuzz["first"], "crosscheck_run": run_default, "pytest_serial": serial, "pytest_n2": parallel}


if __name__ == "__main__" and sys.argv[1] == "fuzz":
    result = fuzz_rate(int(sys.argv[3]), paths=sys.argv[4] if len(sys.argv) > 4 else "all")
    with open(sys.argv[2], "w") as f:
        json.dump(result, f)
