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
    crash_after(entries)    the parent's view: (done keys, the key that was running) of a dead shard
    fatal_line(log)         the last line TensorFlow printed before it died (``F0000 ... Check failed``)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .case import REFERENCE_CRASH, Outcome

#: how many times one shard is restarted after crashes before the run gives up on it
MAX_ATTEMPTS = 25
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
        if key in self.done:
            return None
        if key in self.crashed:
            return crash_outcome(case, self.crashed[key])
        self.started(key)
        return run()

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
