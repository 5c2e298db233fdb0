"""``npcnn.vjp``: the forward pass of an op together with its hand-written backward rule.

Each op module registers a rule with :func:`defvjp`, naming the op function and its *array
arguments* in order. ``vjp(op, *arrays, **params)`` passes those arrays positionally (trailing
optional ones such as ``bias`` may be left out) and every other argument by keyword.
``pullback(dy)`` returns one gradient per array passed, in order; an integer array (class labels)
gets ``None``.

A rule takes its op's parameters, by the same names and in the same order, with no defaults and no
annotations: :func:`vjp` binds each call against the op function's signature, applies the op's
defaults, and passes every argument to the rule by keyword. A default is written once, in the op
function, and :func:`defvjp` refuses a rule that writes one of its own.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._checks import as_array
from ._typing import ArrayLike, OpResult, Pullback

#: A backward rule: ``rule(**arguments) -> (output, pullback)``.
Rule = Callable[..., OpResult]


@dataclass(frozen=True)
class VjpRule:
    """The backward rule ``fn`` of the op function ``op`` (named ``name``).

    ``arrays`` names the array arguments in order; ``required`` how many must be given (those
    without a default in ``op``); ``signature`` is ``op``'s, the one :func:`vjp` binds calls against.
    """
    name: str
    op: Callable
    arrays: tuple[str, ...]
    required: int
    signature: inspect.Signature
    fn: Rule


_RULES: dict[str, VjpRule] = {}


def _check_rule_parameters(op: Callable, signature: inspect.Signature, fn: Callable) -> None:
    """A rule's parameters are ``op``'s names in ``op``'s order, with no defaults or annotations."""
    mine = inspect.signature(fn).parameters
    if list(mine) != list(signature.parameters):
        raise TypeError(f"the vjp rule {fn.__name__} must take {op.__name__}'s parameters "
                        f"{list(signature.parameters)} in that order, got {list(mine)}")
    own = [name for name, p in mine.items()
           if p.default is not inspect.Parameter.empty or p.annotation is not inspect.Parameter.empty]
    if own:
        raise TypeError(f"the vjp rule {fn.__name__} writes a default or an annotation of its own for {own}: "
                        f"{op.__name__}'s signature is the one place for both")


def defvjp(op: Callable, arrays: tuple[str, ...]) -> Callable[[Rule], Rule]:
    """Register the decorated ``fn`` as the backward rule of the op function ``op``.

    ``fn(**arguments) -> (output, pullback)`` takes ``op``'s parameters (same names, same order,
    no defaults, no annotations); ``arrays`` names ``op``'s array arguments, in order; those with
    a default in ``op`` (an optional ``bias``) may be left out of a :func:`vjp` call and must come
    last.
    """
    signature = inspect.signature(op)
    parameters = signature.parameters
    unknown = [name for name in arrays if name not in parameters]
    if unknown:
        raise TypeError(f"{op.__name__} has no parameters {unknown}")
    optional = [parameters[name].default is not inspect.Parameter.empty for name in arrays]
    required = optional.index(True) if True in optional else len(arrays)
    if not all(optional[required:]):
        raise TypeError(f"{op.__name__}: the optional arrays of {tuple(arrays)} must come last")

    def register(fn: Rule) -> Rule:
        _check_rule_parameters(op, signature, fn)
        _RULES[op.__name__] = VjpRule(op.__name__, op, tuple(arrays), required, signature, fn)
        return fn
    return register


def vjp_rule(op: str | Callable) -> VjpRule:
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


def vjp(op: str | Callable, *arrays: ArrayLike, **params: Any) -> tuple[np.ndarray, Pullback]:
    """Run ``op`` forward and return ``(output, pullback)``.

    ``op``: an op's name (``"conv2d"``) or its function. The arguments are the op function's; a
    parameter left out takes the op function's default. ``pullback(dy)`` takes an upstream gradient
    with the output's shape and dtype and returns a tuple with one gradient per array argument
    given, positionally or by keyword (``bias=b``), in the rule's order (see :func:`vjp_rule` for
    their names), each with its array's shape.
    """
    rule = vjp_rule(op)
    arrays, params = _arrays_given_by_keyword(rule, arrays, params)
    if not rule.required <= len(arrays) <= len(rule.arrays):
        raise TypeError(
            f"vjp({rule.name!r}) takes the arrays {rule.arrays} positionally "
            f"({rule.required} required), got {len(arrays)}")
    try:
        bound = rule.signature.bind(**dict(zip(rule.arrays, arrays)), **params)
    except TypeError as e:
        raise TypeError(f"vjp({rule.name!r}): {e}") from None
    bound.apply_defaults()
    output, pullback = rule.fn(**bound.arguments)

    def checked_pullback(dy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        dy = as_array(dy, f"dy for {rule.name}")
        if dy.shape != output.shape:
            raise ValueError(f"dy for {rule.name} must have the output's shape {output.shape}, got {dy.shape}")
        if dy.dtype != output.dtype:
            raise TypeError(f"dy for {rule.name} must have the output's dtype {output.dtype}, got {dy.dtype}")
        grads = tuple(pullback(dy))
        return grads[:len(arrays)]

    return output, checked_pullback
