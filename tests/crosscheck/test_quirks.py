"""The quirk registry (crosscheck/oracle/quirks.py): every registered TensorFlow quirk still holds on
this TensorFlow, on each CPU backend it names and on no other, and docs/tf-defects.md is the
registry's own rendering."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crosscheck.oracle.backend import BACKENDS, VARIABLE, requested, variable_value
from crosscheck.oracle.quirk_demos import run_script
from crosscheck.oracle.quirk_docs import markdown
from crosscheck.oracle.quirks import QUIRKS
from crosscheck.registry import OPS

pytest.importorskip("tensorflow")
ROOT = Path(__file__).resolve().parents[2]
DEMONSTRATE_ALL = """
import json, sys
from crosscheck.oracle.backend import in_force
from crosscheck.oracle.quirks import QUIRKS
results = {}
for q in QUIRKS:
    try:
        results[q.id] = bool(q.demonstrate())
    except Exception as e:  # a demonstration that raises shows nothing
        results[q.id] = f"{type(e).__name__}: {e}"[:300]
print(json.dumps({"backend": in_force(), "results": results}))
"""
_DEMONSTRATIONS: dict = {}


def demonstrations(backend: str) -> dict:
    """Every quirk's demonstration, run in a child process on ``backend`` (one child per backend): the
    backend this process's environment asks for in a child forked from its fork server (TensorFlow
    imported on that backend, no op run), the other in a new ``python`` (the backend is fixed when
    TensorFlow starts)."""
    if backend not in _DEMONSTRATIONS:
        if backend == requested():
            proc = run_script(DEMONSTRATE_ALL, timeout=900)
        else:
            env = {**os.environ, VARIABLE: variable_value(backend), "TF_CPP_MIN_LOG_LEVEL": "3"}
            proc = subprocess.run([sys.executable, "-c", DEMONSTRATE_ALL], capture_output=True, text=True, env=env,
                                  timeout=900, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-3000:]
        _DEMONSTRATIONS[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
        assert _DEMONSTRATIONS[backend]["backend"] == backend
    return _DEMONSTRATIONS[backend]["results"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("quirk", QUIRKS, ids=[q.id for q in QUIRKS])
def test_quirk_holds_on_its_backends_only(quirk, backend):
    """If TensorFlow fixes one, this fails: the workaround (or the refusal) must then go. A quirk
    of one backend must not show on the other (or it belongs to both)."""
    shown = demonstrations(backend)[quirk.id]
    if backend in quirk.backends:
        assert shown is True, f"on {backend}, TensorFlow no longer behaves as quirk {quirk.id} says: {quirk.what} ({shown})"
    else:
        assert shown is False, f"quirk {quirk.id} shows on {backend} too ({shown}): list that backend"


@pytest.mark.parametrize("quirk", QUIRKS, ids=[q.id for q in QUIRKS])
def test_quirk_is_complete(quirk):
    assert quirk.kind in ("defect", "limitation", "crash", "spec", "precision")
    assert quirk.what and quirk.workaround
    assert set(quirk.ops) <= set(OPS) | {"network"}
    assert not quirk.in_subprocess or quirk.kind == "crash"
    assert quirk.backends and set(quirk.backends) <= set(BACKENDS)
    if quirk.refuses:   # a case is reference-unsupported only because a refusing quirk says so
        assert quirk.workaround.startswith("refused")


def test_tf_defects_doc_is_generated_from_the_registry():
    assert (ROOT / "docs" / "tf-defects.md").read_text() == markdown(), \
        "regenerate: python -m crosscheck.oracle.quirk_docs > docs/tf-defects.md"
