"""The options users expect of a command: ``--version``, ``-q`` and ``--junit-xml`` (run and check),
and a ``crosscheck`` that starts without TensorFlow. (``--junit-xml`` of a failing ``-j 2`` run:
test_shards.py, beside the run it reuses.)"""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

import pytest

import crosscheck
from crosscheck.cli import main
from crosscheck.report.junit import run_testsuite, write_junit
from crosscheck.report.json_report import empty_summary
from test_cli import ROOT, crosscheck as run_crosscheck

FILES = Path(__file__).parent / "student_files"


def junit_testcases(path: Path) -> list[ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return list(root.iter("testcase"))


def replay_property(case: ET.Element) -> str | None:
    values = [p.get("value") for p in case.iter("property") if p.get("name") == "replay"]
    return values[0] if values else None


def test_version_names_crosscheck_tensorflow_and_the_backend(capsys):
    assert crosscheck.__version__ == metadata.version("npcnn-crosscheck")
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first == f"crosscheck {crosscheck.__version__}"
    assert second.startswith("reference: TensorFlow ") and " kernels (" in second


def test_the_command_starts_and_says_its_version_without_tensorflow():
    code = ("import sys\nfrom crosscheck.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit as e:\n"
            "    print('exit', e.code, 'tensorflow' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "exit 0 False"


def test_quiet_run_prints_the_verdict_only_and_junit_has_a_testcase_per_op_and_dtype(tmp_path):
    (tmp_path / "out").mkdir()
    proc = run_crosscheck(["run", "--ops", "relu", "--examples", "5", "-q", "--junit-xml", "out/run.xml",
                           "--report", "rep"], ROOT, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("OK: 10 passed") and "report: rep/report.json" in proc.stdout
    assert "reference:" not in proc.stdout and "crosscheck run:" not in proc.stdout   # no tables
    assert len(proc.stdout.splitlines()) <= 3
    cases = junit_testcases(tmp_path / "out" / "run.xml")
    assert [(c.get("classname"), c.get("name")) for c in cases if c.get("name") in ("float32", "float64")] == \
        [("crosscheck.relu", "float32"), ("crosscheck.relu", "float64")]           # ops x dtypes
    assert [(c.get("classname"), c.get("name")) for c in cases if c.get("name") == "error-parity"] == \
        [("crosscheck.relu", "error-parity")]
    assert all(c.find("failure") is None and replay_property(c) is None for c in cases)
    suite = ET.parse(tmp_path / "out" / "run.xml").getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "0"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["impl"] == "npcnn.functional" and "--junit-xml out/run.xml" in props["command"]


def test_junit_xml_in_a_missing_directory_is_a_usage_error(tmp_path, capsys):
    assert main(["run", "--ops", "relu", "--junit-xml", str(tmp_path / "no" / "run.xml")]) == 2
    assert "--junit-xml" in capsys.readouterr().err


def test_check_quiet_and_junit_one_testcase_per_function(tmp_path, capsys):
    target = FILES / "cs231n" / "bug_crop_pad0.py"
    junit = tmp_path / "check.xml"
    assert main(["check", str(target), "--functions", "conv_backward_naive", "relu_forward", "--examples", "6",
                 "--report", str(tmp_path / "rep"), "-q", "--junit-xml", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: 1 of 2 functions pass" in out and "convention, float64" not in out   # no table
    cases = {c.get("name"): c for c in junit_testcases(junit)}
    assert set(cases) == {"conv_backward_naive", "relu_forward"}
    assert cases["relu_forward"].find("failure") is None and replay_property(cases["relu_forward"]) is None
    failure = cases["conv_backward_naive"].find("failure")
    assert failure.get("type") == "failed" and "crop-empty-at-zero-pad" in failure.get("message")
    replay = replay_property(cases["conv_backward_naive"])
    assert replay.startswith("crosscheck replay ") and replay.endswith(f"--check {target}")
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert replay in {o["replay"]["command"] for o in doc["outcomes"]}


def test_check_junit_of_a_file_that_cannot_be_loaded(tmp_path, capsys):
    junit = tmp_path / "check.xml"
    assert main(["check", str(FILES / "cs231n" / "py2_style.py"), "--report", str(tmp_path / "rep"),
                 "--junit-xml", str(junit)]) == 1
    (case,) = junit_testcases(junit)
    assert (case.get("classname"), case.get("name")) == ("crosscheck", "check")
    assert "cannot load" in case.find("failure").get("message") and "Python 2" in case.find("failure").text


def test_junit_xml_holds_what_the_code_under_test_printed_and_why_the_run_failed(tmp_path):
    outcome = {"status": "implementation-error", "op": "relu", "dtype": "float32", "impl": "mine",
               "message": "Traceback ...\nValueError: bad \x1b[31mcolour\x1b[0m \x00 byte", "shapes": {"x": [2, 3]},
               "paths": [], "diffs": [], "replay": {"command": "crosscheck replay rep/cases/relu.json --impl mine"}}
    summary = empty_summary()
    summary["counts"]["implementation-error"] = 1
    doc = {"ops": ["relu"], "dtypes": ["float32"], "outcomes": [outcome], "summary": summary, "error_parity": [],
           "problems": ["the run was interrupted: the report holds what was found until then",
                        "1 implementation-error"], "command": "crosscheck run --ops relu", "impl": "mine"}
    path = write_junit(run_testsuite(doc), tmp_path / "run.xml")
    cases = junit_testcases(path)     # parses: the control characters are gone
    assert [(c.get("classname"), c.get("name")) for c in cases] == [("crosscheck.relu", "float32"),
                                                                    ("crosscheck", "run")]
    failure = cases[0].find("failure")
    assert failure.get("type") == "implementation-error"
    assert failure.get("message").startswith("1 implementation-error: crosscheck: the implementation raised on relu")
    assert "colour" in failure.get("message") and "\x1b" not in failure.get("message")
    assert replay_property(cases[0]) == "crosscheck replay rep/cases/relu.json --impl mine"
    assert cases[1].find("failure").get("message").startswith("the run was interrupted")


def test_ops_are_separated_by_spaces_or_commas():
    from crosscheck.cli.common import UsageError
    from crosscheck.cli.run import select_ops
    assert select_ops(["relu,sigmoid", "tanh", "relu"]) == ["relu", "sigmoid", "tanh"]
    with pytest.raises(UsageError, match="unknown op rlu"):
        select_ops(["relu,rlu"])


def test_an_impl_with_some_ops_is_checked_on_those_and_the_others_listed_once(tmp_path, capsys, monkeypatch):
    import json
    import os
    from crosscheck.cli import main
    from crosscheck.registry import OPS
    (tmp_path / "two_op_lib.py").write_text('"""An array library with two ops so far."""\n'
                                            "from npcnn.functional import relu, sigmoid, vjp  # noqa: F401\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--impl", "two_op_lib", "--examples", "2", "-j", "1", "--report", "rep"])
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert code == 0 and doc["ok"] is True
    assert doc["ops"] == ["relu", "sigmoid"] and sorted(doc["not_provided"]) == sorted(set(OPS) - {"relu", "sigmoid"})
    assert out.count("not provided by two_op_lib") == 1 and f"not checked: {len(OPS) - 2} ops" in out
    assert "has no function" not in out
