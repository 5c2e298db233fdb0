"""npcnn.vjp's registry: each backward rule takes its op function's parameters, and the op function's
signature is the one place for their defaults (and annotations)."""
import inspect

import numpy as np
import pytest

import npcnn
import npcnn.functional as F
from npcnn import gradients
from npcnn.gradients import defvjp


@pytest.mark.parametrize("op", npcnn.differentiable_ops())
def test_every_rule_takes_its_op_functions_parameters_and_writes_no_default_of_its_own(op):
    rule = npcnn.vjp_rule(op)
    assert rule.op is getattr(F, op)
    assert rule.signature == inspect.signature(rule.op)
    mine = inspect.signature(rule.fn).parameters
    assert list(mine) == list(rule.signature.parameters)
    assert [n for n, p in mine.items() if p.default is not inspect.Parameter.empty] == []
    assert [n for n, p in mine.items() if p.annotation is not inspect.Parameter.empty] == []
    assert rule.arrays == tuple(n for n in rule.signature.parameters if n in rule.arrays)
    optional = [n for n in rule.arrays if rule.signature.parameters[n].default is not inspect.Parameter.empty]
    assert rule.required == len(rule.arrays) - len(optional)


@pytest.fixture
def registry(monkeypatch):
    """npcnn's rules, in a copy that the test may add to."""
    monkeypatch.setattr(gradients, "_RULES", dict(gradients._RULES))
    return gradients._RULES


def scale(x, factor=3.0, bias=None):
    return np.asarray(x) * factor + (0 if bias is None else bias)


def test_vjp_applies_the_op_functions_defaults(registry):
    @defvjp(scale, ("x", "bias"))
    def scale_vjp(x, factor, bias):
        return scale(x, factor, bias), lambda dy: (dy * factor, None if bias is None else dy)

    x = np.arange(3.0)
    y, pullback = npcnn.vjp("scale", x)   # factor and bias left out: scale's defaults, the rule has none
    np.testing.assert_array_equal(y, 3 * x)
    assert len(pullback(np.ones(3))) == 1
    np.testing.assert_array_equal(pullback(np.ones(3))[0], [3.0, 3.0, 3.0])
    y, pullback = npcnn.vjp("scale", x, np.ones(3), factor=2.0)
    np.testing.assert_array_equal(y, 2 * x + 1)
    assert [g.tolist() for g in pullback(np.ones(3))] == [[2.0] * 3, [1.0] * 3]


def rule_with_a_default(x, factor=4.0, bias=None):
    return x, None


def rule_renaming_a_parameter(x, scale_by, bias):
    return x, None


def rule_reordering_parameters(x, bias, factor):
    return x, None


def rule_with_an_annotation(x: np.ndarray, factor, bias):
    return x, None


@pytest.mark.parametrize("rule, words", [
    (rule_with_a_default, "a default or an annotation of its own for \\['factor', 'bias'\\]"),
    (rule_renaming_a_parameter, "must take scale's parameters \\['x', 'factor', 'bias'\\] in that order"),
    (rule_reordering_parameters, "in that order"),
    (rule_with_an_annotation, "a default or an annotation of its own for \\['x'\\]"),
])
def test_defvjp_refuses_a_rule_whose_parameters_differ_from_its_ops(registry, rule, words):
    with pytest.raises(TypeError, match=words):
        defvjp(scale, ("x",))(rule)
    assert "scale" not in registry


@pytest.mark.parametrize("arrays, words", [
    (("x", "weights"), "scale has no parameters \\['weights'\\]"),
    (("bias", "x"), "optional arrays of \\('bias', 'x'\\) must come last"),
])
def test_defvjp_refuses_arrays_that_do_not_fit_the_op(registry, arrays, words):
    with pytest.raises(TypeError, match=words):
        defvjp(scale, arrays)


def test_a_parameter_the_op_does_not_take_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="vjp\\('relu'\\): .*'alpha'"):
        npcnn.vjp("relu", np.ones(2), alpha=0.1)
    with pytest.raises(TypeError, match="vjp\\('max_pool2d'\\): .*'strides'"):
        npcnn.vjp("max_pool2d", np.ones((1, 2, 2, 1)), ksize=2)
