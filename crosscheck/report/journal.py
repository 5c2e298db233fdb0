"""A run's journal, ``journal.jsonl``: every outcome appended as one JSON line the moment it is found,
so that nothing found is lost if the run dies.

``{"kind": "meta", ...}`` first, then ``{"kind": "outcome", "summary": <this outcome's summary>,
"outcome": <its dict, or null for a pass>}``, ``{"kind": "minimal", "outcome": ...}`` (a shrunk
case), ``{"kind": "parity", "parity": ...}`` and ``{"kind": "started", "key": ...}`` lines, and
``{"kind": "end"}`` when the run finished; a pytest session's also ``test``, ``worker``,
``worker-down`` and ``example`` lines (:mod:`.pytest_journals`).

Each line is written with one ``os.write`` (:func:`crosscheck.files.append_whole`: a short write is
cut back off), and a reader takes only lines that end in a newline: a line is read whole or not at
all. A reader keeps every whole line it can use; one it cannot (not UTF-8, not JSON, not an entry
of a known kind with fields of the right types) is skipped and counted (:class:`JournalText`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..case import STATUSES
from ..files import ReportWriteError, append_whole, plain_file_mode, writing
from ..replay import jsonable


class Journal:
    """``journal.jsonl`` of one run, appended line by line. ``record(path)`` (optional) is told of
    the file before it is created (the report directory's manifest)."""

    def __init__(self, path, record=None):
        self.path = Path(path)
        self.failed = False   # an append failed (the run is ending with a ReportWriteError)
        if record is not None:
            record(self.path)
        with writing(self.path):
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC | os.O_CLOEXEC,
                              plain_file_mode())

    def append(self, entry: dict) -> None:
        """``entry`` as one whole line; ReportWriteError when it cannot be written."""
        data = (json.dumps(jsonable(entry), allow_nan=False) + "\n").encode("utf-8")
        try:
            with writing(self.path):
                append_whole(self.fd, data)
        except ReportWriteError:
            self.failed = True
            raise

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass
class JournalText:
    """What a journal file holds: its usable ``entries`` in order, and the lines ``skipped``
    (``"line N: why"``); a last line without its newline (a write cut by a kill) is neither."""
    entries: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def _is_count_map(value) -> bool:
    return isinstance(value, dict) and all(isinstance(v, int) or _is_count_map(v) for v in value.values())


def _is_strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _summary_problem(summary) -> str | None:
    if not isinstance(summary, dict):
        return '"summary" is not an object'
    if not isinstance(summary.get("total"), int) or not _is_count_map(summary.get("counts")):
        return '"summary" has no count "total" or "counts"'
    ops = summary.get("ops")
    if not isinstance(ops, dict) or not all(
            isinstance(e, dict) and _is_strings(e.get("paths", [])) and _is_strings(e.get("dtypes", []))
            and all(isinstance(e.get(s, 0), int) for s in STATUSES)
            and all(_is_count_map(e.get(k, {})) for k in ("notes", "forms", "features")) for e in ops.values()):
        return '"summary" field "ops" is not an object of op entries'
    if not _is_count_map(summary.get("error_parity", {})):
        return '"summary" field "error_parity" is not a count'
    if not _is_strings(summary.get("crashes", [])):
        return '"summary" field "crashes" is not a list of strings'
    found = summary.get("backend_disagreements", [])
    if not (isinstance(found, list) and all(isinstance(d, dict) for d in found)):
        return '"summary" field "backend_disagreements" is not a list of objects'
    return None


def _outcome_problem(outcome, nullable: bool) -> str | None:
    if outcome is None and nullable:
        return None
    if not isinstance(outcome, dict):
        return '"outcome" is not an object'
    if outcome.get("status") not in STATUSES:
        return f'"outcome" field "status" is {outcome.get("status")!r}, not a status'
    for key in ("op", "dtype"):
        if not isinstance(outcome.get(key), str):
            return f'"outcome" field "{key}" is not a string'
    replay = outcome.get("replay")
    if replay is not None and not (isinstance(replay, dict)
                                   and all(isinstance(replay.get(k), str) for k in ("file", "command", "snippet"))):
        return '"outcome" field "replay" is not null or an object of "file", "command" and "snippet"'
    for key, kind in (("diffs", list), ("shapes", dict), ("params", dict), ("paths", list), ("notes", list)):
        if not isinstance(outcome.get(key, kind()), kind):
            return f'"outcome" field "{key}" is not a {kind.__name__}'
    return None


def entry_problem(entry) -> str | None:
    """Why ``entry`` (one parsed line) cannot be used, or None."""
    if not isinstance(entry, dict):
        return "not a JSON object"
    kind = entry.get("kind")
    if kind in ("outcome", "example"):   # example: a pytest session's failing hypothesis example, as it comes
        return _summary_problem(entry.get("summary")) or _outcome_problem(entry.get("outcome"), nullable=kind == "outcome")
    if kind == "minimal":
        return _outcome_problem(entry.get("outcome"), nullable=False)
    if kind == "parity":
        parity = entry.get("parity")
        return None if isinstance(parity, dict) and isinstance(parity.get("passed"), bool) else \
            '"parity" is not an object with a boolean "passed"'
    if kind == "started":
        return None if isinstance(entry.get("key"), str) else '"key" is not a string'
    if kind in ("test", "worker", "worker-down"):   # a pytest session's (crosscheck.report.pytest_journals)
        field = "test" if kind == "test" else "worker"
        return None if isinstance(entry.get(field), str) else f'"{field}" is not a string'
    if kind in ("meta", "end"):
        return None
    return f'"kind" is {kind!r}, not a journal entry'


def read_journal_text(path) -> JournalText:
    """The usable entries of the journal file ``path``, and the lines skipped (OSError as it comes)."""
    data = Path(path).read_bytes()
    text = JournalText()
    lines = data.split(b"\n")[:-1]   # the last piece has no newline: empty, or a line cut by a kill
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            text.skipped.append(f"line {number}: not UTF-8")
            continue
        except (ValueError, RecursionError):   # RecursionError: nested deeper than the parser goes
            text.skipped.append(f"line {number}: not JSON")
            continue
        problem = entry_problem(entry)
        if problem:
            text.skipped.append(f"line {number}: {problem}")
        else:
            text.entries.append(entry)
    return text


def read_entries(path) -> list[dict]:
    """The usable entries of the journal file ``path`` (:func:`read_journal_text`)."""
    return read_journal_text(path).entries
