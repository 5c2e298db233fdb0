"""Each CS231n function checked on its own: a backward's cache from the reference forward (the user's
own when it keeps another cache, with a note), template forwards a function calls swapped for the
references, notes naming a failed function another row depends on; --expect recorded for replay;
cases a convention accepts counted as passes, not failures, in report.json."""
import json
from pathlib import Path

import numpy as np
import pytest

from crosscheck.check import check_target, load_user_code
from crosscheck.check.conventions import KNOWN
from crosscheck.check.cs231n_reference import conv_forward_naive as reference_conv
from crosscheck.cli import main
from crosscheck.replay_schema import CHECK_EXPECT, ReplayFileError, validate

FILES = Path(__file__).parent / "student_files"


@pytest.fixture(autouse=True)
def _in_own_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _load(path):
    return load_user_code(str(path), timeout=30)


def test_the_pad_once_bug_and_the_right_backward_are_established_by_the_maths():
    """The forward's output is too small for pad >= 1; the backward equals central finite differences
    of the definition of the convolution (the reference forward, itself checked against a loop)."""
    user = _load(FILES / "independence/conv_forward_pad_once.py")
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 2, 4, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    param = {"stride": 1, "pad": 1}
    expected = np.zeros((2, 3, 4, 5))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(4):
        for j in range(5):
            expected[:, :, i, j] = np.einsum("ncij,fcij->nf", xp[:, :, i:i + 3, j:j + 3], w) + b
    assert np.allclose(reference_conv(x, w, b, param)[0], expected)
    assert user.conv_forward_naive(x, w, b, param)[0].shape == (2, 3, 3, 4)   # the bug: too small
    dout = rng.standard_normal((2, 3, 4, 5))
    dx, dw, db = user.conv_backward_naive(dout, (x, w, b, param))

    def numeric(array):
        grad, eps = np.zeros_like(array), 1e-6
        for idx in np.ndindex(array.shape):
            old = array[idx]
            array[idx] = old + eps
            up = np.sum(reference_conv(x, w, b, param)[0] * dout)
            array[idx] = old - eps
            down = np.sum(reference_conv(x, w, b, param)[0] * dout)
            array[idx] = old
            grad[idx] = (up - down) / (2 * eps)
        return grad
    for got, array in ((dx, x), (dw, w), (db, b)):
        assert np.allclose(got, numeric(array), atol=1e-6)


def test_a_template_backward_passes_whatever_its_forward_computes():
    rows = {r.function: r for r in check_target(_load(FILES / "independence/conv_forward_pad_once.py"), "cs231n",
                                                 examples=4)}
    assert rows["conv_forward_naive"].verdict == "failed"
    assert rows["conv_backward_naive"].verdict == "passed" and not rows["conv_backward_naive"].notes


def test_a_forward_with_its_own_cache_gives_it_with_a_note():
    rows = {r.function: r for r in check_target(_load(FILES / "independence/conv_dict_cache_no_bias.py"), "cs231n",
                                                 examples=3)}
    assert rows["conv_backward_naive"].verdict == "passed"
    assert rows["conv_backward_naive"].notes == [
        ("its cache comes from your conv_forward_naive (not the template's (x, w, b, conv_param)): a bug there can "
         "show here")]


def test_rows_name_the_failed_functions_they_depend_on():
    module = _load(FILES / "cs231n/bug_bn_test_no_affine.py")
    rows = {r.function: r for r in check_target(module, "cs231n", examples=4, only=[
        "batchnorm_forward", "batchnorm_backward", "spatial_batchnorm_forward"])}
    assert rows["batchnorm_forward"].verdict == "failed"
    assert ("it calls your batchnorm_forward, whose row is failed: a bug there can show here"
            in rows["spatial_batchnorm_forward"].notes)
    assert ("its cache comes from your batchnorm_forward, whose row is failed: a bug there can show here"
            in rows["batchnorm_backward"].notes)
    assert rows["batchnorm_backward"].verdict == "passed"   # train mode: right; the note changes no verdict


def test_template_forwards_a_function_calls_are_references_while_it_runs(tmp_path):
    f = tmp_path / "fast.py"
    f.write_text("import numpy as np\n"
                 "def conv_forward_naive(x, w, b, conv_param):\n"
                 "    N, C, H, W = x.shape\n"
                 "    return np.zeros((N, w.shape[0], 1, 1)), (x, w, b, conv_param)   # wrong\n"
                 "def conv_forward_fast(x, w, b, conv_param):\n"
                 "    return conv_forward_naive(x, w, b, conv_param)\n")
    module = _load(f)
    own = module.conv_forward_naive
    rows = {r.function: r.verdict for r in check_target(module, "cs231n", examples=3)}
    assert rows == {"conv_forward_naive": "failed", "conv_forward_fast": "passed"}
    assert module.conv_forward_naive is own   # put back


def test_expect_is_recorded_and_honoured_on_replay(tmp_path, capsys):
    target = FILES / "cs231n/correct_2019.py"
    report = tmp_path / "r"
    assert main(["check", str(target), "--functions", "affine_backward", "--examples", "6", "--expect",
                 "batch-mean", "--report", str(report)]) == 1
    replays = sorted((report / "cases").glob("*.json"))
    assert replays
    doc = json.loads(replays[0].read_text())
    assert doc["check"]["expect"] == ["batch-mean"]
    capsys.readouterr()
    assert main(["replay", str(replays[0]), "--check", str(target)]) == 1   # the sum still fails the declared mean
    assert "scale-factor" in capsys.readouterr().out
    doc["check"]["expect"] = ["batch-sum"]
    with pytest.raises(ReplayFileError, match=r"check.expect\[0\]: 'batch-sum' is not one of batch-mean"):
        validate(doc)
    assert CHECK_EXPECT == tuple(KNOWN)


def test_accepted_tie_rule_cases_are_not_counted_as_failures(tmp_path):
    report = tmp_path / "r"
    assert main(["check", str(FILES / "cs231n/ties_full.py"), "--functions", "max_pool_backward_naive",
                 "--examples", "8", "--report", str(report)]) == 0
    doc = json.loads((report / "report.json").read_text())
    (fn,) = doc["functions"]
    assert fn["verdict"] == "passed-with-note"
    summary = doc["summary"]
    assert summary["counts"]["mismatch"] == 0 and summary["passed_with_note"] >= 1
    assert summary["counts"]["pass"] == fn["examples"] and doc["ok"] and not doc["outcomes"]
    assert not list((report / "cases").glob("*.json"))


def test_batch_mean_cases_are_passes_with_a_note_in_the_summary(tmp_path):
    """Its self-consistency cases too (they differ from the finite differences of the sum by the same 1/N)."""
    report = tmp_path / "r"
    assert main(["check", str(FILES / "conventions/mean_grads.py"), "--convention", "layers", "--examples", "6",
                 "--report", str(report)]) == 0
    doc = json.loads((report / "report.json").read_text())
    assert [f["verdict"] for f in doc["functions"]] == ["passed-with-note", "passed-with-note"]
    counts = doc["summary"]["counts"]
    assert counts["mismatch"] == 0 and counts["pass"] == doc["summary"]["total"]
    assert doc["summary"]["passed_with_note"] >= 2 and doc["ok"] and not doc["problems"]
    assert not list((report / "cases").glob("*.json"))
