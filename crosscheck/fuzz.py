"""The one fuzz driver: hypothesis draws cases from a strategy, a check turns each into an Outcome.

``crosscheck run`` (:func:`fuzz_op`), ``crosscheck.check_op`` and ``crosscheck check`` all go
through :func:`fuzz_outcomes`: deterministic in its seed key, hypothesis only generates (no
shrinking, no example database, no deadline), every outcome is collected and none raises.
"""
from __future__ import annotations

import zlib
from typing import Callable

from .case import Outcome


def seed_of(key: str) -> int:
    return zlib.crc32(key.encode())


def fuzz_outcomes(strategy, check: Callable[..., Outcome], *, examples: int, seed_key: str,
                  on_outcome: Callable[[Outcome], None] | None = None,
                  stop: Callable[[list], bool] | None = None) -> list[Outcome]:
    """``check(drawn)`` for ``examples`` draws of ``strategy``, deterministically from ``seed_key``;
    ``stop(outcomes)`` ends the run early when it returns True."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    outcomes: list[Outcome] = []

    @hypothesis_seed(seed_of(seed_key))
    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False, print_blob=False)
    @given(drawn=strategy)
    def collect(drawn):
        if stop is not None and stop(outcomes):
            return
        outcome = check(drawn)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    if examples > 0:
        collect()
    return outcomes


def fuzz_op(op_name: str, *, examples: int, dtype: str, seed: int, impl=None, paths: str = "all",
            on_outcome: Callable[[Outcome], None] | None = None, spellings: bool = True,
            stop: Callable[[list], bool] | None = None, key: str = "") -> list[Outcome]:
    """Run ``examples`` cases of ``op_name`` drawn from the registry; the same seed draws the same
    cases. The op and dtype (and ``key``) enter the seed, so float32 and float64 runs draw different
    shapes."""
    from .implementation import resolve_impl
    from .registry import cases
    from .runner import run_case
    module, _ = resolve_impl(impl)
    return fuzz_outcomes(cases(op_name, dtype, spellings), lambda case: run_case(case, module, paths),
                         examples=examples, seed_key=f"{op_name}:{dtype}:{seed}{key}", on_outcome=on_outcome,
                         stop=stop)


def top_up_forms(op_name: str, missing: dict, *, dtype: str, seed: int, impl=None, paths: str = "all",
                 on_outcome: Callable[[Outcome], None] | None = None, examples: int = 2,
                 stop: Callable[[list], bool] | None = None) -> list[Outcome]:
    """``examples`` more cases for each ``{parameter: [forms]}`` the random draws missed, with that
    form forced (hypothesis's choices are far from uniform, so 100 draws can miss one of 8 forms)."""
    from .strategies import forcing
    out = []
    for param, forms in missing.items():
        for form in forms:
            with forcing({param: form}):
                out += fuzz_op(op_name, examples=examples, dtype=dtype, seed=seed, impl=impl, paths=paths,
                               on_outcome=on_outcome, stop=stop, key=f":{param}={form}")
    return out


def large_cases(op_name: str, *, dtype: str, seed: int, impl=None, paths: str = "all",
                on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """The op's one realistic-size case (its OpInfo's ``large``), or nothing if it has none."""
    from .implementation import resolve_impl
    from .registry import get_op
    from .runner import run_case
    info = get_op(op_name)
    if not info.large:
        return []
    module, _ = resolve_impl(impl)
    return fuzz_outcomes(info.large(dtype), lambda case: run_case(case, module, paths), examples=1,
                         seed_key=f"{op_name}:{dtype}:{seed}:large", on_outcome=on_outcome)
