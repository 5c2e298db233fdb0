"""pytest configuration: hypothesis profiles, and the units pytest-xdist deals to its workers.

Profiles: ``default`` (derandomized, 40 examples per test unless the test says otherwise: every
run draws the same cases, on a developer's machine as in CI; no deadline) and ``thorough`` (1000
random examples per test, the networks of tests/crosscheck/test_networks.py 200 per optimizer).
Pick one with ``HYPOTHESIS_PROFILE=thorough pytest``.
crosscheck's plugin (registered as a pytest11 entry point in pyproject.toml) adds ``--crosscheck-report=DIR`` (JSON + HTML report of the session's outcomes).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow's CPU kernels for this test process and every process it starts (which inherit the
# environment): crosscheck's default, Eigen, unless TF_ENABLE_ONEDNN_OPTS is set (=1 tests oneDNN).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402


_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
               print_blob=True)
settings.register_profile("default", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "default")


#: Test modules whose tests share what one process builds once (a module fixture: a whole crosscheck
#: run or benchmark; test_quirks: one child process per TensorFlow backend). Under ``pytest -n``
#: each runs whole in one worker (tests/test_code_structure.py checks that every module with a
#: module-scoped fixture is here).
SHARED_STATE_MODULES = (
    "tests/bench/test_bench_smoke.py",
    "tests/crosscheck/test_cli.py",
    "tests/crosscheck/test_fault_probes.py",
    "tests/crosscheck/test_quirks.py",
    "tests/crosscheck/test_shards.py",
    "tests/npcnn/test_normalization.py",
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` (pyproject.toml) with finer units: each of :data:`SHARED_STATE_MODULES`
    whole, and every other test alone, so that the tests of one costly module (each starting
    processes) spread over the workers. Units are handed out largest first, then in collection
    order. (xdist's ``loadgroup`` with ``xdist_group`` marks would say this per test, but with
    pytest 9.2 and pytest-xdist 3.8 it silently groups nothing: pytest-xdist issue 1386.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling  # deferred: pytest-xdist runs this hook only when loaded

    class SharedStateScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in SHARED_STATE_MODULES else nodeid

    return SharedStateScheduling(config, log)
