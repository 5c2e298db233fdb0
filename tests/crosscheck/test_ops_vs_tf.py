"""One hypothesis property test per registered op and dtype, generated from the registry: npcnn's
forward pass and gradients equal every TensorFlow path of the op within the tolerance policy.

A case TensorFlow cannot compute must come back reference-unsupported *with its quirk*; any
mismatch, reference error or implementation error fails with the outcome's report as the message.
"""
import json

import pytest
from hypothesis import given, settings

from crosscheck.case import REFERENCE_UNSUPPORTED, VJP_Y
from crosscheck.pytest_plugin import assert_outcome_ok
from crosscheck.registry import OPS, case_strategy
from crosscheck.runner import run_case

pytest.importorskip("tensorflow")

# Ops whose examples cost the most (four TF paths plus a grouped / dilated reference built group by
# group) keep the profile's budget; none needs lowering at the default profile's 40 examples (the whole
# module runs in well under a minute on 2 cores), so there are no per-op overrides today.
MAX_EXAMPLES: dict[str, int] = {}


def make_test(op: str, dtype: str):
    info = OPS[op]

    @given(case=case_strategy(op, dtype))
    def test(case):
        json.dumps(case.params)  # replay files and reports need JSON-able params
        outcome = run_case(case)
        assert_outcome_ok(outcome)  # records it for --crosscheck-report; the full diff report is the message
        # a generated case is valid by construction: no registered quirk refuses it
        assert outcome.status != REFERENCE_UNSUPPORTED, outcome.message
        assert outcome.diffs, "a passing outcome compared no tensor"
        compared = {d.tensor for d in outcome.diffs if d.judged}
        expected = set(info.outputs) | {"d_" + n for n in info.differentiable if n in case.arrays}
        if case.dy is None:
            expected = set(info.outputs)
        elif info.differentiable:
            expected.add(VJP_Y)    # the vjp's forward output is compared too
        assert expected <= compared, f"tensors never compared: {sorted(expected - compared)}"

    if op in MAX_EXAMPLES:
        test = settings(max_examples=MAX_EXAMPLES[op])(test)
    test.__name__ = f"test_{op}_{dtype}"
    test.__doc__ = f"{op} ({dtype}) equals TensorFlow ({', '.join(info.path_names)}) on generated cases."
    return test


for _op in OPS:
    for _dtype in ("float32", "float64"):
        globals()[f"test_{_op}_{_dtype}"] = make_test(_op, _dtype)
del _op, _dtype


def test_every_public_npcnn_function_is_registered():
    import npcnn.functional as F
    from crosscheck.registry import NOT_OPS
    public = {n for n in getattr(F, "__all__", dir(F)) if not n.startswith("_") and callable(getattr(F, n))}
    assert public - set(OPS) - set(NOT_OPS) == set()
    assert set(OPS) <= public
