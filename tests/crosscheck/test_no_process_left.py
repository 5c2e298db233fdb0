"""No process left behind: what the code under test starts (a pool that blocks forever) is stopped with
its worker after a timeout, and a pipeline reading crosscheck's output ends when crosscheck does."""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

POOL_RELU = '''"""A relu that farms the work out to a pool of processes, and waits on them forever."""
import multiprocessing
import os
import time
from npcnn.functional import *  # noqa: F401,F403

os.environ["HOSTILE_POOL_MARKER"] = {marker!r}    # every process it starts carries it


def _work(_):
    time.sleep(1000)


def relu(features):
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_work, range(4))
'''


def _marked(marker: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            pass
    return found


def test_a_blocking_pool_is_stopped_with_its_worker_and_the_pipeline_ends(tmp_path):
    marker = f"pool-marker-{os.getpid()}-{time.monotonic_ns()}"
    (tmp_path / "pool_relu.py").write_text(POOL_RELU.format(marker=marker))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = (f"{sys.executable} -m crosscheck run --impl pool_relu --ops relu --examples 1 --timeout 2 "
               "--no-error-parity --shrink-time 0 -j 1 --report rep | cat")
    started = time.monotonic()
    r = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    took = time.monotonic() - started
    assert "2 implementation-timeout" in r.stdout, r.stdout + r.stderr
    # two cases of 2 s each, and the start of crosscheck, a shard and a worker per case (about 8 s in
    # all on a 2-core machine); without the group kill the pipeline waits on the pool's children forever
    assert took < 2 * 2 + 30, took
    deadline = time.monotonic() + 5
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _marked(marker) == []
