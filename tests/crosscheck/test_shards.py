"""`crosscheck run --shard K/N` and `crosscheck merge`: the shards of a campaign, merged, are the
whole run (summary, outcomes, error parity, replay files); anything else is refused (exit 2).
`crosscheck run -j 2` (two shards run and merged by the command itself) gives the serial report."""
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from test_cli import BROKEN_CONV, crosscheck

RUN = ["run", "--ops", "conv2d", "relu", "sigmoid", "--examples", "4", "--no-large", "--impl", "broken_conv"]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    (d / "impl").mkdir()
    (d / "impl" / "broken_conv.py").write_text(BROKEN_CONV)
    # every run's work is done in shard processes forked from this process's fork server (TensorFlow
    # imported once, with crosscheck's thread limits), never in this process, whose TensorFlow may
    # run with more threads (its float64 sums would then differ in the last bits)
    runs = {name: crosscheck(RUN + extra + ["--report", name], d / "impl", d)
            for name, extra in (("whole", ["-j", "1", "--junit-xml", "whole.xml"]), ("s1", ["--shard", "1/2"]),
                                ("s2", ["--shard", "2/2"]), ("j2", ["-j", "2", "--junit-xml", "j2.xml"]))}
    merged = crosscheck(["merge", "s1", "s2", "--report", "merged"], d / "impl", d)
    return d, runs, merged


def _doc(path: Path) -> dict:
    return json.loads((path / "report.json").read_text())


def _comparable(outcome: dict) -> dict:
    replay = outcome["replay"]
    return {**outcome, "replay": replay and Path(replay["file"]).name}


def test_merged_shards_are_the_whole_run(campaign):
    d, runs, merged = campaign
    assert runs["whole"].returncode == 1 and merged.returncode == 1, merged.stdout + merged.stderr
    whole, both = _doc(d / "whole"), _doc(d / "merged")
    shards = [_doc(d / s) for s in ("s1", "s2")]
    # (op, dtype) pairs dealt round-robin, an op's dtypes to different shards
    assert [s["units"] for s in shards] == [[["conv2d", "float32"], ["relu", "float64"], ["sigmoid", "float32"]],
                                            [["conv2d", "float64"], ["relu", "float32"], ["sigmoid", "float64"]]]
    assert [sorted(s["summary"]["ops"]["conv2d"]["dtypes"]) for s in shards] == [["float32"], ["float64"]]
    assert both["summary"] == whole["summary"] and both["summary"]["counts"]["mismatch"] > 0
    assert both["error_parity"] == whole["error_parity"]
    assert [_comparable(o) for o in both["outcomes"]] == [_comparable(o) for o in whole["outcomes"]]
    assert both["ok"] is False and both["problems"] == whole["problems"]
    assert both["ops"] == whole["ops"] and both["merged_from"] == ["s1", "s2"]
    merged_cases = sorted(p.name for p in (d / "merged" / "cases").glob("*.json"))
    assert merged_cases == sorted(p.name for p in (d / "whole" / "cases").glob("*.json"))
    for o in both["outcomes"]:
        assert Path(o["replay"]["file"]).parent == Path("merged/cases") and "merged/cases" in o["replay"]["command"]


def test_two_jobs_give_the_serial_report(campaign):
    d, runs, _ = campaign
    assert runs["j2"].returncode == 1, runs["j2"].stdout + runs["j2"].stderr
    whole, jobs = _doc(d / "whole"), _doc(d / "j2")
    assert jobs["summary"] == whole["summary"] and jobs["error_parity"] == whole["error_parity"]
    assert [_comparable(o) for o in jobs["outcomes"]] == [_comparable(o) for o in whole["outcomes"]]
    assert jobs["jobs"] == 2 and jobs["ops"] == whole["ops"] and not (d / "j2" / ".jobs").exists()
    assert sorted(p.name for p in (d / "j2" / "cases").glob("*.json")) == \
        sorted(p.name for p in (d / "whole" / "cases").glob("*.json"))
    # the printed verdict is the serial run's
    verdict = [line for line in runs["whole"].stdout.splitlines() if line.startswith("FAILED:")]
    assert verdict and verdict[0].split(" in ")[0] == \
        [line for line in runs["j2"].stdout.splitlines() if line.startswith("FAILED:")][0].split(" in ")[0]


def test_the_junit_xml_of_two_jobs_is_the_serial_runs(campaign):
    d, _, _ = campaign
    suites = {name: ET.parse(d / f"{name}.xml").getroot().find("testsuite") for name in ("whole", "j2")}
    cases = {name: [(c.get("classname"), c.get("name"), c.find("failure") is not None) for c in suite.iter("testcase")]
             for name, suite in suites.items()}
    # one testcase per (op, dtype) of the whole run and one per op's error parity, whichever shard ran it
    assert sorted(cases["j2"]) == sorted(cases["whole"]) == sorted(
        [(f"crosscheck.{op}", dtype, op == "conv2d") for op in ("conv2d", "relu", "sigmoid")
         for dtype in ("float32", "float64")] + [(f"crosscheck.{op}", "error-parity", False)
                                                 for op in ("conv2d", "relu", "sigmoid")])
    assert suites["j2"].get("tests") == "9" and suites["j2"].get("failures") == "2"
    doc = _doc(d / "j2")
    for case in suites["j2"].iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            continue
        assert failure.get("type") == "mismatch" and " mismatch: crosscheck: conv2d " in failure.get("message")
        (replay,) = [p.get("value") for p in case.iter("property") if p.get("name") == "replay"]
        command = replay.split()
        assert command[:2] == ["crosscheck", "replay"] and command[-2:] == ["--impl", "broken_conv"]
        assert Path(d / command[2]).is_file() and Path(command[2]).parent == Path("j2/cases")
        # the unit's shrunk minimal case, else (failures found after the shrink: form top-ups) its smallest one
        failing = [o for o in doc["outcomes"] if o["op"] == "conv2d" and o["dtype"] == case.get("name")]
        minimal = [o["replay"]["command"] for o in failing if o.get("minimal")]
        size = {o["replay"]["command"]: sum(math.prod(s) for s in o["shapes"].values()) for o in failing}
        assert (replay == minimal[0]) if minimal else (size[replay] == min(size.values()))


def test_merge_refuses_what_is_not_one_whole_campaign(campaign):
    d, _, _ = campaign
    for dirs, words in ((["s1"], "shards 1/N .. N/N"), (["s1", "s1"], "exactly once"),
                        (["s1", "whole"], "not a shard"), (["s1", "s2", "--report", "s1"], "is one of the shards")):
        r = crosscheck(["merge", *dirs] + ([] if "--report" in dirs else ["--report", "m2"]), d / "impl", d)
        assert r.returncode == 2 and words in r.stderr, (dirs, r.stderr)
    other = crosscheck(RUN + ["--seed", "1", "--shard", "2/2", "--report", "s2_seed1"], d / "impl", d)
    assert other.returncode in (0, 1)
    r = crosscheck(["merge", "s1", "s2_seed1", "--report", "m3"], d / "impl", d)
    assert r.returncode == 2 and "different seed" in r.stderr
    for bad in ("3/2", "0/2", "two"):
        r = crosscheck(["run", "--ops", "relu", "--shard", bad], d / "impl", d)
        assert r.returncode == 2 and "--shard" in r.stderr
    r = crosscheck(["run", "--ops", "relu", "-j", "2", "--shard", "1/2"], d / "impl", d)
    assert r.returncode == 2 and "do not combine" in r.stderr


def test_the_default_job_count_is_the_usable_cores_at_most_one_per_op(monkeypatch):
    import os
    from crosscheck import cli
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert [cli.default_jobs(n) for n in (0, 1, 3, 26)] == [1, 1, 3, 4]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert cli.default_jobs(26) == 1
