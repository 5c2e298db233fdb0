"""Known NumPy 2 incompatibilities of course code, named as such: ``float()`` / ``int()`` of a
one-element array with ndim > 0 (the Step by Step ``float(b)`` on a ``(1, 1, 1)`` bias; NumPy 2
raises "only 0-dimensional arrays can be converted to Python scalars") and the aliases NumPy
removed (``np.int``, ``np.float``, ``np.asscalar``, ``np.product``, ``np.NaN``, ...).

:func:`exception_note` reads the exception where it was raised (the user's frame: the value's
shape, the function and line); crosscheck.tracebacks appends its line to the user's traceback, and
:func:`cause_in` finds it again there (a check's cause). This module imports nothing of crosscheck.
"""
from __future__ import annotations

import ast
import linecache
import os
import re

import numpy as np

NOTE_PREFIX = "NumPy 2 incompatibility: "

_SCALAR_CONVERSION = re.compile(r"only (0-dimensional|length-1|size-1) arrays can be converted to Python scalars")
_NO_ATTRIBUTE = re.compile(r"module 'numpy' has no attribute '(\w+)'")
_REMOVED = re.compile(r"`np\.(\w+)` was removed in the NumPy 2\.0 release\. Use (.+?) instead")
#: removed names whose own error message names no replacement
REPLACEMENTS = {
    "int": "int (or np.int64)", "float": "float (or np.float64)", "bool": "bool (or np.bool_)", "object": "object",
    "complex": "complex (or np.complex128)", "str": "str", "long": "int", "unicode": "str",
    "asscalar": "a.item()", "product": "np.prod", "cumproduct": "np.cumprod", "alltrue": "np.all",
    "sometrue": "np.any", "in1d": "np.isin", "trapz": "np.trapezoid", "msort": "np.sort(a, axis=0)",
    "NaN": "np.nan", "NAN": "np.nan", "Inf": "np.inf", "Infinity": "np.inf", "infty": "np.inf", "PINF": "np.inf",
    "NINF": "-np.inf", "float_": "np.float64", "complex_": "np.complex128", "round_": "np.round", "bool8": "np.bool_",
    "int0": "np.intp", "uint0": "np.uintp", "string_": "np.bytes_", "unicode_": "np.str_", "mat": "np.asmatrix",
}


def exception_note(exc: BaseException) -> str:
    """One line naming a NumPy 2 incompatibility that raised ``exc``, or ""."""
    try:
        if isinstance(exc, TypeError) and _SCALAR_CONVERSION.search(str(exc)):
            return _scalar_note(exc)
        if isinstance(exc, AttributeError):
            return _alias_note(exc)
    except Exception:   # noqa: BLE001 - a note that cannot be worked out is left out
        return ""
    return ""


def cause_in(message: str) -> str | None:
    """The NumPy 2 note in a traceback's text, if any (the check's cause for that failure)."""
    for line in reversed(message.splitlines()):
        if line.startswith(NOTE_PREFIX):
            return line.strip()
    return None


_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))


def _innermost(exc: BaseException):
    """(frame, line) of the innermost frame outside NumPy (NumPy's module ``__getattr__`` raises
    for a removed alias), or (None, 0)."""
    tb, found = exc.__traceback__, (None, 0)
    while tb is not None:
        if not os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_NUMPY_DIR):
            found = (tb.tb_frame, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _where(frame, lineno: int) -> str:
    filename = os.path.basename(frame.f_code.co_filename)
    return f"at {frame.f_code.co_name} line {lineno} ({filename})"


def _scalar_note(exc: TypeError) -> str:
    """float(x) / int(x) on the raising line whose x is a one-element array with ndim > 0."""
    frame, lineno = _innermost(exc)
    if frame is None:
        return ""
    line = linecache.getline(frame.f_code.co_filename, lineno, frame.f_globals).strip()
    for call, expression in _conversions(line):
        value = _value_of(expression, frame)
        if isinstance(value, np.ndarray) and value.size == 1 and value.ndim > 0:
            return (f"{NOTE_PREFIX}{call}() of an array of shape {value.shape} {_where(frame, lineno)}: use "
                    f"{call}({expression}.item()) or np.squeeze({expression})")
    return ""


def _conversions(line: str) -> list[tuple[str, str]]:
    """(float|int|complex, the argument's source) of each one-argument conversion on a source line."""
    try:
        tree = ast.parse(line.rstrip(":") + (" pass" if line.endswith(":") else ""))
    except SyntaxError:   # a line of a longer statement: no conversions found
        return []
    return [(node.func.id, ast.unparse(node.args[0])) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("float", "int", "complex") and len(node.args) == 1 and not node.keywords
            and _plain_expression(node.args[0])]


def _plain_expression(node: ast.AST) -> bool:
    """A name, an attribute or an index of one (evaluating it calls nothing of the user's code
    beyond ``__getitem__`` / properties)."""
    allowed = (ast.Name, ast.Attribute, ast.Subscript, ast.Constant, ast.Slice, ast.Tuple, ast.Load, ast.UnaryOp,
               ast.USub, ast.BinOp, ast.Add, ast.Sub, ast.Mult)
    return all(isinstance(n, allowed) for n in ast.walk(node))


def _value_of(expression: str, frame):
    try:
        return eval(compile(expression, "<numpy2>", "eval"), frame.f_globals, dict(frame.f_locals))
    except Exception:   # noqa: BLE001 - the value cannot be read: no note
        return None


def _alias_note(exc: AttributeError) -> str:
    text = str(exc)
    removed = _REMOVED.search(text)
    if removed:
        name, use = removed[1], removed[2]
    else:
        missing = _NO_ATTRIBUTE.search(text)
        if not missing or missing[1] not in REPLACEMENTS:
            return ""
        name, use = missing[1], REPLACEMENTS[missing[1]]
    frame, lineno = _innermost(exc)
    where = f" {_where(frame, lineno)}" if frame is not None else ""
    return f"{NOTE_PREFIX}np.{name} was removed{where}: use {use}"
