"""A report directory belongs to one run: locked while it runs (a second run is refused, naming the
holder), only files crosscheck recorded writing are deleted (a user's are refused unless
--replace-report), files are created with a plain file's permissions, a write that fails is one
line and exit 4 with the journal still whole, ``crosscheck report`` keeps every whole journal line
and recovers a killed ``-j`` run shard by shard, and ``crosscheck merge`` of shards run elsewhere
references only replay files that exist in the merged ``cases/``."""
import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crosscheck.files import ReportWriteError, atomic_write_text
from crosscheck.report import ReportDir, ReportDirError, ReportSession
from crosscheck.report.journal import Journal, read_journal_text
from crosscheck.replay import replay_filename
from crosscheck.supervision import Shard, ShardWriteError

from _report_runs import META, cli as _cli, relu_outcome as _failing, run_session as _run_session

ROOT = Path(__file__).resolve().parents[2]


# --- 1. one run per directory: the lock ----------------------------------------------------------

def test_a_second_run_on_a_locked_directory_is_refused_naming_the_holder(tmp_path, capsys):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from crosscheck.report.ownership import DirLock
        DirLock.acquire({str(tmp_path)!r}, "crosscheck run --ops conv2d (the first run)")
        print("locked", flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, out, err = _cli(["run", "--ops", "relu", "--examples", "2", "--report", str(tmp_path)], tmp_path, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"pid {holder.pid}" in err and "crosscheck run --ops conv2d (the first run)" in err
        code, _, err = _cli(["report", str(tmp_path)], tmp_path, capsys)   # nor may a rebuild write there
        assert code == 2 and f"pid {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait()
    # the holder is dead: its lock file (pid and command still in it) locks nothing
    assert "the first run" in (tmp_path / ".crosscheck-lock").read_text()
    _run_session(tmp_path, [])
    assert json.loads((tmp_path / "report.json").read_text())["ok"] is True


def test_the_lock_is_held_for_the_run_and_released_at_its_end(tmp_path):
    session = ReportSession()
    session.start(tmp_path, **META)
    with pytest.raises(ReportDirError, match=rf"in use by another crosscheck process \(pid {os.getpid()}: "
                                             r"crosscheck run test\)"):
        ReportDir.start(tmp_path, META)
    session.write(tmp_path, **META)
    ReportDir.start(tmp_path, META).close()   # free again


def test_shards_lock_their_own_directories_under_the_parents(tmp_path):
    parent = ReportDir.start(tmp_path, META, journal=False)
    shard = ReportDir.start(tmp_path / ".jobs" / "shard1", {**META, "shard": "1/2"})   # no deadlock
    shard.close()
    parent.close()


# --- 2. only what crosscheck wrote is deleted ---------------------------------------------------

def test_a_users_files_of_crosschecks_names_are_refused_then_replaced_only_when_asked(tmp_path, capsys):
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "test_fixture.json").write_text('{"mine": 1}')
    (tmp_path / "report.json").write_text('{"mine": 1}')
    args = ["run", "--ops", "relu", "--examples", "2", "--report", str(tmp_path)]
    code, _, err = _cli(args, tmp_path, capsys)
    assert code == 2 and "cases/test_fixture.json" in err and "report.json" in err and "--replace-report" in err
    assert (tmp_path / "cases" / "test_fixture.json").read_text() == '{"mine": 1}'
    with pytest.raises(ReportDirError, match="did not write"):
        ReportDir.start(tmp_path, META)
    ReportDir.start(tmp_path, META, replace=True).close()
    assert not (tmp_path / "cases" / "test_fixture.json").exists()


def test_the_next_run_deletes_exactly_the_files_the_previous_run_wrote(tmp_path):
    _run_session(tmp_path, [_failing(1), _failing(2)])
    written = sorted(p.name for p in (tmp_path / "cases").iterdir())
    assert len(written) == 2
    listed = [json.loads(line) for line in (tmp_path / ".crosscheck-manifest").read_text().splitlines()]
    assert set(listed) == {"report.json", "report.html", "journal.jsonl", *(f"cases/{n}" for n in written)}
    (tmp_path / "notes.txt").write_text("mine")           # not a name crosscheck writes: never touched
    (tmp_path / "cases" / "data.npy").write_bytes(b"x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.json"
    outside.write_text("{}")
    with open(tmp_path / ".crosscheck-manifest", "a") as f:   # a tampered manifest reaches nothing outside
        f.write(json.dumps(f"../{outside.name}") + "\n" + json.dumps(str(outside)) + "\n")
    _run_session(tmp_path, [_failing(3)])
    assert sorted(p.name for p in (tmp_path / "cases").iterdir()) == sorted(
        ["data.npy", Path(json.loads((tmp_path / "report.json").read_text())["outcomes"][0]["replay"]["file"]).name])
    assert (tmp_path / "notes.txt").exists() and outside.exists()


def test_a_directory_where_a_report_file_goes_is_refused_even_with_replace(tmp_path):
    (tmp_path / "report.json").mkdir()
    (tmp_path / "report.json" / "keep.txt").write_text("mine")
    with pytest.raises(ReportDirError, match="report.json is a directory"):
        ReportDir.start(tmp_path, META, replace=True)
    assert (tmp_path / "report.json" / "keep.txt").exists()


# --- 3. permissions -----------------------------------------------------------------------------

@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_report_files_get_a_plain_files_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        _run_session(tmp_path, [_failing()])
    finally:
        os.umask(old)
    files = [tmp_path / "report.json", tmp_path / "report.html", tmp_path / "journal.jsonl",
             *(tmp_path / "cases").glob("*.json")]
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(mode)}


# --- 4. write failures --------------------------------------------------------------------------

def _disk_full_after(monkeypatch, path: Path, whole_lines: int):
    """os.write to ``path`` takes ``whole_lines`` lines, then half of the next one and fails as a full disk does."""
    real_write, state = os.write, {"lines": 0}

    def write(fd, data):
        if os.path.realpath(f"/proc/self/fd/{fd}") != str(path.resolve()):
            return real_write(fd, data)
        if state["lines"] >= whole_lines:
            if state["lines"] == whole_lines:
                state["lines"] += 1
                return real_write(fd, data[:len(data) // 2])   # a short write: the disk filled up midway
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        state["lines"] += 1
        return real_write(fd, data)
    monkeypatch.setattr(os, "write", write)


def test_a_full_disk_mid_line_leaves_the_journal_whole(tmp_path, monkeypatch):
    journal = Journal(tmp_path / "journal.jsonl")
    _disk_full_after(monkeypatch, tmp_path / "journal.jsonl", 2)
    journal.append({"kind": "meta"})
    journal.append({"kind": "started", "key": "a"})
    with pytest.raises(ReportWriteError, match=r"journal.jsonl: No space left on device \(errno 28\)"):
        journal.append({"kind": "started", "key": "b" * 1000})
    journal.close()
    assert (tmp_path / "journal.jsonl").read_bytes().endswith(b"\n")     # the half line was cut back off
    assert read_journal_text(tmp_path / "journal.jsonl").entries == [{"kind": "meta"}, {"kind": "started", "key": "a"}]


def test_dev_full_is_a_write_failure_not_a_traceback(tmp_path):
    with pytest.raises(ReportWriteError, match=r"cannot write /dev/full: No space left on device"):
        Journal("/dev/full").append({"kind": "meta"})


def test_a_run_whose_disk_fills_up_exits_4_with_one_line(tmp_path, monkeypatch, capsys):
    _disk_full_after(monkeypatch, tmp_path / "rep" / "journal.jsonl", 3)
    code, out, err = _cli(["run", "--ops", "relu", "--dtype", "float64", "--examples", "5", "--no-error-parity",
                           "--in-process", "--report", "rep"], tmp_path, capsys)
    assert code == 4 and "Falsifying" not in out + err and "Traceback" not in out + err, out + err
    assert err.strip().splitlines() == ["crosscheck: error: cannot write rep/journal.jsonl: No space left on device "
                                        "(errno 28)"]
    text = read_journal_text(tmp_path / "rep" / "journal.jsonl")
    assert len(text.entries) == 3 and text.skipped == []
    monkeypatch.undo()   # the disk has room again
    ReportDir.start(tmp_path / "rep", META).close()   # released: the next run may start


def test_a_directory_where_a_report_file_goes_mid_run_is_a_write_failure(tmp_path):
    session = ReportSession()
    session.start(tmp_path, **META)
    session.add(_failing(1))
    (tmp_path / "cases" / replay_filename(_failing(2))).mkdir()
    with pytest.raises(ReportWriteError, match=r"cannot write .*cases/relu-float64-.*\.json: Is a directory"):
        session.add(_failing(2))
    (tmp_path / "report.json").unlink()
    (tmp_path / "report.json").mkdir()
    session.write(tmp_path, **META)   # the first failure is the one reported: this one is not raised over it
    other = ReportSession()
    other.start(tmp_path / "other", **META)
    (tmp_path / "other" / "report.json").unlink()
    (tmp_path / "other" / "report.json").mkdir()
    with pytest.raises(ReportWriteError, match=r"other/report.json: Is a directory"):
        other.write(tmp_path / "other", **META)
    assert other.owner is None   # released all the same


def test_a_shard_that_cannot_write_ends_the_run_with_its_line(tmp_path):
    class Ended:
        def poll(self):
            return 4
    shard = Shard(1, 2, [], tmp_path, target=None)
    shard.dirs, shard.child = [tmp_path / "shard1"], Ended()
    (tmp_path / "shard1.log").write_text("crosscheck: error: cannot write x/journal.jsonl: No space left on device\n")
    with pytest.raises(ShardWriteError, match=r"^shard 1/2: cannot write x/journal.jsonl: No space left on device$"):
        shard.poll()


def test_atomic_writes_leave_no_temporary_file_behind_when_they_fail(tmp_path):
    (tmp_path / "report.json").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write_text(tmp_path / "report.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
