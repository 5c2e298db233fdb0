"""The fault-injection probes of tests/faults/ (run all of them with ``python tests/faults/probe_all.py``):
their judging machinery on synthetic commands, and a fast subset, one or more per class, that must
stay "ok" (no work lost, nothing misleading)."""
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

from catalog import all_probes  # noqa: E402
from harness import PY, Cmd, Probe, execute, own_traceback  # noqa: E402

#: Probes that pass on this checkout, a few per class and fast (the slowest about 20 s):
#: each must stay "ok".
MUST_STAY_OK = (
    "npcnn/conv2d-strides-string",
    "npcnn/group-norm-groups-string",
    "npcnn/load-class-name-os-system",
    "cli/run-shard-words",
    "cli/check-unknown-function",
    "replay/missing-op",
    "replay/unknown-op",
    "check/input-at-import-blocks",
    "returns/object-strings",
    "exits/abort",
    "dirs/foreign-notes.txt",
    "dirs/report-is-a-file",
    "journal/report-of-empty-directory",
    "journal/half-last-line",
    "processes/popen-sleep-each-call",
    "cli/run-timeout-nan",
    "plugin/report-path-is-a-file",
)


def test_the_catalog_covers_every_class_with_150_probes_or_more():
    probes = all_probes()
    classes = {p.klass for p in probes}
    assert len(probes) >= 150
    assert classes >= {"return-values", "exits", "processes", "check-files", "replay-files", "report-dirs",
                       "journals", "pytest-plugin", "npcnn-api", "cli-options"}
    assert all(sum(p.klass == k for p in probes) >= 10 for k in classes)


def test_a_process_left_behind_is_found_and_killed(tmp_path):
    probe = Probe("selftest/leftover", "selftest", "", [Cmd(["sh", "-c", "sleep 60 >/dev/null 2>&1 &"], limit=20)])
    verdict, reason, run = execute(probe, tmp_path)
    assert verdict == "lose" and "sleep 60" in reason


def test_a_hang_is_cut_at_its_limit(tmp_path):
    probe = Probe("selftest/hang", "selftest", "", [Cmd([PY, "-c", "import time; time.sleep(60)"], limit=2)])
    verdict, reason, run = execute(probe, tmp_path)
    assert verdict == "lose" and "hang" in reason and run.last().elapsed < 20


def test_an_output_pipe_held_by_a_child_is_a_hang(tmp_path):
    probe = Probe("selftest/pipe", "selftest", "", [Cmd(["sh", "-c", "sleep 60 &"], limit=3)])
    verdict, reason, _ = execute(probe, tmp_path)
    assert verdict == "lose" and "pipe" in reason


def test_crosscheck_frames_in_a_traceback_are_told_from_the_users_own():
    own = 'Traceback (most recent call last):\n  File "/x/crosscheck/replay.py", line 3, in load\nValueError: no'
    users = 'Traceback (most recent call last):\n  File "/home/me/layers.py", line 3, in relu\nValueError: no'
    assert own_traceback(own) and not own_traceback(users)


@pytest.fixture(scope="module")
def subset_verdicts(tmp_path_factory):
    chosen = [p for p in all_probes() if p.name in MUST_STAY_OK]
    assert len(chosen) == len(MUST_STAY_OK)
    base = tmp_path_factory.mktemp("probes")
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = dict(zip([p.name for p in chosen], pool.map(lambda p: execute(p, base)[:2], chosen)))
    return verdicts


@pytest.mark.parametrize("name", MUST_STAY_OK)
def test_probe_stays_ok(subset_verdicts, name):
    verdict, reason = subset_verdicts[name]
    assert verdict == "ok", reason
