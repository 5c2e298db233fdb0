"""npcnn as a package: its public API is annotated (PEP 561) and it knows its version (its size and
its import structure is checked for the whole repository in tests/test_code_structure.py)."""
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
