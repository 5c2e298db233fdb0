"""Error parity as a verdict per op (report.json's summary.error_parity.ops and the terminal table),
and a short `crosscheck run --impl` output for a module that provides two of the ops."""
import json
import os
from pathlib import Path

from crosscheck.cli.tables import _parity_verdict
from crosscheck.report.json_report import add_parity, empty_summary, merge_summaries
from crosscheck.report.terminal import parity_table

LIBRARY = Path(__file__).parent / "library_author"


def _parity(op, expected, actual, passed):
    return {"op": op, "label": f"{op} call", "argument": "x", "expected": expected, "why": "", "actual": actual,
            "detail": "", "passed": passed, "problem": "" if passed else "accepts a call TensorFlow refuses"}


def test_each_op_gets_counts_and_a_verdict_that_survive_merging_shards():
    a, b = empty_summary(), empty_summary()
    add_parity(a, _parity("conv2d", "refuses", "refuses", True))
    add_parity(a, _parity("conv2d", "computes", "computes", True))
    add_parity(b, _parity("conv2d", "refuses", "computes", False))
    add_parity(b, _parity("relu", "refuses", "refuses", True))
    merged = merge_summaries(a, b)["error_parity"]
    assert merged["checked"] == 4 and merged["failed"] == 1
    assert merged["ops"] == {
        "conv2d": {"tf_refuses": 2, "refused": 1, "tf_computes": 1, "computed": 1, "failed": 1, "verdict": "failed"},
        "relu": {"tf_refuses": 1, "refused": 1, "tf_computes": 0, "computed": 0, "failed": 0, "verdict": "ok"}}
    assert _parity_verdict(merged) == "failed on conv2d (1 of 3 invalid calls)"
    assert _parity_verdict(a["error_parity"]) == "ok on 1 op (2 invalid calls)"
    assert _parity_verdict(empty_summary()["error_parity"]) == "not checked"


def test_the_table_shows_the_verdict_per_op():
    from rich.console import Console  # deferred: rendering only
    parity = [_parity("conv2d", "refuses", "computes", False), _parity("relu", "refuses", "refuses", True)]
    console = Console(width=200, record=True, no_color=True)
    console.print(parity_table(parity))
    text = console.export_text()
    assert "--no-error-parity skips it" in text
    conv2d, relu = (next(line.split() for line in text.splitlines() if line.strip().startswith(op))
                    for op in ("conv2d", "relu"))
    assert conv2d[:7] == ["conv2d", "1", "0", "0", "0", "failed", "conv2d"]
    assert relu == ["relu", "1", "1", "0", "0", "ok", "-"]


def test_a_module_with_two_ops_gets_a_short_report(tmp_path, capsys, monkeypatch):
    from crosscheck.cli import main  # deferred: the CLI run
    monkeypatch.syspath_prepend(str(LIBRARY))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(LIBRARY), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "120")
    code = main(["run", "--impl", "conv_relu_lib", "--examples", "2", "-j", "1", "--report", "rep"])
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert code == 0 and doc["ops"] == ["conv2d", "relu"]
    assert {op: e["verdict"] for op, e in doc["summary"]["error_parity"]["ops"].items()} == {"conv2d": "ok", "relu": "ok"}
    words = " ".join(out.split())   # the console wraps long lines
    assert "error parity ok on 2 ops (" in words and "not provided by conv_relu_lib" in words
    assert "has no function" not in out and "compared" not in out
    assert len(out.splitlines()) <= 50, out
