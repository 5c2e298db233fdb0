"""The one finite-difference check of npcnn's hand-written backward rules, shared by the op tests."""
import numpy as np
from numpy.testing import assert_allclose

import npcnn
from crosscheck.finite_diff import numerical_vjp


def check_vjp_against_fd(op, arrays, **params):
    """Every gradient of ``npcnn.vjp(op, *arrays, **params)`` equals central differences (float64),
    for a random upstream gradient."""
    y, pullback = npcnn.vjp(op, *arrays, **params)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    grads = pullback(dy)
    assert len(grads) == len(arrays)
    expected = numerical_vjp(lambda *a: npcnn.vjp(op, *a, **params)[0], arrays, dy)
    for name, g, e in zip(npcnn.vjp_rule(op).arrays, grads, expected):
        assert_allclose(g, e, rtol=1e-6, atol=1e-8, err_msg=f"d_{name}")
