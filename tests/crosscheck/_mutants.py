"""Copies of npcnn with one deliberate change, imported under another name: implementations under
test for the verdict tests (the same thing bench/mutation.py does automatically)."""
import importlib
import shutil
import sys
from pathlib import Path

NPCNN = Path(__file__).resolve().parents[2] / "npcnn"


def npcnn_with(tmp_path: Path, name: str, file: str, old: str, new: str):
    """npcnn.functional of a copy of npcnn in which ``old`` (which must occur once in ``file``) reads ``new``."""
    root = tmp_path / f"{name}_root"
    shutil.copytree(NPCNN, root / name, ignore=shutil.ignore_patterns("__pycache__", "examples"))
    path = root / name / file
    source = path.read_text()
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times in {file}"
    path.write_text(source.replace(old, new))
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(f"{name}.functional")
    finally:
        sys.path.remove(str(root))
