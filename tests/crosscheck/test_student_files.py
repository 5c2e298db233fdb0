"""`crosscheck check` on the student-style corpus in student_files/: every file gets the verdicts and
likely causes its manifest states (correct files pass, each named bug is flagged with its label,
tie-rule and year-convention differences are notes), loading problems are one clear message."""
import json
import sys
from pathlib import Path

import pytest

from crosscheck.check import LoadError, check_target, load_user_code, rows_ok
from crosscheck.cli import main

FILES = Path(__file__).parent / "student_files"
sys.path.insert(0, str(FILES))
from manifest import EXPECTED, TIE_NOTES  # noqa: E402

EXAMPLES = 6
CHECKED = [path for path, e in EXPECTED.items() if "import" not in e or e["import"].startswith("package")]


@pytest.fixture(autouse=True)
def _in_own_directory(tmp_path, monkeypatch):
    """``crosscheck check`` without ``--report`` writes ./crosscheck-report: each test in a directory
    of its own (under -n another test may run the command at the same time)."""
    monkeypatch.chdir(tmp_path)


def _target(path: str) -> Path:
    entry = EXPECTED[path]
    return FILES / entry.get("declared_by", path)


def _only(entry: dict):
    """A file derived from a correct one is checked on the functions its bug touches (the rest is the
    correct file, checked in its own test)."""
    return list(entry["functions"]) if entry.get("based_on") else None


@pytest.mark.parametrize("path", CHECKED)
def test_verdicts_and_causes_match_the_manifest(path):
    entry = EXPECTED[path]
    module = load_user_code(str(_target(path)), timeout=30)
    rows = {r.function: r for r in check_target(module, entry["convention"], examples=EXAMPLES, only=_only(entry))}
    assert set(entry["functions"]) <= set(rows) or not entry["functions"], (set(entry["functions"]) - set(rows))
    for name, row in rows.items():
        want = entry["functions"].get(name, {"verdict": "passed", "labels": []})
        verdicts = [want["verdict"], *want.get("also_acceptable", [])]
        assert row.verdict in verdicts, (name, row.verdict, row.causes, row.notes, row.message[:300])
        assert set(want["labels"]) <= set(row.causes), (name, row.causes)
        tie = next((t for t in TIE_NOTES if t in want.get("notes", "")), None)
        if tie and tie != "first maximum":
            assert any(tie in note for note in row.notes), (name, row.notes)


@pytest.mark.parametrize("path", [p for p, e in EXPECTED.items() if e.get("dropout_p") and p in CHECKED
                                  and any(f.startswith("dropout") for f in e["functions"])])
def test_dropout_convention_is_detected_and_named(path):
    entry = EXPECTED[path]
    module = load_user_code(str(_target(path)), timeout=30)
    rows = check_target(module, "cs231n", examples=4, only=["dropout_forward", "dropout_backward"])
    word = "dropping" if entry["dropout_p"] == "drop" else "keeping"
    for row in rows:
        assert row.verdict in ("passed", "passed-with-note"), (row.function, row.verdict, row.causes)
        if entry["dropout_p"] == "drop":
            assert any(word in note for note in row.notes), row.notes


def test_year_pin_turns_the_other_dropout_convention_into_a_failure():
    module = load_user_code(str(FILES / "cs231n/correct_2017.py"), timeout=30)
    (row,) = check_target(module, "cs231n", examples=4, only=["dropout_forward"], year=2017)
    assert row.verdict == "passed-with-note" and "dropping" in " ".join(row.notes)
    (row,) = check_target(module, "cs231n", examples=4, only=["dropout_forward"], year=2019)
    assert row.verdict == "failed"


def test_groupnorm_gamma_shape_convention_is_detected():
    for path, shape in (("cs231n/correct_2019.py", "(1, C, 1, 1)"), ("cs231n/correct_2022.py", "(C,)")):
        module = load_user_code(str(FILES / path), timeout=30)
        rows = check_target(module, "cs231n", examples=4, only=["spatial_groupnorm_forward", "spatial_groupnorm_backward"])
        assert rows_ok(rows), [(r.function, r.verdict, r.causes) for r in rows]
        if shape == "(C,)":   # (1, C, 1, 1) also works for this file: the default convention is kept
            assert all(r.verdict in ("passed", "passed-with-note") for r in rows)


def test_ties_tf_makes_the_tie_rule_a_failure():
    module = load_user_code(str(FILES / "cs231n/ties_full.py"), timeout=30)
    (row,) = check_target(module, "cs231n", examples=6, only=["max_pool_backward_naive"], ties="tf")
    assert row.verdict == "failed" and "maxpool-all-ties" in row.causes


def test_python2_file_gets_a_hint(capsys):
    assert main(["check", str(FILES / "cs231n/py2_style.py")]) == 1
    out = capsys.readouterr().out
    assert "py2_style.py:20" in out and "Python 2" in out and "Traceback" not in out


def test_import_that_hangs_ends_with_a_message(capsys):
    with pytest.raises(LoadError, match="did not finish within 2 s"):
        load_user_code(str(FILES / "cs231n/hang_at_import.py"), timeout=2)
    assert main(["check", str(FILES / "cs231n/hang_at_import.py"), "--timeout", "2"]) == 1
    assert "did not finish" in capsys.readouterr().out


def test_file_inside_a_package_is_imported_as_part_of_it():
    module = load_user_code(str(FILES / "cs231n_pkg/cs231n/layers.py"), timeout=30)
    assert module.__name__ == "cs231n.layers"
    rows = check_target(module, "cs231n", examples=3, only=["conv_forward_fast", "conv_forward_naive"])
    assert [r.verdict for r in rows] == ["passed", "passed"]


def test_check_writes_replays_and_the_functions_list(tmp_path, capsys):
    report = tmp_path / "r"
    target = FILES / "cs231n/bug_crop_pad0.py"
    assert main(["check", str(target), "--functions", "conv_backward_naive", "--examples", "6",
                 "--report", str(report)]) == 1
    doc = json.loads((report / "report.json").read_text())
    (fn,) = doc["functions"]
    assert fn["name"] == "conv_backward_naive" and fn["verdict"] == "failed"
    assert "crop-empty-at-zero-pad" in fn["causes"] and fn["failing"] >= 1 and fn["examples"] == 6
    replays = sorted((report / "cases").glob("*.json"))
    assert len(replays) == fn["failing"]                 # every failing example is kept on disk
    assert len(doc["outcomes"]) == len(fn["causes"])      # the report shows the smallest one per cause
    assert {Path(o["replay"]["file"]).name for o in doc["outcomes"]} <= {p.name for p in replays}
    assert all("rerun(" in o["replay"]["snippet"] and o["cause"] in fn["causes"] for o in doc["outcomes"])
    capsys.readouterr()
    assert main(["replay", str(replays[0]), "--check", str(target)]) == 1
    assert "crop-empty-at-zero-pad" in capsys.readouterr().out


def test_layer_declarations_stay_within_ten_lines():
    for declared in FILES.glob("layers/check_*.py"):
        code = [line for line in declared.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith(("#", '"""', "import", "from"))]
        assert len(code) <= 10, (declared.name, len(code))
