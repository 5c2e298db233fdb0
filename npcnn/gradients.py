"""``npcnn.vjp``: the forward pass of an op together with its hand-written backward rule.

Each op module registers a rule with :func:`defvjp`, naming the op's *array arguments* in order.
``vjp(op, *arrays, **params)`` passes those arrays positionally (trailing optional ones such as
``bias`` may be left out) and every other argument by keyword. ``pullback(dy)`` returns one gradient
per array passed, in order; an integer array (class labels) gets ``None``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class VjpRule:
    """``fn(*arrays, **params) -> (output, pullback)`` for the op ``name``.

    ``arrays`` names the array arguments in order; ``required`` how many must be given.
    """
    name: str
    arrays: tuple[str, ...]
    required: int
    fn: Callable


_RULES: dict[str, VjpRule] = {}


def defvjp(name: str, arrays: tuple[str, ...], required: int | None = None):
    """Register the decorated ``fn(*arrays, **params) -> (output, pullback)`` as ``name``'s rule."""
    def register(fn):
        _RULES[name] = VjpRule(name, tuple(arrays), len(arrays) if required is None else required, fn)
        return fn
    return register


def vjp_rule(op) -> VjpRule:
    """The registered rule of ``op`` (a name or an npcnn function)."""
    name = op if isinstance(op, str) else getattr(op, "__name__", repr(op))
    try:
        return _RULES[name]
    except KeyError:
        raise ValueError(f"npcnn.vjp has no rule for op {name!r}; known ops: {sorted(_RULES)}") from None


def differentiable_ops() -> list[str]:
    """Names of every op that has a vjp rule."""
    return sorted(_RULES)


def _arrays_given_by_keyword(rule: VjpRule, arrays: tuple, params: dict) -> tuple[tuple, dict]:
    """Array arguments passed by keyword (``bias=b``) join the positional ones, so the pullback
    returns their gradients too; one given both ways, or after a gap, is a TypeError."""
    named = [name for name in rule.arrays if name in params]
    if not named:
        return arrays, params
    params = dict(params)
    given = list(arrays)
    for index, name in enumerate(rule.arrays):
        if name not in params:
            continue
        if index < len(given):
            raise TypeError(f"vjp({rule.name!r}) got {name} both positionally and by keyword")
        if index > len(given):
            missing = rule.arrays[len(given):index]
            raise TypeError(f"vjp({rule.name!r}): {name} given by keyword needs {', '.join(missing)} before it")
        given.append(params.pop(name))
    return tuple(given), params


def vjp(op, *arrays, **params):
    """Run ``op`` forward and return ``(output, pullback)``.

    ``pullback(dy)`` takes an upstream gradient with the output's shape and dtype and returns a
    tuple with one gradient per array argument given, positionally or by keyword (``bias=b``), in
    the rule's order (see :func:`vjp_rule` for their names).
    """
    rule = vjp_rule(op)
    arrays, params = _arrays_given_by_keyword(rule, arrays, params)
    if not rule.required <= len(arrays) <= len(rule.arrays):
        raise TypeError(
            f"vjp({rule.name!r}) takes the arrays {rule.arrays} positionally "
            f"({rule.required} required), got {len(arrays)}")
    output, pullback = rule.fn(*arrays, **params)

    def checked_pullback(dy):
        dy = np.asarray(dy)
        if dy.shape != output.shape:
            raise ValueError(f"dy for {rule.name} must have the output's shape {output.shape}, got {dy.shape}")
        if dy.dtype != output.dtype:
            raise TypeError(f"dy for {rule.name} must have the output's dtype {output.dtype}, got {dy.dtype}")
        grads = tuple(pullback(dy))
        return grads[:len(arrays)]

    return output, checked_pullback
