"""Running one fault-injection probe and judging what it left.

A probe (:class:`Probe`) writes its hostile files into a fresh temporary directory, runs its steps
there (commands with a time limit, or Python callables that change the directory between commands),
and is judged by predicates that return findings: ``("lose", why)`` when work is lost (a hang past
the limit, a process left behind, a report that is still "in progress" or says ok when something
failed, a failing case without its replay file, an op that was never checked, a user's file
deleted, exit 0 after a failure) or ``("confuse", why)`` when the run works but misleads (a raw
traceback of crosscheck's own, an exit status outside the documented ones, blaming crosscheck for
the user's error, no mention of the argument or field at fault, raw terminal escapes). The verdict
is the worst finding, else "ok".

Every process a probe starts carries the environment variable ``CROSSCHECK_FAULT_PROBE=<token>``
(child processes inherit it): after a command returns, any process still carrying the token is a
process left behind; it is named in the finding, then killed.
"""
from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]      # the checkout whose crosscheck and npcnn are probed
MARK = "CROSSCHECK_FAULT_PROBE"
PY = sys.executable
DOCUMENTED_EXITS = {0, 1, 2, 3, 4, 130, 143}   # docs/running.md, docs/report-format.md (130/143: interrupted)
FAILING = {"mismatch", "reference-error", "reference-crash", "implementation-error", "implementation-crash",
           "implementation-timeout"}
LOSE, CONFUSE = "lose", "confuse"


@dataclass
class Cmd:
    """One command of a probe: ``argv`` run in the probe's directory for at most ``limit`` seconds.
    ``stdin``: "devnull", or "hold" (a pipe never written nor closed: ``input()`` blocks);
    ``fsize``: RLIMIT_FSIZE in bytes (SIGXFSZ ignored, so a write past it fails with EFBIG: a full
    disk without a tiny filesystem); ``documented``: the exit statuses that are documented for it."""
    argv: list
    limit: float = 90.0
    stdin: str = "devnull"
    env: dict = field(default_factory=dict)
    fsize: int | None = None
    background: bool = False          # started and left running; the next step runs at once
    documented: set = field(default_factory=lambda: set(DOCUMENTED_EXITS))


@dataclass
class Result:
    argv: list
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    elapsed: float = 0.0
    timed_out: bool = False           # still running at its limit: killed
    pipe_held: bool = False           # it exited, but something it started kept its stdout/stderr open
    leftovers: list = field(default_factory=list)
    pid: int | None = None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Run:
    tmp: Path
    results: list
    token: str

    def last(self) -> Result:
        return self.results[-1]


@dataclass
class Probe:
    name: str
    klass: str
    expect: str                        # the good behaviour, in words
    steps: list                        # Cmd, or callable(tmp: Path, run: Run) -> None
    judge: Callable | None = None      # callable(run: Run) -> list of (verdict, reason)
    files: dict = field(default_factory=dict)   # relative path -> str or bytes, written first
    needs: str | None = None           # a module the measured environment must have, else "skipped"
    generic: bool = True               # apply the generic output checks to every command


def python_env(tmp: Path, token: str, extra: dict) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp), str(ROOT)])
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    env["COLUMNS"] = "150"
    env[MARK] = token
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    env.update(extra)
    return env


def marked_processes(token: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose environment carries the probe's token."""
    found, needle = [], f"{MARK}={token}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append((int(entry), cmd[:120]))
    return found


def kill_marked(token: str) -> None:
    for pid, _ in marked_processes(token):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _limits(fsize):
    def apply():
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return apply


def run_cmd(cmd: Cmd, tmp: Path, token: str, background: list) -> Result:
    """Run ``cmd`` to its end, or start it (``cmd.background``: its processes carry a token of their
    own, so that they are not taken for what the next command left behind)."""
    if cmd.background:
        token = background_token(token)
    env = python_env(tmp, token, cmd.env)
    stdin = subprocess.PIPE if cmd.stdin == "hold" else subprocess.DEVNULL
    start = time.monotonic()
    proc = subprocess.Popen(cmd.argv, cwd=tmp, env=env, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_limits(cmd.fsize))
    result = Result(cmd.argv, pid=proc.pid)
    if cmd.background:
        background.append((proc, result, start))
        return result
    finish(proc, result, start, cmd.limit, token)
    return result


def background_token(token: str) -> str:
    return token + "-background"


def finish(proc, result: Result, start: float, limit: float, token: str) -> None:
    try:
        out, err = proc.communicate(timeout=max(0.1, limit - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        if proc.poll() is None:
            result.timed_out = True
        else:
            result.pipe_held = True
        if result.pipe_held:
            result.leftovers = [c for _, c in marked_processes(token)]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        kill_marked(token)
        out, err = proc.communicate()
    result.elapsed = time.monotonic() - start
    result.rc = proc.returncode
    result.stdout = out.decode(errors="replace")
    result.stderr = err.decode(errors="replace")
    if not result.leftovers:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and marked_processes(token):
            time.sleep(0.2)
        result.leftovers = [c for _, c in marked_processes(token)]
    kill_marked(token)


def execute(probe: Probe, base: Path) -> tuple[str, str, Run | None]:
    """Run ``probe`` in a fresh directory under ``base``: (verdict, reason, run)."""
    if probe.needs:
        check = subprocess.run([PY, "-c", f"import {probe.needs}"], capture_output=True,
                               env=python_env(base, "none", {}))
        if check.returncode != 0:
            return "skipped", f"{probe.needs} is not installed here", None
    tmp = Path(tempfile.mkdtemp(prefix=re.sub(r"\W", "_", probe.name)[:40] + "-", dir=base))
    token = uuid.uuid4().hex
    for rel, content in probe.files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    run, background = Run(tmp, [], token), []
    try:
        for step in probe.steps:
            if isinstance(step, Cmd):
                run.results.append(run_cmd(step, tmp, token, background))
            else:
                step(tmp, run)
        for proc, result, start in background:
            finish(proc, result, start, 120, background_token(token))
        findings = generic_findings(run) if probe.generic else []
        findings += list(probe.judge(run)) if probe.judge else []
    except Exception as exc:     # the probe's own failure: reported, never counted as the code's
        kill_marked(token)
        return "error", f"probe failed: {type(exc).__name__}: {exc}", run
    finally:
        kill_marked(token)
        kill_marked(background_token(token))
    for verdict in (LOSE, CONFUSE):
        reasons = [why for v, why in findings if v == verdict]
        if reasons:
            return verdict, "; ".join(dict.fromkeys(reasons)), run
    return "ok", "", run


# --- generic predicates ------------------------------------------------------------------------

_OWN_FRAME = re.compile(r'File "[^"]*/(crosscheck|npcnn)/[^"]*", line \d+')
_BLAME = re.compile(r"crosscheck bug|bug in crosscheck|crosscheck itself (crashed|failed)|internal error", re.I)


def own_traceback(text: str) -> bool:
    """A raw Python traceback that runs through crosscheck's (or npcnn's) own files."""
    for block in text.split("Traceback (most recent call last):")[1:]:
        if _OWN_FRAME.search(block[:20000]):
            return True
    return False


def generic_findings(run: Run) -> list:
    findings = []
    for r in run.results:
        if not isinstance(r, Result):
            continue
        cmd = " ".join(map(str, r.argv[2:6]))
        if r.timed_out:
            findings.append((LOSE, f"`{cmd}` still running after {r.elapsed:.0f} s (hang)"))
        if r.pipe_held:
            findings.append((LOSE, f"`{cmd}` exited but its output pipe stayed open {r.elapsed:.0f} s"))
        if r.leftovers:
            findings.append((LOSE, f"process left behind: {r.leftovers[0]}"))
        if r.timed_out or r.pipe_held:
            continue
        if own_traceback(r.stderr):
            findings.append((CONFUSE, f"`{cmd}` printed a traceback of crosscheck's own on stderr: "
                                      f"{last_line(r.stderr)}"))
        if "\x1b" in r.output or "\x07" in r.output:
            findings.append((CONFUSE, f"`{cmd}` printed raw terminal escape characters"))
    return findings


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def report_findings(run: Run, report: str = "R", ops=("relu", "sigmoid"), failing: bool = True,
                    result: Result | None = None, checked_ops=None) -> list:
    """The report of a run that should have finished: not in progress, ok only when nothing failed,
    every failing outcome with its replay file on disk, every replay file referenced, every op in
    ``checked_ops`` (default ``ops``) with cases, and the exit status saying the same."""
    result = result or run.last()
    findings = []
    if result.timed_out or result.pipe_held:
        return findings
    directory = run.tmp / report
    doc = load_json(directory / "report.json")
    if doc is None:
        return [(LOSE, f"no readable {report}/report.json after the run (exit {result.rc})")]
    if doc.get("in_progress"):
        findings.append((LOSE, f"{report}/report.json still says in progress (exit {result.rc})"))
    if failing and doc.get("ok"):
        findings.append((LOSE, "report.json says ok although the code under test failed"))
    if failing and result.rc == 0:
        findings.append((LOSE, "exit 0 although the code under test failed"))
    if failing is False and result.rc not in (0, None):
        findings.append((CONFUSE, f"exit {result.rc} for a run that should pass: {last_line(result.output)}"))
    if failing and result.rc not in (1, 0, None):
        findings.append((CONFUSE, f"exit {result.rc} (1 means failures found): {last_line(result.output)}"))
    referenced = set()
    for outcome in doc.get("outcomes") or []:
        if outcome.get("status") not in FAILING:
            continue
        replay = (outcome.get("replay") or {}).get("file")
        if not replay:
            findings.append((LOSE, f"a {outcome.get('status')} outcome of {outcome.get('op')} has no replay file"))
            continue
        path = Path(replay) if Path(replay).is_absolute() else run.tmp / replay
        if not path.is_file():
            findings.append((LOSE, f"replay file {replay} referenced by the report does not exist"))
        referenced.add(path.resolve())
    cases = directory / "cases"
    if cases.is_dir():
        for f in cases.glob("*.json"):
            if f.resolve() not in referenced and not f.name.startswith(("test_", "user_")):
                findings.append((LOSE, f"replay file cases/{f.name} is referenced by no outcome"))
                break
    summary_ops = (doc.get("summary") or {}).get("ops") or {}
    for op in checked_ops if checked_ops is not None else ops:
        counts = summary_ops.get(op) or {}
        if not sum(v for k, v in counts.items() if isinstance(v, int)):
            findings.append((LOSE, f"op {op} has no case in the report (the run stopped before it)"))
    return findings
