"""Check any implementation of one registry op, in any convention: ``check_op`` (hypothesis-driven)
and ``assert_matches_tf`` (one Case, for use inside your own ``@given`` tests); ``replay_case`` reruns
a failure's replay file against your functions.

``forward(**arrays, **params) -> y`` and ``backward(dy, **arrays, **params) -> gradients`` (one per
differentiable array of the op, in the op's array order; see ``crosscheck ops``) take the op's
keyword names (``input``, ``filters``, ``strides``, ``padding``, ...). Arrays come in ``layout``
("NHWC" or "NCHW"; filters stay HWIO); wrap your function to convert anything else. Restrict the
cases to what your code supports with :mod:`crosscheck.strategies` (``cases=``).

``atol`` / ``rtol`` replace crosscheck's tolerance policy (docs/tolerances.md) for every tensor.
"""
from __future__ import annotations

import os
import types
from pathlib import Path
from typing import Any, Callable

import hypothesis
from hypothesis.strategies import SearchStrategy

from . import callables
from .case import FAILING, Case, Outcome
from .registry import get_op
from .recording import record
from .replay import load_case
from .report import format_outcome_text
from .report.json_report import outcome_to_dict
from .runner import run_case
from .report.terminal import outcome_lines
from .registry import case_strategy
from .tolerance import overriding
import warnings
from .check.run import Spec, judge
from .fuzz import fuzz_outcomes

#: ``forward(**arrays, **params) -> y``
Forward = Callable[..., Any]
#: ``backward(dy, **arrays, **params) -> gradients`` (one array, or a tuple or list of them)
Backward = Callable[..., Any]


def adapter(op: str, forward: Forward, backward: Backward | None = None,
            name: str = "user code") -> types.SimpleNamespace:
    """An implementation module for ``run_case`` built from a forward and a backward function: the op's
    function (``forward``) under the op's name, and ``vjp`` (without ``backward``, every gradient is None)."""
    info = get_op(op)

    def vjp(op_name, *arrays, **params):
        given = dict(zip([n for n in info.arrays], arrays))
        y = forward(**given, **params)

        def pullback(dy):
            if backward is None:
                return tuple(None for _ in arrays)
            grads = backward(dy, **given, **params)
            return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
        return y, pullback
    return types.SimpleNamespace(**{info.name: forward}, vjp=vjp, __name__=name)


def assert_matches_tf(case: Case, forward: Forward, backward: Backward | None = None, *,
                      atol: float | None = None, rtol: float | None = None) -> Outcome:
    """Run one case against TensorFlow; AssertionError with the full report (diagnosis and replay line
    included) on a mismatch or an exception of the code under test. Returns the Outcome otherwise."""
    __tracebackhide__ = True
    return _assert_case(case, forward, backward, atol, rtol)


def _assert_case(case: Case, forward: Forward, backward: Backward | None, atol: float | None, rtol: float | None,
                 replay_file: Path | None = None) -> Outcome:
    """Run, record, and raise on a failure; ``replay_file``: the file the case came from, which the
    report's replay line then names (not the copy the recording made)."""
    __tracebackhide__ = True
    impl = adapter(case.op, forward, backward, callables.impl_name(forward, backward, atol, rtol))
    with overriding(atol, rtol):
        outcome = run_case(case, impl)
    d = record(outcome)
    if outcome.status in FAILING:
        if replay_file is not None:
            d = {**d, "replay": outcome_to_dict(outcome, replay_file)["replay"]}
        raise AssertionError("\n".join(text for _, text in outcome_lines(d, snippet=True)))
    return outcome


def replay_case(path: str | os.PathLike, forward: Forward, backward: Backward | None = None, *,
                atol: float | None = None, rtol: float | None = None) -> Outcome:
    """Rerun the case of replay file ``path`` (a failure's ``Replay:`` line names it) against your
    functions: AssertionError with the report while it fails, the Outcome once it passes."""
    __tracebackhide__ = True
    return _assert_case(load_case(path), forward, backward, atol, rtol, replay_file=Path(path).resolve())


def cases(op: str, dtype: str = "float64", layout: str | None = None) -> SearchStrategy[Case]:
    """The registry's strategy of Cases for ``op`` with every parameter written explicitly in its
    canonical form (your function need not know the API's defaults or spellings), restricted to
    ``layout`` if given. :mod:`crosscheck.strategies` restricts any parameter."""
    strategy = case_strategy(op, dtype, spellings=False)
    if layout is None:
        return strategy
    return strategy.filter(lambda c: c.params.get("data_format", layout) == layout)


def _user_seed(seed: int | None) -> int:
    """``seed``, else pytest's ``--hypothesis-seed`` (hypothesis's global seed), else 0."""
    if seed is not None:
        return seed
    forced = getattr(hypothesis.core, "global_force_seed", None)
    return 0 if forced is None else int(forced)


def check_op(op: str, forward: Forward, backward: Backward | None = None, *, cases: SearchStrategy | None = None,
             layout: str | None = "NHWC", examples: int | None = None, dtype: str = "float64",
             seed: int | None = None, ties: str = "note", atol: float | None = None,
             rtol: float | None = None) -> list[Outcome]:
    """Draw ``examples`` cases of ``op`` and compare your functions with TensorFlow on each; raises
    AssertionError with the smallest failure of each likely cause (each with its replay line), else
    returns the outcomes.

    ``cases``: a strategy of Cases (:mod:`crosscheck.strategies`, restricted to what your code
    supports); without it, every configuration of the op in ``layout`` and ``dtype``.
    ``examples``: default, your hypothesis settings' ``max_examples`` (the profile you loaded).
    ``seed``: default, pytest's ``--hypothesis-seed`` if given, else 0 (the same cases every run).
    ``ties``: for max_pool2d, a backward that follows another rule than TensorFlow's (first maximum)
    on tied windows gives a warning ("note", the default) or fails ("tf")."""
    __tracebackhide__ = True
    if ties not in ("note", "tf"):
        raise ValueError(f"ties must be 'note' or 'tf', got {ties!r}")
    if cases is not None and not isinstance(cases, SearchStrategy):
        raise ValueError(f"cases must be a hypothesis strategy of Cases (crosscheck.strategies), got {cases!r}")
    examples = hypothesis.settings.default.max_examples if examples is None else examples
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples must be an int >= 1, got {examples!r}")
    seed = _user_seed(seed)
    impl = adapter(op, forward, backward, callables.impl_name(forward, backward, atol, rtol))
    strategy = cases if cases is not None else globals()["cases"](op, dtype, layout)
    key = "cases" if cases is not None else f"{dtype}:{layout}"
    recorded: dict = {}   # id(outcome) -> its report dict (with its replay file)
    with overriding(atol, rtol):
        outcomes = fuzz_outcomes(strategy, lambda case: _checked(case, op, impl), examples=examples,
                                 seed_key=f"check_op:{op}:{key}:{seed}",
                                 on_outcome=lambda o: recorded.__setitem__(id(o), record(o)))
    row = judge(Spec(op, (), None, None, (), ties=op == "max_pool2d"), outcomes, ties)
    for note in row.notes:
        warnings.warn(f"{op}: {note}", stacklevel=2)
    failed = [o for o in outcomes if o.status in FAILING]
    if row.failing or (failed and row.verdict != "passed-with-note"):
        examples_ = list(row.examples.items()) or [("", failed[0])]
        raise AssertionError(
            f"{len(failed)} of {len(outcomes)} cases of {op} fail"
            + (f" (likely causes: {', '.join(f'{c} x{n}' for c, n in row.causes.items())})" if row.causes else "")
            + "".join(f"\n--- {cause or 'first failure'}, smallest case:\n" + format_outcome_text(recorded.get(id(o), o), snippet=False)
                      for cause, o in examples_))
    return outcomes


def _checked(case: Case, op: str, impl) -> Outcome:
    if case.op != op:
        raise ValueError(f"cases: drew a case of {case.op}, not of {op}")
    return run_case(case, impl)
