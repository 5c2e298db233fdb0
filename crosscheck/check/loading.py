"""Loading the user's code for ``crosscheck check``: a file by path or a module by name; a notebook
(``.ipynb``) or a notebook's ``.py`` export cell by cell (crosscheck/check/notebook.py).

A file inside a package (a directory chain with ``__init__.py``) is imported as part of that
package, so ``from cs231n.im2col import *`` and relative imports work; a Python 2 file gets a
one-line hint; an import that does not finish (an endless loop at module level) ends after a
timeout with a message. Errors never show crosscheck's own frames.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import signal
import sys
import threading
import types
import zlib
from contextlib import contextmanager
from pathlib import Path

from ..returned import CHECKED_FILE_MODULE
from ..tracebacks import user_traceback
from .notebook import NotebookError, is_notebook_export, load_notebook

SCRIPT_HINT = 'a checked file should only define its functions: put script code under `if __name__ == "__main__":`'

IMPORT_TIMEOUT_S = 30.0
_PY2 = re.compile(r"^\s*(print\s+[\"'\w]|exec\s+[\"'])|\bxrange\(|\bexcept\s+\w+\s*,\s*\w+\s*:|\bur[\"']|\braw_input\(",
                  re.M)


class LoadError(Exception):
    """The user's file or module cannot be loaded (the message says why, without crosscheck's traceback)."""


class CallTimeout(Exception):
    """The user's code did not return in time."""


@contextmanager
def time_limit(seconds: float | None, what: str):
    """Raise CallTimeout in the main thread if the block runs longer than ``seconds`` (a Python-level
    endless loop is interrupted; None or a non-main thread: no limit)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise CallTimeout(f"{what} did not finish within {seconds:g} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def package_root(path: Path) -> tuple[Path, str]:
    """(directory to put on sys.path, dotted module name) of a file, walking up through packages."""
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").exists():
        parts.insert(0, directory.name)
        directory = directory.parent
    return directory, ".".join(parts)


def python2_hint(source: str) -> str:
    return ("; this looks like Python 2 code (print statements, xrange, old except syntax): port it to Python 3, "
            "e.g. with `python -m lib2to3 -w FILE` on an older Python or by hand") if _PY2.search(source) else ""


def load_user_code(target: str, timeout: float | None = IMPORT_TIMEOUT_S) -> types.ModuleType:
    """Import a ``.py`` file (by path; as part of its package if it is in one) or a module (by name)."""
    path = Path(target)
    if path.suffix in (".py", ".ipynb") or path.exists():
        if not path.is_file():
            raise LoadError(f"{target}: no such file")
        return _import_file(path.resolve(), target, timeout)
    try:
        with time_limit(timeout, f"importing {target}"):
            return importlib.import_module(target)
    except CallTimeout as e:
        raise LoadError(f"{e} (an endless loop at module level?)") from None
    except SyntaxError as e:
        raise LoadError(_syntax_message(e, "")) from None
    except BaseException as e:
        raise LoadError(_raised_message(target, e)) from None


def _syntax_message(e: SyntaxError, source: str) -> str:
    return f"{e.filename}:{e.lineno}: syntax error: {e.msg}\n  {(e.text or '').rstrip()}{python2_hint(source)}"


def _import_file(path: Path, target: str, timeout) -> types.ModuleType:
    root, dotted = package_root(path)
    in_package = "." in dotted
    if not in_package and is_notebook_export(path):   # cell by cell, IPython syntax neutralised
        try:
            return load_notebook(path, f"{CHECKED_FILE_MODULE}{zlib.crc32(str(path).encode()):08x}", time_limit,
                                 timeout)
        except NotebookError as e:
            raise LoadError(str(e)) from None
    if str(root) not in sys.path:   # stays: the user's code may import its neighbours later
        sys.path.insert(0, str(root))
    try:
        with time_limit(timeout, f"importing {target}"):
            if in_package:
                return importlib.import_module(dotted)
            name = f"{CHECKED_FILE_MODULE}{zlib.crc32(str(path).encode()):08x}"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module
    except CallTimeout as e:
        raise LoadError(f"{e} (an endless loop at module level?)") from None
    except SyntaxError as e:
        raise LoadError(_syntax_message(e, path.read_text(errors="replace"))) from None
    except ImportError as e:
        hint = ""
        if not in_package and getattr(e, "name", None):
            hint = (f"\nhint: {path.name} imports {e.name!r}; if it belongs to a package, give the file inside "
                    f"that package (a directory with __init__.py) or put the package's parent directory on "
                    f"PYTHONPATH")
        raise LoadError(_raised_message(target, e) + hint) from None
    except BaseException as e:   # anything the module raises at import time
        raise LoadError(_raised_message(target, e)) from None


def _raised_message(target: str, e: BaseException) -> str:
    """One line saying what importing ``target`` raised (what a script's ``sys.exit`` or ``input()``
    means here), then the user's traceback (no frames of crosscheck's or of the import machinery)."""
    if isinstance(e, SystemExit):
        first = f"importing {target} called sys.exit({e.code!r}) at module level; {SCRIPT_HINT}"
    elif isinstance(e, EOFError) and "reading a line" in str(e):
        first = (f"importing {target} read from stdin (input()) at module level, and the checked code gets no "
                 f"input; {SCRIPT_HINT}")
    else:
        first = f"importing {target} raised {type(e).__name__}" + (f": {e}" if str(e) else "")
    return f"{first}\n{user_traceback(e)}"
