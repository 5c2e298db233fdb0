"""The ``crosscheck`` command's entry point: without the harness's dependencies (installed by the
``crosscheck`` extra) it says in one line what to install and exits 2, instead of a traceback."""
from __future__ import annotations

import importlib.util
import sys

NEEDED = {"tensorflow": "tensorflow-cpu", "hypothesis": "hypothesis", "rich": "rich", "threadpoolctl": "threadpoolctl"}
INSTALL = 'pip install "npcnn-crosscheck[crosscheck]"'


def missing() -> list[str]:
    """The distributions of the harness's dependencies that cannot be imported."""
    return [dist for module, dist in NEEDED.items() if importlib.util.find_spec(module) is None]


def main(argv=None) -> int:
    absent = missing()
    if absent:
        print(f"crosscheck: the harness needs {', '.join(absent)}, which are not installed; install them with: "
              f"{INSTALL}", file=sys.stderr)
        return 2
    if argv is None:   # started as the command (not called by a program): the process is crosscheck's own
        from .tf_import import lean  # deferred: the harness is imported only once missing() found its dependencies
        lean()
    from .cli import main as cli_main  # deferred: needs rich, hypothesis and threadpoolctl, checked by missing() first
    return cli_main(argv)
