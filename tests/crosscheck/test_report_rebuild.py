"""``crosscheck report`` and ``crosscheck merge`` on journals as kills, disks and copies leave them:
every whole journal line kept (a corrupt one skipped and counted, a finished run still finished), a
killed ``-j`` run recovered shard by shard, shards run under other paths merged with every replay
reference pointing into the merged ``cases/``, and malformed files one line and exit 2."""
import json
import shutil
from pathlib import Path

import pytest

from crosscheck.case import IMPLEMENTATION_ERROR, PASS

from _report_runs import cli as _cli, relu_outcome as _outcome, run_session

SHARDED = dict(all_ops=["relu"], networks=False)


def _doc(d: Path) -> dict:
    return json.loads((d / "report.json").read_text())


def _lines(d: Path) -> list[bytes]:
    return (d / "journal.jsonl").read_bytes().split(b"\n")


# --- 5. every whole journal line ------------------------------------------------------------------

def test_a_corrupt_line_in_the_middle_is_skipped_and_counted_not_the_rest(tmp_path, capsys):
    outcomes = [_outcome(n, PASS if n % 2 else IMPLEMENTATION_ERROR) for n in range(1, 9)]
    run_session(tmp_path, outcomes, end=True)
    lines = _lines(tmp_path)
    lines[2] = lines[2][: len(lines[2]) // 2]      # the second outcome's line cut in the middle
    lines[5] = b"\xff\xfe not utf-8 \x80"          # another one overwritten with bytes that are not text
    (tmp_path / "journal.jsonl").write_bytes(b"\n".join(lines))
    code, out, err = _cli(["report", str(tmp_path)], tmp_path, capsys)
    assert code == 1 and err == ""
    doc = _doc(tmp_path)
    assert doc["summary"]["total"] == 6 and doc["journal_lines_skipped"] == 2
    assert "interrupted" not in doc and "the run was complete" in out and "2 journal lines skipped" in out
    assert any("2 journal lines could not be read" in p and "line 3: not JSON" in p and "line 6: not UTF-8" in p
               for p in doc["problems"])


def test_a_last_line_cut_by_a_kill_is_neither_read_nor_counted(tmp_path, capsys):
    run_session(tmp_path, [_outcome(1, PASS), _outcome(2, PASS)], end=False)
    with open(tmp_path / "journal.jsonl", "ab") as f:
        f.write(b'{"kind": "outcome", "summary": {"tot')
    code, out, _ = _cli(["report", str(tmp_path)], tmp_path, capsys)
    doc = _doc(tmp_path)
    assert code == 1 and doc["summary"]["total"] == 2 and doc["journal_lines_skipped"] == 0
    assert doc["interrupted"] is True and "interrupted" in out


def test_entries_with_malformed_fields_are_skipped_and_named(tmp_path, capsys):
    run_session(tmp_path, [_outcome(1, PASS), _outcome(2)], end=True)
    lines = _lines(tmp_path)
    bad = [{"kind": "outcome", "summary": {"total": "many"}, "outcome": None},
           {"kind": "outcome", "summary": json.loads(lines[1])["summary"], "outcome": {"status": "pass", "op": 3}},
           {"kind": "parity", "parity": []}, ["not", "an", "object"], {"kind": "bogus"}]
    lines[2:2] = [json.dumps(b).encode() for b in bad]
    (tmp_path / "journal.jsonl").write_bytes(b"\n".join(lines))
    code, _, err = _cli(["report", str(tmp_path)], tmp_path, capsys)
    doc = _doc(tmp_path)
    assert code == 1 and err == "" and doc["journal_lines_skipped"] == 5 and doc["summary"]["total"] == 2


@pytest.mark.parametrize("broken", ["journal.jsonl", "report.json", "cases"])
def test_a_directory_in_place_of_a_file_is_one_line_and_exit_2(tmp_path, capsys, broken):
    run_session(tmp_path, [_outcome(1)], end=True)
    target = tmp_path / broken if broken != "cases" else next((tmp_path / "cases").glob("*.json"))
    target.unlink()
    target.mkdir()
    code, _, err = _cli(["report", str(tmp_path)], tmp_path, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and str(target) in err and "Traceback" not in err


# --- 5. a killed -j run, shard by shard -------------------------------------------------------------

def test_a_killed_j_run_is_rebuilt_from_the_shards_that_journaled(tmp_path, capsys):
    from crosscheck.report import ReportDir
    parent = ReportDir.start(tmp_path, {"command": "crosscheck run -j 2 --report rep", "jobs": 2}, journal=False)
    jobs = tmp_path / ".jobs"
    parent.record(jobs, directory=True)
    run_session(jobs / "shard1", [_outcome(1), _outcome(2, PASS)], end=False, shard="1/2", **SHARDED)
    (jobs / "shard2").mkdir()             # started, killed before it wrote its journal
    parent.close()
    code, out, err = _cli(["report", str(tmp_path)], tmp_path, capsys)
    assert code == 1 and err == "", err
    doc = _doc(tmp_path)
    assert doc["summary"]["total"] == 2 and doc["interrupted"] is True and doc["command"] == "crosscheck run -j 2 --report rep"
    assert any("shard 2/2 left no usable journal" in p for p in doc["problems"])
    assert all(Path(o["replay"]["file"]).is_file() for o in doc["outcomes"] if o["replay"])


@pytest.mark.parametrize("damage", ["journal-is-a-directory", "meta-line-corrupt"])
def test_a_killed_j_run_keeps_every_shard_it_can_read(tmp_path, capsys, damage):
    from crosscheck.report import ReportDir
    parent = ReportDir.start(tmp_path, {"command": "crosscheck run -j 2 --report rep", "jobs": 2}, journal=False)
    jobs = tmp_path / ".jobs"
    parent.record(jobs, directory=True)
    run_session(jobs / "shard1", [_outcome(1)], end=False, shard="1/2", **SHARDED)
    run_session(jobs / "shard2", [_outcome(2), _outcome(3)], end=False, shard="2/2", **SHARDED)
    journal = jobs / "shard1" / "journal.jsonl"
    if damage == "journal-is-a-directory":
        journal.unlink()
        journal.mkdir()
    else:   # its first line (the meta) cut: its outcome lines are whole
        lines = journal.read_bytes().split(b"\n")
        journal.write_bytes(b"\n".join([b'{"kind": "me', *lines[1:]]))
    parent.close()
    code, out, err = _cli(["report", str(tmp_path)], tmp_path, capsys)
    assert code == 1 and err == "", err
    doc = _doc(tmp_path)
    kept = 2 if damage == "journal-is-a-directory" else 3
    assert doc["summary"]["total"] == kept, doc["problems"]
    if damage == "journal-is-a-directory":
        assert any("shard 1/2 left no usable journal" in p for p in doc["problems"])
    else:
        assert doc["journal_lines_skipped"] == 1


def test_a_malformed_shard_field_is_one_line_naming_it(tmp_path, capsys):
    for k, shard in ((1, "1/2"), (2, ["2", "2"])):
        run_session(tmp_path / f"s{k}", [_outcome(k)], end=True, shard=shard, **SHARDED)
    code, _, err = _cli(["merge", "s1", "s2", "--report", "merged"], tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1 and 's2/journal.jsonl: meta field "shard" is ["2", "2"]' in err
    assert not (tmp_path / "merged").exists()       # refused before anything was written


# --- 6. merge of shards run elsewhere ---------------------------------------------------------------

def test_merge_of_shards_run_under_other_paths_references_its_own_cases(tmp_path, capsys):
    elsewhere = tmp_path / "machine"
    for k in (1, 2):   # each shard run on "another machine", then copied here
        run_session(elsewhere / f"run{k}" / "out", [_outcome(k), _outcome(k + 2), _outcome(k + 4, PASS)], end=True,
                       shard=f"{k}/2", **SHARDED)
        shutil.copytree(elsewhere / f"run{k}" / "out", tmp_path / f"s{k}")
    shutil.rmtree(elsewhere)
    code, _, err = _cli(["merge", "s1", "s2", "--report", "merged"], tmp_path, capsys)
    assert code == 1 and err == "", err
    doc = _doc(tmp_path / "merged")
    replays = [o["replay"] for o in doc["outcomes"]]
    assert len(replays) == 4 and len({r["file"] for r in replays}) == 4
    for replay in replays:
        assert Path(replay["file"]).parent == Path("merged/cases") and (tmp_path / replay["file"]).is_file()
        assert "machine" not in replay["command"] + replay["snippet"] and replay["file"] in replay["snippet"]
    code, _, _ = _cli(["merge", "s1", "s2", "--report", "merged"], tmp_path, capsys)   # again: its own files replaced
    assert code == 1


def test_merge_refuses_a_shard_whose_replay_file_is_missing(tmp_path, capsys):
    for k in (1, 2):
        run_session(tmp_path / f"s{k}", [_outcome(k)], end=True, shard=f"{k}/2", **SHARDED)
    missing = next((tmp_path / "s2" / "cases").glob("*.json"))
    missing.unlink()
    code, _, err = _cli(["merge", "s1", "s2", "--report", "merged"], tmp_path, capsys)
    assert code == 2 and f"{missing.relative_to(tmp_path)}: the replay file of an outcome" in err and "missing" in err


def test_a_killed_shard_of_a_campaign_is_rebuilt_into_a_mergeable_shard(tmp_path, capsys):
    from crosscheck.report import ReportDir
    parent = ReportDir.start(tmp_path / "k1", {"command": "crosscheck run --shard 1/2 --report k1"}, journal=False)
    parent.record(tmp_path / "k1" / ".jobs", directory=True)
    run_session(tmp_path / "k1" / ".jobs" / "shard1", [_outcome(1), _outcome(3)], end=False, shard="1/2", **SHARDED)
    parent.close()
    run_session(tmp_path / "s2", [_outcome(2)], end=True, shard="2/2", **SHARDED)
    code, _, err = _cli(["report", "k1"], tmp_path, capsys)
    assert code == 1 and err == "" and (tmp_path / "k1" / "journal.jsonl").is_file()
    code, _, err = _cli(["merge", "k1", "s2", "--report", "merged"], tmp_path, capsys)
    doc = _doc(tmp_path / "merged")
    assert code == 1 and err == "" and doc["summary"]["total"] == 3 and doc["interrupted"] is True
    assert all((tmp_path / o["replay"]["file"]).is_file() for o in doc["outcomes"])
