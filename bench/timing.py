"""Wall-clock medians: repeat a call until ``repeats`` runs or ``budget_s`` seconds (at least ``min_runs``)."""
from __future__ import annotations

import statistics
import time


def measure(fn, *, repeats: int = 15, budget_s: float = 3.0, min_runs: int = 3, warmup: bool = True) -> dict:
    """``{"median_ms", "min_ms", "runs"}`` of ``fn()``; one untimed warm-up call first unless ``warmup`` is False."""
    if warmup:
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats and (len(times) < min_runs or time.perf_counter() - start < budget_s):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times), "runs": len(times)}


def timed(fn):
    """``fn`` as a timer: a call runs ``fn()`` once and returns its wall time in ms."""
    def timer() -> float:
        t = time.perf_counter()
        fn()
        return 1e3 * (time.perf_counter() - t)
    return timer


#: Pause before each timed call so that the previous contestant's thread pools are asleep and do not
#: steal cycles from the next one: OpenBLAS's threads spin for 2^28 cycles (about 0.1 s) after their
#: work ends, and 0.02 s left TensorFlow's conv2d 1.8x slower beside a GEMM on a 2-core machine.
SETTLE_S = 0.2
#: Pause after the warm-up round: a first call may leave background work behind (TF traces and
#: optimises a new tf.function; BLAS starts its threads) that would otherwise land in the first timings.
WARMUP_PAUSE_S = 0.3


def round_robin(timers: dict, *, repeats: int = 15, budget_s: float = 3.0, min_runs: int = 3) -> dict:
    """Median of each timer (a callable returning ms), run in alternation: one call of each per round,
    so that load from other processes hits every contestant alike. One warm-up round first; before
    every timed call a ``SETTLE_S`` pause (the other contestants' threads asleep) and one untimed
    call (this contestant's own threads awake, as in a user's loop of calls)."""
    for timer in timers.values():
        timer()
    time.sleep(WARMUP_PAUSE_S)
    times = {name: [] for name in timers}
    start = time.perf_counter()

    def pauses(rounds: int) -> float:  # the settle pauses do not count against the budget
        return SETTLE_S * len(timers) * rounds

    rounds = 0
    while rounds < repeats and (rounds < min_runs or time.perf_counter() - start - pauses(rounds) < budget_s):
        for name, timer in timers.items():
            time.sleep(SETTLE_S)
            timer()   # untimed: its own thread pools awake again, as in a loop of calls (a user's run)
            times[name].append(timer())
        rounds += 1
    return {name: {"median_ms": statistics.median(t), "min_ms": min(t), "runs": len(t)} for name, t in times.items()}
