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


#: Pause before each timed call so that the previous contestant's thread pools (OpenBLAS and TF both
#: spin a while after their work ends) are asleep and do not steal cycles from the next one.
SETTLE_S = 0.02
#: Pause after the warm-up round: a first call may leave background work behind (TF traces and
#: optimises a new tf.function; BLAS starts its threads) that would otherwise land in the first timings.
WARMUP_PAUSE_S = 0.3


def round_robin(timers: dict, *, repeats: int = 15, budget_s: float = 3.0, min_runs: int = 3) -> dict:
    """Median of each timer (a callable returning ms), run in alternation: one call of each per round,
    so that load from other processes hits every contestant alike. One warm-up round first; a
    ``SETTLE_S`` pause (untimed) before every call."""
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
            times[name].append(timer())
        rounds += 1
    return {name: {"median_ms": statistics.median(t), "min_ms": min(t), "runs": len(t)} for name, t in times.items()}
