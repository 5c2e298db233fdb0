"""Nothing lost: faults in the code under test (segfault, abort, os._exit, a hang) cost one case each,
signals and kills leave a report (or a journal it is rebuilt from), an unusable report directory is
refused before any work, and a replay file never chooses the code that runs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAULTY = '''"""npcnn.functional, with faults keyed on the batch size of relu's input."""
import ctypes, os, time
from npcnn.functional import *  # noqa
from npcnn.functional import relu as _relu, vjp as _vjp

FAULTS = {FAULTS}
ONCE = {ONCE}   # each fault on its first case only (a marker file in the working directory)

def _fault(x):
    kind = FAULTS.get(getattr(x, "shape", (0,))[0] if getattr(x, "ndim", 0) else -1)
    if kind and ONCE:
        try:
            os.close(os.open(f".fault-{kind}", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
    if kind == "segfault":
        ctypes.string_at(0)
    if kind == "abort":
        os.abort()
    if kind == "exit":
        os._exit(7)
    if kind == "hang":
        time.sleep(1000)
    if kind == "slow":
        time.sleep(0.4)

def relu(features):
    _fault(features)
    return _relu(features)

def vjp(op, *arrays, **params):
    if op == "relu":
        _fault(arrays[0])
    return _vjp(op, *arrays, **params)
'''


def write_impl(tmp_path, name: str, faults: dict, once: bool = False) -> Path:
    (tmp_path / f"{name}.py").write_text(FAULTY.replace("{FAULTS}", repr(faults)).replace("{ONCE}", repr(once)))
    return tmp_path


def crosscheck(args, cwd):
    """The command in this process (test_cli.crosscheck): the faults happen in crosscheck's worker
    processes either way; the signal tests below start a real ``python -m crosscheck``."""
    from test_cli import crosscheck as in_process
    return in_process(args, cwd, cwd)


def report(path) -> dict:
    return json.loads((Path(path) / "report.json").read_text())


def test_each_fault_costs_one_case_and_the_run_goes_on(tmp_path):
    # each fault strikes the first case of its batch size only: the later cases of that size run in
    # the restarted worker and pass
    faults = {1: "segfault", 2: "abort", 3: "exit", 4: "hang"}
    write_impl(tmp_path, "faulty", faults, once=True)
    r = crosscheck(["run", "--ops", "relu", "--dtype", "float64", "--examples", "60", "--timeout", "3",
                    "--no-error-parity", "--impl", "faulty", "--report", "rep"], tmp_path)
    assert r.returncode == 1, r.stderr
    doc = report(tmp_path / "rep")
    counts = doc["summary"]["counts"]
    assert counts["implementation-crash"] == 3 and counts["implementation-timeout"] == 1, counts
    assert counts["pass"] >= 50          # cases before and after the faults, of the faults' sizes too
    batch = lambda o: o["shapes"]["features"][0] if o["shapes"]["features"] else None  # noqa: E731
    failed = {faults.get(batch(o)): o for o in doc["outcomes"] if o["status"] != "pass"}
    assert set(failed) == set(faults.values()) and len(failed) == 4
    assert "SIGSEGV" in failed["segfault"]["message"] and failed["segfault"]["status"] == "implementation-crash"
    assert "SIGABRT" in failed["abort"]["message"] and failed["abort"]["status"] == "implementation-crash"
    assert "exited with status 7" in failed["exit"]["message"] and failed["exit"]["status"] == "implementation-crash"
    assert failed["hang"]["status"] == "implementation-timeout" and "within 3 s" in failed["hang"]["message"]
    assert all((tmp_path / o["replay"]["file"]).exists() for o in doc["outcomes"])
    assert "crashed" in r.stdout and "timed out" in r.stdout


def _start(tmp_path, name: str, report_dir: str, jobs: str):
    """A slow run (-j ``jobs``, relu in both dtypes: two shards with -j 2), once it journaled 5 outcomes
    and, with -j 2, each shard some (on a loaded machine one shard can still be importing when the
    other has journaled 5; stopped then, it has found nothing and writes no report)."""
    write_impl(tmp_path, name, {n: "slow" for n in range(0, 10)})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "crosscheck", "run", "--ops", "relu", "--examples", "200",
                             "--no-error-parity", "--impl", name, "-j", jobs, "--report", report_dir], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        journals = _journals(tmp_path / report_dir)
        if _journaled(tmp_path / report_dir) >= 5 and len(journals) == int(jobs) \
                and all('"kind": "outcome"' in j.read_text() for j in journals):
            return proc
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("the run never journaled five outcomes")


def _journals(d: Path) -> list[Path]:
    """The run's journal, or its shards' (under .jobs/) for a -j run."""
    return [d / "journal.jsonl"] if (d / "journal.jsonl").exists() else sorted(d.glob(".jobs/shard*/journal.jsonl"))


def _journaled(d: Path) -> int:
    return sum(1 for j in _journals(d) for line in j.read_text().splitlines() if '"kind": "outcome"' in line)


def _stale_report(tmp_path, report_dir: str):
    """A passing report of an earlier run: it must not survive as this run's verdict."""
    d = tmp_path / report_dir
    (d / "cases").mkdir(parents=True)
    (d / "report.json").write_text(json.dumps({"format": "crosscheck-report", "ok": True, "outcomes": []}))
    (d / "cases" / "old-case.json").write_text("{}")
    (d / ".crosscheck-manifest").write_text('"report.json"\n"cases/old-case.json"\n')   # written by crosscheck


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigterm_writes_the_report_of_what_was_found(tmp_path, jobs):
    _stale_report(tmp_path, "rep")
    proc = _start(tmp_path, "slowterm", "rep", jobs)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    doc = report(tmp_path / "rep")
    assert doc["ok"] is False and doc.get("interrupted") is True
    assert doc["summary"]["total"] >= 5
    if jobs == "2":   # both shards' outcomes merged, the shard directories gone
        assert doc["jobs"] == 2 and set(doc["summary"]["ops"]["relu"]["dtypes"]) == {"float32", "float64"}
        assert not (tmp_path / "rep" / ".jobs").exists()
    assert not (tmp_path / "rep" / "cases" / "old-case.json").exists()
    assert "terminated" in err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_after_sigkill_the_journal_rebuilds_the_report(tmp_path, jobs):
    _stale_report(tmp_path, "rep")
    proc = _start(tmp_path, "slowkill", "rep", jobs)
    proc.kill()
    proc.communicate(timeout=60)
    doc = report(tmp_path / "rep")
    assert doc["ok"] is False and doc["in_progress"] is True       # the stale ok: true is gone
    if jobs == "2":   # the shards learn that their parent died, write their reports and stop
        shard_reports = [tmp_path / "rep" / ".jobs" / f"shard{k}" / "report.json" for k in (1, 2)]
        deadline = time.monotonic() + 120
        while not all(p.exists() and json.loads(p.read_text()).get("interrupted") for p in shard_reports):
            assert time.monotonic() < deadline, "the shards ran on after their parent was killed"
            time.sleep(0.3)
    journaled = _journaled(tmp_path / "rep")
    r = crosscheck(["report", "rep"], tmp_path)
    assert r.returncode == 1 and "interrupted" in r.stdout
    doc = report(tmp_path / "rep")
    assert doc["summary"]["total"] == journaled >= 5 and doc["interrupted"] is True and doc["ok"] is False
    assert (tmp_path / "rep" / "report.html").exists()


def test_unusable_report_directory_is_refused_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("x")
    r = crosscheck(["run", "--ops", "relu", "--examples", "2", "--report", "afile"], tmp_path)
    assert r.returncode == 2 and "a file is in its place" in r.stderr
    target = _unwritable_dir(tmp_path)
    try:
        r = crosscheck(["check", str(ROOT / "tests/crosscheck/cs231n_reference.py"), "--report", f"{target}/r"],
                       tmp_path)
        assert r.returncode == 2 and "cannot write there" in r.stderr
    finally:
        (tmp_path / "locked").chmod(0o700)


def _unwritable_dir(tmp_path) -> str:
    """A directory the tests cannot write to: a read-only one, or for root (who writes anywhere on
    a normal file system) a path under /sys, which refuses new directories even to root."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if not os.access(locked, os.W_OK):
        return str(locked)
    try:
        os.mkdir("/sys/crosscheck-probe")
    except OSError:
        return "/sys/crosscheck-probe"
    os.rmdir("/sys/crosscheck-probe")
    pytest.fail("found no directory that refuses writes on this machine")


def test_unwritable_report_directory_as_root_is_refused_too(tmp_path, monkeypatch):
    """The same refusal through the function the CLI calls, with the write made to fail."""
    from crosscheck.cli import main
    from crosscheck.report import journal

    def refuse(self, *a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(journal.Path, "write_text", refuse)
    assert main(["run", "--ops", "relu", "--examples", "2", "--report", str(tmp_path / "r")]) == 2


CHECK_FAULTS = '''import ctypes, os, time
import numpy as np

def relu_forward(x):
    if x.shape == (4, 5):
        ctypes.string_at(0)
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    if cache.shape == (3, 7):
        time.sleep(1000)
    return dout * (cache > 0)
'''


def test_check_survives_crashes_and_hangs_of_the_users_functions(tmp_path):
    (tmp_path / "student.py").write_text(CHECK_FAULTS)
    r = crosscheck(["check", "student.py", "--examples", "6", "--timeout", "4", "--report", "rep"], tmp_path)
    assert r.returncode == 1, r.stderr
    doc = report(tmp_path / "rep")
    rows = {f["name"]: f for f in doc["functions"]}
    assert any(c.startswith("crashes (killed by signal SIGSEGV)") for c in rows["relu_forward"]["causes"])
    assert rows["relu_forward"]["failing"] < rows["relu_forward"]["examples"]     # the other cases ran
    assert "hangs" in rows["relu_backward"]["causes"] or any(c.startswith("crashes") for c in rows["relu_backward"]["causes"])


def test_check_import_that_hangs_or_crashes_is_a_message(tmp_path):
    (tmp_path / "hangs.py").write_text("while True:\n    pass\n")
    (tmp_path / "crashes.py").write_text("import ctypes\nctypes.string_at(0)\n")
    r = crosscheck(["check", "hangs.py", "--timeout", "3", "--report", "rep"], tmp_path)
    assert r.returncode == 1 and "did not finish within 3 s" in r.stdout
    r = crosscheck(["check", "crashes.py", "--report", "rep"], tmp_path)
    assert r.returncode == 1 and "crashed the Python process: killed by signal SIGSEGV" in r.stdout
    assert report(tmp_path / "rep")["ok"] is False


def _replay_file(tmp_path) -> Path:
    from crosscheck.registry import get_op  # noqa: F401
    from crosscheck.replay import save_case
    from crosscheck.case import Case
    import numpy as np
    case = Case("relu", {}, {"features": np.array([[1.0, -2.0]])}, np.array([[0.5, 0.5]]), "float64", 0)
    return save_case(tmp_path / "case.json", case)


def test_replay_never_imports_the_module_a_file_names(tmp_path):
    (tmp_path / "evil.py").write_text("open('IMPORTED', 'w').write('x')\n"
                                      "from npcnn.functional import *\n")
    path = _replay_file(tmp_path)
    doc = json.loads(path.read_text())
    doc["impl"] = "evil"
    path.write_text(json.dumps(doc))
    r = crosscheck(["replay", "case.json"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "IMPORTED").exists()
    assert "--impl evil" in r.stdout        # it says how to run the recorded one


@pytest.mark.parametrize("edit, reason", [
    (lambda d: d["case"].update(op="no_such_op"), "unknown op"),
    (lambda d: d["case"]["arrays"]["features"].update(shape=[-1, 2]), "shape[0]: -1 is smaller than 0"),
    (lambda d: d["case"].update(dtype="int32"), "case.dtype: 'int32' is not one of float32, float64"),
    (lambda d: d["case"]["params"].update(alpha=0.3), "takes no parameter alpha"),
    (lambda d: d["case"]["arrays"].update(x=d["case"]["arrays"]["features"]), "takes the arrays"),
    (lambda d: d.update(format="something-else"), "not a crosscheck replay file"),
])
def test_unusable_replay_files_exit_2(tmp_path, edit, reason):
    path = _replay_file(tmp_path)
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    r = crosscheck(["replay", "case.json"], tmp_path)
    assert r.returncode == 2 and reason in r.stderr, (r.returncode, r.stderr)


def test_run_case_isolated_under_pytest(tmp_path, monkeypatch):
    import numpy as np
    from crosscheck.case import Case
    from crosscheck.runner import run_case
    write_impl(tmp_path, "faulty_inline", {1: "segfault"})
    monkeypatch.syspath_prepend(str(tmp_path))
    crash = Case("relu", {}, {"features": np.ones((1, 3))}, np.ones((1, 3)), "float64", 0)
    fine = Case("relu", {}, {"features": -np.ones((5, 3))}, np.ones((5, 3)), "float64", 0)
    assert run_case(crash, "faulty_inline", isolated=True).status == "implementation-crash"
    assert run_case(fine, "faulty_inline", isolated=True).status == "pass"      # the worker was restarted


def test_the_worker_imports_what_the_callers_path_finds_first(tmp_path):
    """A copy of npcnn earlier on PYTHONPATH than the installed one (a fork, a mutant) is what the
    worker checks, as in-process: crosscheck's own root must not shadow it."""
    import shutil
    fork, elsewhere = tmp_path / "fork", tmp_path / "elsewhere"
    shutil.copytree(ROOT / "npcnn", fork / "npcnn")
    elsewhere.mkdir()
    with open(fork / "npcnn" / "__init__.py", "a") as f:
        f.write("\n\ndef which_copy():\n    return __file__\n")
    code = ("from crosscheck.isolation import IsolatedModule\n"
            "print(IsolatedModule('npcnn', 60).which_copy())")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fork), str(ROOT)])}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                       cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(fork / "npcnn" / "__init__.py")


PROBE = '''import json, multiprocessing, os, sys
child = multiprocessing.get_context("spawn").Process(target=os._exit, args=(7,))
child.start()
child.join()
json.dump({"cwd": os.getcwd(), "mark": os.environ.get("CROSSCHECK_TEST_MARK"), "ppid": os.getppid(),
           "child_exit": child.exitcode, "stdout": os.readlink("/proc/self/fd/1"),
           "tensorflow_before_the_file": "tensorflow" in sys.modules,
           "blas_threads": [i["num_threads"] for i in __import__("threadpoolctl").threadpool_info()
                            if i["user_api"] == "blas"]}, open("probe.json", "w"))
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_a_check_worker_is_forked_and_runs_where_and_as_the_caller_says(tmp_path, monkeypatch):
    """Check workers are forked from the fork server that has imported TensorFlow (a restart after a
    crash costs no import), yet see what a new process would: the caller's working directory and
    environment *now* (not those of the server's start), stdout on /dev/null, and the right to
    start processes of their own."""
    from crosscheck.forking import ForkedProcess
    from crosscheck.check.worker import CheckWorker
    (tmp_path / "first.py").write_text("")
    first = CheckWorker(str(tmp_path / "first.py"), "cs231n", 120)   # the fork server runs from here on
    first.start()
    first.close()
    here = tmp_path / "elsewhere"
    here.mkdir()
    (here / "probe.py").write_text(PROBE)
    monkeypatch.chdir(here)
    monkeypatch.setenv("CROSSCHECK_TEST_MARK", "set after the server started")
    worker = CheckWorker("probe.py", "cs231n", 120)
    try:
        worker.start()
        assert isinstance(worker.process, ForkedProcess)
    finally:
        worker.close()
    probe = json.loads((here / "probe.json").read_text())
    assert probe["ppid"] != os.getpid()          # a child of the fork server, not of this process
    assert probe["cwd"] == str(here)
    assert probe["mark"] == "set after the server started"
    assert probe["stdout"] == os.devnull
    assert probe["child_exit"] == 7
    assert probe["tensorflow_before_the_file"]
    assert probe["blas_threads"] and set(probe["blas_threads"]) == {1}   # the server's limit, inherited


def test_without_a_fork_server_the_check_worker_starts_python(tmp_path, monkeypatch):
    """Where the fork server cannot start a worker (none on the platform, or it died), the worker
    is a new ``python`` process, a child of this one, with the same behaviour: a crash is reported
    with its signal."""
    import crosscheck.forking
    import crosscheck.check.worker
    import crosscheck.isolation as isolation
    monkeypatch.setattr(crosscheck.forking, "fork_context", lambda: None)
    (tmp_path / "crashes.py").write_text(
        "import ctypes, os\nopen('ppid', 'w').write(str(os.getppid()))\nctypes.string_at(0)\n")
    monkeypatch.chdir(tmp_path)
    worker = crosscheck.check.worker.CheckWorker("crashes.py", "cs231n", 120)
    with pytest.raises(isolation.WorkerCrash, match="killed by signal SIGSEGV"):
        worker.start()
    assert int((tmp_path / "ppid").read_text()) == os.getpid()


def test_forked_processes_never_run_the_callers_script_again(tmp_path):
    """multiprocessing's fork server would import the caller's ``__main__`` script in the server
    and in each child; crosscheck's forked processes run only crosscheck's own functions, so a
    script without an ``if __name__ == "__main__"`` guard runs once. The script's own process never
    imports TensorFlow either: the check worker computes the references (a 6 s import saved)."""
    (tmp_path / "student.py").write_text("def relu_forward(x):\n    return x * (x > 0), x\n")
    script = ("open('runs', 'a').write('run\\n')\n"
              "import sys\n"
              "from crosscheck.cli import main\n"
              "main(['check', 'student.py', '--examples', '1', '--report', 'rep'])\n"
              "open('tf', 'w').write(str('tensorflow' in sys.modules))\n")
    (tmp_path / "unguarded.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "unguarded.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert "relu_forward" in r.stdout, r.stdout + r.stderr
    assert (tmp_path / "runs").read_text() == "run\n"
    assert (tmp_path / "tf").read_text() == "False"
