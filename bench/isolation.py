"""Does the separate TF process matter? Time npcnn and TF interleaved in ONE process with explicit
thread pools (threadpoolctl for BLAS, ``tf.config.threading`` for TF, both sized to the cores),
as the crosscheck runner runs them, so the main run can compare with its separate-process medians:

    python -m bench.isolation OUT.json THREADS CASE:DTYPE ...   # THREADS 0: one per core
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

from threadpoolctl import threadpool_limits

from .cases import get_case, make_arrays, make_upstream
from .numpy_side import npcnn_calls
from .tf_worker import configure, tf_calls

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def interleaved(keys: list[str], threads: int = 0, repeats: int = 15) -> dict:

    cores = threads or os.cpu_count() or 1
    config = {**configure(intra=cores, inter=1), "blas": cores}
    out = []
    import npcnn  # deferred: the code under test, imported only where it is run
    npcnn.config.set_num_threads(cores)
    with threadpool_limits(limits=cores, user_api="blas"):
        for key in keys:
            name, dtype = key.rsplit(":", 1)
            case = get_case(name)
            arrays, dy = make_arrays(case, dtype), make_upstream(case, dtype)
            ours, theirs = npcnn_calls(case, arrays, dy)["fwd+bwd"], tf_calls(case, arrays, dy)["fwd+bwd"]
            ours(), theirs()
            t_ours, t_tf = [], []
            for _ in range(repeats):  # alternate, so each side runs right after the other
                t = time.perf_counter(); theirs(); t_tf.append(time.perf_counter() - t)
                t = time.perf_counter(); ours(); t_ours.append(time.perf_counter() - t)
            out.append({"case": name, "dtype": dtype, "pass": "fwd+bwd",
                        "npcnn_ms": 1e3 * statistics.median(t_ours), "tf_ms": 1e3 * statistics.median(t_tf)})
    return {"config": config, "results": out}


if __name__ == "__main__":
    result = interleaved(sys.argv[3:], int(sys.argv[2]))
    with open(sys.argv[1], "w") as f:
        json.dump(result, f)
