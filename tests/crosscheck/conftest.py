"""crosscheck's tests: this test process's fork server (:mod:`crosscheck.forking`) is started here,
preloading _tf_faults before crosscheck's own preload, so that the processes it forks (the shards
of ``crosscheck run``, the ``check`` workers) carry the faults test_tf_crashes.py arms. The server
is a new ``python`` that finds _tf_faults through PYTHONPATH, set for its start only."""
import os
from multiprocessing import forkserver
from pathlib import Path

from crosscheck import forking


def _start_fork_server_with_faults():
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent)] + ([saved] if saved else []))
    try:
        forkserver.set_forkserver_preload(["_tf_faults"])
        if forking.fork_context() is not None:
            forkserver.ensure_running()
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = saved


_start_fork_server_with_faults()
