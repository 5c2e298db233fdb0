"""Helpers of the report-directory tests: small relu outcomes, a run's session left as it ends or as a
kill leaves it, and the command run in a directory."""
import os
from pathlib import Path

import numpy as np

from crosscheck.case import IMPLEMENTATION_ERROR, PASS, Case, Outcome
from crosscheck.cli import main
from crosscheck.report import ReportSession

META = dict(impl="npcnn.functional", seed=0, examples=2, dtypes=["float64"], paths="all", command="crosscheck run test")


def relu_case(rows: int = 1) -> Case:
    return Case("relu", {}, {"features": np.arange(rows * 2, dtype=np.float64).reshape(rows, 2) - 1.0},
                np.ones((rows, 2)), "float64", rows)


def relu_outcome(rows: int = 1, status: str = IMPLEMENTATION_ERROR) -> Outcome:
    return Outcome(relu_case(rows), status, message="Traceback: boom" if status != PASS else "")


def run_session(d: Path, outcomes, end: bool = True, **meta) -> ReportSession:
    """A run's session on ``d`` with ``outcomes`` added; its report written (``end``) or left as a kill
    leaves it (no report, no end line, the lock released)."""
    session = ReportSession()
    session.start(d, **{**META, **meta})
    for outcome in outcomes:
        session.add(outcome)
    if end:
        session.write(d, **META)
    else:
        session.owner.close()
    return session


def cli(args, cwd, capsys):
    """``crosscheck ARGS`` in this process, run in ``cwd``: (exit code, stdout, stderr)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        code = main(args)
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return code, out, err
