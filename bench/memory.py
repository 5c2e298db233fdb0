"""Peak memory of one large conv2d forward+backward, in a fresh process:

    python -m bench.memory OUT.json [N]

N x 64 x 64 x 64 -> 64 channels, 3x3 SAME, float32. A whole-batch im2col matrix would take
``N*64*64*9*64*4`` bytes (2.4 GB at N=256); npcnn builds it in batch chunks of at most
``npcnn.functional.im2col.IM2COL_BUDGET_BYTES`` (and likewise the input-gradient columns).
"""
from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run(n: int = 256) -> dict:
    import npcnn  # deferred: the code under test, imported only where it is run
    from npcnn.functional import im2col  # deferred: the code under test, imported only where it is run
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 64, 64, 64), dtype=np.float32)
    w = rng.standard_normal((3, 3, 64, 64), dtype=np.float32)
    dy = rng.standard_normal((n, 64, 64, 64), dtype=np.float32)
    before = _rss_mb()
    t = time.perf_counter()
    y, pullback = npcnn.vjp("conv2d", x, w, padding="SAME")
    dx, dw = pullback(dy)
    seconds = time.perf_counter() - t
    tensors = sum(a.nbytes for a in (x, w, dy, y, dx, dw)) / 2**20
    return {"shape": f"x({n},64,64,64) w(3,3,64,64) SAME float32", "n": n, "seconds": seconds,
            "peak_rss_mb": _rss_mb(), "rss_before_mb": before, "tensors_mb": tensors,
            "im2col_budget_mb": im2col.IM2COL_BUDGET_BYTES / 2**20,
            "unchunked_im2col_mb": n * 64 * 64 * 9 * 64 * 4 / 2**20}


if __name__ == "__main__":
    result = run(int(sys.argv[2]) if len(sys.argv) > 2 else 256)
    with open(sys.argv[1], "w") as f:
        json.dump(result, f)
