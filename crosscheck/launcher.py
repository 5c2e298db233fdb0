"""The ``crosscheck`` command's entry point: without the harness's dependencies (the ``crosscheck``
extra, and a TensorFlow: :mod:`crosscheck.tf_versions`) it says in one line what to install and exits
2, instead of a traceback; with a TensorFlow outside the supported versions it says so in one line
on stderr and runs."""
from __future__ import annotations

import importlib.util
import os
import sys

from . import tf_versions

NEEDED = {"hypothesis": "hypothesis", "rich": "rich", "threadpoolctl": "threadpoolctl"}
PACKAGE = "npcnn-crosscheck"


def missing() -> list[str]:
    """The distributions of the harness's dependencies that cannot be imported (TensorFlow not included)."""
    return [dist for module, dist in NEEDED.items() if importlib.util.find_spec(module) is None]


def install_line(absent: list[str], tensorflow_absent: bool) -> str:
    """The one line that says what is missing and the pip command that installs it."""
    needs = ([f"TensorFlow ({tf_versions.supported_range()})"] if tensorflow_absent else []) + absent
    extras = ["crosscheck"] if absent else []
    listed = needs[0] if len(needs) == 1 else f"{', '.join(needs[:-1])} and {needs[-1]}"
    it = "it" if len(needs) == 1 else "them"
    line = f"crosscheck: the harness needs {listed}, which {'is' if len(needs) == 1 else 'are'} not installed; "
    if not tensorflow_absent:
        return line + f'install {it} with: pip install "{PACKAGE}[{",".join(extras)}]"'
    with_cpu, with_full = ",".join(extras + [tf_versions.DEFAULT_DISTRIBUTION]), ",".join(extras + ["tensorflow"])
    return (line + f'install {it} with: pip install "{PACKAGE}[{with_cpu}]" '
            f"(or [{with_full}] for the tensorflow package, GPU support included)")


def main(argv=None) -> int:
    absent = missing()
    tensorflow = tf_versions.installed()
    if absent or tensorflow is None:
        print(install_line(absent, tensorflow is None), file=sys.stderr)
        return 2
    warning = tf_versions.unsupported_warning(*tensorflow)
    if warning and not os.environ.get(tf_versions.WARNED):
        print(warning, file=sys.stderr)
        os.environ[tf_versions.WARNED] = "1"
    if argv is None:   # started as the command (not called by a program): the process is crosscheck's own
        from .tf_import import lean  # deferred: the harness is imported only once missing() found its dependencies
        lean()
    from .cli import main as cli_main  # deferred: needs rich, hypothesis and threadpoolctl, checked by missing() first
    return cli_main(argv)
