"""`crosscheck check --convention cs231n`: a correct implementation passes, a broken file or function
gives a clear message (never the checker's traceback), and the Python API works."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crosscheck.cli import main
from crosscheck.check import check_target, function_names, load_user_code, rows_ok

HERE = Path(__file__).parent
REFERENCE = HERE / "cs231n_reference.py"


@pytest.fixture(autouse=True)
def _in_own_directory(tmp_path, monkeypatch):
    """``crosscheck check`` without ``--report`` writes ./crosscheck-report: each test in a directory
    of its own (under -n another test may run the command at the same time)."""
    monkeypatch.chdir(tmp_path)


def test_correct_reference_passes_every_function():
    rows = check_target(load_user_code(str(REFERENCE)), "cs231n", examples=3)
    assert [r.function for r in rows] == [n for n in function_names("cs231n") if not n.endswith(("_fast", "_strides"))]
    assert rows_ok(rows), [(r.function, r.verdict, r.causes) for r in rows if r.verdict != "passed"]
    assert all(r.tried >= 3 for r in rows)


def test_cli_passes_and_prints_the_table(capsys):
    assert main(["check", str(REFERENCE), "--convention", "cs231n", "--examples", "2",
                 "--functions", "conv_forward_naive", "conv_backward_naive"]) == 0
    out = capsys.readouterr().out
    assert "conv_backward_naive" in out and "passed" in out and "OK: 2 of 2" in out


def test_syntax_error_is_a_message_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "layers.py"
    bad.write_text("def conv_forward_naive(x, w, b, conv_param)\n    return x\n")
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "syntax error" in out and "layers.py:1" in out and "crosscheck/" not in out


def test_import_error_and_missing_functions(tmp_path, capsys):
    bad = tmp_path / "imports.py"
    bad.write_text("import no_such_module_here\n")
    assert main(["check", str(bad)]) == 1
    assert "ModuleNotFoundError" in capsys.readouterr().out
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert main(["check", str(empty)]) == 1
    assert "defines none of the cs231n functions" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "missing.py")]) == 1


def test_a_raise_shows_the_users_traceback(tmp_path, capsys):
    f = tmp_path / "raises.py"
    f.write_text("def relu_forward(x):\n    raise NotImplementedError('todo')\n"
                 "def relu_backward(dout, cache):\n    return dout\n"
                 "def affine_backward(dout, cache):\n    return dout\n")
    assert main(["check", str(f), "--examples", "2"]) == 1
    out = capsys.readouterr().out
    assert "not-implemented" in out and "NotImplementedError: todo" in out and "raises.py\", line 2" in out
    # checked on its own: its cache comes from crosscheck's reference affine_forward
    assert "needs affine_forward" not in out and "affine_backward must return 3 gradients" in out
    f.write_text("import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"
                 "def relu_backward(dout, cache):\n    return dout[::2] + np.ones((3, 3, 3))\n")
    assert main(["check", str(f), "--examples", "2"]) == 1
    out = capsys.readouterr().out
    assert "raises ValueError" in out and "relu_backward" in out and "raises.py\", line 5" in out
    assert "crosscheck/check" not in out


def test_wrong_return_type_is_reported(tmp_path, capsys):
    f = tmp_path / "noreturn.py"
    f.write_text("import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0)\n")
    assert main(["check", str(f), "--examples", "1"]) == 1
    assert "relu_forward must return (out, cache)" in capsys.readouterr().out


def test_command_line_entry_point_exit_status(tmp_path):
    f = tmp_path / "bad.py"
    f.write_text("def svm_loss(x, y):\n    return 1.0, x\n")
    r = subprocess.run([sys.executable, "-m", "crosscheck", "check", str(f), "--examples", "2"],
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert "svm_loss" in r.stdout and "failed" in r.stdout and "Traceback" not in r.stderr


class MaxPool2:
    """A layer object like the seeds' (written fresh): 2x2 max pool, stride 2, NHWC."""
    def forward(self, x):
        n, h, w, c = x.shape
        self.x = x
        return x[:, :h - h % 2, :w - w % 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))

    def backward(self, dy):
        n, h, w, c = self.x.shape
        win = self.x[:, :h - h % 2, :w - w % 2].reshape(n, h // 2, 2, w // 2, 2, c)
        hit = win == win.max(axis=(2, 4), keepdims=True)   # tie-free inputs: one hit per window
        dx = np.zeros_like(self.x)
        dx[:, :h - h % 2, :w - w % 2] = (hit * dy[:, :, None, :, None, :]).reshape(n, h - h % 2, w - w % 2, c)
        return dx


def test_python_api_check_op_and_assert_matches_tf():
    import crosscheck
    from crosscheck.case import Case

    def forward(input, ksize, strides, padding, data_format):
        return MaxPool2().forward(input)

    def backward(dy, input, ksize, strides, padding, data_format):
        layer = MaxPool2()
        layer.forward(input)
        return (layer.backward(dy),)

    rng = np.random.default_rng(0)
    x = np.linspace(-1, 1, 2 * 6 * 4 * 3)[rng.permutation(144)].reshape(2, 6, 4, 3)
    case = Case("max_pool2d", dict(ksize=[2, 2], strides=[2, 2], padding="VALID", data_format="NHWC"),
                {"input": x}, rng.standard_normal((2, 3, 2, 3)), "float64", 0)
    assert crosscheck.assert_matches_tf(case, forward, backward).status == "pass"
    bad = lambda dy, **kw: (2 * backward(dy, **kw)[0],)
    try:
        crosscheck.assert_matches_tf(case, forward, bad)
    except AssertionError as e:
        assert "scale-factor" in str(e)
    else:
        raise AssertionError("a doubled gradient must fail")


from cs231n_layer_example import test_conv3x3_matches_tf, test_maxpool2_matches_tf  # noqa: E402,F401  (docs example)


def test_docs_example_catches_an_unflipped_backward(monkeypatch):
    import crosscheck
    import cs231n_layer_example as ex

    def backward(self, dout):   # the classic mistake: dx through the kernel rotated by 180 degrees
        n, h, w, _ = self.x.shape
        dx, self.dw = np.zeros_like(self.x), np.zeros_like(self.w)
        for i in range(3):
            for j in range(3):
                self.dw[i, j] = np.tensordot(self.x[:, i:i + h - 2, j:j + w - 2, :], dout, axes=([0, 1, 2], [0, 1, 2]))
                dx[:, i:i + h - 2, j:j + w - 2, :] += dout @ self.w[2 - i, 2 - j].T
        return dx
    monkeypatch.setattr(ex.Conv3x3, "backward", backward)
    from crosscheck.case import Case
    rng = np.random.default_rng(1)
    case = Case("conv2d", dict(strides=[1, 1], padding="VALID", dilations=[1, 1], data_format="NHWC"),
                {"input": rng.standard_normal((2, 6, 5, 2)), "filters": rng.standard_normal((3, 3, 2, 3))},
                rng.standard_normal((2, 4, 3, 3)), "float64", 1)
    try:
        crosscheck.assert_matches_tf(case, ex.conv_forward, ex.conv_backward)
    except AssertionError as e:
        assert "flipped-kernel" in str(e)
    else:
        raise AssertionError("the flipped backward must fail")


def test_report_files_carry_the_diagnosis(tmp_path, capsys):
    import json
    f = tmp_path / "svm.py"
    f.write_text(REFERENCE.read_text().replace("dx = positive / N", "dx = -positive / N"))
    assert main(["check", str(f), "--functions", "svm_loss", "--examples", "2", "--report", str(tmp_path / "r")]) == 1
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    labels = {c["label"] for o in doc["outcomes"] for d in o["diffs"] for c in d["diagnosis"]}
    assert "sign-flip" in labels
    assert "sign-flip" in (tmp_path / "r" / "report.html").read_text()


def test_check_op_over_the_registry_strategy():
    import crosscheck
    import npcnn.functional as F

    def forward(input, ksize, strides, padding="VALID", data_format="NHWC"):
        return F.avg_pool2d(input, ksize, strides, padding, data_format)

    def backward(dy, input, **params):
        return F.vjp("avg_pool2d", input, **params)[1](dy)

    outcomes = crosscheck.check_op("avg_pool2d", forward, backward, layout="NCHW", examples=4)
    assert len(outcomes) == 4 and all(o.case.params["data_format"] == "NCHW" for o in outcomes)
    try:
        crosscheck.check_op("avg_pool2d", forward, lambda dy, input, **p: (-backward(dy, input, **p)[0],),
                            examples=3)
    except AssertionError as e:
        assert "sign-flip" in str(e)
    else:
        raise AssertionError("a negated gradient must fail")


def test_module_name_target(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(HERE))
    assert main(["check", "cs231n_reference", "--functions", "relu_forward", "--examples", "2"]) == 0


def _pool_all_ties(dy, input, ksize, strides, padding, data_format):
    """A max-pool backward that gives the full gradient to every tied maximum (written for the test:
    windows resolved with crosscheck.geometry, loops over output positions)."""
    from crosscheck import geometry as G
    x = input if data_format == "NHWC" else input.transpose(0, 2, 3, 1)
    g = dy if data_format == "NHWC" else dy.transpose(0, 2, 3, 1)
    win = G.resolve(x.shape[1:3], ksize, strides, (1, 1), G.normalize_padding(padding, 2, data_format))
    (t, b), (l, r) = win.pads
    x = np.where(np.isnan(x), -np.inf, x)   # TF's scan never picks a NaN
    xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=-np.inf)
    dx = np.zeros_like(xp)
    for i in range(win.out[0]):
        for j in range(win.out[1]):
            rows, cols = slice(i * strides[0], i * strides[0] + ksize[0]), slice(j * strides[1], j * strides[1] + ksize[1])
            patch = xp[:, rows, cols]
            dx[:, rows, cols] += (patch == patch.max(axis=(1, 2), keepdims=True)) * g[:, i, j][:, None, None]
    dx = dx[:, t:t + x.shape[1], l:l + x.shape[2]]
    return (dx if data_format == "NHWC" else dx.transpose(0, 3, 1, 2),)


def test_check_op_tie_rule_is_a_warning_unless_ties_tf():
    import warnings

    import crosscheck
    import npcnn.functional as F
    forward = lambda input, **p: F.max_pool2d(input, **p)  # noqa: E731
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcomes = crosscheck.check_op("max_pool2d", forward, _pool_all_ties, examples=25, layout=None)
    assert any(o.status != "pass" for o in outcomes), "some drawn cases must have ties"
    assert any("full gradient to every tied maximum" in str(w.message) for w in caught)
    try:
        crosscheck.check_op("max_pool2d", forward, _pool_all_ties, examples=25, layout=None, ties="tf")
    except AssertionError as e:
        assert "maxpool-all-ties" in str(e)
    else:
        raise AssertionError("with ties='tf' the other tie rule must fail")
