"""`crosscheck run` shrinks each (op, dtype)'s first failing case to a minimal one and reports it first."""
import json

from bench.harness import TALL_BUG   # the bug bench --harness times the shrinking of
from test_cli import crosscheck


def test_a_bug_in_tall_inputs_is_shrunk_to_batch_1_and_height_6(tmp_path):
    (tmp_path / "tall_bug.py").write_text(TALL_BUG)
    r = crosscheck(["run", "--ops", "conv2d", "--dtype", "float64", "--examples", "50", "--no-large",
                    "--no-error-parity", "--impl", "tall_bug", "--shrink-time", "60", "--report", "rep"],
                   tmp_path, tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    minimal = doc["outcomes"][0]
    assert minimal["minimal"] is True and minimal["status"] == "mismatch"
    layout = minimal["params"].get("data_format", "NHWC")
    n, h = minimal["shapes"]["input"][0], minimal["shapes"]["input"][1 if layout == "NHWC" else 2]
    assert (n, h) == (1, 6)
    first = minimal["first_failing_shapes"]["input"]
    assert first != minimal["shapes"]["input"] and first[1 if layout == "NHWC" else 2] > 5
    assert any(d["tensor"] == "d_input" and not d["passed"] for d in minimal["diffs"])
    # counted once: the summary holds the run's own draws only; the minimal case has its replay file
    assert doc["summary"]["counts"]["mismatch"] == sum(1 for o in doc["outcomes"] if not o.get("minimal"))
    assert (tmp_path / minimal["replay"]["file"]).is_file()
    assert "minimal failing case" in r.stdout.split("mismatch: conv2d")[1]
