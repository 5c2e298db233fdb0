"""Notebooks and their exports as checkable modules: a ``.ipynb`` (read as JSON), an nbconvert
``.py`` export (``# In[ ]:`` cells, ``get_ipython().run_line_magic(...)`` calls) or a jupytext /
VS Code ``# %%`` file, loaded cell by cell into one module namespace.

IPython syntax is neutralised line by line (the line count stays, so tracebacks name the cell's
own lines): ``%magic`` and ``!shell`` lines become ``pass``, ``x = !cmd`` binds None;
``get_ipython()`` returns a stub whose methods do nothing, except that the Python cell magics
(``%%time``, ``%%capture``, ...) run their cell. Each top-level statement runs on its own: an
import that fails is skipped (the course's ``from public_tests import *`` is not next to the
file), any other failure ends its cell; each is listed as a :class:`SkippedCell` on the module's
``SKIPPED_CELLS_ATTR`` attribute, a note on the run, not a failure. What cells print is discarded.
"""
from __future__ import annotations

import ast
import contextlib
import io
import json
import linecache
import os
import re
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

SKIPPED_CELLS_ATTR = "__crosscheck_skipped_cells__"
CELL_TIMEOUT_S = 10.0      # a training loop in a cell is cut short, not waited for
LOAD_BUDGET_S = 45.0       # the whole load, when no timeout is given (the check worker's start allows 60 s)
PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun", "debug")   # %%magic whose body is Python

_NBCONVERT_CELL = re.compile(r"^# In\[[ \d]*\]:?\s*$")
_PERCENT_CELL = re.compile(r"^# %%(?!%)")
_MAGIC_LINE = re.compile(r"^(\s*)([%!].*)$")
_SHELL_ASSIGN = re.compile(r"^(\s*)([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[%!](.*)$")


class NotebookError(Exception):
    """The notebook cannot be loaded (not JSON, no cells, out of time): the message says why."""


@dataclass(frozen=True)
class SkippedCell:
    """A cell (1-based, as the notebook counts its code cells) that failed: its first line, the
    exception in one line, and whether the rest of the cell still ran (a failed import)."""
    cell: int
    first_line: str
    error: str
    continued: bool = False
    file_line: int = 0     # where the cell starts in a .py export (0: a notebook's own cell)

    def line(self) -> str:
        rest = "; the rest of the cell ran" if self.continued else "; the rest of the cell was skipped"
        where = f"cell {self.cell}" + (f" (line {self.file_line})" if self.file_line else "")
        failed = "an import failed" if self.continued else "skipped"
        return f"{where} {self.first_line!r} {failed}: {self.error}{rest}"


def is_notebook_export(path: Path, source: str | None = None) -> bool:
    """A ``.ipynb``, or a ``.py`` with notebook cell markers or ``get_ipython()`` calls, or one that
    is not Python because of its magic lines (``%matplotlib inline`` at the start of a line)."""
    if path.suffix == ".ipynb":
        return True
    if path.suffix != ".py":
        return False
    source = path.read_text(errors="replace") if source is None else source
    lines = source.splitlines()
    if "get_ipython()" in source or any(_NBCONVERT_CELL.match(s) or _PERCENT_CELL.match(s) for s in lines):
        return True
    return any(re.match(r"^[%!]\w", s) for s in lines) and _python(source) is None


def _python(source: str):
    """The source's syntax tree, or None when it is not Python (IPython syntax, a typo)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


@dataclass(frozen=True)
class Cell:
    """One code cell: its number (1-based, code cells only), its source, the file name its
    tracebacks show and the line of that file its first line is (1 in a notebook's own cell)."""
    number: int
    source: str
    filename: str
    first_line: int = 1


def code_cells(path: Path) -> list[Cell]:
    """The code cells (markdown and raw cells left out; in a ``.py``, the parts between cell markers
    that hold more than comments); NotebookError for a file that is not a readable notebook."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return [Cell(i, source, str(path), start) for i, (start, source) in enumerate(_split_py(text), start=1)]
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path}: not a notebook (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if cells is None and isinstance(doc, dict) and "worksheets" in doc:   # nbformat 3
        cells = [c for ws in doc["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])]
    if not isinstance(cells, list):
        raise NotebookError(f"{path}: not a notebook (no 'cells' list)")
    sources = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        sources.append("".join(map(str, source)) if isinstance(source, list) else str(source))
    return [Cell(i, source, f"{path.name} cell {i}") for i, source in enumerate(sources, start=1)]


def _split_py(text: str) -> list[tuple[int, str]]:
    """(first line, source) of each part of a ``.py`` export between its ``# In[ ]:`` / ``# %%``
    markers that holds code (a markdown cell, all comments, is left out)."""
    parts, current, start = [], [], 1
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if _NBCONVERT_CELL.match(line) or _PERCENT_CELL.match(line):
            parts.append((start, "".join(current)))
            current, start = [], number + 1
            continue
        current.append(line)
    parts.append((start, "".join(current)))
    return [(start, source) for start, source in parts
            if any(s.strip() and not s.lstrip().startswith("#") for s in source.splitlines())]


def neutralise(source: str) -> str | None:
    """The cell as plain Python (same line count), or None for a cell magic whose body is not
    Python (``%%bash``, ``%%writefile``, ...). A cell that is Python already is left as it is (a
    line of a string that starts with ``%`` is not a magic)."""
    if _python(source) is not None:
        return source
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(maxsplit=1)[0] if lines[0].strip() != "%%" else ""
        if magic not in PYTHON_CELL_MAGICS:
            return None
        lines[0] = "pass"
    out = []
    for line in lines:
        assign = _SHELL_ASSIGN.match(line)
        magic = _MAGIC_LINE.match(line)
        if assign:
            out.append(f"{assign[1]}{assign[2]} = None  # IPython: {assign[3].strip()}")
        elif magic:
            out.append(f"{magic[1]}pass  # IPython: {magic[2]}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


class IPythonStub:
    """What ``get_ipython()`` returns here: line magics and shell commands do nothing; a Python
    cell magic (``%%time``) runs its cell in the notebook's namespace."""

    def __init__(self, namespace: dict):
        self._namespace = namespace

    def run_cell_magic(self, magic_name, line, cell):
        if magic_name in PYTHON_CELL_MAGICS:
            exec(compile(neutralise(cell) or "", "<cell magic>", "exec"), self._namespace)  # noqa: S102 - the user's cell

    def __getattr__(self, name):   # run_line_magic, system, getoutput, magic, ...: nothing
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


def load_notebook(path: Path, module_name: str, time_limit, timeout: float | None = None) -> types.ModuleType:
    """The module holding what the notebook's cells define; failing cells are skipped and listed on
    ``SKIPPED_CELLS_ATTR``. ``timeout``: seconds for the whole load (None: LOAD_BUDGET_S); a
    statement gets at most CELL_TIMEOUT_S (a cell that trains a network is cut short and listed) under
    ``time_limit(seconds, what)``, a context manager that raises when the block runs longer
    (crosscheck.check.loading.time_limit, which imports this module)."""
    cells = code_cells(path)
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    namespace = module.__dict__
    namespace["get_ipython"] = lambda: IPythonStub(namespace)
    namespace["display"] = lambda *args, **kwargs: None
    skipped: list[SkippedCell] = []
    setattr(module, SKIPPED_CELLS_ATTR, skipped)
    sys.modules[module_name] = module
    if str(path.parent) not in sys.path:   # the notebook's own helper modules sit next to it
        sys.path.insert(0, str(path.parent))
    os.environ.setdefault("MPLBACKEND", "Agg")   # a plotting cell draws nowhere
    deadline = time.monotonic() + (LOAD_BUDGET_S if timeout is None else timeout)
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in cells:
            problem = run_cell(cell, namespace, time_limit, deadline)
            if problem is not None:
                first = next((s.strip() for s in cell.source.splitlines() if s.strip()), "")
                skipped.append(SkippedCell(cell.number, first[:60], *problem,
                                           file_line=cell.first_line if cell.first_line > 1 else 0))
    return module


def run_cell(cell: Cell, namespace: dict, time_limit, deadline: float | None = None) -> tuple[str, bool] | None:
    """Run one cell statement by statement; None when it all ran, else (the exception in one line,
    whether the rest of the cell ran: only after a failed import). Each statement runs under
    ``time_limit``; NotebookError past ``deadline`` (time.monotonic())."""
    code = neutralise(cell.source)
    if code is None:
        return f"%%{cell.source.lstrip()[2:].split(maxsplit=1)[0]} cell: not Python", False
    filename = cell.filename
    if cell.first_line == 1:   # a notebook's cell: its source for tracebacks (a .py export's is the file)
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    try:
        tree = ast.parse(code, filename)
    except SyntaxError as exc:
        return f"SyntaxError: {exc.msg} (line {exc.lineno + cell.first_line - 1})", False
    ast.increment_lineno(tree, cell.first_line - 1)
    problem = None
    for statement in tree.body:
        left = CELL_TIMEOUT_S if deadline is None else min(CELL_TIMEOUT_S, deadline - time.monotonic())
        if left <= 0:
            raise NotebookError(f"loading {filename.split(' cell ')[0]} did not finish in time; its slow cells "
                            "(training loops?) ran out the time: --timeout S allows more")
        try:
            with time_limit(left, f"line {statement.lineno}"):
                exec(compile(ast.Module([statement], []), filename, "exec"), namespace)  # noqa: S102 - the user's cell
        except (Exception, SystemExit) as exc:   # noqa: BLE001 - whatever the cell raises is listed
            text = " ".join(str(exc).split())
            one_line = f"{type(exc).__name__}" + (f": {text[:150]}" if text else "")
            if isinstance(statement, (ast.Import, ast.ImportFrom)) and isinstance(exc, ImportError):
                problem = problem or (one_line, True)
                continue
            return one_line, False
    return problem


def skipped_cells(module) -> tuple[str, ...]:
    """The module's skipped-cell lines (empty for a plain module)."""
    found = getattr(module, SKIPPED_CELLS_ATTR, None) if isinstance(module, types.ModuleType) else None
    return tuple(c.line() for c in found) if isinstance(found, list) else ()
