"""One speed shim for TensorFlow's eager gradient glue; it changes no value TF computes.

When ``GradientTape.gradient`` runs an op's registered gradient function, the function reads the
forward op's attributes (``strides``, ``dilations``, ``explicit_paddings``, ...) through
``tensorflow.python.eager.backprop.make_attr``, which passes every list-valued attribute through
``nest.map_structure`` to turn ``str`` into ``bytes``. On Python 3.11 that walk makes an
``isinstance`` check against a ``typing.Protocol`` (``CustomNestProtocol``) costing about 0.2 ms,
a dozen times per conv gradient: a fifth of crosscheck's TensorFlow time per conv2d case.

For an int, float or bool attribute (one value or a list of them) ``map_structure`` returns the
value itself, or an equal container of the same type holding the same objects, so :func:`make_attr`
returns exactly that and hands every other attribute (strings, dtypes, shapes, tensors, functions)
to TensorFlow's own function unchanged. tests/crosscheck/test_tf_glue.py checks that the two agree
on every attribute of the ops crosscheck's reference paths run.
"""
from __future__ import annotations

_NUMBERS = (int, float, bool)


def install() -> None:
    """Wrap ``backprop.make_attr`` once (idempotent)."""
    from tensorflow.python import pywrap_tfe  # deferred: imports TensorFlow
    from tensorflow.python.eager import backprop  # deferred: imports TensorFlow
    if getattr(backprop.make_attr, "crosscheck_shim", False):
        return
    original = backprop.make_attr
    number_types = {int(pywrap_tfe.TF_ATTR_INT), int(pywrap_tfe.TF_ATTR_FLOAT), int(pywrap_tfe.TF_ATTR_BOOL)}

    def make_attr(attr_type, value):
        if type(attr_type) is int and attr_type in number_types and type(value) in _NUMBERS:
            return value
        if (type(attr_type) is list and len(attr_type) == 1 and attr_type[0] in number_types
                and type(value) in (list, tuple) and all(type(v) in _NUMBERS for v in value)):
            return type(value)(value)
        return original(attr_type, value)

    make_attr.crosscheck_shim = True
    make_attr.original = original
    backprop.make_attr = make_attr
