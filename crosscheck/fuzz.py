"""The one fuzz driver: hypothesis draws cases from a strategy, a check turns each into an Outcome.

``crosscheck run`` (:func:`fuzz_op`), ``crosscheck.check_op`` and ``crosscheck check`` all go
through :func:`fuzz_outcomes`: deterministic in its seed key, hypothesis only generates (no
shrinking, no example database, no deadline), several cases per hypothesis example in runs of 20 or
more (:func:`cases_per_example`), every outcome is collected and none raises.
:func:`shrink_failure` then replays the same draws with hypothesis's shrinker on, to the smallest
case that fails the same way, within a time budget.
"""
from __future__ import annotations

import functools
import hashlib
import pickle
import time
import zlib
from contextlib import contextmanager, nullcontext
from typing import Callable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine as hypothesis_engine
from hypothesis.internal.conjecture import providers as hypothesis_providers

from .case import FAILING, Outcome
from .coverage import record
from .implementation import resolve_impl
from .registry import case_strategy, get_op
from .runner import run_case
from .strategy_blocks import forcing


def seed_of(key: str) -> int:
    return zlib.crc32(key.encode())


def op_seed_key(op_name: str, dtype: str, seed: int, key: str = "") -> str:
    """The seed key of an op's draws: the op and dtype (and ``key``) enter it, so float32 and float64
    draw different shapes; every function that replays or recounts :func:`fuzz_op`'s draws uses it."""
    return f"{op_name}:{dtype}:{seed}{key}"


@contextmanager
def draws_independent_of_local_source():
    """Hypothesis mixes into its draws literal constants it finds in the source of every loaded
    "local" module (one outside site-packages: crosscheck itself when installed editable, a user's own
    files), so a run's cases would depend on which code is installed how and loaded. Inside this
    block they depend on the strategy and the seed alone. (A private hook of hypothesis: where a
    version lacks it, nothing is changed.)"""
    original = getattr(hypothesis_providers, "_get_local_constants", None)
    if original is None:
        yield
        return
    none = hypothesis_providers.Constants()
    hypothesis_providers._get_local_constants = lambda: none
    try:
        yield
    finally:
        hypothesis_providers._get_local_constants = original


@contextmanager
def cases_drawn_afresh():
    """After each example it generates, hypothesis runs up to five more that copy a part of it over
    another part with the same label. An example of several cases keeps all its other cases in such a
    copy, so nearly half of a run's cases would repeat earlier ones (checked again at full cost, no
    new information); inside this block every example is drawn afresh. (A private method of
    hypothesis's engine: where a version lacks it, nothing is changed.)"""
    original = getattr(hypothesis_engine.ConjectureRunner, "generate_mutations_from", None)
    if original is None:
        yield
        return
    hypothesis_engine.ConjectureRunner.generate_mutations_from = lambda runner, data: None
    try:
        yield
    finally:
        hypothesis_engine.ConjectureRunner.generate_mutations_from = original


def _seeded(seed_key: str, examples: int, generate_only: bool, afresh: bool = False):
    """Hypothesis settings of every fuzz run: seeded by ``seed_key``, no database, no deadline;
    the generate phase only, or generate then shrink; draws independent of local source code; with
    ``afresh``, every example drawn afresh (:func:`cases_drawn_afresh`)."""
    phases = [Phase.generate] if generate_only else [Phase.generate, Phase.shrink]

    def decorate(test):
        seeded = hypothesis_seed(seed_of(seed_key))(settings(
            max_examples=examples, database=None, deadline=None, phases=phases, suppress_health_check=list(HealthCheck),
            derandomize=False, print_blob=False, report_multiple_bugs=False)(test))

        @functools.wraps(seeded)
        def run():
            with draws_independent_of_local_source(), cases_drawn_afresh() if afresh else nullcontext():
                return seeded()
        return run
    return decorate


#: ``guard(unit key, case, run) -> Outcome | None``: runs a case as a journaled unit
#: (crosscheck.supervision.Resume.guard); None skips a case an earlier attempt finished
Guard = Callable[[str, object, Callable[[], Outcome]], "Outcome | None"]

#: cases drawn in one hypothesis example, in runs of at least 10 per case of it: hypothesis's own cost
#: per example (its engine's bookkeeping, saving and restoring the global random states) is paid once
#: for this many cases
CASES_PER_EXAMPLE = 8


def cases_per_example(examples: int) -> int:
    """How many cases each hypothesis example of a run of ``examples`` cases draws: one in runs of
    fewer than 20 (each example then draws as hypothesis always does), else a tenth of the run, at
    most :data:`CASES_PER_EXAMPLE`. Every example of a run draws the same number (hypothesis needs an
    example's draws to depend on its own choices alone)."""
    return max(1, min(CASES_PER_EXAMPLE, examples // 10))


def hypothesis_examples(examples: int) -> int:
    """The hypothesis examples of a run of ``examples`` cases. Examples of several cases come with a
    few spare ones: a case that repeats one the run drew before is not checked (the first example's
    cases are all the simplest one) while the draws left can still make up the run, and the spares'
    cases take the places of those skipped."""
    per_example = cases_per_example(examples)
    needed = -(-examples // per_example)
    return needed if per_example == 1 else needed + 1 + needed // 20


class _Repeats:
    """Whether a drawn case repeats one drawn before in the run (its contents, arrays included)."""

    def __init__(self):
        self.seen: set = set()

    def __call__(self, drawn) -> bool:
        key = _fingerprint(drawn)
        if key is None:
            return False
        if key in self.seen:
            return True
        self.seen.add(key)
        return False


def _fingerprint(drawn) -> bytes | None:
    """A digest of a drawn case's contents (its arrays' bytes included), or None if it cannot be pickled."""
    try:
        return hashlib.blake2b(pickle.dumps(drawn, protocol=5), digest_size=20).digest()
    except Exception:   # noqa: BLE001 - any pickling failure: the case counts as new
        return None


def fuzz_outcomes(strategy, check: Callable[..., Outcome], *, examples: int, seed_key: str,
                  on_outcome: Callable[[Outcome], None] | None = None,
                  stop: Callable[[list], bool] | None = None, guard: Guard | None = None) -> list[Outcome]:
    """``check(drawn)`` for ``examples`` draws of ``strategy``, deterministically from ``seed_key``,
    :func:`cases_per_example` of them per hypothesis example, each checked before the next is drawn
    (with several per example, a case that repeats an earlier one is skipped and another drawn in its
    place: :func:`hypothesis_examples`); ``stop(outcomes)``, asked before each case, ends the run
    early when it returns True. With ``guard``, the i-th case is the unit ``seed_key#i``."""

    outcomes: list[Outcome] = []
    drawn_count, draws = [0], [0]
    per_example = cases_per_example(examples)
    repeats = _Repeats() if per_example > 1 else (lambda drawn: False)
    capacity = hypothesis_examples(examples) * per_example   # the draws of the run's examples

    @_seeded(seed_key, hypothesis_examples(examples), generate_only=True, afresh=per_example > 1)
    @given(data=st.data())
    def collect(data):
        for _ in range(per_example):
            drawn = data.draw(strategy)
            draws[0] += 1
            # drawn all the same: an example draws the same number of cases whatever happens to them
            if drawn_count[0] >= examples or (stop is not None and stop(outcomes)):
                continue
            if repeats(drawn) and capacity - draws[0] >= examples - drawn_count[0]:
                continue   # a repeat, skipped while the draws left can still make up the run
            drawn_count[0] += 1
            try:
                outcome = check(drawn) if guard is None else guard(f"{seed_key}#{drawn_count[0]}", drawn,
                                                                   lambda drawn=drawn: check(drawn))
            except BaseException as error:
                raised.append(error)
                raise
            if outcome is None:
                continue
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

    raised: list[BaseException] = []
    if examples > 0:
        try:
            collect()
        except BaseException:
            # hypothesis replays a raising example, and the replay skips the cases already counted:
            # the check's own error is the one to report, not hypothesis's "unreliable" verdict
            if raised:
                raise raised[0] from None
            raise
    return outcomes


def failure_kind(outcome: Outcome) -> tuple:
    """What a shrunk case must keep to count as the same failure: its status and, for a mismatch,
    the tensor that fails first."""
    failing = outcome.failures
    return (outcome.status, failing[0].tensor if failing else None)


def case_size(outcome: Outcome) -> tuple:
    """Smaller is simpler: the number of array elements, then the shapes themselves."""
    arrays = [*outcome.case.arrays.values(), *([] if outcome.case.dy is None else [outcome.case.dy])]
    return (sum(a.size for a in arrays), [a.shape for a in arrays])


class _Fails(Exception):
    """Raised inside the shrinking test for a case that fails as the first one did."""


def shrink_failure(strategy, check: Callable[..., Outcome], first: Outcome, *, examples: int, seed_key: str,
                   budget_s: float) -> tuple[Outcome, int]:
    """The smallest case (by :func:`case_size`) that fails like ``first`` (:func:`failure_kind`):
    the draws of :func:`fuzz_outcomes` replayed with the same seed until they fail, then shrunk by
    hypothesis (shapes and parameters shrink; values stay drawn from the seed), for at most
    ``budget_s`` seconds. Returns ``(case, cases tried)``; ``first`` itself when nothing smaller fails.

    An example holds several cases (:func:`cases_per_example`). Until one fails, every case is checked
    as :func:`fuzz_outcomes` did; from then on only the case in the place where that one was drawn
    (the others are drawn, not checked: an example that did not fail before cannot fail there now,
    and the choices of the cases before it shrink to the simplest), so that shrinking checks one case
    per attempt as with one case per example. A case met again takes its earlier outcome."""

    kind, deadline = failure_kind(first), time.monotonic() + budget_s
    state = {"best": first, "tried": 0, "place": None}
    seen: dict = {}   # fingerprint of a case -> its outcome
    per_example = cases_per_example(examples)

    def checked(drawn) -> Outcome:
        key = _fingerprint(drawn)
        if key is not None and key in seen:
            return seen[key]
        outcome = check(drawn)
        state["tried"] += 1
        if key is not None:
            seen[key] = outcome
        return outcome

    @_seeded(seed_key, hypothesis_examples(examples), generate_only=False, afresh=per_example > 1)
    @given(data=st.data())
    def fails_alike(data):
        place = state["place"]
        for i in range(per_example):
            drawn = data.draw(strategy)
            if time.monotonic() > deadline:
                return   # out of time: hypothesis stops finding smaller failures; the best so far stands
            if place is not None and i != place:
                continue
            outcome = checked(drawn)
            if outcome.status in FAILING and failure_kind(outcome) == kind:
                if case_size(outcome) < case_size(state["best"]):
                    state["best"] = outcome
                state["place"] = i
                raise _Fails()

    try:
        fails_alike()
    except Exception:   # noqa: BLE001 - _Fails re-raised, or Flaky once the budget ran out: the record stands
        pass
    return state["best"], state["tried"]


def _op_check(op_name: str, dtype: str, impl, paths: str, spellings: bool = True):
    """The registry strategy of ``op_name`` and the check that runs one of its cases on ``impl``."""
    module, _ = resolve_impl(impl)
    return case_strategy(op_name, dtype, spellings), lambda case: run_case(case, module, paths)


def fuzz_op(op_name: str, *, examples: int, dtype: str, seed: int, impl=None, paths: str = "all",
            on_outcome: Callable[[Outcome], None] | None = None, spellings: bool = True,
            stop: Callable[[list], bool] | None = None, key: str = "", guard: Guard | None = None) -> list[Outcome]:
    """Run ``examples`` cases of ``op_name`` drawn from the registry; the same seed draws the same
    cases (:func:`op_seed_key`)."""
    strategy, check = _op_check(op_name, dtype, impl, paths, spellings)
    return fuzz_outcomes(strategy, check, examples=examples, seed_key=op_seed_key(op_name, dtype, seed, key),
                         on_outcome=on_outcome, stop=stop, guard=guard)


def shrink_op(op_name: str, first: Outcome, *, examples: int, dtype: str, seed: int, impl=None,
              paths: str = "all", budget_s: float = 20.0) -> tuple[Outcome, int]:
    """:func:`shrink_failure` for a failing case of :func:`fuzz_op` with the same arguments."""
    strategy, check = _op_check(op_name, dtype, impl, paths)
    return shrink_failure(strategy, check, first, examples=examples, seed_key=op_seed_key(op_name, dtype, seed),
                          budget_s=budget_s)


def record_drawn_forms(entry: dict, op_name: str, *, examples: int, dtype: str, seed: int) -> None:
    """Count into the summary ``entry`` the forms and features of the cases :func:`fuzz_op` with
    these arguments draws, without running them (a shard whose op's other dtype runs elsewhere
    decides the form top-ups as the whole run does)."""
    info = get_op(op_name)
    fuzz_outcomes(case_strategy(op_name, dtype), lambda case: record(entry, info, case), examples=examples,
                  seed_key=op_seed_key(op_name, dtype, seed))


def top_up_forms(op_name: str, missing: dict, *, dtype: str, seed: int, impl=None, paths: str = "all",
                 on_outcome: Callable[[Outcome], None] | None = None, examples: int = 2,
                 stop: Callable[[list], bool] | None = None, guard: Guard | None = None) -> list[Outcome]:
    """``examples`` more cases for each ``{parameter: [forms]}`` the random draws missed, with that
    form forced (hypothesis's choices are far from uniform, so 100 draws can miss one of 8 forms)."""
    out = []
    for param, forms in missing.items():
        for form in forms:
            with forcing({param: form}):
                out += fuzz_op(op_name, examples=examples, dtype=dtype, seed=seed, impl=impl, paths=paths,
                               on_outcome=on_outcome, stop=stop, key=f":{param}={form}", guard=guard)
    return out


def large_cases(op_name: str, *, dtype: str, seed: int, impl=None, paths: str = "all",
                on_outcome: Callable[[Outcome], None] | None = None, guard: Guard | None = None) -> list[Outcome]:
    """The op's realistic-size cases (its OpInfo's ``large``: one, or a tuple of sizes, each run
    once), or nothing if it has none."""
    info = get_op(op_name)
    if not info.large:
        return []
    module, _ = resolve_impl(impl)
    sizes = info.large(dtype)
    out = []
    for k, strategy in enumerate(sizes if isinstance(sizes, tuple) else (sizes,)):
        out += fuzz_outcomes(strategy, lambda case: run_case(case, module, paths), examples=1,
                             seed_key=op_seed_key(op_name, dtype, seed, ":large" + (str(k) if k else "")),
                             on_outcome=on_outcome, guard=guard)
    return out
