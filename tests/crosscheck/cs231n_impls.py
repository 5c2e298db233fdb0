"""Implementations under test for the diagnosis and arbiter tests: npcnn.functional with one
deliberate mistake in one gradient or output (each is what a from-scratch bug produces)."""
import types

import numpy as np

import npcnn.functional as F


def with_gradient(op, index, mutate):
    """An implementation module whose ``op`` gradient number ``index`` is ``mutate(g, arrays, params, dy)``."""
    def vjp(name, *arrays, **params):
        y, pullback = F.vjp(name, *arrays, **params)

        def wrong(dy):
            grads = list(pullback(dy))
            if name == op:
                grads[index] = mutate(grads[index], arrays, params, dy)
            return tuple(grads)
        return y, wrong
    return types.SimpleNamespace(**{op: getattr(F, op)}, vjp=vjp, __name__=f"buggy {op}")


def with_forward(op, forward):
    return types.SimpleNamespace(**{op: forward}, vjp=F.vjp, __name__=f"buggy {op}")


def rot180_dx(g, arrays, params, dy):
    """conv2d d_input computed with the kernel rotated by 180 degrees."""
    x, w = arrays[0], arrays[1]
    return F.vjp("conv2d", x, np.ascontiguousarray(w[::-1, ::-1]), **params)[1](dy)[0]
