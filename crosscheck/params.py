"""An op's keyword parameters as data: their meaning, default and accepted spellings ("forms").

Each :class:`Param` says what a call may omit (and what omitting it means: the API contract
crosscheck checks, not a value read from the code under test), and which spellings the strategies
must produce, so that every default and every spelling is exercised and counted.

Kinds and their forms:

* ``spatial`` (strides, dilations, ksize): ``int``, ``1 value``, ``2 values``, ``4 values``;
* ``padding``: ``'SAME'``, ``'VALID'``, ``lower case``, ``mixed case``, ``2 pairs``, ``4 pairs``;
* ``padding-name`` (avg_pool2d): the string forms only;
* ``axis``: ``negative``, ``non-negative``;
* ``value`` and ``shape``: the value itself (``'NCHW'``, ``True``) / ``list``.

A parameter with a default also has the form ``default`` (omitted from the call).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import geometry as G

REQUIRED = object()
DEFAULT = "default"
SPATIAL_FORMS = ("int", "1 value", "2 values", "4 values")
PADDING_STRING_FORMS = ("'SAME'", "'VALID'", "lower case", "mixed case")
PADDING_FORMS = PADDING_STRING_FORMS + ("2 pairs", "4 pairs")
AXIS_FORMS = ("negative", "non-negative")


@dataclass(frozen=True)
class Param:
    """One keyword parameter: ``doc``, ``kind`` (see the module docstring), ``default`` (REQUIRED if
    a call must give it) and the ``forms`` the strategies must exercise."""
    doc: str
    kind: str = "value"
    default: Any = REQUIRED
    forms: tuple = ()

    @property
    def has_default(self) -> bool:
        return self.default is not REQUIRED

    def expected_forms(self) -> tuple:
        return ((DEFAULT,) if self.has_default else ()) + tuple(self.forms)


def classify(kind: str, value) -> str:
    """The form of ``value`` as spelled in a call."""
    if kind == "spatial":
        if isinstance(value, int):
            return "int"
        return {1: "1 value", 2: "2 values", 4: "4 values"}.get(len(value), f"{len(value)} values")
    if kind in ("padding", "padding-name"):
        if isinstance(value, str):
            if value in ("SAME", "VALID"):
                return f"'{value}'"
            return "lower case" if value.islower() else "mixed case"
        return f"{len(value)} pairs"
    if kind == "axis":
        if isinstance(value, (list, tuple)):
            return "list"
        return "negative" if value < 0 else "non-negative"
    if kind == "shape":
        return "list"
    return repr(value)


def canonical(kind: str, value, data_format: str = "NHWC"):
    """The meaning of a spelled value: spatial -> tuple of ints per axis; padding -> "SAME",
    "VALID" or per-axis pairs; anything else unchanged. GeometryError for an unreadable value."""
    if kind == "spatial":
        return G.spatial_values(value, "value", 2, data_format)
    if kind in ("padding", "padding-name"):
        return G.normalize_padding(value, 2, data_format)
    return value


def spell_spatial(values: tuple, form: str, data_format: str):
    """``values`` (one per spatial axis) written in ``form``."""
    if form == "int":
        return int(values[0])
    if form == "1 value":
        return [int(values[0])]
    if form == "2 values":
        return [int(v) for v in values]
    return G.full_values(values, data_format)


def spell_padding(padding, form: str, data_format: str):
    """A canonical padding ("SAME" / "VALID" / pairs) written in ``form``."""
    if isinstance(padding, str):
        if form == "lower case":
            return padding.lower()
        if form == "mixed case":
            return padding.capitalize()
        return padding
    if form == "2 pairs":
        return [[int(a), int(b)] for a, b in padding]
    return G.full_padding(padding, data_format)
