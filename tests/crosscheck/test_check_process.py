"""`crosscheck check` imports the user's file only in its worker: whatever the file does at module
level (a chdir, sys.exit, input(), os._exit) happens there, never in the command's process, and the
report and replay files stay where the command announced them."""
import io
import json
import os
import pickle
import re
import sys
import types
from pathlib import Path

import pytest

from crosscheck.check import LayerPlan, Target, check_target, examine

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import crosscheck as in_process  # noqa: E402

# a student's file that moves to its own directory at import (to open its data files) and says,
# in a marker file, which process imported it
CHDIR_PREAMBLE = """import os
os.chdir(os.path.dirname(os.path.abspath(__file__)))
with open(os.environ["CROSSCHECK_TEST_MARKER"], "a") as marker:
    marker.write(f"{os.getpid()}\\n")
import numpy as np
"""
CS231N_BODY = """
def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return dout * (cache > 0) * 2      # wrong: twice the gradient
"""
LAYERS_BODY = """
class ReLU:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, d_out):
        return d_out * (self.x > 0) * 2      # wrong: twice the gradient
"""


def run_check(args, cwd) -> tuple[int, str]:
    """``crosscheck check ARGS`` in this process (its worker forked from the fork server), run from ``cwd``."""
    r = in_process(["check", *args], cwd, cwd)
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("convention, body", [("cs231n", CS231N_BODY), ("layers", LAYERS_BODY)])
def test_a_chdir_at_import_moves_nothing_the_command_writes(tmp_path, monkeypatch, convention, body):
    marker = tmp_path / "imported-by"
    monkeypatch.setenv("CROSSCHECK_TEST_MARKER", str(marker))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "student.py").write_text(CHDIR_PREAMBLE + body)
    code, out = run_check(["sub/student.py", "--convention", convention, "--examples", "2"], tmp_path)
    assert code == 1, out

    importers = {int(pid) for pid in marker.read_text().split()}
    assert importers and os.getpid() not in importers      # imported by the worker only
    assert not any(getattr(m, "__file__", None) == str(tmp_path / "sub" / "student.py") for m in sys.modules.values())

    report = tmp_path / "crosscheck-report" / "report.json"
    assert f"report: {report}" in out                       # absolute, decided before the file ran
    doc = json.loads(report.read_text())
    assert not doc.get("in_progress") and doc["functions"] and doc["outcomes"]
    assert not (tmp_path / "sub" / "crosscheck-report").exists()
    replays = re.findall(r"crosscheck replay (\S+) --check sub/student\.py", out)
    assert replays and all(Path(p).is_absolute() and Path(p).is_file() for p in replays)
    assert {o["replay"]["file"] for o in doc["outcomes"]} <= set(replays)


@pytest.mark.parametrize("source, reason", [
    ("import sys\nsys.exit(0)\n", "called sys.exit(0) at module level"),
    ("name = input('your name? ')\n", "read from stdin (input()) at module level"),
    ("import os\nos._exit(0)\n", "ended the Python process"),
    ("import os\nos.abort()\n", "crashed the Python process: killed by signal SIGABRT"),
])
def test_a_script_at_import_is_one_line_and_exit_1(tmp_path, source, reason):
    """sys.exit, os._exit and os.abort end the worker, not the command; input() reads the worker's stdin,
    which is /dev/null (this process's stdin is an open pipe meanwhile: the worker must not wait on it)."""
    (tmp_path / "script.py").write_text(source)
    read_end, write_end = os.pipe()
    saved_stdin = os.dup(0)
    os.dup2(read_end, 0)
    try:
        code, out = run_check(["script.py", "--examples", "1", "--report", "rep"], tmp_path)
    finally:
        os.dup2(saved_stdin, 0)
        for fd in (saved_stdin, read_end, write_end):
            os.close(fd)
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0] == "crosscheck check: cannot load script.py"
    assert lines[1].startswith("importing script.py ") and reason in lines[1], out
    assert "crosscheck/" not in out and "<frozen importlib" not in out    # the user's frames only
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert not doc.get("in_progress") and doc["load_error"].startswith(lines[1])


LAYERS_SOURCE = """
import numpy as np
import crosscheck

class Sizes(tuple):
    pass

class Stride:
    pass

class Name(str):
    pass

class ReLU:
    def forward(self, x):
        return x

    def backward(self, d_out):
        return d_out

LAYERS = [
    crosscheck.Layer(make=lambda config: ReLU(), op="max_pool2d", name="plain",
                     supports={"in_channels": [np.int64(1), 2], "square": np.bool_(True), "strides": Sizes((1,))}),
    crosscheck.Layer(make=lambda config: ReLU(), op="max_pool2d", name="own_class", supports={"strides": (Stride(),)}),
    crosscheck.Layer(make=lambda config: ReLU(), op="relu", name="unknown_field", supports={"stride": (1,)}),
    crosscheck.Layer(make=lambda config: ReLU(), op="rlu", name="unknown_op"),
    crosscheck.Layer(make=lambda config: ReLU(), op=Name("relu"), name=Name("own_str"), layout=Name("NHWC")),
    ReLU(),
]
"""


class OnlyCrosscheckClasses(pickle.Unpickler):
    """An unpickler that refuses every class but crosscheck's and the built-ins."""

    def find_class(self, module, name):
        assert module == "builtins" or module.startswith("crosscheck."), f"{module}.{name}"
        return super().find_class(module, name)


def test_the_target_a_worker_sends_holds_plain_values_only():
    """What a worker reports of the user's module unpickles without the user's module: no class of
    it, no subclass of a built-in, no NumPy scalar; a declaration that cannot be made plain is an
    error row naming the field."""
    module = types.ModuleType("student_layers")
    exec(compile(LAYERS_SOURCE, "student_layers.py", "exec"), module.__dict__)
    target, specs = examine(module, "layers")
    assert OnlyCrosscheckClasses(io.BytesIO(pickle.dumps(target, protocol=5))).load() == target
    plain, own_class, unknown_field, unknown_op, own_str, not_a_layer = target.layers
    assert plain == LayerPlan("plain", "max_pool2d", "NCHW", {"in_channels": (1, 2), "square": True, "strides": (1,)})
    assert type(plain.supports["in_channels"][0]) is int and type(plain.supports["square"]) is bool
    assert type(plain.supports["strides"]) is tuple
    assert own_class.problem == ("own_class: supports['strides'] holds a Stride; give numbers, strings, booleans "
                                 "and tuples of them")
    assert unknown_field.problem.startswith("unknown_field: supports has no field 'stride'; known: kernel_sizes")
    assert unknown_op.problem.startswith("unknown_op: op='rlu' is not one of conv2d")
    assert own_str == LayerPlan("own_str", "relu", "NHWC")      # crosscheck's own strings, not the user's class
    assert not_a_layer.problem == "LAYERS[5] must be a crosscheck.Layer, got ReLU"
    assert [s.run is None for s in specs] == [False, True, True, True, False, True]


def test_a_target_is_checked_in_its_worker_only():
    with pytest.raises(ValueError, match="give worker="):
        check_target(Target("cs231n", frozenset({"relu_forward"})))


class UsersStr(str):
    """A class of the checked code's (here: of this test module, which the command's process cannot load)."""


def _spec_returning(outcome_of_case):
    from crosscheck.check import Spec
    return Spec("relu_forward", ("relu_forward",), None, lambda module, case, options: outcome_of_case(case), ("y",))


def test_a_worker_reply_names_crosscheck_numpy_and_builtin_classes_only():
    """An Outcome that would carry an object of the checked code's classes to the command (whose
    process would then import the user's file to unpickle it) becomes an implementation-error naming
    the class; the function's name in a reply is always crosscheck's string."""
    import numpy as np

    from crosscheck.case import Case, Outcome
    from crosscheck.check.worker import _answer
    case = Case("relu", {}, {"features": np.ones((2, 3))}, np.ones((2, 3)), "float64", 0)
    state = {"module": None, "specs": {"relu_forward": _spec_returning(
        lambda case: Outcome(case, "pass", impl=UsersStr("relu_forward")))}}
    status, outcome = _answer(state, ("check", "relu_forward", case, {}))
    assert (status, outcome.status, type(outcome.impl)) == ("ok", "pass", str)
    state["specs"]["relu_forward"] = _spec_returning(lambda case: Outcome(case, "pass", notes=[UsersStr("a note")]))
    status, outcome = _answer(state, ("check", "relu_forward", case, {}))
    assert outcome.status == "implementation-error"
    assert outcome.message.startswith("relu_forward: gave back an object of class test_check_process.UsersStr")
