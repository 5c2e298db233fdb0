"""What a partial install gives: npcnn needs only NumPy; the crosscheck command without its extra
says in one line what to install (exit 2); the pytest plugin never breaks a suite that does not use it."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Python that cannot import the given modules (as in a venv without them), then runs `code`.
BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
        return None
sys.meta_path.insert(0, Block())
import importlib.util
_find = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split('.')[0] in {blocked!r} else _find(name, *a)
"""


def run_without(blocked, code):
    return subprocess.run([sys.executable, "-c", BLOCK.format(blocked=set(blocked)) + code], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_npcnn_needs_only_numpy():
    r = run_without({"tensorflow", "hypothesis", "rich", "threadpoolctl", "sklearn", "matplotlib", "keras"},
                    "import numpy as np, npcnn\n"
                    "from npcnn import functional as F\n"
                    "y, back = npcnn.vjp('conv2d', np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 4)), padding='SAME')\n"
                    "m = npcnn.Sequential([npcnn.Conv2D(4, 3), npcnn.Flatten(), npcnn.Dense(2)])\n"
                    "print(back(np.ones(y.shape))[0].shape, m(np.ones((1, 6, 6, 1))).shape)\n")
    assert r.returncode == 0, r.stderr
    assert "(1, 5, 5, 2) (1, 2)" in r.stdout


def test_crosscheck_without_its_extra_says_what_to_install():
    r = run_without({"tensorflow", "hypothesis"}, "from crosscheck.launcher import main\nraise SystemExit(main(['run']))")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "npcnn-crosscheck[crosscheck]"' in lines[0]
    assert "tensorflow-cpu" in lines[0] and "hypothesis" in lines[0] and "Traceback" not in r.stderr


def test_pytest_plugin_does_not_break_a_suite_without_the_extra(tmp_path):
    (tmp_path / "test_other.py").write_text("def test_unrelated():\n    assert 1 + 1 == 2\n")
    code = ("import sys, pytest\n"
            f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'no:hypothesispytest', {str(tmp_path)!r}]))")
    r = run_without({"tensorflow", "hypothesis", "rich", "threadpoolctl"}, code)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout
