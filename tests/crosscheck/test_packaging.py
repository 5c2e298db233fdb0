"""pyproject.toml agrees with the code: the TensorFlow bounds of the extras are crosscheck/tf_versions.py's,
no extra but those two names a TensorFlow distribution, and the license and type markers ship."""
import re
import tomllib
from pathlib import Path

import pytest

from crosscheck import tf_versions

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = PROJECT["project"]["optional-dependencies"]


def distribution_of(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower()


@pytest.mark.parametrize("distribution", ["tensorflow", "tensorflow-cpu"])
def test_each_tensorflow_extra_names_its_distribution_with_the_supported_bounds(distribution):
    assert EXTRAS[distribution] == [tf_versions.requirement(distribution)]


def test_the_install_doc_states_the_supported_range_and_the_extras_bounds():
    doc = (ROOT / "docs" / "install.md").read_text()
    section = doc[doc.index("## Supported TensorFlow versions"):]
    assert f"TensorFlow {tf_versions.supported_range()}" in section
    for distribution in ("tensorflow", "tensorflow-cpu"):
        assert f"`{tf_versions.requirement(distribution)}`" in section


def test_no_other_extra_names_a_tensorflow_distribution():
    """A second distribution of the `tensorflow` module beside the user's would break both."""
    for extra, requirements in EXTRAS.items():
        if extra in ("tensorflow", "tensorflow-cpu"):
            continue
        named = {distribution_of(r) for r in requirements} & set(tf_versions.DISTRIBUTIONS)
        assert named == set(), f"extra {extra!r} names {named}"


def test_dev_brings_the_harness_tensorflow_cpu_and_the_examples():
    assert "npcnn-crosscheck[crosscheck,tensorflow-cpu,examples]" in EXTRAS["dev"]
    assert {"hypothesis", "rich", "threadpoolctl"} == {distribution_of(r) for r in EXTRAS["crosscheck"]}


def test_the_license_is_declared_once_and_its_text_ships():
    project = PROJECT["project"]
    assert project["license"] == "MIT"
    assert not any(c.startswith("License ::") for c in project["classifiers"])   # PEP 639: the expression alone
    for pattern in project["license-files"]:
        assert (ROOT / pattern).is_file()
        assert "MIT License" in (ROOT / pattern).read_text()
    setuptools_floor = re.search(r"setuptools>=(\d+)", " ".join(PROJECT["build-system"]["requires"]))
    assert int(setuptools_floor.group(1)) >= 77       # the first setuptools that reads `license-files`


def test_both_packages_ship_their_type_marker():
    assert PROJECT["tool"]["setuptools"]["package-data"] == {"npcnn": ["py.typed"], "crosscheck": ["py.typed"]}
    assert "Typing :: Typed" in PROJECT["project"]["classifiers"]
    assert (ROOT / "crosscheck" / "py.typed").is_file()


def test_the_documentation_url_points_at_the_docs():
    urls = PROJECT["project"]["urls"]
    assert urls["Documentation"].endswith("/docs") and urls["Source"] in urls["Documentation"]


@pytest.mark.parametrize("version, supported", [
    ("2.16.1", True), ("2.16.0", True), ("2.21.0", True), ("2.18.1+local", True),
    ("2.15.1", False), ("2.22.0", False), ("1.15.5", False), ("3.0.0", False),
    ("2.21.0rc1", False), ("2.22.0.dev20250101", False), ("2.16.0a0", False), ("unknown", False),
])
def test_which_versions_are_supported(version, supported):
    assert tf_versions.is_supported(version) is supported
    assert (tf_versions.unsupported_warning("tensorflow", version) is None) is supported


def test_the_tensorflow_installed_here_is_found_and_supported():
    import importlib.metadata
    distribution, version = tf_versions.installed()
    assert distribution in tf_versions.DISTRIBUTIONS
    assert version == importlib.metadata.version(distribution) and tf_versions.is_supported(version)
