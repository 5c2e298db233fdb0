"""The TensorFlow side of the benchmark, run in its own process so that TF's thread pools never share
the cores with NumPy's BLAS while either is timed:

    python -m bench.tf_worker --serve    # JSON lines on stdin/stdout: {"case", "dtype", "pass"} -> {"ms"}

The main process (:class:`TFWorker`) asks for one timed call at a time, alternating with its own
npcnn and GEMM calls, so the ratios compare calls made at the same moments on a shared machine;
while the worker waits on stdin its thread pools are idle. Each op runs inside ``tf.function`` on the arrays of
:func:`bench.cases.make_arrays`; fwd+bwd returns the output and every gradient (GradientTape with
a random upstream gradient), as npcnn's vjp + pullback does.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from crosscheck.oracle.backend import VARIABLE, in_force, variable_value

from .cases import get_case, make_arrays, make_upstream

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _forward(case):
    import tensorflow as tf  # deferred: imports TensorFlow
    p = case.params
    if case.fn == "depthwise_conv2d":
        s = p["strides"]
        return lambda x, f: tf.nn.depthwise_conv2d(x, f, [1, s, s, 1], p["padding"])
    if case.op == "conv2d":
        return lambda x, w: tf.nn.conv2d(x, w, p["strides"], p["padding"])
    if case.op == "max_pool2d":
        return lambda x: tf.nn.max_pool2d(x, p["ksize"], p["strides"], p["padding"])
    if case.op == "avg_pool2d":
        return lambda x: tf.nn.avg_pool2d(x, p["ksize"], p["strides"], p["padding"])
    if case.op == "dense":
        return lambda x, k, b: tf.matmul(x, k) + b

    def batch_norm(x, gamma, beta):
        mean, var = tf.nn.moments(x, axes=list(range(x.shape.rank - 1)))
        return tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-3)
    return batch_norm


def tf_calls(case, arrays: dict, dy) -> dict:
    """``{"fwd": f, "fwd+bwd": g}`` running ``tf.function``-compiled TF and fetching results as NumPy."""
    import tensorflow as tf  # deferred: imports TensorFlow
    op = _forward(case)
    args = [tf.constant(arrays[k]) for k in case.shapes]
    dy_t = tf.constant(dy)

    @tf.function
    def fwd(*xs):
        return op(*xs)

    @tf.function
    def fwd_bwd(dy, *xs):
        with tf.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            y = op(*xs)
        return y, tape.gradient(y, list(xs), output_gradients=dy)

    def run_fwd_bwd():
        y, grads = fwd_bwd(dy_t, *args)
        return y.numpy(), [g.numpy() for g in grads]
    return {"fwd": lambda: fwd(*args).numpy(), "fwd+bwd": run_fwd_bwd}


def configure(intra: int = 0, inter: int = 0) -> dict:
    import tensorflow as tf  # deferred: imports TensorFlow
    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    chosen_by = f"{VARIABLE}={os.environ[VARIABLE]}" if os.environ.get(VARIABLE, "").strip() else \
        f"TensorFlow's own default here; {VARIABLE}=0 or 1 chooses"
    return {"tf_version": tf.__version__, "backend": in_force(), "backend_chosen_by": chosen_by,
            "intra": intra or "default", "inter": inter or "default"}


def serve(intra: int = 0, inter: int = 0) -> None:
    """Answer ``{"case", "dtype", "pass"}`` lines with ``{"ms": one timed call}`` (the first call of a
    case and pass is an untimed warm-up that traces the tf.function); ``{"config": true}`` -> config."""

    config = configure(intra, inter)
    calls = {}
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("config"):
            print(json.dumps(config), flush=True)
            continue
        key = (req["case"], req["dtype"])
        if key not in calls:
            case = get_case(req["case"])
            calls.clear()  # one case at a time: free the previous case's tensors
            calls[key] = tf_calls(case, make_arrays(case, req["dtype"]), make_upstream(case, req["dtype"]))
            for fn in calls[key].values():
                fn()
        fn = calls[key][req["pass"]]
        t = time.perf_counter()
        fn()
        print(json.dumps({"ms": 1e3 * (time.perf_counter() - t)}), flush=True)


class TFWorker:
    """A ``bench.tf_worker --serve`` child process: ``time(case_key, dtype, pass_) -> ms``.
    ``backend`` (``eigen`` or ``onednn``) sets ``TF_ENABLE_ONEDNN_OPTS`` for it; None keeps the
    environment's (TensorFlow's own default where it is unset)."""

    def __init__(self, intra: int = 0, inter: int = 0, backend: str | None = None):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        if backend is not None:
            env[VARIABLE] = variable_value(backend)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.tf_worker", "--serve", str(intra), str(inter)],
            cwd=Path(__file__).resolve().parent.parent, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)

    def _ask(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"TF worker exited ({self.proc.poll()}) on {req}")
        return json.loads(line)

    def config(self) -> dict:
        return self._ask({"config": True})

    def time(self, case: str, dtype: str, pass_: str) -> float:
        return self._ask({"case": case, "dtype": dtype, "pass": pass_})["ms"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    serve(*(int(a) for a in sys.argv[2:4]))
