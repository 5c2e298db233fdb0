"""The ``crosscheck`` command: ``run`` (fuzz ops against TensorFlow), ``replay`` (one saved case),
``ops``, ``check`` (your own code), ``merge`` and ``report`` (reports from shards and journals),
``train-digits``. One module per command; :func:`main` parses and dispatches.

Exit status: 0 all good; 1 a mismatch, an implementation error or a TensorFlow crash was found; 2 usage
error (unknown op, an --impl module that cannot be imported, an unreadable replay file, a report
directory another run holds or that holds files crosscheck did not write); 3 crosscheck itself crashed
(a shard died outside any case): the report holds what the rest of the run found; 4 a report file
could not be written (disk full, a directory in its place, no permission): one line says which.
"""
from __future__ import annotations

import functools
import os
import signal
import sys
import threading

from rich.console import Console

from ..files import ReportWriteError
from ..report import ReportDir, ReportDirError
from ..supervision import exit_with_parent
from .check import cmd_check
from .common import EXIT_CRASHED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, EXIT_WRITE_FAILED, UsageError, choose_backend
from .ops import cmd_ops
from .parser import build_parser
from .rebuild import cmd_merge, cmd_report
from .replay import cmd_replay
from .run import cmd_run
from .run_parallel import cmd_run_parallel, default_jobs, shard_units
from .train_digits import cmd_train_digits

__all__ = ["main", "cmd_run_parallel", "default_jobs", "shard_units", "UsageError", "EXIT_OK", "EXIT_FAILED",
           "EXIT_USAGE", "EXIT_CRASHED", "EXIT_WRITE_FAILED"]


class Terminated(KeyboardInterrupt):
    """SIGTERM (what CI time limits send): handled like Ctrl-C, so the report is written."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _shard_main(argv: list) -> None:
    """A child crosscheck process (a shard of ``crosscheck run -j N``, a replay), forked from the fork
    server (:mod:`crosscheck.forking`): ``crosscheck ARGV`` as ``python -m crosscheck ARGV`` would run it."""
    exit_with_parent()
    sys.exit(main(argv))


# the commands that start crosscheck child processes get the function those run
_COMMANDS = {"run": functools.partial(cmd_run, child_main=_shard_main),
             "replay": functools.partial(cmd_replay, child_main=_shard_main),
             "ops": cmd_ops, "train-digits": cmd_train_digits, "check": cmd_check, "report": cmd_report,
             "merge": cmd_merge}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "train-digits":   # the example parses its own options
        args.example_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # piped output (CI logs, subprocess) gets a wide fixed width instead of 80 columns
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        if args.command in ("run", "replay", "check"):
            choose_backend(args)
        return _COMMANDS[args.command](args, console)
    except (UsageError, ReportDirError) as exc:   # a report directory refused: in use, files not crosscheck's
        Console(stderr=True, highlight=False).print(f"crosscheck: error: {exc}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    except ReportWriteError as exc:
        try:   # stderr may be a log on the disk that just filled up: the exit status still says it
            Console(stderr=True, highlight=False).print(f"crosscheck: error: {exc}", markup=False, soft_wrap=True)
        except OSError:
            pass
        return EXIT_WRITE_FAILED
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        Console(stderr=True).print(f"crosscheck: {what} (the report holds what was found so far)")
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        ReportDir.close_all()   # the report directories this command held (however it ended)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
