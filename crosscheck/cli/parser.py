"""The ``crosscheck`` command line: one sub-parser per command."""
from __future__ import annotations

import argparse
import math
import sys

from .. import __version__
from ..case import PATH_MODES
from ..implementation import DEFAULT_IMPL
from ..isolation import CALL_TIMEOUT
from ..oracle import backend
from .common import DEFAULT_EXAMPLES, DEFAULT_NETWORK_EXAMPLES, DEFAULT_REPORT_DIR, DTYPES, choose_backend


def version_text() -> str:
    """crosscheck's version, and the TensorFlow and backend a run would use (TensorFlow not imported)."""
    choose_backend(argparse.Namespace(tf_backend=None))
    return f"crosscheck {__version__}\nreference: {backend.one_line(backend.describe())}"


class VersionAction(argparse.Action):
    """``--version``: print :func:`version_text` and exit 0 (computed only when asked for)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(version_text() + "\n")
        parser.exit(0)


MAX_SECONDS = 10**6   # about 11.6 days: beyond any run, and within what timers and polls take


def _seconds(text: str, zero_allowed: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    low_ok = value >= 0 if zero_allowed else value > 0
    if not (math.isfinite(value) and low_ok and value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a {'non-negative' if zero_allowed else 'positive'} finite number of seconds, "
            f"at most {MAX_SECONDS}")
    return value


def positive_seconds(text: str) -> float:
    """A time limit (--timeout): a positive finite number of seconds (not 0, negative, inf or nan)."""
    return _seconds(text, zero_allowed=False)


def seconds_or_zero(text: str) -> float:
    """A time budget where 0 means "none" (--shrink-time): a non-negative finite number of seconds."""
    return _seconds(text, zero_allowed=True)


def positive_int(text: str) -> int:
    """A count (--examples, -j): an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer of at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crosscheck",
                                description="Compare CNN ops (npcnn or your own module) against TensorFlow.")
    p.add_argument("--version", action=VersionAction,
                   help="print crosscheck's version, TensorFlow's and the backend a run would use, and exit")
    sub = p.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    add_replay_parser(sub)
    sub.add_parser("ops", help="list the ops, their parameters and TensorFlow paths")
    sub.add_parser("train-digits", add_help=False,
                   help="train npcnn's example CNN on scikit-learn's digits "
                        "(python -m npcnn.examples.train_digits; --help for its options)")
    add_rebuild_parsers(sub)
    add_check_parser(sub)
    return p


def _backend_option(parser, both: bool = False) -> None:
    parser.add_argument("--tf-backend", choices=[*backend.BACKENDS, *(["both"] if both else [])], default=None,
                        help="TensorFlow's CPU kernels for the reference: eigen (the default, the same verdict on every "
                             "machine), onednn (TensorFlow's own default on AVX-512 VNNI / AMX CPUs)"
                             + (", or both: the run on Eigen, and every case also computed on oneDNN in another "
                                "process, their disagreements listed apart" if both else "")
                             + f"; default: {backend.VARIABLE} if set, else eigen")


def _output_options(parser) -> None:
    """-q and --junit-xml (run and check)."""
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only the final summary lines and errors (no progress, no tables, no case reports)")
    parser.add_argument("--junit-xml", default=None, metavar="FILE",
                        help="also write the verdicts as JUnit XML for CI systems (docs/report-format.md)")


def _replace_report_option(parser) -> None:
    parser.add_argument("--replace-report", action="store_true",
                        help="delete files of crosscheck's names in the report directory that no earlier crosscheck "
                             "run recorded writing (report.json, report.html, journal.jsonl, cases/*.json, .jobs); "
                             "without it such a directory is refused (exit 2)")


def add_run_parser(sub) -> None:
    run = sub.add_parser("run", help="fuzz registered ops against TensorFlow and write a diff report",
                         epilog="exit status: 0 no mismatch, 1 a mismatch, an implementation error or a TensorFlow "
                                "crash, 2 usage error, 3 crosscheck itself crashed (the report holds what was found), "
                                "4 a report file could not be written")
    _add_run_scope_options(run)
    _add_run_execution_options(run)
    _backend_option(run, both=True)
    _output_options(run)
    run.add_argument("--resume", default=None, help=argparse.SUPPRESS)   # a restarted shard's units (supervision.py)
    run.add_argument("--in-shard", action="store_true", help=argparse.SUPPRESS)   # a supervised shard process


def _add_run_scope_options(run) -> None:
    """What ``crosscheck run`` checks, and where its report goes."""
    run.add_argument("--ops", nargs="+", metavar="OP", help="ops to check, separated by spaces or commas (default: all; see `crosscheck ops`)")
    run.add_argument("--examples", type=positive_int, default=None, metavar="N",
                     help=f"examples per op and dtype (default {DEFAULT_EXAMPLES}), or architectures per "
                          f"optimizer with --networks (default {DEFAULT_NETWORK_EXAMPLES})")
    run.add_argument("--networks", action="store_true",
                     help="whole-network parity against Keras instead of per-op fuzzing (random CNNs in float64: "
                          "layer outputs, loss, gradients and parameters after 10 SGD-momentum / Adam / RMSprop "
                          "steps); "
                          "with --ops, the ops are fuzzed too")
    run.add_argument("--dtype", choices=[*DTYPES, "all"], default="all", help="dtype(s) to check (default all)")
    run.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the example generator (default 0)")
    run.add_argument("--report", default=DEFAULT_REPORT_DIR, metavar="DIR",
                     help=f"where report.json, report.html and cases/*.json go (default ./{DEFAULT_REPORT_DIR})")
    _replace_report_option(run)
    run.add_argument("--paths", choices=PATH_MODES, default="all",
                     help="TF paths per case: all (default), or first: only the first path that works, every "
                          "path again for a case that mismatches (1.6-2x faster on conv2d)")
    run.add_argument("--impl", default=DEFAULT_IMPL, metavar="MODULE",
                     help=f"module offering npcnn.functional's functions and vjp (default {DEFAULT_IMPL})")


def _add_run_execution_options(run) -> None:
    """How ``crosscheck run`` goes: stopping, time limits, processes, shrinking, sharding, error parity."""
    run.add_argument("--fail-fast", action="store_true", help="stop at the first failure (the report holds it)")
    run.add_argument("--no-large", action="store_true",
                     help="skip the one realistic-size case of the ops that have one (conv2d, depthwise, pools)")
    run.add_argument("--timeout", type=positive_seconds, default=CALL_TIMEOUT, metavar="S",
                     help="seconds one call of the code under test may take (default 60); a call that does not "
                          "return is an implementation-timeout, the run goes on")
    run.add_argument("--in-process", action="store_true",
                     help="run the code under test in crosscheck's own process (for a debugger); by default it runs "
                          "in a worker process, so that a crash or a hang costs one case, not the run")
    run.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N",
                     help="run in N processes ((op, dtype) pairs dealt as N shards, merged into one report: the "
                          "same cases, outcomes and report as one process gives; default: the usable cores, at "
                          "most one per (op, dtype); 1 with --shard, --fail-fast or --in-process)")
    run.add_argument("--shrink-time", type=seconds_or_zero, default=20.0, metavar="S",
                     help="seconds per op to shrink each (op, dtype)'s first failing case to a minimal one, "
                          "reported first (default 20; 0: no shrinking)")
    run.add_argument("--shard", default=None, metavar="K/N",
                     help="run the K-th of N deterministic parts of the work ((op, dtype) pairs dealt round-robin); "
                          "`crosscheck merge` combines the N reports into the whole run's")
    run.add_argument("--no-error-parity", action="store_true",
                     help="skip the error-parity checks (invalid calls must be refused as TensorFlow refuses them)")


def add_replay_parser(sub) -> None:
    replay = sub.add_parser("replay", help="re-run one saved case and print its report",
                            epilog="exit status: 0 the case passes now, 1 it still fails, 2 usage error")
    replay.add_argument("case", metavar="CASE.json")
    replay.add_argument("--impl", default=None, metavar="MODULE",
                        help=f"implementation to run (default {DEFAULT_IMPL}; the file never chooses code to run)")
    replay.add_argument("--timeout", type=positive_seconds, default=CALL_TIMEOUT, metavar="S",
                        help="seconds the code under test may take (default 60)")
    replay.add_argument("--check", default=None, metavar="PATH_OR_MODULE",
                        help="for a case of `crosscheck check`: the file or module to run it on")
    _backend_option(replay)
    replay.add_argument("--here", action="store_true", help=argparse.SUPPRESS)   # in this process (the child's side)


def add_rebuild_parsers(sub) -> None:
    report = sub.add_parser("report", help="rebuild report.json and report.html of a run that was killed",
                            description="Rebuild DIR/report.json and DIR/report.html from DIR/journal.jsonl (every "
                                        "outcome a run or check found, written as it came) and print the verdict.")
    report.add_argument("dir", metavar="DIR")
    merge = sub.add_parser("merge", help="combine the reports of the shards of a `crosscheck run --shard K/N` campaign",
                           epilog="exit status: 0 the whole run passes, 1 it fails, 2 the directories are not the "
                                  "N shards of one campaign, 4 a report file could not be written")
    merge.add_argument("dirs", nargs="+", metavar="DIR")
    merge.add_argument("--report", default=DEFAULT_REPORT_DIR, metavar="OUT",
                       help=f"where the merged report goes (default ./{DEFAULT_REPORT_DIR})")
    _replace_report_option(merge)


def add_check_parser(sub) -> None:
    check = sub.add_parser("check", help="check your own code (a .py file, a notebook or a module) in a course's "
                                         "convention or "
                                         "as layer classes",
                           epilog="exit status: 0 every function found passes (notes allowed), 1 a failure, a stub or "
                                  "an error (including a file that cannot be loaded), 2 usage error, 4 a report file "
                                  "could not be written")
    check.add_argument("target", metavar="PATH_OR_MODULE")
    check.add_argument("--convention", choices=["auto", "cs231n", "deeplearning-ai", "layers"], default="auto",
                       help="cs231n (assignment-2 functions), deeplearning-ai (Coursera CNN step by step) or layers "
                            "(classes with forward/backward; crosscheck.Layer declarations); default auto: told "
                            "from what the file defines (the run says which)")
    check.add_argument("--examples", type=positive_int, default=10, metavar="N",
                       help="examples per function (default 10)")
    check.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the example generator (default 0)")
    check.add_argument("--functions", nargs="+", metavar="NAME", help="check only these functions (or classes)")
    check.add_argument("--report", default=DEFAULT_REPORT_DIR, metavar="DIR",
                       help=f"where report.json, report.html and a replay file per failure go (default "
                            f"./{DEFAULT_REPORT_DIR})")
    _replace_report_option(check)
    check.add_argument("--ties", choices=["note", "tf"], default="note",
                       help="max-pool tie rules other than TensorFlow's (the first maximum): a note (default) or, with "
                            "tf, a failure")
    check.add_argument("--expect", nargs="+", choices=["batch-mean"], metavar="CONVENTION",
                       help="conventions your code follows instead of TensorFlow's: batch-mean (gradients, and a loss, "
                            "averaged over the batch; without it the convention is detected from the numbers and shown "
                            "as a note, with it a sum fails)")
    check.add_argument("--cs231n-year", type=int, default=None, metavar="YYYY",
                       help="pin the year's conventions (dropout p: drop probability up to 2017, keep probability "
                            "from 2018) instead of detecting them")
    check.add_argument("--timeout", type=positive_seconds, default=CALL_TIMEOUT, metavar="S",
                       help="seconds an import or one call of your code may take (default 60)")
    _backend_option(check)
    check.add_argument("--in-process", action="store_true",
                       help="run your code in crosscheck's own process (for a debugger); by default each case runs "
                            "in a worker process, so that a crash or a hang costs one case, not the run")
    _output_options(check)
