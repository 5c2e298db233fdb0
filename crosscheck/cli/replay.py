"""``crosscheck replay CASE.json``: re-run one saved case and print its report."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Callable

from rich.console import Console

from ..case import FAILING
from ..check import LoadError, load_user_code, rerun
from ..implementation import DEFAULT_IMPL
from ..isolation import describe_exit
from ..replay import ReplayFileError, read_replay, replay_command
from ..report import ReportSession, print_outcome
from ..report.terminal import printable
from ..runner import run_case
from ..supervision import fatal_line, start_shard
from ..threads import limit_threads
from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, load_impl_under_test


def cmd_replay(args, console: Console, child_main: Callable) -> int:
    """Re-run one saved case, in a child process running ``child_main`` (``--here``: in this one), so
    that a case TensorFlow crashes on is reported as such. A replay file is data: it never chooses
    the code that runs (npcnn, the ``--impl`` given here, or the ``--check`` target given here)."""
    try:
        read_replay(args.case)
    except OSError as exc:
        raise UsageError(printable(f"cannot use replay file {args.case}: {exc.strerror or exc}")) from None
    except ReplayFileError as exc:
        raise UsageError(printable(f"cannot use replay file {args.case}: {exc}")) from None
    if args.here:
        return replay_here(args, console)
    with tempfile.TemporaryDirectory(prefix="crosscheck-replay-") as tmp:
        log_path = Path(tmp) / "replay.log"
        child, log = start_shard([*args.argv, "--here"], log_path, "crosscheck-replay", child_main)
        try:
            code = child.wait()
        finally:
            if log is not None:
                log.close()
        text = log_path.read_text(errors="replace")
    if code in (EXIT_OK, EXIT_FAILED, EXIT_USAGE):   # what the code under test printed is in it too
        sys.stdout.write("\n".join(printable(line) for line in text.split("\n")))
        return code
    console.print(printable(f"status: reference-crash (still fails): the process replaying this case was "
                            f"{describe_exit(code)}; TensorFlow's last words: {fatal_line(text)}"),
                  markup=False, soft_wrap=True)
    return EXIT_FAILED


def replay_here(args, console: Console) -> int:
    """The case re-run in this process: a ``crosscheck check`` case on ``--check``'s code, a network
    on npcnn's layers, any other on ``--impl`` (default npcnn)."""
    doc, case = read_replay(args.case)
    limit_threads()
    check = doc.get("check")
    if check:
        outcome, impl_name = _rerun_check_case(args, check)
    elif case.op == "network":   # npcnn's own layers and optimizers against Keras; no --impl
        from ..networks import L as npcnn_layers  # deferred: crosscheck.networks imports npcnn, the code under test
        from ..networks import replay_network  # deferred: as above
        _check_network_layers(args.case, case.params["layers"], npcnn_layers.deserialize)
        outcome, impl_name = replay_network(case), "npcnn.Sequential"
    else:
        impl_name = args.impl or DEFAULT_IMPL
        recorded = doc.get("impl") or DEFAULT_IMPL
        if recorded != impl_name:
            console.print(printable(f"this case was found with implementation {recorded!r}; replaying it against "
                                    f"{impl_name}. To replay it against that implementation: "
                                    f"{replay_command(args.case, recorded)}"),
                          markup=False, soft_wrap=True)
        outcome = run_case(case, impl=load_impl_under_test(impl_name, timeout=args.timeout))
    outcome.impl = impl_name
    d = ReportSession(None).add(outcome)
    d["replay"] = None
    print_outcome(console, d, snippet=False)
    failed = outcome.status in FAILING
    console.print(f"status: {outcome.status}" + (" (still fails)" if failed else ""))
    return EXIT_FAILED if failed else EXIT_OK


def _check_network_layers(path, layers: list, deserialize: Callable) -> None:
    """Each layer of a network case is one npcnn builds from its config (``deserialize``: npcnn's),
    exit 2 naming it otherwise."""
    for i, spec in enumerate(layers):
        try:
            deserialize(spec)
        except (ValueError, TypeError, KeyError) as exc:
            raise UsageError(printable(f"cannot use replay file {path}: case.params.layers[{i}]: {exc}")) from None


def _rerun_check_case(args, check: dict):
    """(outcome, what ran) of a ``crosscheck check`` case re-run on the ``--check`` target."""
    if not args.check:
        raise UsageError(printable(f"{args.case} is a case of `crosscheck check` ({check.get('function')}, "
                                   f"{check.get('convention')} convention); run: "
                                   f"{replay_command(args.case, check_target=check.get('target'))}"))
    try:
        outcome = rerun(args.case, load_user_code(args.check))
    except (LoadError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return outcome, f"{args.check} ({check.get('function')})"
