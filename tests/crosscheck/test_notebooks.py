"""Notebooks and their exports: loaded cell by cell (failing cells skipped and listed), NumPy 2
incompatibilities named with their line, each deeplearning-ai function checked on its own, the
convention told from the file, and ``crosscheck.check(...)`` in the running process (a kernel)."""
import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import crosscheck
from crosscheck.check import LoadError, check_target, load_user_code
from crosscheck.check import notebook as nb
from crosscheck.check.auto_convention import pick_convention
from crosscheck.check.deeplearning_ai_reference import (
    conv_forward as reference_conv_forward,
)
from crosscheck.cli import main
from crosscheck.numpy2 import cause_in, exception_note

NOTEBOOKS = Path(__file__).parent / "student_files" / "notebooks"
FILES = Path(__file__).parent / "student_files"


@functools.cache
def _buggy():
    return load_user_code(str(NOTEBOOKS / "step_by_step_buggy.ipynb"))


@pytest.fixture
def buggy():
    return _buggy()


def _write_notebook(path: Path, sources: list[str]) -> Path:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# A title\n"]}]
    cells += [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
               "source": s.splitlines(keepends=True)} for s in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_failing_cells_are_skipped_and_listed(buggy):
    lines = nb.skipped_cells(buggy)
    assert lines[0].startswith("cell 1 'import numpy as np' an import failed: ModuleNotFoundError: No module named "
                               "'public_tests'; the rest of the cell ran")
    assert any(line.startswith("cell 3 'np.random.seed(1)' skipped: NameError: name 'zero_pad_test'") for line in lines)
    assert all(callable(getattr(buggy, name)) for name in ("zero_pad", "conv_forward", "conv_backward", "pool_backward"))
    assert buggy.np is np    # the imports after the failed one ran


def test_exports_load_with_ipython_lines_neutralised():
    export = load_user_code(str(NOTEBOOKS / "step_by_step_export.py"))
    percent = load_user_code(str(NOTEBOOKS / "step_by_step_percent.py"))
    assert callable(export.conv_backward) and callable(percent.conv_backward)
    assert nb.skipped_cells(export)[0].startswith("cell 2 (line 24) 'import numpy as np' an import failed")
    assert percent.files is None    # files = !ls


def test_cell_magics_timeouts_and_broken_notebooks(tmp_path, monkeypatch):
    monkeypatch.setattr(nb, "CELL_TIMEOUT_S", 0.5)
    path = _write_notebook(tmp_path / "magics.ipynb", [
        "%%time\nx = 1", "%%bash\necho hi", "get_ipython().run_cell_magic('time', '', 'y = 2')",
        "while True:\n    pass", "def f():\n    return x + y", "f(", "print(undefined)\nz = 3"])
    module = load_user_code(str(path))
    assert (module.x, module.y, module.f()) == (1, 2, 3) and not hasattr(module, "z")
    lines = nb.skipped_cells(module)
    assert [line.split(" ", 2)[1] for line in lines] == ["2", "4", "6", "7"]
    assert "%%bash cell: not Python" in lines[0] and "did not finish within 0.5 s" in lines[1]
    assert "SyntaxError" in lines[2] and "NameError: name 'undefined' is not defined" in lines[3]
    (tmp_path / "broken.ipynb").write_text("{not json")
    with pytest.raises(LoadError, match=r"broken.ipynb: not a notebook \(invalid JSON at line 1"):
        load_user_code(str(tmp_path / "broken.ipynb"))
    (tmp_path / "list.ipynb").write_text("[1, 2]")
    with pytest.raises(LoadError, match="no 'cells' list"):
        load_user_code(str(tmp_path / "list.ipynb"))


def test_numpy2_incompatibility_is_named_with_shape_function_and_line(buggy):
    (row,) = check_target(buggy, "deeplearning-ai", examples=3, only=["conv_single_step"])
    assert row.verdict == "failed"
    assert list(row.causes) == [("NumPy 2 incompatibility: float() of an array of shape (1, 1, 1) at conv_single_step "
                                 "line 19 (step_by_step_buggy.ipynb cell 4): use float(b.item()) or np.squeeze(b)")]


def test_removed_numpy_aliases_are_named():
    def old_code(x):
        return np.asarray(x, dtype=np.float)

    def older_code(x):
        return np.NaN * x

    def real_bug(x):
        return float(np.ones(3))

    notes = []
    for fn in (old_code, older_code, real_bug):
        try:
            fn(1.0)
        except Exception as exc:   # noqa: BLE001
            notes.append(exception_note(exc))
    assert notes[0].startswith("NumPy 2 incompatibility: np.float was removed at old_code line ")
    assert notes[0].endswith("(test_notebooks.py): use float (or np.float64)")
    assert notes[1].startswith("NumPy 2 incompatibility: np.NaN was removed at older_code") and "np.nan" in notes[1]
    assert notes[2] == ""    # a 3-element array: a real bug, not NumPy 2's
    assert cause_in("Traceback ...\nTypeError: x\n" + notes[0] + "\n") == notes[0]


def test_conv_backward_is_checked_on_its_own():
    export = load_user_code(str(NOTEBOOKS / "step_by_step_export.py"))   # float(b): its conv_single_step raises
    own_step = export.conv_single_step
    rows = {r.function: r for r in check_target(export, "deeplearning-ai", examples=3,
                                                only=["conv_single_step", "conv_forward", "conv_backward"])}
    assert rows["conv_single_step"].verdict == "failed"
    assert rows["conv_forward"].verdict == rows["conv_backward"].verdict == "passed"
    assert export.conv_single_step is own_step     # the user's own function is back after the check


def test_buggy_conv_backward_bug_is_real_by_finite_differences(buggy):
    rng = np.random.default_rng(3)
    A, W, b = rng.standard_normal((1, 4, 4, 2)), rng.standard_normal((2, 2, 2, 3)), rng.standard_normal((1, 1, 1, 3))

    def numeric_dW(hparameters, dZ):
        grad, eps = np.zeros_like(W), 1e-6
        for index in np.ndindex(W.shape):
            step = np.zeros_like(W)
            step[index] = eps
            up = np.sum(reference_conv_forward(A, W + step, b, hparameters)[0] * dZ)
            down = np.sum(reference_conv_forward(A, W - step, b, hparameters)[0] * dZ)
            grad[index] = (up - down) / (2 * eps)
        return grad

    for pad, right in ((0, True), (1, False)):
        hparameters = {"stride": 2, "pad": pad}
        Z, cache = reference_conv_forward(A, W, b, hparameters)
        dZ = rng.standard_normal(Z.shape)
        try:
            dW = buggy.conv_backward(dZ, cache)[1]
        except ValueError:
            assert not right
            continue
        assert np.allclose(dW, numeric_dW(hparameters, dZ), atol=1e-6) == right, pad


def test_auto_convention_is_told_from_the_definitions(buggy):
    assert pick_convention(buggy) == ("deeplearning-ai", ("it defines zero_pad, conv_single_step, "
                                                          "create_mask_from_window, distribute_value and 4 more"))
    assert pick_convention(load_user_code(str(FILES / "cs231n/correct_2022.py")))[0] == "cs231n"
    assert pick_convention(load_user_code(str(FILES / "layers/style_attrs.py")))[0] == "layers"
    assert pick_convention(sys.modules["json"]) == ("cs231n", "")


def test_crosscheck_check_in_the_running_process(buggy):
    result = crosscheck.check(buggy.conv_backward, examples=3)
    assert [r.function for r in result.rows] == ["conv_backward"] and not result.ok
    html = result._repr_html_()
    assert "<code>conv_backward</code>" in html and ">failed</td>" in html and "raises ValueError" in html
    assert "Smallest failing case" in html and "conv2d(input=" in html
    assert repr(result).splitlines()[2].split()[:2] == ["conv_backward", "failed"]
    everything = crosscheck.check(vars(buggy), convention="deeplearning-ai", examples=2,
                                  functions=["zero_pad", "pool_forward"])
    assert everything.ok and [r.verdict for r in everything.rows] == ["passed", "passed"]
    assert ">passed</td>" in everything._repr_html_()
    with pytest.raises(ValueError, match="my_conv is not a function name of any convention"):
        def my_conv(x):
            return x
        crosscheck.check(my_conv)
    with pytest.raises(ValueError, match="convention='tf' is not one of auto, cs231n"):
        crosscheck.check(buggy.conv_backward, convention="tf")


def test_import_crosscheck_stays_light():
    code = "import sys, crosscheck; assert 'crosscheck.check' not in sys.modules; print(callable(crosscheck.check))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.stdout.strip() == "True", out.stderr[-500:]


def test_cli_checks_a_notebook(tmp_path, capsys):
    report = tmp_path / "r"
    assert main(["check", str(NOTEBOOKS / "step_by_step_buggy.ipynb"), "--examples", "3", "--report", str(report)]) == 1
    out = capsys.readouterr().out
    assert "convention: deeplearning-ai (picked automatically: it defines zero_pad" in out
    assert "cell 1 'import numpy as np' an import failed" in out
    assert "NumPy 2 incompatibility: float() of an array of shape (1, 1, 1) at conv_single_step line 19" in out
    doc = json.loads((report / "report.json").read_text())
    assert doc["convention"] == "deeplearning-ai" and len(doc["load_notes"]) == 6
    verdicts = {f["name"]: f["verdict"] for f in doc["functions"]}
    assert verdicts["conv_single_step"] == verdicts["conv_backward"] == "failed"
    assert verdicts["conv_forward"] == "passed"


def test_a_mask_holding_values_not_ones_fails():
    """create_mask_from_window must return ones (or True) at the maximum: a mask holding the window's
    values there (``x * (x == x.max())``) scales pool_backward's gradient, and must not pass as a mask."""
    def check(mask):
        return crosscheck.check({"create_mask_from_window": mask}, convention="deeplearning-ai", examples=6)
    assert check(lambda x: x * (x == np.max(x))).rows[0].verdict == "failed"
    assert check(lambda x: x == np.max(x)).ok and check(lambda x: (x == np.max(x)) * 1.0).ok
