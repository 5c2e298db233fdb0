"""crosscheck shares no code with what it checks: no module that generates cases, computes the
reference, prechecks or compares imports npcnn (statically, anywhere in the module), and a whole
run of every op against a renamed copy of npcnn never loads npcnn itself."""
import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CROSSCHECK = ROOT / "crosscheck"
# modules allowed to use npcnn, and where: whole-network parity checks npcnn's own layers and
# optimizers against Keras; the CLI's train-digits command runs npcnn's example
ALLOWED = {"networks.py": None, "cli/train_digits.py": {"cmd_train_digits"}}


def npcnn_imports(path: Path):
    """(enclosing function or None, line) of every import of npcnn in the module."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0:
                names = [child.module or ""]
            if any(n == "npcnn" or n.startswith("npcnn.") for n in names):
                found.append((function, child.lineno))
            visit(child, inner)
    visit(tree, None)
    return found


def test_no_generation_reference_or_comparison_module_imports_npcnn():
    offenders = []
    for path in sorted(CROSSCHECK.rglob("*.py")):
        rel = str(path.relative_to(CROSSCHECK))
        for function, line in npcnn_imports(path):
            allowed = ALLOWED.get(rel, set())
            if allowed is None or function in allowed:
                continue
            offenders.append(f"crosscheck/{rel}:{line} (in {function or 'module scope'})")
    assert offenders == []


RUN_EVERY_OP = """
import sys
sys.path.insert(0, {root!r})
from crosscheck.error_parity import run_error_parity
from crosscheck.fuzz import fuzz_op
from crosscheck.registry import OPS
from crosscheck.replay import snippet
import importlib
impl = importlib.import_module("npcnn_copy.functional")
bad = [p for p in run_error_parity(sorted(OPS), impl) if not p.passed]
outcomes = [o for op in sorted(OPS) for o in fuzz_op(op, examples=3, dtype="float64", seed=0, impl=impl)]
snippet(outcomes[0].case)
assert not bad, bad
assert all(o.status == "pass" for o in outcomes), [o.status for o in outcomes]
print("npcnn loaded:", any(m == "npcnn" or m.startswith("npcnn.") for m in sys.modules))
"""


def test_a_run_against_a_copy_of_npcnn_never_loads_npcnn(tmp_path):
    import shutil
    shutil.copytree(ROOT / "npcnn", tmp_path / "npcnn_copy", ignore=shutil.ignore_patterns("__pycache__", "examples"))
    proc = subprocess.run([sys.executable, "-c", RUN_EVERY_OP.format(root=str(ROOT))], capture_output=True, text=True,
                          cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3",
                                             "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "0"),
                                             "PATH": "/usr/bin:/bin"}, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "npcnn loaded: False" in proc.stdout
