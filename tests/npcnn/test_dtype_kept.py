"""Every op keeps its input's float dtype: outputs and gradients of a float32 call are float32.

Under NumPy 1's value-based casting a 0-d float32 array behaves as a scalar, so ``x * 0.5`` or
``1 + np.exp(x)`` is float64 there (and a float64 NumPy scalar times a float32 array is float64
under NumPy 2): these tests hold under both. The op list is the registry's, so a new op is covered
the moment it is registered; the element-wise ops are also called on 0-d inputs on each branch.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import npcnn
import npcnn.functional as F
from crosscheck.registry import FAMILY, OPS, case_strategy

ELEMENTWISE = sorted(op for op, family in FAMILY.items() if family == "activations"
                     and op not in ("softmax", "log_softmax")) + ["dropout"]
#: one value on each branch of the element-wise ops: negative, the kink, positive, saturating
BRANCH_VALUES = (-3.0, 0.0, 0.5, 40.0)


def _float_results(op, arrays, params, dy):
    """``{name: value}`` of the op function's outputs, the vjp's forward and the gradients of
    the float arrays (an integer label array gets no gradient)."""
    info = OPS[op]
    out = getattr(F, op)(**arrays, **params)
    outputs = out if isinstance(out, tuple) else (out,)
    results = {f"y{i}": y for i, y in enumerate(outputs)}
    if dy is None or not info.differentiable:
        return results
    names = [n for n in info.arrays if n in arrays]
    extras = {n: arrays[n] for n in info.keyword_arrays() if n in arrays}
    y, pullback = npcnn.vjp(op, *[arrays[n] for n in names], **extras, **params)
    results["vjp:y"] = y
    if np.shape(y) == dy.shape:
        grads = dict(zip(names, pullback(dy.astype(y.dtype))))
        results.update({"d_" + n: grads[n] for n in info.differentiable if n in arrays})
    return results


def _wrong_dtypes(results, dtype):
    return {name: (type(v).__name__, getattr(v, "dtype", None)) for name, v in results.items()
            if not isinstance(v, (np.ndarray, np.generic)) or v.dtype != np.dtype(dtype)}


@pytest.mark.parametrize("op", sorted(OPS))
@settings(max_examples=10)
@given(data=st.data())
def test_float32_cases_give_float32_outputs_and_gradients(op, data):
    case = data.draw(case_strategy(op, "float32"))
    results = _float_results(op, case.arrays, case.params, case.dy)
    shapes = {n: a.shape for n, a in case.arrays.items()}
    wrong = _wrong_dtypes(results, "float32")
    assert not wrong, f"{op} on shapes {shapes}, params {case.params}: {wrong}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(), (4,)])
@pytest.mark.parametrize("op", ELEMENTWISE)
def test_elementwise_ops_keep_the_dtype_of_0d_and_nd_inputs(op, shape, dtype):
    params = {"rate": 0.5, "seed": 1} if op == "dropout" else {}
    for value in BRANCH_VALUES:
        x = np.full(shape, value, dtype=dtype)
        results = _float_results(op, {OPS[op].arrays[0]: x}, params, np.full(shape, 1.5, dtype=dtype))
        assert set(results) >= {"y0", "vjp:y", f"d_{OPS[op].arrays[0]}"}
        wrong = _wrong_dtypes(results, dtype)
        assert not wrong, f"{op}({value!r} as {dtype} of shape {shape}): {wrong}"


@pytest.mark.parametrize("op", ["mean_squared_error", "softmax_cross_entropy_with_logits",
                                "sparse_softmax_cross_entropy_with_logits"])
def test_losses_of_one_example_keep_float32(op):
    # one example of 3 classes: the loss and its dy are 0-d
    logits = np.array([0.5, -1.0, 2.0], np.float32)
    other = np.int64(2) if op.startswith("sparse") else np.array([0.2, 0.3, 0.5], np.float32)
    first, second = OPS[op].arrays
    arrays = {first: other, second: logits}
    results = _float_results(op, arrays, {}, np.array(0.75, np.float32))
    wrong = _wrong_dtypes(results, "float32")
    assert not wrong, f"{op} of one example: {wrong}"
