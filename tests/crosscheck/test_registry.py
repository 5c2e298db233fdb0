"""The op registry: the entries are consistent, every public npcnn.functional function is
registered, and the strategies exercise every documented parameter form (each default included)
and reach every op's extreme branch."""
import inspect

import numpy as np
import pytest

from crosscheck.coverage import record, missing_forms
from crosscheck.case import PASS, Outcome
from crosscheck.fuzz import fuzz_outcomes
from crosscheck.registry import FAMILY, NOT_OPS, OPS, case_strategy

OP_NAMES = sorted(OPS)


@pytest.mark.parametrize("op", OP_NAMES)
def test_entries_are_consistent(op):
    info = OPS[op]
    assert set(info.differentiable) <= set(info.arrays)
    assert set(info.optional_arrays) <= set(info.arrays) | set(info.keyword_arrays())
    assert not set(info.keyword_arrays()) & set(info.arrays)
    assert set(info.filter_arrays) <= set(info.arrays)
    assert bool(info.geometry) == bool(info.window_operands), "a window op names its input and filter operands"
    if info.window_operands:
        x_name, w_name = info.window_operands
        assert x_name in info.arrays or x_name in info.params
        assert w_name is None or w_name in info.arrays or w_name in info.params
    assert info.paths and len(set(info.path_names)) == len(info.paths)
    errors = info.error_inputs()
    assert errors, "every op generates invalid calls"
    assert len({e.label for e in errors}) == len(errors)
    if not info.plain_tf:   # no TensorFlow call to decide: each invalid call states its documented rule
        assert all(e.rule for e in errors)
    assert info.tolerance_class in ("accumulation", "elementwise", "reduction", "normalization")


def test_every_public_npcnn_function_is_registered():
    import npcnn.functional as F
    public = {n for n in dir(F) if not n.startswith("_") and inspect.isfunction(getattr(F, n))}
    assert public - set(OPS) - set(NOT_OPS) == set()
    assert set(OPS) <= public


def test_every_registered_activation_is_a_keras_activation_of_npcnn_layers():
    from npcnn.layers import ACTIVATIONS
    activations = {op for op, family in FAMILY.items() if family == "activations"}
    assert activations == set(ACTIVATIONS)


@pytest.mark.parametrize("op", OP_NAMES)
def test_strategies_exercise_every_form_and_the_extreme_branch(op):
    info = OPS[op]
    entry = {}
    extreme_seen = []

    def draw(case):   # crosscheck's fuzz driver: the draws depend on the op and the seed key alone
        record(entry, info, case)
        extreme_seen.append(case)
        return Outcome(case, PASS)

    fuzz_outcomes(case_strategy(op, "float32"), draw, examples=150, seed_key=f"forms:{op}")
    assert missing_forms(entry, info) == {}, (missing_forms(entry, info), entry.get("forms"))
    if info.extreme:
        features = set(entry.get("features", {}))
        assert features, "an op with an extreme strategy names what its cases exercise"


#: ops whose TensorFlow meaning is a Keras layer's (their snippets use crosscheck's oracle)
KERAS_LAYER_OF = {"batch_normalization": "keras.layers.BatchNormalization(",
                  "layer_normalization": "keras.layers.LayerNormalization(",
                  "group_normalization": "keras.layers.GroupNormalization("}


def _tf_function(source: str):
    """The TensorFlow / Keras callable a plain-TF snippet calls (``tf.nn.conv2d_transpose(...)``)."""
    from crosscheck.tf_import import keras_module, tensorflow
    head = source.split("(")[0].split(".")
    obj = {"tf": tensorflow(), "keras": keras_module()}[head[0]]
    for part in head[1:]:
        obj = getattr(obj, part)
    return obj


def test_every_default_is_tensorflows_where_tensorflow_has_one():
    """A parameter a case leaves out means TensorFlow's default: a crosscheck default of its own
    would make the reference and the code under test agree on something TensorFlow does not do
    (conv2d_transpose's padding is "SAME" in TensorFlow; the other convolutions have no default)."""
    from hypothesis import find
    from crosscheck.params import canonical
    compared, wrong = set(), []
    for op in OP_NAMES:
        info = OPS[op]
        if info.plain_tf:
            source = info.plain_tf.source
            if callable(source):
                source = source(info.resolve(find(case_strategy(op, "float32"), lambda case: True)))
        else:
            source = KERAS_LAYER_OF[op]
        fn = _tf_function(source)
        signature = inspect.signature(fn.__init__ if inspect.isclass(fn) else fn)
        for name, param in info.params.items():
            tf_param = signature.parameters.get(name)
            if tf_param is None or tf_param.default in (inspect.Parameter.empty, None) or not param.has_default:
                continue   # TF requires it, or its None means "the documented default", resolved inside
            compared.add((op, name))
            if canonical(param.kind, param.default) != canonical(param.kind, tf_param.default):
                wrong.append((op, name, param.default, tf_param.default))
    assert wrong == []
    assert {("conv2d_transpose", "padding"), ("conv2d_backprop_input", "dilations"), ("leaky_relu", "alpha"),
            ("moments", "keepdims"), ("layer_normalization", "epsilon"), ("batch_normalization", "axis")} <= compared


@pytest.mark.parametrize("op", [op for op in OP_NAMES if OPS[op].large])
def test_large_cases_are_realistic_sizes_of_their_op(op):
    """Each size of an op's ``large`` strategy draws a valid case of the op past a MiB of input
    (runs fuzz them through crosscheck.fuzz.large_cases; here only the draws are checked)."""
    from crosscheck.fuzz import fuzz_outcomes, op_seed_key
    from crosscheck.case import PASS, Outcome
    sizes = OPS[op].large("float32")
    drawn = []
    for k, strategy in enumerate(sizes if isinstance(sizes, tuple) else (sizes,)):
        fuzz_outcomes(strategy, lambda case: (drawn.append(case), Outcome(case, PASS))[1], examples=1,
                      seed_key=op_seed_key(op, "float32", 0, f":large{k}"))
    assert drawn and all(case.op == op and case.dtype == "float32" for case in drawn)
    assert all(max(np.asarray(a).nbytes for a in case.arrays.values()) >= 2**20 for case in drawn)
    for case in drawn:
        OPS[op].geometry(OPS[op].resolve(case)).resolve()   # a valid window: raises GeometryError otherwise
