"""What a partial install gives: npcnn needs only NumPy; the crosscheck command without its extra or
without TensorFlow says in one line what to install (exit 2); with a TensorFlow outside the supported
versions it says so once and runs; the pytest plugin never breaks a suite that does not use it."""
import os
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


# Python whose installed TensorFlow distribution reports another version (TensorFlow itself is not imported)
OTHER_VERSION = """
import importlib.metadata
_version = importlib.metadata.version
importlib.metadata.version = lambda name: {version!r} if name == {distribution!r} else _version(name)
"""

NOT_WARNED = {k: v for k, v in os.environ.items() if k != "CROSSCHECK_TF_VERSION_WARNED"}


def run_without(blocked, code):
    return subprocess.run([sys.executable, "-c", BLOCK.format(blocked=set(blocked)) + code], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, env=NOT_WARNED)


def run_with_version(version, code):
    from crosscheck.tf_versions import installed
    distribution = installed()[0]
    return subprocess.run([sys.executable, "-c", OTHER_VERSION.format(version=version, distribution=distribution)
                           + code], capture_output=True, text=True, cwd=ROOT, timeout=300, env=NOT_WARNED)


def test_npcnn_needs_only_numpy():
    r = run_without({"tensorflow", "hypothesis", "rich", "threadpoolctl", "sklearn", "matplotlib", "keras"},
                    "import numpy as np, npcnn\n"
                    "from npcnn import functional as F\n"
                    "y, back = npcnn.vjp('conv2d', np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 4)), padding='SAME')\n"
                    "m = npcnn.Sequential([npcnn.Conv2D(4, 3), npcnn.Flatten(), npcnn.Dense(2)])\n"
                    "print(back(np.ones(y.shape))[0].shape, m(np.ones((1, 6, 6, 1))).shape)\n")
    assert r.returncode == 0, r.stderr
    assert "(1, 5, 5, 2) (1, 2)" in r.stdout


LAUNCH = "from crosscheck.launcher import main\nraise SystemExit(main(['run']))"


def test_crosscheck_without_its_extra_says_what_to_install():
    r = run_without({"hypothesis"}, LAUNCH)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "npcnn-crosscheck[crosscheck]"' in lines[0], r.stderr
    assert "hypothesis" in lines[0] and "TensorFlow" not in lines[0] and "Traceback" not in r.stderr


def test_crosscheck_without_tensorflow_says_which_extra_installs_one():
    r = run_without({"tensorflow"}, LAUNCH)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "npcnn-crosscheck[tensorflow-cpu]"' in lines[0], r.stderr
    assert "TensorFlow (2.16 to 2.21)" in lines[0] and "(or [tensorflow] for the tensorflow package" in lines[0]


def test_crosscheck_without_either_names_both_extras_in_one_command():
    r = run_without({"tensorflow", "hypothesis"}, LAUNCH)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "npcnn-crosscheck[crosscheck,tensorflow-cpu]"' in lines[0], r.stderr
    assert "TensorFlow" in lines[0] and "hypothesis" in lines[0] and "Traceback" not in r.stderr


def test_a_tensorflow_outside_the_supported_versions_gets_one_warning_line_and_the_command_runs():
    r = run_with_version("2.15.1", "from crosscheck.launcher import main\nraise SystemExit(main(['ops']))")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crosscheck: warning: tensorflow"), r.stderr
    assert "2.15.1 is installed" in lines[0] and "2.16 to 2.21" in lines[0]
    assert "conv2d" in r.stdout


def test_a_supported_tensorflow_gets_no_warning():
    r = run_with_version("2.16.1", "from crosscheck.launcher import main\nraise SystemExit(main(['ops']))")
    assert r.returncode == 0 and r.stderr == "", r.stderr


# a library user (TensorFlow imported by crosscheck.tf_import, or by the user first): TensorFlow and
# Keras stand-ins of another version, so that nothing imports the real ones
LIBRARY_USE = """
import os, subprocess, sys, types, warnings
tf = sys.modules["tensorflow"] = types.ModuleType("tensorflow")
tf.__version__ = "2.99.0"
sys.modules["keras"] = types.ModuleType("keras")
from crosscheck import tf_import
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    tf_import.tensorflow()
    tf_import.tensorflow()
print("warnings:", [(w.category.__name__, str(w.message)) for w in caught])
child = "import os; print('child sees:', os.environ.get('CROSSCHECK_TF_VERSION_WARNED'))"
print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True).stdout)
"""


def test_a_library_process_with_an_unsupported_tensorflow_warns_once_and_its_children_not_again():
    r = subprocess.run([sys.executable, "-c", LIBRARY_USE], capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env=NOT_WARNED)
    assert r.returncode == 0, r.stderr
    line = next(line for line in r.stdout.splitlines() if line.startswith("warnings:"))
    assert line.count("UnsupportedTensorFlowWarning") == 1 and "2.99.0 is installed" in line, r.stdout
    assert "child sees: 1" in r.stdout


def test_pytest_plugin_does_not_break_a_suite_without_the_extra(tmp_path):
    (tmp_path / "test_other.py").write_text("def test_unrelated():\n    assert 1 + 1 == 2\n")
    code = ("import sys, pytest\n"
            f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'no:hypothesispytest', {str(tmp_path)!r}]))")
    r = run_without({"tensorflow", "hypothesis", "rich", "threadpoolctl"}, code)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout
