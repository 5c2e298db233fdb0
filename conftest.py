"""pytest configuration: hypothesis profiles.

Profiles: ``ci`` (derandomized, fixed budget, no deadline; chosen automatically when ``CI`` is set),
``dev`` (the default) and ``thorough``. Pick one with ``HYPOTHESIS_PROFILE=thorough pytest``.
crosscheck's plugin (registered as a pytest11 entry point in pyproject.toml) adds ``--crosscheck-report=DIR`` (JSON + HTML report of the session's outcomes).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow's CPU kernels for this test process and every process it starts (which inherit the
# environment): crosscheck's default, Eigen, unless TF_ENABLE_ONEDNN_OPTS is set (=1 tests oneDNN).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from hypothesis import HealthCheck, settings  # noqa: E402


_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
               print_blob=True)
settings.register_profile("ci", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("dev", max_examples=60, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
