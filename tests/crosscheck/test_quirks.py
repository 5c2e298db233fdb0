"""The quirk registry (crosscheck/oracle/quirks.py): every registered TensorFlow quirk still holds on
this TensorFlow, and docs/tf-defects.md is the registry's own rendering."""
from pathlib import Path

import pytest

from crosscheck.oracle.quirks import QUIRKS, markdown
from crosscheck.registry import OPS

pytest.importorskip("tensorflow")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("quirk", QUIRKS, ids=[q.id for q in QUIRKS])
def test_quirk_still_holds(quirk):
    """If TensorFlow fixes one, this fails: the workaround (or the refusal) must then go."""
    assert quirk.demonstrate(), f"TensorFlow no longer behaves as quirk {quirk.id} says: {quirk.what}"


@pytest.mark.parametrize("quirk", QUIRKS, ids=[q.id for q in QUIRKS])
def test_quirk_is_complete(quirk):
    assert quirk.kind in ("defect", "limitation", "crash", "spec", "precision")
    assert quirk.what and quirk.workaround
    assert set(quirk.ops) <= set(OPS) | {"network"}
    assert not quirk.in_subprocess or quirk.kind == "crash"
    if quirk.refuses:   # a case is reference-unsupported only because a refusing quirk says so
        assert quirk.workaround.startswith("refused")


def test_tf_defects_doc_is_generated_from_the_registry():
    assert (ROOT / "docs" / "tf-defects.md").read_text() == markdown(), \
        "regenerate: python -m crosscheck.oracle.quirks > docs/tf-defects.md"
