"""crosscheck: compare CNN ops (npcnn or your own code) with TensorFlow; see docs/check-your-own.md."""


def __getattr__(name):
    if name == "Layer":    # crosscheck.Layer: declare how to check a layer class (crosscheck/check/layers.py)
        from .check.layers import Layer
        return Layer
    raise AttributeError(f"module 'crosscheck' has no attribute {name!r}")


def check_op(*args, **kwargs):
    from .api import check_op as _check_op
    return _check_op(*args, **kwargs)


def assert_matches_tf(*args, **kwargs):
    from .api import assert_matches_tf as _assert
    return _assert(*args, **kwargs)
