"""The journals of a pytest session run with ``--crosscheck-report=DIR`` (crosscheck.pytest_plugin),
so that a process that dies in a test loses nothing it recorded and the report never reads as OK.

The session's own process (pytest's, or pytest-xdist's controller) journals to ``DIR/journal.jsonl``
like any run (:mod:`.report_dir`, :mod:`.journal`), with lines of two more kinds: ``{"kind": "test",
"test": <node id>}`` as each test it runs starts, and, under pytest-xdist, ``{"kind": "worker",
"worker": "gw0"}`` as each worker is started (``{"kind": "worker-down", "worker": "gw0", "error":
...}`` when xdist reports that it crashed). Each worker journals to its own file,
``DIR/.jobs/pytest-<worker id>.jsonl`` (:func:`worker_journal_path`): ``{"kind": "meta", "worker":
...}`` first, then its tests and outcomes as they come, and ``{"kind": "end"}`` when it finished.
In a hypothesis test each failing example is journaled as it comes (``{"kind": "example",
"summary": ..., "outcome": ...}``) until the test's minimal one is (crosscheck.recording): the
latest example stands for the test when the process died inside it.

:func:`session_entries` is what the session's report is built from, at the end of the session and by
``crosscheck report DIR`` after it died: the session's entries followed by every worker's, and a
problem line for each process that crashed or did not finish its journal."""
from __future__ import annotations

import re
from pathlib import Path

from ..report_names import JOBS_DIR
from .journal import Journal, read_entries

#: an xdist worker id as it may appear in a file name (xdist's are ``gw0``, ``gw1``, ...)
_WORKER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PREFIX = "pytest-"
_DIED_IN_EXAMPLE = ("the process died inside this hypothesis test: the last failing example it tried, not shrunk "
                    "to the minimal one")


def worker_journal_path(report_dir, worker_id: str) -> Path:
    """``DIR/.jobs/pytest-<worker_id>.jsonl``; ValueError naming ``worker_id`` when it cannot be a file name."""
    if not isinstance(worker_id, str) or not _WORKER_ID.fullmatch(worker_id):
        raise ValueError(f"worker_id: {worker_id!r} is not an xdist worker id (letters, digits, '_', '-')")
    return Path(report_dir) / JOBS_DIR / f"{_PREFIX}{worker_id}.jsonl"


def clear_worker_journals(report_dir) -> None:
    """Remove the worker journals an earlier pytest session left in ``report_dir``."""
    jobs = Path(report_dir) / JOBS_DIR
    if jobs.is_dir():
        for old in jobs.glob(f"{_PREFIX}*.jsonl"):
            old.unlink(missing_ok=True)


def open_worker_journal(path, worker_id: str) -> Journal:
    """A worker's journal at ``path`` (a new file), its meta line written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    journal = Journal(path)
    journal.append({"kind": "meta", "worker": worker_id})
    return journal


def _last_test(entries: list[dict]) -> str | None:
    return next((e.get("test") for e in reversed(entries) if e.get("kind") == "test"), None)


def _first_line(error) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else "no message"


def _finished(entries: list[dict]) -> bool:
    return any(e.get("kind") == "end" for e in entries)


def _died_in_example(entries: list[dict]) -> list[dict]:
    """An outcome entry for the latest failing example of the hypothesis test the process of
    ``entries`` died in (``{"kind": "example"}`` lines not yet settled by the test's minimal outcome);
    none when it finished or died elsewhere."""
    if _finished(entries):
        return []
    tried, last = 0, None
    for e in entries:
        kind = e.get("kind")
        if kind == "test" or (kind == "outcome" and (e.get("outcome") or {}).get("minimal")):
            tried, last = 0, None
        elif kind == "example" and isinstance(e.get("outcome"), dict):
            tried, last = tried + 1, e
    if last is None:
        return []
    outcome = {**last["outcome"], "failing_examples_tried": tried,
               "notes": [*last["outcome"].get("notes", []), _DIED_IN_EXAMPLE]}
    return [{"kind": "outcome", "summary": last.get("summary"), "outcome": outcome}]


def _worker_problem(worker_id: str, error, entries: list[dict], found: bool) -> str:
    test = _last_test(entries)
    where = f"while running {test}" if test else "before it started a test"
    if error is not None and _finished(entries):
        return f"pytest-xdist worker {worker_id} crashed after its last test ({error})"
    how = f"crashed ({error})" if error is not None else "did not finish (its journal has no end line)"
    if not found:
        return f"pytest-xdist worker {worker_id} {how} {where}: it left no journal ({_PREFIX}{worker_id}.jsonl)"
    if not test:
        return f"pytest-xdist worker {worker_id} {how} {where}"
    return f"pytest-xdist worker {worker_id} {how} {where}: what it recorded until then is in this report, from its journal"


def session_entries(report_dir, entries: list[dict]) -> tuple[list[dict], list[str]]:
    """``entries`` (the journal of ``report_dir``) followed by the entries of every pytest-xdist worker
    journal they name (less the workers' meta and end lines), and the problems: each worker that
    crashed or did not finish its journal, and the pytest session itself when it ended in a test.
    Entries of any other run's journal come back unchanged, with no problems."""
    merged, problems = list(entries) + _died_in_example(entries), []
    down = {e["worker"]: _first_line(e.get("error")) for e in entries
            if e.get("kind") == "worker-down" and isinstance(e.get("worker"), str)}
    seen = set()
    for e in entries:
        if e.get("kind") != "worker" or repr(e.get("worker")) in seen:
            continue
        worker_id = e.get("worker")
        seen.add(repr(worker_id))
        try:
            path = worker_journal_path(report_dir, worker_id)
        except ValueError as exc:
            problems.append(f"journal line of a pytest-xdist worker: {exc}")
            continue
        found = path.is_file()
        try:
            worker = [w for w in read_entries(path) if isinstance(w, dict)] if found else []
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"pytest-xdist worker {worker_id}: its journal {path} cannot be read ({exc})")
            continue
        merged += [w for w in worker if w.get("kind") not in ("meta", "end")] + _died_in_example(worker)
        if worker_id in down or not _finished(worker):
            problems.append(_worker_problem(worker_id, down.get(worker_id), worker, found))
    test = _last_test(entries)
    if test and not _finished(entries):
        problems.append(f"the pytest session did not finish: it stopped while running {test} (interrupted, "
                        "crashed or killed); what it recorded until then is in this report, from its journal")
    return merged, problems
