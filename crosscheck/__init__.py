"""crosscheck: compare CNN ops (npcnn or your own code) with TensorFlow; see docs/check-your-own.md."""
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("npcnn-crosscheck")
except _metadata.PackageNotFoundError:   # run from a source tree that is not installed
    __version__ = "0+unknown"


def __getattr__(name):
    if name == "Layer":    # crosscheck.Layer: declare how to check a layer class (crosscheck/check/layer_declaration.py)
        from .check.layer_declaration import Layer  # deferred: keeps `import crosscheck` light
        return Layer
    if name == "check":    # crosscheck.check(fn_or_globals): the verdict table in a notebook (check/jupyter.py)
        import importlib  # deferred: keeps `import crosscheck` light
        return importlib.import_module(".check", __name__)
    raise AttributeError(f"module 'crosscheck' has no attribute {name!r}")


def check_op(*args, **kwargs):
    from .api import check_op as _check_op  # deferred: keeps `import crosscheck` light
    return _check_op(*args, **kwargs)


def assert_matches_tf(*args, **kwargs):
    from .api import assert_matches_tf as _assert  # deferred: keeps `import crosscheck` light
    return _assert(*args, **kwargs)
