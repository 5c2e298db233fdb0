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
    # crosscheck.check(fn_or_globals): the verdict table in a notebook (check/jupyter.py);
    # crosscheck.strategies.conv2d(...): cases restricted to what a library supports
    if name in ("check", "strategies"):
        import importlib  # deferred: keeps `import crosscheck` light
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'crosscheck' has no attribute {name!r}")


def check_op(*args, **kwargs):
    __tracebackhide__ = True
    from .api import check_op as _check_op  # deferred: keeps `import crosscheck` light
    return _check_op(*args, **kwargs)


def assert_matches_tf(*args, **kwargs):
    __tracebackhide__ = True
    from .api import assert_matches_tf as _assert  # deferred: keeps `import crosscheck` light
    return _assert(*args, **kwargs)


def replay_case(*args, **kwargs):
    __tracebackhide__ = True
    from .api import replay_case as _replay  # deferred: keeps `import crosscheck` light
    return _replay(*args, **kwargs)
