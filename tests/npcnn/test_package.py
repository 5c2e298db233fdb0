"""npcnn as a package: its public API is annotated (PEP 561), it knows its version, and its modules
stay small, import at the top (a deferred import says why) and import no cycle."""
import ast
import graphlib
import importlib
import importlib.metadata
import inspect
import typing
from pathlib import Path

import pytest

import npcnn
import npcnn.keras_compat

PACKAGE = Path(npcnn.__file__).parent
TESTS = Path(__file__).parent
PUBLIC_MODULES = ["npcnn", "npcnn.functional", "npcnn.gradients", "npcnn.layers", "npcnn.models", "npcnn.optimizers",
                  "npcnn.losses", "npcnn.initializers", "npcnn.datasets", "npcnn.config", "npcnn.keras_compat"]
# the methods a user calls beside the public ones
CALLED_DUNDERS = ("__init__", "__call__")


def _public_callables():
    """``(qualified name, function)`` of every public function of the public modules, and of every
    public method (``__init__`` and ``__call__`` included) of their public classes and their bases."""
    found = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            home = getattr(obj, "__module__", "") or ""
            if name.startswith("_") or home.split(".")[0] != "npcnn" or any(p.startswith("_") for p in home.split(".")):
                continue   # private, or not npcnn's, or a helper of a private module imported here
            if inspect.isfunction(obj):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
            elif inspect.isclass(obj):   # its methods, inherited ones included (a private base's too)
                for klass in (k for k in obj.__mro__ if k.__module__.startswith("npcnn")):
                    for attr, member in vars(klass).items():
                        if attr.startswith("_") and attr not in CALLED_DUNDERS:
                            continue
                        fn = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                        if inspect.isfunction(fn):
                            found[f"{klass.__module__}.{klass.__qualname__}.{attr}"] = fn
    return sorted(found.items())


PUBLIC_CALLABLES = _public_callables()


def test_the_public_api_is_found():
    names = {name for name, _ in PUBLIC_CALLABLES}
    for expected in ("npcnn.functional.conv.conv2d", "npcnn.gradients.vjp", "npcnn.layers.conv.Conv2D.__init__",
                     "npcnn.layers.base.Layer.forward", "npcnn.models.Sequential.fit", "npcnn.optimizers.Adam.update",
                     "npcnn.losses.Loss.value_and_grad", "npcnn.initializers.get", "npcnn.datasets.load_mnist",
                     "npcnn.config.set_floatx", "npcnn.keras_compat.from_keras", "npcnn.models.load_model"):
        assert expected in names
    assert len(names) > 150


@pytest.mark.parametrize("name, fn", PUBLIC_CALLABLES, ids=[name for name, _ in PUBLIC_CALLABLES])
def test_every_public_callable_has_type_hints_for_its_parameters_and_return(name, fn):
    hints = typing.get_type_hints(fn)
    assert "return" in hints, f"{name} has no return annotation"
    parameters = list(inspect.signature(fn).parameters)
    if parameters and parameters[0] in ("self", "cls"):
        parameters = parameters[1:]
    assert [p for p in parameters if p not in hints] == [], f"{name}: parameters without a type hint"


def test_the_package_ships_its_type_hints():
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "py.typed").read_text() == ""


def test_the_version_is_the_installed_distributions():
    assert npcnn.__version__ == importlib.metadata.version("npcnn-crosscheck")


def _python_files(root: Path):
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("root", [PACKAGE, TESTS], ids=["npcnn", "tests/npcnn"])
def test_every_module_is_under_500_lines(root):
    long = {str(p.relative_to(root)): n for p in _python_files(root) if (n := len(p.read_text().splitlines())) >= 500}
    assert long == {}


def _function_level_imports(tree: ast.AST):
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node


def test_an_import_inside_a_function_defers_a_heavy_one_and_says_so():
    """Only a heavy or optional import (scikit-learn, matplotlib, Keras/TensorFlow, rich) may wait
    for the function that needs it, with ``# deferred: <reason>`` on its line; the rest sit at the top."""
    undeclared = []
    for path in _python_files(PACKAGE):
        lines = path.read_text().splitlines()
        for node in _function_level_imports(ast.parse("\n".join(lines))):
            comment = lines[node.lineno - 1].partition("# deferred:")[2].strip()
            if not comment:
                undeclared.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert undeclared == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, modules: set) -> set:
    """The npcnn modules that ``path`` imports by name (anywhere in it); ``from package import module``
    names the module, ``from package import attribute`` the package."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = ".".join(base[:len(base) - node.level + 1]) if node.level else ""
            target = ".".join(p for p in (base, node.module or "") if p)
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
    return {m for m in found if m in modules and m != name}


def test_npcnn_modules_import_no_cycle():
    paths = {_module_name(p): p for p in _python_files(PACKAGE)}
    graph = {name: _imported_modules(path, set(paths)) for name, path in paths.items()}
    assert "npcnn.gradients" in graph["npcnn.functional.conv_backward"]
    assert "npcnn.config" in graph["npcnn.parallel"]          # from . import config
    assert "npcnn.functional" in graph["npcnn.layers.normalization"]   # from ..functional import moments
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as e:
        pytest.fail(f"an import cycle: {' -> '.join(e.args[1])}")
