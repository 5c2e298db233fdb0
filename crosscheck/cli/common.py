"""What the commands share: defaults, exit statuses, usage errors, and the checks a command makes
before any work (the backend, the report directory, the implementation under test, --junit-xml)."""
from __future__ import annotations

import json
from pathlib import Path

from ..implementation import load_impl
from ..isolation import CALL_TIMEOUT
from ..oracle import backend
from ..report import JSON_NAME, ReportDirError, check_report_dir
from ..report.junit import check_testsuite, run_testsuite, write_junit

# Examples per op and dtype in a default `crosscheck run`: every op in float32 and float64 (2,500
# cases for 25 ops) took 23 s in all (16 s fuzzing) on this project's 2-core machine; the budget is 60 s.
DEFAULT_EXAMPLES = 50
# Random architectures per optimizer with --networks: about 0.6 s each on 2 cores.
DEFAULT_NETWORK_EXAMPLES = 15
DEFAULT_REPORT_DIR = "crosscheck-report"
DTYPES = ("float32", "float64")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CRASHED, EXIT_WRITE_FAILED = 0, 1, 2, 3, 4


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit status 2."""


def command_line(args) -> str:
    """The command as the user typed it (the reports record it)."""
    return " ".join(["crosscheck", *args.argv])


def choose_backend(args) -> None:
    """Set TensorFlow's backend before anything imports it (children inherit it)."""
    name = getattr(args, "tf_backend", None)
    try:
        if name is None:
            backend.choose()
        else:
            backend.choose(backend.EIGEN if name == "both" else name, chosen_by=f"--tf-backend {name}")
    except backend.BackendError as exc:
        raise UsageError(str(exc)) from None


def usable_report_dir(path: str) -> Path:
    """``--report`` checked before any work: a directory crosscheck can write (exit 2 otherwise)."""
    try:
        return check_report_dir(path)
    except ReportDirError as exc:
        raise UsageError(str(exc)) from None


def usable_junit_path(path: str | None) -> Path | None:
    """``--junit-xml`` checked before any work: a file in a directory that exists (exit 2 otherwise)."""
    if path is None:
        return None
    junit = Path(path)
    if junit.is_dir():
        raise UsageError(f"--junit-xml {path}: a directory is in its place (the JUnit XML is a file)")
    if not junit.parent.is_dir():
        raise UsageError(f"--junit-xml {path}: the directory {junit.parent} does not exist")
    return junit


def load_impl_under_test(name: str, isolated: bool = True, timeout: float | None = CALL_TIMEOUT):
    """The implementation under test, in a worker process unless ``isolated`` is False."""
    try:
        return load_impl(name, isolated=isolated, timeout=timeout)
    except Exception as exc:   # ImportError, a module without vjp, a crash at import: the reason, no traceback of ours
        text = str(exc).strip()
        raise UsageError(f"cannot use --impl {name}: {type(exc).__name__}: "
                         + (text.splitlines()[-1] if text else "") + (f"\n{text}" if "\n" in text else "")) from None


def write_run_junit(junit_path: Path | None, report_dir: Path) -> None:
    """The JUnit XML of the ``crosscheck run`` whose report.json is in ``report_dir`` (no path: none)."""
    if junit_path is not None:
        doc = json.loads((Path(report_dir) / JSON_NAME).read_text(encoding="utf-8"))
        write_junit(run_testsuite(doc), junit_path)


def write_check_junit(junit_path: Path | None, report_dir: Path, rows) -> None:
    """The JUnit XML of the ``crosscheck check`` whose report.json is in ``report_dir``, and its rows."""
    if junit_path is not None:
        doc = json.loads((Path(report_dir) / JSON_NAME).read_text(encoding="utf-8"))
        write_junit(check_testsuite(doc, rows), junit_path)
