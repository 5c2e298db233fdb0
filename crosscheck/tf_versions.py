"""Which TensorFlow crosscheck supports, declared once, and which one is installed.

crosscheck needs the ``tensorflow`` module but names no distribution of it in its ``crosscheck``
extra: ``tensorflow``, ``tensorflow-cpu``, ``tf-nightly`` and others all provide that module, and
installing a second one beside the user's would leave two distributions owning one module. The
extras ``tensorflow`` and ``tensorflow-cpu`` (pyproject.toml) name one, with the bounds
:func:`requirement` gives (a test compares the two). This module imports nothing of crosscheck and
never imports TensorFlow: the ``crosscheck`` command asks it before anything else.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys

#: the oldest and the newest TensorFlow release series crosscheck is tested with (docs/install.md)
OLDEST_SUPPORTED = (2, 16)
NEWEST_SUPPORTED = (2, 21)

#: the distributions that provide the ``tensorflow`` module, the usual ones first
DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos",
                 "tensorflow-rocm", "tensorflow-aarch64", "tensorflow-cpu-aws", "intel-tensorflow",
                 "tf-nightly", "tf-nightly-cpu", "tf-nightly-gpu")

#: set once a process has warned of an unsupported TensorFlow: the processes it starts inherit it and
#: say nothing more (the ``crosscheck`` command's workers and shards)
WARNED = "CROSSCHECK_TF_VERSION_WARNED"

#: the distribution crosscheck's install hint names (the smaller download, and crosscheck runs on CPU)
DEFAULT_DISTRIBUTION = "tensorflow-cpu"


def _series(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def supported_range() -> str:
    """``"2.16 to 2.21"``: the release series crosscheck supports, for messages."""
    return f"{_series(OLDEST_SUPPORTED)} to {_series(NEWEST_SUPPORTED)}"


def requirement(distribution: str) -> str:
    """The requirement an extra gives for ``distribution``: ``tensorflow-cpu>=2.16,<2.22``."""
    below = (NEWEST_SUPPORTED[0], NEWEST_SUPPORTED[1] + 1)
    return f"{distribution}>={_series(OLDEST_SUPPORTED)},<{_series(below)}"


def release_series(version: str) -> tuple[int, int] | None:
    """(major, minor) of a version string (``"2.16.1"``, ``"2.22.0.dev20250101"``), None if unreadable."""
    found = re.match(r"\s*v?(\d+)\.(\d+)", version)
    return (int(found.group(1)), int(found.group(2))) if found else None


def is_supported(version: str) -> bool:
    """Whether ``version`` lies in the supported release series (a pre-release of the next does not)."""
    series = release_series(version)
    return series is not None and OLDEST_SUPPORTED <= series <= NEWEST_SUPPORTED and not _is_prerelease(version)


def _is_prerelease(version: str) -> bool:
    return re.search(r"(?:a|b|rc|dev)\d*$", version.split("+")[0].lower()) is not None


def installed() -> tuple[str, str] | None:
    """(distribution, version) of the TensorFlow installed here, None if the ``tensorflow`` module is
    not importable. A module that no known distribution provides (a build from source under
    another name) is reported through the distribution that owns it, if any, else as ``tensorflow``
    with an unknown version."""
    if not _importable("tensorflow"):
        return None
    for name in DISTRIBUTIONS:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    for name in importlib.metadata.packages_distributions().get("tensorflow", []):
        return name, importlib.metadata.version(name)
    return "tensorflow", "unknown"


def _importable(module: str) -> bool:
    if module in sys.modules:      # imported already (``find_spec`` refuses a module without a spec)
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def unsupported_warning(distribution: str, version: str) -> str | None:
    """One line for stderr when ``version`` is outside the supported series, else None."""
    if is_supported(version):
        return None
    return (f"crosscheck: warning: {distribution} {version} is installed; crosscheck is tested with TensorFlow "
            f"{supported_range()} ({requirement(distribution)}), so some references or known quirks may differ")
