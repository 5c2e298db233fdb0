"""What a replay file may hold, judged by value before anything is allocated or computed.

A replay file is data from anywhere (a colleague, a CI artifact, a hand edit), and its values go
to NumPy, to TensorFlow and to the code under test. :func:`read_document` and :func:`validate`
refuse, with a :class:`ReplayFileError` naming the field and the value, anything crosscheck would
not write or that could exhaust the machine:

* the file: a regular file of at most :data:`MAX_FILE_BYTES`, UTF-8 JSON nested at most
  :data:`MAX_DEPTH` levels;
* arrays: a numeric dtype of :data:`ARRAY_DTYPES`, at most :data:`MAX_RANK` dimensions of at most
  :data:`INT32_MAX` each, at most :data:`MAX_ELEMENTS` elements in all (products in Python ints, which
  do not wrap), and data of exactly the shape's size;
* parameters: the types and ranges TensorFlow takes (int32 window sizes, strides and dilations of
  at least 1, pads of at least 0, finite floats), shape parameters of at most :data:`MAX_ELEMENTS`
  elements, and a sliding window whose padded input (SAME's computed padding included) holds at
  most :data:`MAX_ELEMENTS` elements and whose dilated extent fits in that padded input;
* a network case: every parameter ``crosscheck.networks.replay_network`` reads, bounded.

The limits are documented in docs/report-format.md ("Replay file").
"""
from __future__ import annotations

import base64
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from . import geometry as G
from .case import STATUSES, Case
from .registry import OPS

FORMAT = "crosscheck-case"
VERSION = 1
FLOAT_DTYPES = ("float32", "float64")
#: the dtypes an encoded array may have (raw little-endian bytes: no object, string or void dtypes)
ARRAY_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "float32", "float64")
MAX_FILE_BYTES = 3 * 2**29      # 1.5 GiB: the base64 of MAX_ELEMENTS float64 values, and room
MAX_DEPTH = 32                  # nesting of objects and lists (a replay file needs 7)
MAX_ELEMENTS = 2**27            # elements of all arrays together; of one shape parameter; of a padded input
MAX_RANK = 8
INT32_MAX = 2**31 - 1
MAX_INT_DIGITS = 40             # 2**64 has 20
MAX_TEXT = 4096                 # characters of a free-text field (impl, a check target)
CHECK_CONVENTIONS = ("cs231n", "deeplearning-ai", "layers")
CHECK_EXPECT = ("batch-mean",)   # crosscheck.check.conventions.KNOWN: what `crosscheck check --expect` declares
# what crosscheck.networks.replay_network builds (it imports npcnn, so it is not imported here: the
# layer class names are checked against npcnn's own by crosscheck replay before it builds anything)
NETWORK_OPTIMIZERS = ("sgd", "adam", "rmsprop")
MAX_NETWORK_LAYERS = 256
MAX_NETWORK_STEPS = 1000
MAX_LAYER_INT = 2**12           # a network layer's filters, units, kernel size, strides, groups ...


class ReplayFileError(ValueError):
    """A replay file that does not follow the documented schema (docs/report-format.md)."""


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _fail(field: str, message: str):
    raise ReplayFileError(f"{field}: {message}")


# ------------------------------------------------------------------------------------- the file

def read_document(path) -> dict:
    """The JSON document at ``path``: a regular file, at most MAX_FILE_BYTES, UTF-8, nested at most
    MAX_DEPTH levels (ReplayFileError otherwise; OSError when it cannot be read)."""
    path = Path(path)
    with open(path, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ReplayFileError("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise ReplayFileError(f"{info.st_size} bytes; a replay file is at most {MAX_FILE_BYTES} bytes")
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ReplayFileError(f"more than {MAX_FILE_BYTES} bytes; a replay file is at most that")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReplayFileError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    try:
        doc = json.loads(text, parse_int=_parse_int)
    except ReplayFileError:
        raise
    except json.JSONDecodeError as exc:
        raise ReplayFileError(f"not JSON ({exc})") from None
    except RecursionError:
        raise ReplayFileError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    _check_nesting(doc)
    _refuse_long_integers(doc)
    return doc


class _LongInteger(str):
    """A JSON integer literal past MAX_INT_DIGITS, kept as text until its field is known."""


def _parse_int(digits: str):
    """A JSON integer literal; past MAX_INT_DIGITS a _LongInteger (int() of thousands of digits is
    slow, and Python refuses more than 4300 with a ValueError of its own)."""
    return _LongInteger(digits) if len(digits.lstrip("-")) > MAX_INT_DIGITS else int(digits)


def _refuse_long_integers(doc, field: str = "") -> None:
    """ReplayFileError naming the first field that holds a _LongInteger."""
    if isinstance(doc, _LongInteger):
        raise ReplayFileError(f"{field or 'the document'}: an integer of {len(doc.lstrip('-'))} digits; "
                              f"at most {MAX_INT_DIGITS}")
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        _refuse_long_integers(value, f"{field}.{key}" if isinstance(key, str) and field else
                              str(key) if isinstance(key, str) else f"{field}[{key}]")


def _check_nesting(doc) -> None:
    """Refuse a document nested deeper than MAX_DEPTH (json.loads itself stops at Python's recursion
    limit, about 1000 levels, with the RecursionError read_document turns into the same message)."""
    level = [doc]
    for _ in range(MAX_DEPTH):
        level = [child for node in level if isinstance(node, (dict, list))
                 for child in (node.values() if isinstance(node, dict) else node) if isinstance(child, (dict, list))]
        if not level:
            return
    raise ReplayFileError(f"JSON nested deeper than {MAX_DEPTH} levels")


# ------------------------------------------------------------------------------------- values

def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _int(field: str, v, low: int, high: int) -> int:
    if not _is_int(v):
        _fail(field, f"{_show(v)} is not an integer")
    if v < low:
        _fail(field, f"{v} is smaller than {low}" + (" (TensorFlow requires positive values)" if low == 1 else ""))
    if v > high:
        _fail(field, f"{v} is larger than {high}" + (" (TensorFlow's int32 range)" if high == INT32_MAX else ""))
    return v


def _number(field: str, v, low: float = -math.inf, high: float = math.inf, high_open: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        _fail(field, f"{_show(v)} is not a number")
    if not math.isfinite(v):
        _fail(field, f"{v} is not a finite number")
    if v < low or v > high or (high_open and v >= high):
        _fail(field, f"{v} is outside [{low}, {high}{')' if high_open else ']'}")
    return v


def _text(field: str, v, choices: tuple | None = None, optional: bool = False) -> str | None:
    if v is None and optional:
        return None
    if not isinstance(v, str):
        _fail(field, f"{_show(v)} is not a string")
    if choices is not None and v not in choices:
        _fail(field, f"{_show(v)} is not one of {', '.join(choices)}")
    if len(v) > MAX_TEXT:
        _fail(field, f"a string of {len(v)} characters; at most {MAX_TEXT}")
    if not _is_unicode(v):
        _fail(field, f"{ascii(v)[:80]} holds a lone surrogate (not Unicode text)")
    return v


def _int_list(field: str, v, low: int, high: int, lengths: tuple | None = None) -> list:
    if not isinstance(v, list):
        _fail(field, f"{_show(v)} is not a list")
    if len(v) > MAX_RANK + 2 or (lengths is not None and len(v) not in lengths):
        _fail(field, f"{_show(v)} has {len(v)} entries" + (f"; expected {' or '.join(map(str, lengths))}"
                                                            if lengths else f"; at most {MAX_RANK + 2}"))
    return [_int(f"{field}[{i}]", x, low, high) for i, x in enumerate(v)]


def _spatial(field: str, v) -> None:
    """strides, dilations, ksize: an int or a list of 1, 2 or 4 ints, each in [1, INT32_MAX]."""
    if _is_int(v):
        _int(field, v, 1, INT32_MAX)
    elif isinstance(v, list):
        _int_list(field, v, 1, INT32_MAX, (1, 2, 4))
    else:
        _fail(field, f"{_show(v)} is not an integer or a list of 1, 2 or 4 integers")


def _padding(field: str, v, names_only: bool) -> None:
    """"SAME" / "VALID" in any ASCII case, or (unless ``names_only``) 2 or 4 [before, after] pairs >= 0."""
    if isinstance(v, str):
        if G.padding_name(v) is None:
            _fail(field, f"{_show(v)} is not 'SAME' or 'VALID'")
        return
    if names_only:
        _fail(field, f"{_show(v)} is not 'SAME' or 'VALID'")
    if not isinstance(v, list) or len(v) not in (2, 4):
        _fail(field, f"{_show(v)} is not 'SAME', 'VALID' or a list of 2 or 4 [before, after] pairs")
    for i, pair in enumerate(v):
        _int_list(f"{field}[{i}]", pair, 0, INT32_MAX, (2,))


def _shape_param(field: str, v) -> None:
    dims = _int_list(field, v, 0, INT32_MAX)
    if math.prod(dims) > MAX_ELEMENTS:
        _fail(field, f"a shape of {math.prod(dims)} elements; at most {MAX_ELEMENTS} (2**27)")


def _axis(field: str, v) -> None:
    if isinstance(v, list):
        _int_list(field, v, -INT32_MAX, INT32_MAX)
    else:
        _int(field, v, -INT32_MAX, INT32_MAX)


# parameters whose meaning is fixed by name (kind "value" in crosscheck.params)
_VALUE_RULES = {
    "data_format": lambda f, v: _text(f, v, G.DATA_FORMATS),
    "training": lambda f, v: v if isinstance(v, bool) else _fail(f, f"{_show(v)} is not true or false"),
    "keepdims": lambda f, v: v if isinstance(v, bool) else _fail(f, f"{_show(v)} is not true or false"),
    "epsilon": lambda f, v: _number(f, v, 0.0),
    "alpha": lambda f, v: _number(f, v),
    "rate": lambda f, v: _number(f, v, 0.0, 1.0, high_open=True),
    "seed": lambda f, v: _int(f, v, 0, 2**64 - 1),
    "groups": lambda f, v: _int(f, v, 1, INT32_MAX),
    "axes": _axis,
}


def _free_value(field: str, v) -> None:
    """A parameter crosscheck does not describe (a ``crosscheck check`` case's): JSON scalars and lists
    of them, numbers finite, ints in int64's range."""
    if isinstance(v, list):
        if len(v) > 1024:
            _fail(field, f"a list of {len(v)} entries; at most 1024")
        for i, x in enumerate(v):
            _free_value(f"{field}[{i}]", x)
    elif isinstance(v, dict):
        for k, x in v.items():
            _free_value(f"{field}.{k}", x)
    elif _is_int(v):
        _int(field, v, -2**63, 2**63 - 1)
    elif isinstance(v, float):
        _number(field, v)
    elif isinstance(v, str):
        _text(field, v)


def _check_params(field: str, info, params: dict) -> None:
    for name, value in params.items():
        spec = info.params.get(name) if info is not None else None
        f = f"{field}.{name}"
        if spec is None:
            _free_value(f, value)
        elif spec.kind == "spatial":
            _spatial(f, value)
        elif spec.kind in ("padding", "padding-name"):
            _padding(f, value, names_only=spec.kind == "padding-name")
        elif spec.kind == "shape":
            _shape_param(f, value)
        elif spec.kind == "axis":
            _axis(f, value)
        elif name in _VALUE_RULES:
            _VALUE_RULES[name](f, value)
        else:
            _free_value(f, value)


# ------------------------------------------------------------------------------------- arrays

def _check_array(field: str, a) -> int:
    """The element count of a valid encoded array (data not decoded yet: only its length is checked)."""
    if not isinstance(a, dict) or not {"dtype", "shape", "data"} <= set(a):
        _fail(field, "must be an object {dtype, shape, data}")
    _text(f"{field}.dtype", a["dtype"], ARRAY_DTYPES)
    shape = a["shape"]
    if not isinstance(shape, list) or len(shape) > MAX_RANK:
        _fail(f"{field}.shape", f"{_show(shape)} is not a list of at most {MAX_RANK} dimensions")
    for i, n in enumerate(shape):
        _int(f"{field}.shape[{i}]", n, 0, INT32_MAX)
    elements = math.prod(shape)
    if elements > MAX_ELEMENTS:
        _fail(f"{field}.shape", f"{shape} holds {elements} elements; a replay file holds at most {MAX_ELEMENTS} "
                                f"(2**27) in all")
    data = a["data"]
    if not isinstance(data, str):
        _fail(f"{field}.data", f"{_show(data)} is not a base64 string")
    nbytes = elements * np.dtype(a["dtype"]).itemsize
    if len(data) != 4 * (-(-nbytes // 3)):
        _fail(f"{field}.data", f"{len(data)} base64 characters; shape {shape} of {a['dtype']} takes "
                               f"{4 * (-(-nbytes // 3))} ({nbytes} bytes)")
    try:
        decoded = len(base64.b64decode(data, validate=True))
    except ValueError as exc:
        _fail(f"{field}.data", f"not base64 ({exc})")
    if decoded != nbytes:
        _fail(f"{field}.data", f"{decoded} bytes for shape {shape} of {a['dtype']} ({nbytes} bytes)")
    return elements


def _check_arrays(case: dict, info) -> None:
    arrays = case["arrays"]
    if info is not None:
        allowed = set(info.arrays) | set(info.optional_arrays or ()) | set(info.extra_arrays or ())
        strange = sorted(set(arrays) - allowed)
        missing = [n for n in info.arrays if n not in arrays and n not in (info.optional_arrays or ())]
        if strange or missing:
            _fail("case.arrays", f"{info.name} takes the arrays {', '.join(sorted(allowed))}; the file has "
                                 f"{', '.join(sorted(arrays)) or 'none'}")
    total = 0
    encoded = dict(arrays, **({"dy": case["dy"]} if case.get("dy") is not None else {}))
    for name, a in encoded.items():
        total += _check_array("case.dy" if name == "dy" and name not in arrays else f"case.arrays.{name}", a)
        if total > MAX_ELEMENTS:
            _fail(f"case.arrays.{name}", f"the file's arrays hold more than {MAX_ELEMENTS} (2**27) elements in all")


# ------------------------------------------------------------------------------------- windows

def _shape_only_case(case: dict) -> Case:
    """The case with zero-strided arrays of the stored shapes: its geometry without allocating them."""
    def view(a):
        return np.broadcast_to(np.zeros((), np.dtype(a["dtype"])), tuple(a["shape"]))
    return Case(op=case["op"], params=case["params"], arrays={n: view(a) for n, a in case["arrays"].items()},
                dy=None, dtype=case["dtype"], seed=0)


def _check_window(case: dict, info) -> None:
    """The sliding window's padded input (SAME's computed pads included) holds at most MAX_ELEMENTS
    elements, and with VALID or explicit padding the dilated window fits in it (TensorFlow's rule). A
    spelling TensorFlow refuses (GeometryError) is left to TensorFlow to refuse."""
    if info.geometry is None:
        return
    try:
        call = info.resolve(_shape_only_case(case))
        args = info.geometry(call)
        shape = G.window_input_shape(call)
    except (G.GeometryError, KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return
    params = case["params"]
    explicit = not isinstance(args.padding, str)
    blame = "padding" if explicit else next((n for n in ("ksize", "dilations") if n in params), "padding")
    if explicit:
        pads = tuple(tuple(p) for p in args.padding)
    else:
        pads = G.padtype_to_pads(args.in_sizes, args.window, args.strides, args.dilations, args.padding)
    padded = [n + a + b for n, (a, b) in zip(args.in_sizes, pads)]
    spatial = G.spatial_axes(call.data_format, len(args.in_sizes))
    elements = math.prod(padded) * math.prod(n for i, n in enumerate(shape) if i not in spatial)
    if elements > MAX_ELEMENTS:
        _fail(f"case.params.{blame}", f"{_show(params.get(blame, args.padding))} pads the input {tuple(shape)} to "
                                      f"{elements} elements (pads {pads}); at most {MAX_ELEMENTS} (2**27)")
    k_eff = G.effective_window(args.window, args.dilations)
    if args.padding != "SAME" and any(k > n for k, n in zip(k_eff, padded)):
        _fail(f"case.params.{'dilations' if 'dilations' in params and max(args.dilations) > 1 else blame}",
              f"the dilated window {tuple(k_eff)} is larger than the padded input {tuple(padded)} (TensorFlow's rule)")


# ------------------------------------------------------------------------------------- networks

def _check_network(case: dict) -> None:
    p = case["params"]
    for name in ("input_shape", "batch", "classes", "layers", "optimizer", "steps"):
        if name not in p:
            _fail(f"case.params.{name}", "missing (a network case names input_shape, batch, classes, layers, "
                                         "optimizer and steps)")
    shape = _int_list("case.params.input_shape", p["input_shape"], 1, INT32_MAX, (3,))
    batch = _int("case.params.batch", p["batch"], 1, INT32_MAX)
    if batch * math.prod(shape) > MAX_ELEMENTS:
        _fail("case.params.input_shape", f"batch {batch} x {shape} is {batch * math.prod(shape)} elements; "
                                         f"at most {MAX_ELEMENTS} (2**27)")
    _int("case.params.classes", p["classes"], 1, MAX_LAYER_INT)
    _text("case.params.optimizer", p["optimizer"], NETWORK_OPTIMIZERS)
    _int("case.params.steps", p["steps"], 0, MAX_NETWORK_STEPS)
    _int("case.seed", case.get("seed"), 0, 2**64 - 1)
    layers = p["layers"]
    if not isinstance(layers, list) or len(layers) > MAX_NETWORK_LAYERS:
        _fail("case.params.layers", f"not a list of at most {MAX_NETWORK_LAYERS} layers")
    for i, layer in enumerate(layers):
        f = f"case.params.layers[{i}]"
        if not isinstance(layer, dict) or not isinstance(layer.get("config", {}), dict):
            _fail(f, "is not an object {class_name, config}")
        name = _text(f"{f}.class_name", layer.get("class_name"))
        if not name.isidentifier() or len(name) > 100:
            _fail(f"{f}.class_name", f"{_show(name)} is not a class name")
        for key, value in layer.get("config", {}).items():
            _layer_value(f"{f}.config.{key}", value)
    for name, value in p.items():
        if name not in ("input_shape", "batch", "classes", "layers", "optimizer", "steps"):
            _free_value(f"case.params.{name}", value)


def _layer_value(field: str, v) -> None:
    if isinstance(v, list):
        if len(v) > MAX_RANK:
            _fail(field, f"a list of {len(v)} entries; at most {MAX_RANK}")
        for i, x in enumerate(v):
            _layer_value(f"{field}[{i}]", x)
    elif _is_int(v):
        _int(field, v, -MAX_LAYER_INT, MAX_LAYER_INT)
    elif isinstance(v, float):
        _number(field, v)
    elif v is not None and not isinstance(v, (bool, str)):
        _fail(field, f"{_show(v)} is not a number, a string, true/false or a list")
    elif isinstance(v, str):
        _text(field, v)


# ------------------------------------------------------------------------------------- the document

def validate(doc) -> None:
    """Raise ReplayFileError (naming the field and the value) unless ``doc`` is a replay file crosscheck
    can run without exhausting the machine: see the module docstring."""
    _check_nesting(doc)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        shown = _show(doc.get("format")) if isinstance(doc, dict) else _show(doc)
        raise ReplayFileError(f"not a crosscheck replay file (format {shown})")
    if doc.get("version", VERSION) != VERSION:
        _fail("version", f"{_show(doc.get('version'))}; this crosscheck reads version {VERSION}")
    _text("impl", doc.get("impl"), optional=True)
    if doc.get("status") is not None:
        _text("status", doc["status"], STATUSES)
    check = doc.get("check")
    if check is not None:
        if not isinstance(check, dict):
            _fail("check", f"{_show(check)} is not an object")
        for key in ("target", "function"):
            _text(f"check.{key}", check.get(key))
        _text("check.convention", check.get("convention"), CHECK_CONVENTIONS)
        _text("check.ties", check.get("ties", "note"), ("note", "tf"))
        if check.get("year") is not None:
            _int("check.year", check["year"], 1900, 9999)
        expect = check.get("expect", [])
        if not isinstance(expect, list):
            _fail("check.expect", f"{_show(expect)} is not a list")
        for i, name in enumerate(expect):
            _text(f"check.expect[{i}]", name, CHECK_EXPECT)
    case = doc.get("case")
    if not isinstance(case, dict):
        raise ReplayFileError("no 'case' object")
    op = case.get("op")
    if op not in OPS and op != "network" and not check:
        _fail("case.op", f"unknown op {_show(op)}; known: {', '.join(sorted(OPS))}")
    _text("case.op", op)
    _text("case.dtype", case.get("dtype"), FLOAT_DTYPES)
    if case.get("seed") is not None:
        _int("case.seed", case["seed"], -2**63, 2**64 - 1)
    if not isinstance(case.get("params"), dict):
        _fail("case.params", "must be an object")
    if not isinstance(case.get("arrays"), dict):
        _fail("case.arrays", "must be an object")
    info = OPS.get(op)
    if info is not None and not check:   # a `crosscheck check` case may carry its convention's own names
        unknown = sorted(set(case["params"]) - set(info.params))
        if unknown:
            _fail("case.params", f"{info.name} takes no parameter {', '.join(unknown)}; it takes "
                                 f"{', '.join(info.params) or 'none'}")
    _check_arrays(case, None if check else info)
    if op == "network" and not check:
        _check_network(case)
        return
    _check_params("case.params", info, case["params"])
    if info is not None:
        _check_window(case, info)
