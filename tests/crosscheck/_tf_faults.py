"""Faults injected into crosscheck's own processes (tests/crosscheck/test_tf_crashes.py): TensorFlow
aborting inside a reference computation or an error-parity call, crosscheck raising in a shard.

The fork server of each test process preloads this module (conftest.py), before
``crosscheck.preload``, so that every shard and ``check`` worker forked from it carries the
wrappers below; they act only in a process whose environment names a fault in :data:`VARIABLE`
(:func:`fault`), which a test sets around one command. Each fault strikes relu: TensorFlow's
aborts once (the first call that creates the marker file), crosscheck's error in every case.
"""
import json
import os

import crosscheck.runner as _runner   # first: crosscheck.fuzz, imported later, binds run_case at its import
import crosscheck.error_parity as _parity  # noqa: E402
import crosscheck.oracle.reference as _oracle  # noqa: E402

VARIABLE = "CROSSCHECK_TEST_FAULT"
#: where a fault strikes: a reference computation of relu in one dtype (TensorFlow aborts), an
#: error-parity call of relu (TensorFlow aborts), a case of relu (crosscheck's own RuntimeError)
WHERE = ("reference", "parity", "own-error")


def fault(where: str, marker, dtype: str = "float32") -> str:
    """The value of :data:`VARIABLE` that arms a fault ``where`` (one of :data:`WHERE`)."""
    assert where in WHERE, where
    return json.dumps({"where": where, "marker": str(marker), "dtype": dtype})


def _armed(where: str) -> dict | None:
    text = os.environ.get(VARIABLE)
    armed = json.loads(text) if text else None
    return armed if armed and armed["where"] == where else None


def _abort_once(marker: str) -> None:
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    print("F0000 00:00:0 fake.cc:1] Check failed: injected by the test", flush=True)
    os.abort()


_compute_path, _tf_verdict, _run_case = _oracle._compute_path, _parity.tf_verdict, _runner.run_case


def _crashing_path(path, call):
    armed = _armed("reference")
    if armed and call.op == "relu" and call.dtype == armed["dtype"]:
        _abort_once(armed["marker"])
    return _compute_path(path, call)


def _crashing_verdict(info, e):
    armed = _armed("parity")
    if armed and info.name == "relu":
        _abort_once(armed["marker"])
    return _tf_verdict(info, e)


def _failing_run_case(case, *args, **kwargs):
    armed = _armed("own-error")
    if armed and case.op == "relu":
        raise RuntimeError("a bug of crosscheck's own, injected by the test")
    return _run_case(case, *args, **kwargs)


_oracle._compute_path, _parity.tf_verdict, _runner.run_case = _crashing_path, _crashing_verdict, _failing_run_case
