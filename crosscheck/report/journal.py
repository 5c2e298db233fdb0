"""A run's journal, ``journal.jsonl``: every outcome appended as one JSON line the moment it is found,
flushed at once, so that nothing found is lost if the run dies.

``{"kind": "meta", ...}`` first, then ``{"kind": "outcome", "summary": <this outcome's summary>,
"outcome": <its dict, or null for a pass>}``, ``{"kind": "minimal", "outcome": ...}`` (a shrunk
case) and ``{"kind": "parity", "parity": ...}`` lines, and ``{"kind": "end"}`` when the run finished.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..replay import jsonable



class Journal:
    """``journal.jsonl`` of one run, appended line by line."""

    def __init__(self, path):
        self.path = Path(path)
        self.file = open(self.path, "a", encoding="utf-8")

    def append(self, entry: dict) -> None:
        self.file.write(json.dumps(jsonable(entry), allow_nan=False) + "\n")
        self.file.flush()

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


def read_entries(path) -> list[dict]:
    """The entries of the journal file ``path``; a last line cut short by a kill is left out."""
    entries = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return entries
