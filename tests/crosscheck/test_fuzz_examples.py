"""The fuzz driver draws several cases per hypothesis example (crosscheck/fuzz.py): every case is
checked and recorded in order, as a unit of its own, and a failing case still shrinks to the minimal one."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.control import current_build_context

from crosscheck.case import MISMATCH, PASS, Case, Outcome
from crosscheck.coverage import record
from crosscheck.fuzz import (
    cases_per_example,
    fuzz_op,
    fuzz_outcomes,
    hypothesis_examples,
    record_drawn_forms,
    shrink_failure,
    top_up_forms,
)
from crosscheck.registry import get_op


def _sized_cases(examples_seen: set | None = None):
    """Cases of relu with 0-1000 elements (zeros) and a value seed, as the registry's cases draw one;
    ``examples_seen`` collects the hypothesis example of each draw."""
    @st.composite
    def case(draw):
        n, seed = draw(st.integers(0, 1000)), draw(st.integers(0, 2**32 - 1))
        if examples_seen is not None:
            examples_seen.add(id(current_build_context().data))
        return Case("relu", {}, {"features": np.zeros(n)}, None, "float64", seed)
    return case()


def _passing(case):
    return Outcome(case, PASS)


def _sizes(outcomes):
    return [o.case.arrays["features"].size for o in outcomes]


def test_a_run_of_200_draws_8_cases_per_example_and_checks_exactly_200_distinct_cases_in_order():
    examples_seen, keys, seen = set(), [], []
    outcomes = fuzz_outcomes(_sized_cases(examples_seen), _passing, examples=200, seed_key="multi",
                             on_outcome=seen.append,
                             guard=lambda key, case, run: (keys.append(key), run())[1])
    assert cases_per_example(200) == 8
    assert len(outcomes) == 200 and seen == outcomes
    assert keys == [f"multi#{i}" for i in range(1, 201)]
    assert len(examples_seen) <= hypothesis_examples(200) < 40   # not one example per case
    assert len({(o.case.seed, o.case.arrays["features"].size) for o in outcomes}) == 200   # no case checked twice
    again = fuzz_outcomes(_sized_cases(), _passing, examples=200, seed_key="multi")
    assert _sizes(again) == _sizes(outcomes)


def test_small_runs_draw_one_case_per_example():
    assert [cases_per_example(n) for n in (1, 2, 19, 20, 50, 79, 80, 1000)] == [1, 1, 1, 2, 5, 7, 8, 8]
    assert len(fuzz_outcomes(_sized_cases(), _passing, examples=3, seed_key="few")) == 3


def test_resuming_skips_the_finished_cases_and_draws_the_others_as_before():
    first = fuzz_outcomes(_sized_cases(), _passing, examples=60, seed_key="resume")
    done = {f"resume#{i}" for i in range(1, 31)}
    resumed = fuzz_outcomes(_sized_cases(), _passing, examples=60, seed_key="resume",
                            guard=lambda key, case, run: None if key in done else run())
    assert _sizes(resumed) == _sizes(first)[30:]


def test_stop_is_asked_before_each_case():
    outcomes = fuzz_outcomes(_sized_cases(), _passing, examples=100, seed_key="stop",
                             stop=lambda found: len(found) >= 5)
    assert len(outcomes) == 5


def test_a_failing_case_inside_an_example_shrinks_to_the_minimal_one():
    def fails_from_37(case):
        return Outcome(case, MISMATCH if case.arrays["features"].size >= 37 else PASS)
    outcomes = fuzz_outcomes(_sized_cases(), fails_from_37, examples=200, seed_key="shrink")
    first = next(o for o in outcomes if o.status == MISMATCH)
    assert first.case.arrays["features"].size > 37
    minimal, tried = shrink_failure(_sized_cases(), fails_from_37, first, examples=200, seed_key="shrink",
                                    budget_s=60)
    assert minimal.status == MISMATCH and minimal.case.arrays["features"].size == 37
    assert 0 < tried < 200


def test_forced_forms_are_journaled_units():
    keys = []
    top_up_forms("conv2d", {"padding": ["'VALID'"]}, dtype="float32", seed=3, examples=2,
                 guard=lambda key, case, run: keys.append((key, case.params.get("padding"))))
    assert keys == [("conv2d:float32:3:padding='VALID'#1", "VALID"), ("conv2d:float32:3:padding='VALID'#2", "VALID")]


def test_a_shard_counts_the_forms_of_exactly_the_cases_the_run_checks():
    counted: dict = {}
    record_drawn_forms(counted, "conv2d", examples=40, dtype="float32", seed=1)
    checked: dict = {}
    fuzz_op("conv2d", examples=40, dtype="float32", seed=1,
            guard=lambda key, case, run: record(checked, get_op("conv2d"), case))   # counted, not run
    assert counted == checked and sum(counted["forms"]["padding"].values()) == 40
