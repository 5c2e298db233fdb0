"""Whatever the code under test returns, raises or does, each case gets an outcome, and the same one
with or without the worker process (``--in-process``): odd return values are judged where the code
ran, never an exception in crosscheck's comparison; its SystemExit and KeyboardInterrupt are its
errors; a parameter it lacks is named."""
import importlib
import sys

import numpy as np
import pytest

from crosscheck.case import Case
from crosscheck.runner import run_case

HEADER = '''"""A user's relu, one variant of how people get it wrong (or differently right)."""
import sys
import numpy as np
from npcnn.functional import *  # noqa: F401,F403
from npcnn.functional import vjp as _vjp


class Activation:              # a class of the user's own, returned where an array belongs
    def __init__(self, values):
        self.values = values


class TensorLike:              # a torch- or cupy-like array: it converts, but is not an ndarray
    def __init__(self, values):
        self.values = values

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.values, dtype=dtype)


class Unconvertible:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no host copy of a device buffer")
'''

# variant -> (relu's body or a whole definition, the expected status, words the message must hold)
RELU_BODIES = {
    "object-array-of-str": ("return np.array([['on', 'off']], dtype=object)", "implementation-error", "dtype object"),
    "ragged-list": ("return [[1.0, 2.0], [3.0]]", "implementation-error", "ragged list"),
    "list-of-numbers": ("return np.maximum(features, 0).tolist()", "mismatch", "returned a list"),
    "str": ("return 'relu'", "implementation-error", "a str"),
    "dict": ("return {'y': np.maximum(features, 0)}", "implementation-error", "a dict"),
    "own-class": ("return Activation(np.maximum(features, 0))", "implementation-error", "Activation"),
    "tensor-like": ("return TensorLike(np.maximum(features, 0))", "mismatch", "TensorLike"),
    "unconvertible": ("return Unconvertible()", "implementation-error", "no host copy"),
    "masked-array": ("return np.ma.masked_array(np.maximum(features, 0))", "pass", ""),
    "str-scalar": ("return np.str_('0')", "implementation-error", "str"),
    "deep-nesting": ("v = 0.0\n    for _ in range(100):\n        v = [v]\n    return v", "implementation-error", "nested"),
    "float64-for-float32": ("return np.maximum(features, 0).astype(np.float64)", "mismatch", ""),
    "writes-its-input": ("np.maximum(features, 0, out=features)\n    return features", "mismatch", ""),
    "sys-exit": ("sys.exit(0)", "implementation-error", "SystemExit"),
    "keyboard-interrupt": ("raise KeyboardInterrupt", "implementation-error", "KeyboardInterrupt"),
}

WHOLE = {
    "wrong-parameter-name": ("def relu(x):\n    return np.maximum(x, 0)\n", "implementation-error", "features"),
    "pullback-writes-its-output": ('''
def relu(features):
    return np.maximum(features, 0)

def vjp(op, *arrays, **params):
    if op != "relu":
        return _vjp(op, *arrays, **params)
    y = np.maximum(arrays[0], 0)
    def pullback(dy):
        y[...] = dy * (y > 0)          # reuses the forward output's buffer for the gradient
        return (y,)
    return y, pullback
''', "mismatch", ""),
    "vjp-not-a-pair": ('''
def relu(features):
    return np.maximum(features, 0)

def vjp(op, *arrays, **params):
    return np.maximum(arrays[0], 0)
''', "implementation-error", "not a pair"),
}


def _module_source(variant: str) -> str:
    if variant in RELU_BODIES:
        return HEADER + f"\n\ndef relu(features):\n    {RELU_BODIES[variant][0]}\n"
    return HEADER + WHOLE[variant][0]


def _case(dtype="float32"):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3)).astype(dtype)
    return Case("relu", {}, {"features": x}, rng.standard_normal((2, 3)).astype(dtype), dtype, 0)


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(variant: str) -> str:
        name = "hostile_" + variant.replace("-", "_")
        (tmp_path / f"{name}.py").write_text(_module_source(variant))
        return name
    yield write
    for name in [m for m in sys.modules if m.startswith("hostile_")]:
        del sys.modules[name]


def _expected(variant):
    return (RELU_BODIES.get(variant) or WHOLE[variant])[1:]


@pytest.mark.parametrize("variant", list(RELU_BODIES) + list(WHOLE))
def test_one_verdict_in_the_worker_and_in_process(hostile, variant):
    name = hostile(variant)
    status, words = _expected(variant)
    isolated = run_case(_case(), name, isolated=True)
    in_process = run_case(_case(), importlib.import_module(name))
    for outcome in (isolated, in_process):
        assert outcome.status == status, (variant, outcome.status, outcome.message)
        text = outcome.message + " ".join(d.note + str(d.diagnosis) for d in outcome.diffs)
        assert words in text, (variant, text)
        assert "crosscheck bug" not in text
    assert [(d.tensor, d.passed) for d in isolated.diffs] == [(d.tensor, d.passed) for d in in_process.diffs]


def test_a_pullback_writing_into_its_forward_output_is_named(hostile):
    outcome = run_case(_case(), hostile("pullback-writes-its-output"), isolated=True)
    failing = [d for d in outcome.diffs if not d.passed]
    assert [d.tensor for d in failing] == ["output y"]      # the values themselves are right
    assert "pullback writes into the forward output" in failing[0].note


def test_a_parameter_the_function_lacks_is_named(hostile):
    outcome = run_case(_case(), hostile("wrong-parameter-name"), isolated=True)
    assert "relu(x)" in outcome.message and "unexpected keyword argument 'features'" in outcome.message
    assert "lacks the parameter `features`" in outcome.message and "TensorFlow's names" in outcome.message


WORKER_ONLY = {   # what would end crosscheck's own process if it ran there: a crash or a timeout of the case
    "array-that-sleeps": ("class Slow:\n    def __array__(self, dtype=None, copy=None):\n        import time; time.sleep(60)\n"
                          "\ndef relu(features):\n    return Slow()\n", "implementation-timeout", "within"),
    "array-that-aborts": ("import os\nclass Fatal:\n    def __array__(self, dtype=None, copy=None):\n        os.abort()\n"
                          "\ndef relu(features):\n    return Fatal()\n", "implementation-crash", "SIGABRT"),
    "reduce-that-aborts": ("import os\nclass Fatal(np.ndarray):\n    def __reduce__(self):\n        os.abort()\n"
                           "\ndef relu(features):\n    return np.maximum(features, 0).view(Fatal)\n", "pass", ""),
}


@pytest.mark.parametrize("variant", list(WORKER_ONLY))
def test_what_would_kill_crosscheck_costs_one_case(tmp_path, monkeypatch, variant):
    from crosscheck import implementation
    monkeypatch.syspath_prepend(str(tmp_path))
    name = "hostile_" + variant.replace("-", "_")
    (tmp_path / f"{name}.py").write_text(HEADER + WORKER_ONLY[variant][0])
    proxy = implementation.load_impl(name, isolated=True, timeout=3)
    monkeypatch.setitem(implementation._ISOLATED, name, proxy)
    try:
        outcome = run_case(_case(), name, isolated=True)
    finally:
        proxy.close()
    status, words = WORKER_ONLY[variant][1:]
    assert outcome.status == status, outcome.message
    assert words in outcome.message


def test_a_sigkill_crosscheck_did_not_send_names_the_oom_killer_and_the_peak_memory(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "hostile_oom.py").write_text(HEADER + (
        "import os, signal, time\n\ndef relu(features):\n"
        "    hog = np.ones(300 * 2**20 // 8)       # 300 MiB, touched\n"
        "    os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's out-of-memory killer does\n"))
    outcome = run_case(_case(), "hostile_oom", isolated=True)
    assert outcome.status == "implementation-crash"
    assert "SIGKILL" in outcome.message and "out-of-memory killer" in outcome.message
    peak = int(outcome.message.split("memory peaked at ")[1].split(" MiB")[0])
    assert 300 <= peak < 2000


def test_a_crash_carries_the_python_traceback_of_the_code_under_test(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "hostile_abort_in_relu.py").write_text(HEADER + "import os\n\ndef relu(features):\n    os.abort()\n")
    outcome = run_case(_case(), "hostile_abort_in_relu", isolated=True)
    assert outcome.status == "implementation-crash"
    assert "SIGABRT" in outcome.message and "hostile_abort_in_relu.py" in outcome.message


@pytest.mark.parametrize("variant, kind", [("sys-exit", "SystemExit"), ("keyboard-interrupt", "KeyboardInterrupt")])
def test_error_parity_in_process_takes_the_codes_exits_for_its_answer(hostile, variant, kind):
    from crosscheck.error_parity import impl_verdict
    from crosscheck.registry import get_op
    info = get_op("relu")
    verdict, detail, _ = impl_verdict(info, info.error_inputs()[0], importlib.import_module(hostile(variant)))
    assert verdict == f"raises {kind}" and kind in detail


def test_error_parity_in_process_judges_an_unconvertible_return_without_raising(hostile):
    from crosscheck.error_parity import check_error_input
    from crosscheck.registry import get_op
    info = get_op("relu")
    for error_input in info.error_inputs():
        check_error_input(info, error_input, importlib.import_module(hostile("unconvertible")))


def test_an_import_that_hangs_is_stopped_within_the_call_limit(tmp_path, monkeypatch):
    import time
    from crosscheck.isolation import WorkerTimeout
    from crosscheck.implementation import load_impl
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "hostile_slow_import.py").write_text("import time\ntime.sleep(600)\n")
    started = time.monotonic()
    with pytest.raises(WorkerTimeout, match="importing the code under test did not finish within 2 s"):
        load_impl("hostile_slow_import", isolated=True, timeout=2)
    assert time.monotonic() - started < 30


def test_a_run_whose_code_cannot_be_loaded_leaves_a_finished_failing_report(tmp_path, monkeypatch, capsys):
    import json
    from crosscheck.cli import main
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hostile_import_raises.py").write_text("raise RuntimeError('no GPU found')\n")
    code = main(["run", "--impl", "hostile_import_raises", "--ops", "relu", "--examples", "1", "--in-process",
                 "--report", "rep"])
    assert code == 2 and "no GPU found" in capsys.readouterr().err
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["ok"] is False and not doc.get("in_progress") and "the run did not start" in doc["problems"][0]


def test_a_call_the_users_signature_refuses_is_not_blamed_on_crosscheck():
    from crosscheck import tracebacks

    def relu_backward(dout):
        return dout
    # called from a frame of crosscheck's own, as an adapter calls the user's function
    adapter = compile("try:\n    relu_backward(1.0, ('cache',))\nexcept TypeError as exc:\n    caught = exc\n",
                      tracebacks.__file__, "exec")
    scope = {"relu_backward": relu_backward}
    exec(adapter, scope)
    text = tracebacks.user_traceback(scope["caught"])
    assert "crosscheck bug" not in text and "takes 1 positional argument" in text
    assert "its parameters are not the ones crosscheck passes" in text


def test_an_answer_that_cannot_be_pickled_becomes_the_answer_that_says_so():
    from crosscheck.isolation_worker import _pickled
    from crosscheck.returned import loads_plain
    assert loads_plain(_pickled(("ok", np.ones(2), {}, {})))[0] == "ok"
    status, base, message, _ = loads_plain(_pickled(("ok", (lambda: 0), {}, {})))
    assert (status, base) == ("raise", "TypeError") and "cannot be sent back from the worker" in message
