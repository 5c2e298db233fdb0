"""An isolated implementation gets one request per case (the forward, the vjp and the pullback run
in the worker on it), and records there what it records in crosscheck's process: the same
ImplResult, field by field; each call keeps its own time limit, and a crash keeps the inputs
written before it."""
import sys

import numpy as np
import pytest

from crosscheck import isolation
from crosscheck.case import IMPLEMENTATION_CRASH, IMPLEMENTATION_TIMEOUT, Case
from crosscheck.implementation import call_impl, load_impl
from crosscheck.registry import get_op

MODULE = '''"""npcnn.functional, with one way of breaking the vjp convention per op."""
import os
import sys
import time
import numpy as np
from npcnn.functional import *  # noqa: F401,F403
from npcnn.functional import vjp as _vjp, elu as _elu, log_softmax as _log_softmax


def elu(features):
    features *= 2                       # writes its input
    return _elu(features)


def log_softmax(logits):
    logits += 1                         # writes its input, then the vjp crashes
    return _log_softmax(logits)


def moments(x, axes, keepdims=False):   # a callable where the mean belongs
    return (lambda: 0), np.var(x, axis=tuple(axes), keepdims=keepdims)


def leaky_relu(features):               # lacks the parameter alpha
    return np.maximum(features, 0)


def relu(features):
    _slow(features)
    return np.maximum(features, 0)


SLEEP = 0.0


def _slow(x):                           # each call of a batch of 2 sleeps SLEEP s; a pullback of 3 hangs
    time.sleep(SLEEP if len(x) == 2 else 0.0)


def vjp(op, *arrays, **params):
    if op == "relu":
        _slow(arrays[0])
        y, pullback = _vjp(op, *arrays, **params)

        def slow_pullback(dy):
            _slow(dy)
            if len(dy) == 3:
                time.sleep(600)
            return pullback(dy)
        return y, slow_pullback
    if op == "log_softmax":
        os.abort()
    if op == "softplus":
        sys.exit(3)
    if op == "softmax":
        return [1, 2, 3]
    y, pullback = _vjp(op, *arrays, **params)
    if op == "sigmoid":
        return y, lambda dy: pullback(dy)[0]          # a bare array, not a tuple
    if op == "tanh":
        return y[:1], pullback                         # another forward shape than TensorFlow's
    if op == "elu":
        def writing_pullback(dy):
            dy *= 0.5                                  # writes dy
            return pullback(dy)
        return y, writing_pullback
    return y, pullback
'''


def _case(op: str, params=None, shape=(2, 3)) -> Case:
    info = get_op(op)
    rng = np.random.default_rng(7)
    arrays = {info.arrays[0]: rng.standard_normal(shape)}
    return Case(op, dict(params or {}), arrays, rng.standard_normal(shape), "float64", 0)


CASES = [("relu", None), ("sigmoid", None), ("tanh", None), ("elu", None), ("softplus", None),
         ("leaky_relu", {"alpha": 0.2}), ("softmax", None), ("moments", {"axes": [0]}), ("relu", None)]


def _fields(result) -> dict:
    tensors = {k: (type(v).__name__, getattr(v, "dtype", None), np.shape(v), np.asarray(v).tobytes())
               for k, v in result.tensors.items()}
    return {**vars(result), "tensors": tensors}


@pytest.fixture
def module_name(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "one_request_impl.py").write_text(MODULE)
    yield "one_request_impl"
    sys.modules.pop("one_request_impl", None)


@pytest.fixture
def requests(monkeypatch):
    sent = []
    request = isolation.Worker.request

    def counting(self, message, *args, **kwargs):
        sent.append(message[0])
        return request(self, message, *args, **kwargs)
    monkeypatch.setattr(isolation.Worker, "request", counting)
    return sent


def test_one_request_per_case_and_the_same_result_as_in_process(module_name, requests):
    import importlib
    here = importlib.import_module(module_name)
    proxy = load_impl(module_name, isolated=True)
    try:
        for op, params in CASES:
            case = _case(op, params)
            before = len(requests)
            isolated = call_impl(get_op(op), case, proxy)
            assert requests[before:] == ["case"], (op, requests[before:])
            in_process = call_impl(get_op(op), case, here)
            assert _fields(isolated) == _fields(in_process), op
    finally:
        proxy.close()
    by_op = {op: call_impl(get_op(op), _case(op, params), here) for op, params in CASES}
    assert set(by_op["relu"].tensors) == {"y", "vjp:y", "d_features"} and not by_op["relu"].error
    assert "the pullback returned" in by_op["sigmoid"].error and "not a tuple of gradients" in by_op["sigmoid"].error
    assert "gradients are not judged" in by_op["tanh"].not_judged
    assert by_op["elu"].modified == ["features", "dy"]
    assert "SystemExit" in by_op["softplus"].error and "one_request_impl.py" in by_op["softplus"].error
    assert "lacks the parameter `alpha`" in by_op["leaky_relu"].error
    assert "vjp returned a list of 3, not a pair" in by_op["softmax"].error
    assert "returned a function as `mean`" in by_op["moments"].error


def test_a_crash_keeps_the_inputs_written_before_it_and_the_next_case_runs(module_name, requests):
    proxy = load_impl(module_name, isolated=True)
    try:
        crashed = call_impl(get_op("log_softmax"), _case("log_softmax"), proxy)
        assert crashed.stopped == IMPLEMENTATION_CRASH and "SIGABRT" in crashed.error
        assert crashed.modified == ["logits"]        # written by the forward, before the vjp crashed
        after = call_impl(get_op("relu"), _case("relu"), proxy)   # a fresh worker
        assert not after.error and set(after.tensors) == {"y", "vjp:y", "d_features"}
    finally:
        proxy.close()
    assert requests == ["case", "case"]


def test_each_call_keeps_its_own_time_limit(module_name, tmp_path):
    # three calls of 0.8 s under a limit of 1.2 s per call: 2.4 s for the case, and no timeout;
    # a pullback that hangs is still stopped
    path = tmp_path / "one_request_impl.py"
    path.write_text(path.read_text().replace("SLEEP = 0.0", "SLEEP = 0.8"))
    proxy = load_impl(module_name, isolated=True, timeout=1.2)
    try:
        result = call_impl(get_op("relu"), _case("relu"), proxy)
        hung = call_impl(get_op("relu"), _case("relu", shape=(3, 2)), proxy)
    finally:
        proxy.close()
    assert not result.error and not result.stopped
    assert set(result.tensors) == {"y", "vjp:y", "d_features"}
    assert hung.stopped == IMPLEMENTATION_TIMEOUT and "did not finish within 1.2 s" in hung.error
