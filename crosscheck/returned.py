"""What the code under test returned, made plain where it ran, and judged before any comparison.

The code under test may return anything: an ndarray subclass, an object array of strings, a ragged
list, a torch tensor, an object whose ``__array__`` sleeps or aborts. :func:`plain` turns a return
value into plain data where the code ran (in the worker process, or in the caller with
``--in-process``): NumPy arrays of a numeric dtype (a copy, of class ``ndarray``), NumPy and Python
numbers, strings, None, tuples, lists and dicts of those, and a :class:`Foreign` record for anything
else. Only that
plain data travels to crosscheck's process, so it never unpickles an object of the code under
test's classes nor calls one of its methods. :func:`judge` then says, for one output, whether it can
be compared (and as what array) or why not: a value that cannot be compared is an
``implementation-error`` ("returned <what>"), never an exception in the comparison.
"""
from __future__ import annotations

import io
import pickle
from dataclasses import dataclass

import numpy as np

#: how the module name of a file ``crosscheck check`` loads begins (a file is not a module by name)
CHECKED_FILE_MODULE = "crosscheck_user_"
NUMERIC_KINDS = "biufc"      # bool, signed, unsigned, float, complex
PLAIN_NUMBERS = (bool, int, float, complex)


@dataclass(frozen=True)
class Foreign:
    """A returned value that is not plain: ``what`` it was ("a str", "an array of dtype object", "a
    torch.Tensor, not a NumPy array"), and ``values``, its values as a plain numeric ndarray when
    it converted to one (the comparison then goes on with them), else None."""
    what: str
    values: np.ndarray | None = None


def _type_name(value) -> str:
    """``torch.Tensor``, ``Activation`` (a class of the checked file, whose module name is crosscheck's)."""
    cls = type(value)
    name = cls.__qualname__.replace("<locals>.", "")
    module = getattr(cls, "__module__", "") or ""
    mine = module in ("builtins", "__main__") or module.startswith(CHECKED_FILE_MODULE)
    return name if mine else f"{module}.{name}"


def _article(text: str) -> str:
    return ("an " if text[:1].lower() in "aeiou" else "a ") + text


def plain_array(value: np.ndarray):
    """A numeric ndarray (any subclass) as a plain ndarray copy; any other dtype as Foreign."""
    if value.dtype.kind not in NUMERIC_KINDS:
        kinds = {type(v).__name__ for v in value.flat[:20]} if value.dtype.kind == "O" else ()
        held = f" (holding {', '.join(sorted(kinds))})" if kinds else ""
        return Foreign(f"an array of dtype {value.dtype}{held}")
    return np.array(value, copy=True, subok=False)


def plain(value, handle=None, depth: int = 0):
    """``value`` as plain data (see the module docstring). ``handle(callable)`` replaces a returned
    callable (a pullback) by something that can travel; None keeps callables as they are."""
    if value is None or type(value) in (*PLAIN_NUMBERS, str, bytes, Foreign):
        return value
    if isinstance(value, np.ndarray):
        return plain_array(value)
    if isinstance(value, np.generic):
        return value if value.dtype.kind in NUMERIC_KINDS else Foreign(f"a NumPy {type(value).__name__} scalar ({value.dtype})")
    for base in (*PLAIN_NUMBERS, str, bytes):   # a subclass (an IntEnum, a str subclass): its plain value
        if isinstance(value, base):
            return base(value)
    if isinstance(value, (tuple, list, dict)):   # a namedtuple, an OrderedDict: the same structure, plain
        if depth > 32:
            return Foreign(f"{_article(type(value).__name__)} nested more than 32 levels deep")
        if isinstance(value, dict):
            return {plain(k, handle, depth + 1): plain(v, handle, depth + 1) for k, v in value.items()}
        kind = list if isinstance(value, list) else tuple
        return kind(plain(v, handle, depth + 1) for v in value)
    if callable(value) and not isinstance(value, type) and not hasattr(type(value), "__array__"):
        return value if handle is None else handle(value)
    if hasattr(type(value), "__array__") or hasattr(type(value), "__array_interface__"):
        name = _type_name(value)
        try:
            converted = np.asarray(value)
        except Exception as exc:   # noqa: BLE001 - the code under test's conversion failed: that is the finding
            return Foreign(f"{_article(name)} whose conversion to a NumPy array raised {type(exc).__name__}: {exc}")
        array = plain_array(converted) if isinstance(converted, np.ndarray) else Foreign(_article(name))
        if isinstance(array, Foreign):
            return Foreign(f"{_article(name)} converting to {array.what}")
        return Foreign(f"{_article(name)}, not a NumPy array", array)
    return Foreign(_article(_type_name(value)))


def described(value) -> Foreign:
    """A callable the code under test returned, as a Foreign record of what it is ("a function"):
    judged as the callable itself is at the top, and plain data where it cannot travel."""
    return Foreign(_article(_type_name(value)))


def judge(value) -> tuple[object, str, str]:
    """``(comparable, type_problem, fatal)`` for one output after :func:`plain`.

    ``comparable``: what the comparison receives (an ndarray, a NumPy or Python number, or None for
    no value); ``type_problem``: why the value is not an ndarray (compared anyway, and a mismatch);
    ``fatal``: why it cannot be compared at all ("returned ..."), "" when it can."""
    if value is None or isinstance(value, (np.ndarray, np.generic)):
        return value, "", ""
    if isinstance(value, PLAIN_NUMBERS):
        return value, f"returned a {type(value).__name__}, not a NumPy array", ""
    if isinstance(value, Foreign):
        if value.values is None:
            return None, "", f"returned {value.what}"
        return value.values, f"returned {value.what}", ""
    if isinstance(value, (tuple, list)):
        kind = type(value).__name__
        inner = _first_foreign(value)
        if inner is not None:
            return None, "", f"returned a {kind} holding {inner.what}"
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):
            return None, "", f"returned a ragged {kind} (its items have different shapes or types)"
        if array.dtype.kind not in NUMERIC_KINDS:
            return None, "", f"returned a {kind} that is not an array of numbers ({array.dtype})"
        return array, f"returned a {kind}, not a NumPy array", ""
    if isinstance(value, (str, bytes)):
        return None, "", f"returned a {type(value).__name__} {value[:40]!r}"
    return None, "", f"returned {_article(_type_name(value))}"


def _first_foreign(value) -> Foreign | None:
    """The first Foreign inside nested tuples and lists, None if there is none."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Foreign):
            return item
        if isinstance(item, (tuple, list)):
            stack.extend(reversed(item))
    return None


class NotPlain(Exception):
    """A pickle names a class or function that plain data does not need (``class_name``, "" if the
    data could not be read at all)."""

    def __init__(self, message: str, class_name: str = ""):
        super().__init__(message)
        self.class_name = class_name


_NUMPY_ALLOWED = {"_reconstruct", "scalar", "_frombuffer", "ndarray", "dtype"}
_BUILTINS_ALLOWED = {"complex", "set", "frozenset", "slice", "range", "bytearray"}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        top = module.partition(".")[0]
        allowed = ((top == "crosscheck")
                   or (top == "numpy" and (name in _NUMPY_ALLOWED or module == "numpy.dtypes"))
                   or (module == "builtins" and name in _BUILTINS_ALLOWED)
                   or (module == "collections" and name == "OrderedDict"))
        if not allowed:
            raise NotPlain(f"the worker sent an object of {module}.{name}, which crosscheck does not unpickle "
                           "(only plain arrays and numbers travel from the code under test)", f"{module}.{name}")
        return super().find_class(module, name)


def loads_plain(data: bytes):
    """Unpickle ``data`` refusing every class and function but NumPy's arrays and numbers, a few
    builtins and crosscheck's own (NotPlain): nothing of the code under test's runs here."""
    try:
        return _PlainUnpickler(io.BytesIO(data)).load()
    except NotPlain:
        raise
    except Exception as exc:   # noqa: BLE001 - a corrupt or hostile pickle: refused the same way
        raise NotPlain(f"the worker sent data that cannot be read ({type(exc).__name__}: {exc})") from None
