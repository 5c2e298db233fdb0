"""Every differentiable op crosscheck registers: npcnn's hand-written vjp equals finite differences
of npcnn's own forward (float64, random upstream gradient, random-direction projections as JAX's
check_grads does) on cases drawn from the registry's strategies. The op list is the registry's, so
a new op is covered the moment it is registered."""
import numpy as np
import pytest
from hypothesis import given, settings

import npcnn
import npcnn.functional as F
from crosscheck.finite_diff import projected_check
from crosscheck.registry import OPS, case_strategy

DIFFERENTIABLE = sorted(op for op, info in OPS.items() if info.differentiable)


@pytest.mark.parametrize("op", DIFFERENTIABLE)
@settings(max_examples=8)
@given(data=__import__("hypothesis").strategies.data())
def test_vjp_equals_finite_differences(op, data):
    info = OPS[op]
    case = data.draw(case_strategy(op, "float64"))
    if info.kink_reason(case) or case.dy is None or not all(a.size for a in case.arrays.values()):
        return   # no derivative at a kink (ties, relu at 0), nothing to differentiate in an empty batch
    names = [n for n in info.arrays if n in case.arrays]
    wrt = [n for n in names if n in info.differentiable]
    extras = {n: case.arrays[n] for n in info.keyword_arrays() if n in case.arrays}

    def f(*diff_arrays):
        given = {**{n: case.arrays[n] for n in names}, **dict(zip(wrt, diff_arrays))}
        return npcnn.vjp(op, *[given[n] for n in names], **extras, **case.params)[0]

    y, pullback = npcnn.vjp(op, *[case.arrays[n] for n in names], **extras, **case.params)
    grads = dict(zip(names, pullback(case.dy)))
    gap = projected_check(f, [case.arrays[n] for n in wrt], case.dy, [grads[n] for n in wrt], seed=case.seed % 1000)
    assert gap < 1e-6, f"{op}: relative gap {gap:.3g} between the vjp and finite differences"
    assert np.all(np.isfinite(y)) or op == "max_pool2d"
    assert getattr(F, op) is not None
