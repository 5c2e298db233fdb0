"""Reports rendered from hand-made outcomes: text, JSON schema, self-contained HTML, pytest plugin."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crosscheck import recording
from crosscheck.case import TensorDiff
from crosscheck.pytest_plugin import assert_outcome_ok
from crosscheck.replay import load_case
from crosscheck.report import ReportSession, format_outcome_text
from crosscheck.report.html_report import channel_svg, render_html

from _outcomes import error_outcome, mismatch_outcome, pass_outcome, unsupported_outcome

ROOT = Path(__file__).resolve().parents[2]
TOP_KEYS = {"format", "version", "created", "ok", "problems", "summary", "outcomes", "error_parity"}
SUMMARY_KEYS = {"total", "counts", "ops", "error_parity"}
OP_KEYS = {"pass", "mismatch", "reference-unsupported", "reference-error", "reference-crash", "implementation-error",
           "implementation-crash", "implementation-timeout", "paths", "dtypes",
           "notes", "forms", "features"}
OUTCOME_KEYS = {"status", "op", "impl", "dtype", "seed", "params", "shapes", "paths", "message", "notes",
                "diffs", "replay"}
DIFF_KEYS = {"tensor", "path", "passed", "shape", "expected_shape", "atol", "rtol", "max_abs_err", "max_rel_err",
             "mismatched", "total", "worst", "channel_map", "spatial_map", "diagnosis", "note", "judged"}
REPLAY_KEYS = {"file", "command", "snippet"}


def _session(tmp_path):
    s = ReportSession(tmp_path / "cases")
    for o in (mismatch_outcome(), error_outcome(), unsupported_outcome(), pass_outcome(), pass_outcome()):
        s.add(o)
    return s


def test_text_report_has_headline_indices_values_and_map():
    text = format_outcome_text(mismatch_outcome(), replay_file="rep/cases/c.json")
    lines = text.splitlines()
    assert lines[0] == "crosscheck: conv2d d_input differs from TensorFlow (path tape) [float32, impl broken_mod]"
    assert lines[1] == "Mismatched elements: 2 / 120 (1.7%)"
    assert lines[2].startswith("Greatest absolute difference: 0.8125 at index (0, 3, 2, 1)")
    for needed in ("strides=[2, 1]", "padding=[[0, 0], [1, 0], [0, 2], [0, 0]]", "input=(2, 5, 4, 3)", "dy=(2, 2, 5, 2)",
                   "seed      7", "(1, 4, 0, 1)", "0.625", "-0.1875", "kernel not flipped",
                   "crosscheck replay rep/cases/c.json", "impl.vjp('conv2d'"):
        assert needed in text, needed
    # channel 1's map: mismatches at (3, 2) and (4, 0), nothing in channels 0 and 2
    i = lines.index("  c1: 2")
    assert lines[i + 1:i + 6] == ["  ....", "  ....", "  ....", "  ..#.", "  #..."]
    assert "1 of 3 channels" in text


def test_text_report_when_a_gradient_is_missing():
    # a backward pass that returns nothing (a seed's softmax bug): the message says so first
    o = mismatch_outcome()
    o.diffs[1] = TensorDiff(tensor="d_logits", path="tape", passed=False, shape=(), expected_shape=(2, 3),
                            atol=1e-6, rtol=1e-5, mismatched=6, total=6,
                            note="the implementation returned no value for this tensor")
    lines = format_outcome_text(o).splitlines()
    assert lines[0].startswith("crosscheck: conv2d d_logits differs")
    assert lines[1] == ("Shape mismatch: the implementation returned no value for this tensor "
                        "(got (), TensorFlow gives (2, 3))")


def test_text_report_for_errors_and_unsupported():
    err = format_outcome_text(error_outcome())
    assert err.splitlines()[0].endswith("ValueError: bad filters")
    assert 'File "x.py", line 1' in err
    uns = format_outcome_text(unsupported_outcome())
    assert "no float64 grouped-conv gradient" in uns.splitlines()[0]


def test_json_document_schema(tmp_path):
    json_path, _ = _session(tmp_path).write(tmp_path, impl="broken_mod", command="crosscheck run")
    doc = json.loads(json_path.read_text())
    assert TOP_KEYS <= set(doc) and doc["format"] == "crosscheck-report" and doc["version"] == 1
    assert doc["ok"] is False and doc["impl"] == "broken_mod"
    assert set(doc["summary"]) == SUMMARY_KEYS
    assert doc["summary"]["total"] == 5
    assert doc["summary"]["counts"] == {"pass": 2, "mismatch": 1, "reference-unsupported": 1, "reference-crash": 0,
                                        "reference-error": 0, "implementation-error": 1,
                                        "implementation-crash": 0, "implementation-timeout": 0}
    conv = doc["summary"]["ops"]["conv2d"]
    assert set(conv) == OP_KEYS and conv["paths"] == ["tape", "raw", "keras"]
    # every non-pass outcome in full, mismatches first; passes only counted
    assert [o["status"] for o in doc["outcomes"]] == ["mismatch", "implementation-error", "reference-unsupported"]
    for o in doc["outcomes"]:
        assert set(o) == OUTCOME_KEYS
        for d in o["diffs"]:
            assert set(d) == DIFF_KEYS
    mm = doc["outcomes"][0]
    bad = [d for d in mm["diffs"] if not d["passed"]][0]
    assert bad["tensor"] == "d_input" and bad["worst"][0]["index"] == [0, 3, 2, 1]
    assert mm["params"]["padding"] == [[0, 0], [1, 0], [0, 2], [0, 0]] and mm["shapes"]["filters"] == [3, 2, 3, 2]
    assert set(mm["replay"]) == REPLAY_KEYS


def test_replay_file_written_for_each_mismatch_and_error(tmp_path):
    doc = _session(tmp_path).document()
    files = [o["replay"]["file"] for o in doc["outcomes"] if o["replay"]]
    assert len(files) == 2 and sorted(Path(f).name for f in files) == sorted(
        p.name for p in (tmp_path / "cases").iterdir())
    case = load_case(files[0])
    assert case.op == "conv2d"
    assert [o["replay"] for o in doc["outcomes"] if o["status"] == "reference-unsupported"] == [None]


def test_nonfinite_errors_are_strict_json(tmp_path):
    o = mismatch_outcome()
    o.diffs[1].max_rel_err = float("inf")
    o.diffs[1].worst[0]["expected"] = float("nan")
    s = ReportSession(None)
    s.add(o)
    json_path, _ = s.write(tmp_path)
    text = json_path.read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert '"max_rel_err": "inf"' in text


def test_html_is_self_contained_with_channel_images(tmp_path):
    _, html_path = _session(tmp_path).write(tmp_path)
    html = html_path.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert not re.search(r"(src|href)\s*=|<script|https?://|<link", html, re.I)
    assert html.count("<svg") == 3    # one image per channel of the mismatching d_input
    assert "channel 1: 2 mismatched" in html and "(0, 3, 2, 1)" in html
    assert "ValueError: bad filters" in html and "grouped-conv gradient" in html
    assert "crosscheck replay" in html


def test_channel_svg_marks_exactly_the_mismatched_cells():
    svg = channel_svg([[0, 1, 0], [1, 0, 0]])
    assert svg.count('class="bad"') == 2 and svg.count('class="ok"') == 1
    assert 'class="bad" x="7" y="0"' in svg and 'class="bad" x="0" y="7"' in svg
    assert '<svg width="21" height="14"' in svg


def test_html_escapes_user_text():
    o = error_outcome()
    o.message = "<script>alert(1)</script>"
    s = ReportSession(None)
    s.add(o)
    assert "<script>" not in render_html(s.document())


def test_assert_outcome_ok_raises_with_the_report(monkeypatch):
    # a private session: these hand-made mismatches must not land in a real run's report
    monkeypatch.setitem(recording._state, "session", ReportSession(None))
    assert_outcome_ok(pass_outcome())
    assert_outcome_ok(unsupported_outcome())   # recorded, not a failure
    with pytest.raises(AssertionError) as info:
        assert_outcome_ok(mismatch_outcome())
    assert str(info.value).startswith("crosscheck: conv2d d_input differs")
    assert "(0, 3, 2, 1)" in str(info.value)
    with pytest.raises(AssertionError, match="bad filters"):
        assert_outcome_ok(error_outcome())


_PLUGIN_TEST = '''
import pytest
from _outcomes import mismatch_outcome, pass_outcome
from crosscheck.pytest_plugin import assert_outcome_ok

@pytest.mark.parametrize("i", range(6))
def test_pass(i, crosscheck_record):
    crosscheck_record(pass_outcome())

@pytest.mark.parametrize("i", range(2))
def test_mismatch(i):
    o = mismatch_outcome()
    o.case.seed = i
    assert_outcome_ok(o)
'''


@pytest.mark.parametrize("workers", [None, "2"])
def test_pytest_option_writes_one_report_per_session(tmp_path, workers):
    (tmp_path / "test_plugin_sample.py").write_text(_PLUGIN_TEST)
    report = tmp_path / "rep"
    cmd = [sys.executable, "-m", "pytest", "-q",  # the plugin loads through its pytest11 entry point
           f"--crosscheck-report={report}", "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)]
    if workers:
        cmd += ["-n", workers]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(ROOT)])}
    for _ in range(2):   # the second session replaces the first's files (its workers' replay files too)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
        assert proc.returncode == 1, proc.stdout + proc.stderr     # the two mismatch tests fail
        assert "2 failed, 6 passed" in proc.stdout
        assert "crosscheck: conv2d d_input differs from TensorFlow" in proc.stdout   # the assertion message
        doc = json.loads((report / "report.json").read_text())
        assert doc["summary"]["counts"]["pass"] == 6 and doc["summary"]["counts"]["mismatch"] == 2
        assert len(doc["outcomes"]) == 2 and (report / "report.html").exists()
        assert len(list((report / "cases").glob("conv2d-float32-*.json"))) == 2
        assert f"report: {report / 'report.json'}" in proc.stdout


def test_documented_example_follows_the_schema():
    text = (ROOT / "docs" / "report-format.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", text, re.S)]
    report, case = blocks
    assert TOP_KEYS <= set(report) and set(report["summary"]) == SUMMARY_KEYS
    for o in report["outcomes"]:
        assert set(o) == OUTCOME_KEYS and set(o["replay"]) == REPLAY_KEYS
        assert all(set(d) == DIFF_KEYS for d in o["diffs"])
    for entry in report["summary"]["ops"].values():
        assert set(entry) == OP_KEYS
    assert case["format"] == "crosscheck-case" and set(case["case"]) == {"op", "dtype", "seed", "params", "arrays", "dy"}
    # every field the renderers write is documented in a schema table (first column of a row)
    first_cells = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([a-z_]+)`", cell)}
    assert (OUTCOME_KEYS | DIFF_KEYS | SUMMARY_KEYS | {"format", "version", "created", "ok", "outcomes"}) <= documented
