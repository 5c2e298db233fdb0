"""Check any implementation of one registry op, in any convention: ``check_op`` (hypothesis-driven)
and ``assert_matches_tf`` (one Case, for use inside your own ``@given`` tests).

``forward(**arrays, **params) -> y`` and ``backward(dy, **arrays, **params) -> gradients`` (one per
differentiable array of the op, in the op's array order; see ``crosscheck ops``) take the op's
keyword names (``input``, ``filters``, ``strides``, ``padding``, ...). Arrays come in ``layout``
("NHWC" or "NCHW"; filters stay HWIO); wrap your function to convert anything else.
"""
from __future__ import annotations

import types
from typing import Any, Callable

from hypothesis.strategies import SearchStrategy

from .case import FAILING, Case, Outcome
from .registry import get_op
from .recording import record
from .report import format_outcome_text
from .runner import run_case
from .report.terminal import outcome_lines
from .registry import case_strategy
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


def assert_matches_tf(case: Case, forward: Forward, backward: Backward | None = None) -> Outcome:
    """Run one case against TensorFlow; AssertionError with the full report (diagnosis included) on a
    mismatch or an exception of the code under test. Returns the Outcome otherwise."""
    outcome = run_case(case, adapter(case.op, forward, backward, getattr(forward, "__qualname__", "user code")))
    d = record(outcome)
    if outcome.status in FAILING:
        raise AssertionError("\n".join(text for _, text in outcome_lines(d, snippet=False)))
    return outcome


def cases(op: str, dtype: str = "float64", layout: str | None = None) -> SearchStrategy[Case]:
    """The registry's strategy of Cases for ``op`` with every parameter written explicitly in its
    canonical form (your function need not know the API's defaults or spellings), restricted to
    ``layout`` if given."""
    strategy = case_strategy(op, dtype, spellings=False)
    if layout is None:
        return strategy
    return strategy.filter(lambda c: c.params.get("data_format", layout) == layout)


def check_op(op: str, forward: Forward, backward: Backward | None = None, *, layout: str | None = "NHWC",
             examples: int = 20, dtype: str = "float64", seed: int = 0, ties: str = "note") -> list[Outcome]:
    """Draw ``examples`` cases of ``op`` and compare your functions with TensorFlow on each; raises
    AssertionError with the smallest failure of each likely cause, else returns the outcomes.

    ``ties``: for max_pool2d, a backward that follows another rule than TensorFlow's (first maximum)
    on tied windows gives a warning ("note", the default) or fails ("tf")."""

    if ties not in ("note", "tf"):
        raise ValueError(f"ties must be 'note' or 'tf', got {ties!r}")
    impl = adapter(op, forward, backward, getattr(forward, "__qualname__", "user code"))
    outcomes = fuzz_outcomes(cases(op, dtype, layout), lambda case: run_case(case, impl), examples=examples,
                             seed_key=f"check_op:{op}:{dtype}:{layout}:{seed}", on_outcome=record)
    row = judge(Spec(op, (), None, None, (), ties=op == "max_pool2d"), outcomes, ties)
    for note in row.notes:
        warnings.warn(f"{op}: {note}", stacklevel=2)
    failed = [o for o in outcomes if o.status in FAILING]
    if row.failing or (failed and row.verdict != "passed-with-note"):
        examples_ = list(row.examples.items()) or [("", failed[0])]
        raise AssertionError(
            f"{len(failed)} of {len(outcomes)} cases of {op} fail"
            + (f" (likely causes: {', '.join(f'{c} x{n}' for c, n in row.causes.items())})" if row.causes else "")
            + "".join(f"\n--- {cause or 'first failure'}, smallest case:\n" + format_outcome_text(o, snippet=False)
                      for cause, o in examples_))
    return outcomes
