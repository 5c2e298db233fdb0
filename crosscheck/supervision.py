"""A TensorFlow crash costs one case, not the run.

TensorFlow runs in crosscheck's own processes (references, error parity, diagnosis and arbiter
recomputations), and some of its defects abort or segfault the process (docs/tf-defects.md, kind
*crash*). A registered crash is kept away from TensorFlow; for any other, ``crosscheck run`` runs
its work in shard processes (``cli.cmd_run_parallel``) that journal each unit of TensorFlow work
*before* it starts (a ``{"kind": "started", "key": ...}`` line in the shard's journal: one fuzzed
case, one error-parity call, one shrink, one optimizer's networks). When a shard dies of a signal,
its parent reads the journal: the last unit started is the one TensorFlow died in, every unit
started before it is done. A new attempt of the shard runs with a resume file that skips the done
units and turns the crashing one, when it is drawn again, into a ``reference-crash`` outcome
(signal, TensorFlow's ``Check failed`` line, a replay file), and the run goes on.

    Resume                  a shard's view: which units to skip, which crashed (``--resume FILE``)
    Shard                   the parent's view: one shard's process and its attempts
    crash_after(entries)    (done keys, the key that was running) of a dead shard, from its journal
    fatal_line(log)         the last line TensorFlow printed before it died (``F0000 ... Check failed``)
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import forking
from .case import REFERENCE_CRASH, Outcome
from .isolation import describe_exit
from .report.report_dir import ReportDirError, read_journal

#: how many times one shard is restarted after crashes before the run gives up on it
MAX_ATTEMPTS = 25
#: how a shard process ends (the command's exit statuses): done, done with failures, a usage error, a
#: report file it could not write
FINISHED, USAGE, WRITE_FAILED = (0, 1), 2, 4
_FATAL = re.compile(r"(Check failed|F\d{4} |Fatal Python error|Floating point exception|Segmentation fault|"
                    r"terminate called|Aborted)")


@dataclass
class Resume:
    """A shard's units to skip (``done``: their outcomes are in an earlier attempt's journal) and the
    units TensorFlow crashed in (``crashed``: key -> how it died). ``journal``: where a unit's start
    is written (None: nothing is journaled)."""
    done: set = field(default_factory=set)
    crashed: dict = field(default_factory=dict)
    journal: object = None

    @classmethod
    def load(cls, path: str | None, journal=None) -> "Resume":
        if not path:
            return cls(journal=journal)
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(set(doc.get("done", [])), dict(doc.get("crashed", {})), journal)

    def started(self, key: str) -> None:
        if self.journal is not None:
            self.journal.append({"kind": "started", "key": key})

    def guard(self, key: str, case, run: Callable[[], Outcome]) -> Outcome | None:
        """``run()``'s outcome for the unit ``key`` of ``case``; None for a unit already done; a
        reference-crash outcome for the unit TensorFlow crashed in (``run`` is not called again)."""
        state = self.unit(key)
        return None if state == "done" else crash_outcome(case, self.crashed[key]) if state == "crashed" else run()

    def unit(self, key: str) -> str:
        """For a unit that is not a case: "done", "crashed" or "run" (its start journaled)."""
        if key in self.done:
            return "done"
        if key in self.crashed:
            return "crashed"
        self.started(key)
        return "run"


def crash_message(crash: dict) -> str:
    line = crash.get("line") or "(TensorFlow printed nothing)"
    return (f"the process computing TensorFlow's reference was {crash.get('how', 'killed')}; TensorFlow's last "
            f"words: {line}\nreplay it in a child process: crosscheck replay <this case's replay file>")


def crash_outcome(case, crash: dict) -> Outcome:
    return Outcome(case, REFERENCE_CRASH, message=crash_message(crash))


def crash_after(entries: list[dict]) -> tuple[list[str], str | None]:
    """(the units a dead shard finished, the unit it died in or None) from its journal's entries."""
    keys = [e["key"] for e in entries if e.get("kind") == "started"]
    return (keys[:-1], keys[-1]) if keys else ([], None)


def fatal_line(log_text: str) -> str:
    """The last line of a dead process's output that says why it died (TensorFlow's ``F0000 ...
    Check failed: ...``), or its last non-empty line."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    fatal = [line for line in lines if _FATAL.search(line) and not line.startswith("@")]
    return (fatal[-1] if fatal else lines[-1] if lines else "")[:500]


# ------------------------------------------------------------------------------- the parent's side

class ShardUsageError(Exception):
    """A shard ended with a usage error (an --impl that cannot be imported): its own message."""


class ShardWriteError(Exception):
    """A shard could not write a file of its report (disk full): its own message."""


def exit_with_parent() -> None:
    """In a shard process (Linux): SIGTERM when the parent dies, so a killed run's shards write their
    reports and stop instead of running on unseen (``crosscheck report DIR`` merges them)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def journal_finished(report_dir: Path) -> bool:
    try:
        return any(e.get("kind") == "end" for e in read_journal(report_dir))
    except ReportDirError:
        return False


def start_shard(argv: list, log_path: Path, name: str, target: Callable):
    """A process running ``target(argv)`` (``crosscheck ARGV``), its output in ``log_path``: forked from
    the fork server (:mod:`crosscheck.forking`), or a new python. Returns (process, open log or None)."""
    child, log = forking.start(target, (argv,), output=log_path, name=name), None
    if child is None:   # no fork server: a new python process, the same program
        log = open(log_path, "w")
        child = subprocess.Popen([sys.executable, "-m", "crosscheck", *argv], stdout=log, stderr=subprocess.STDOUT,
                                 preexec_fn=exit_with_parent if os.name == "posix" else None)
    return child, log


class Shard:
    """Shard ``k`` of ``jobs`` of a supervised run and its attempts (a new one after each TensorFlow
    crash), each a ``crosscheck run ... --shard k/jobs --report jobs_dir/shardK[.N]`` process."""

    def __init__(self, k: int, jobs: int, base: list, jobs_dir: Path, target: Callable):
        self.k, self.jobs, self.base, self.jobs_dir, self.target = k, jobs, base, jobs_dir, target
        self.dirs: list[Path] = []
        self.done: list[str] = []
        self.crashed: dict = {}
        self.code: int | None = None
        self.child = self.log = None
        self.lost = ""   # why the shard could not be restarted (crosscheck itself died)

    def start(self) -> None:
        n = len(self.dirs)
        d = self.jobs_dir / (f"shard{self.k}" + (f".{n}" if n else ""))
        argv = [*self.base, "--shard", f"{self.k}/{self.jobs}", "--report", str(d), "--in-shard"]
        if n:
            resume = self.jobs_dir / f"shard{self.k}.{n}.resume.json"
            resume.write_text(json.dumps({"done": self.done, "crashed": self.crashed}), encoding="utf-8")
            argv += ["--resume", str(resume)]
        self.dirs.append(d)
        self.child, self.log = start_shard(argv, self.jobs_dir / f"{d.name}.log", f"crosscheck-{d.name}", self.target)

    def poll(self) -> bool:
        """Whether the shard has ended for good (restarted past a TensorFlow crash otherwise);
        ShardUsageError when it ended with a usage error."""
        code = self.child.poll()
        if code is None:
            return False
        if self.log is not None:
            self.log.close()
        log_path = self.jobs_dir / f"{self.dirs[-1].name}.log"
        log_text = log_path.read_text(errors="replace")
        if code in FINISHED:
            self.code = code
            if not journal_finished(self.dirs[-1]):   # a traceback of crosscheck's own: say so, keep the log
                self.lost = (f"shard {self.k}/{self.jobs} stopped before its end (exit status {code}; its log: "
                             f"{log_path}):\n" + log_text.strip()[-1500:])
            return True
        if code == WRITE_FAILED:
            self.code = code
            last = (log_text.strip().splitlines() or [""])[-1].removeprefix("crosscheck: error: ")
            raise ShardWriteError(f"shard {self.k}/{self.jobs}: " + (last or f"a file of its report could not be "
                                                                     f"written, nor its log {log_path} (disk full?)"))
        if code == USAGE:
            raise ShardUsageError(log_text.strip().removeprefix("crosscheck: error: ") if self.jobs == 1 else
                                  f"shard {self.k}/{self.jobs} ended with exit status 2:\n{log_text[-2000:]}")
        how = describe_exit(code)
        try:
            done, running = crash_after(read_journal(self.dirs[-1]))
        except ReportDirError:
            done, running = [], None
        if running is None or len(self.dirs) >= MAX_ATTEMPTS:
            self.code, self.lost = code, (f"shard {self.k}/{self.jobs} {how} outside any unit of TensorFlow work "
                                          f"(crosscheck itself crashed): {fatal_line(log_text)}" if running is None
                                          else f"shard {self.k}/{self.jobs} crashed {MAX_ATTEMPTS} times; stopped")
            return True
        self.done += done
        self.crashed[running] = {"how": how, "line": fatal_line(log_text)}
        self.start()
        return False

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()
        if self.child is not None:
            self.child.wait()
        if self.log is not None:
            self.log.close()
