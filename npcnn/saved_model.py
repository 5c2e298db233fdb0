"""Reading a model file written by ``Sequential.save`` without trusting it.

A saved model is an .npz archive: a JSON ``config`` entry (a 0-d string array) and one
``weight_<i>`` float array per weight. Before any array is read, :func:`read_archive` checks each
entry's .npy header against the archive: the declared shape and dtype must fit in the bytes the
entry holds (so a header declaring ``(2**40, 2**40)`` is refused, not allocated), and the entry's
sizes must fit in the file. :func:`check_config` then checks the whole configuration by value
(types, known layer classes and their arguments, nesting), naming the field at fault.
"""
from __future__ import annotations

import inspect
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from ._checks import FLOAT_DTYPES, is_int, shown
from .layers import LAYERS

#: The most a deflated entry can expand (zlib's limit is about 1032:1), with room for headers.
_MAX_DEFLATE_RATIO = 1100

CONFIG_KEYS = {"format_version", "model", "input_shape", "dtype", "weights"}


def _entry_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, file_size: int) -> tuple[tuple, np.dtype]:
    """``(shape, dtype)`` of one .npy entry, after checking they fit in the bytes it holds."""
    name = info.filename
    if info.compress_size > file_size or info.file_size > max(info.compress_size * _MAX_DEFLATE_RATIO, 1024):
        raise ValueError(f"entry {name!r} declares {info.file_size} bytes in {info.compress_size}, more than the file "
                         f"({file_size} bytes) can hold")
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"entry {name!r} has .npy format version {version}, which npcnn does not write")
        header_bytes = f.tell()
    if dtype.hasobject:
        raise ValueError(f"entry {name!r} holds Python objects (dtype {dtype}): npcnn never saves those")
    if not all(is_int(d) and d >= 0 for d in shape):
        raise ValueError(f"entry {name!r} declares an invalid shape {shown(shape)}")
    data_bytes = math.prod(shape) * dtype.itemsize
    if data_bytes > info.file_size - header_bytes:
        raise ValueError(f"entry {name!r} declares shape {shape} {dtype} ({data_bytes} bytes) but holds only "
                         f"{info.file_size - header_bytes} bytes of data")
    return tuple(shape), dtype


def read_archive(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(config, {entry name: array})`` of a saved model; every declared shape is checked against
    the file before anything is allocated. A ValueError says what is wrong (without the path)."""
    file_size = path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        entries = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise ValueError(f"an entry {info.filename!r} that is not a NumPy array")
            entries[info.filename[:-4]] = _entry_header(archive, info, file_size)
    if "config" not in entries:
        raise ValueError(f"an .npz archive without npcnn's 'config' entry (it holds {sorted(entries)[:5]})")
    config_shape, config_dtype = entries.pop("config")
    if config_shape != () or config_dtype.kind != "U":
        raise ValueError(f"its 'config' entry must be one string, got shape {config_shape} dtype {config_dtype}")
    for name, (shape, dtype) in entries.items():
        if not name.startswith("weight_") or np.dtype(dtype).newbyteorder("=") not in FLOAT_DTYPES:
            raise ValueError(f"entry {name!r} ({shape} {dtype}) is not a float32/float64 weight_<i> array")
    with np.load(path, allow_pickle=False) as data:
        text = str(data["config"])
        try:
            config = json.loads(text)
        except RecursionError:
            raise ValueError("its config nests too deeply") from None
        arrays = {name: data[name] for name in entries}
    return config, arrays


def _fail(field: str, what: str, value) -> ValueError:
    shown = repr(value)
    return ValueError(f"config field {field} must be {what}, got {shown if len(shown) <= 80 else shown[:77] + '...'}")


def check_config(config: object, weight_entries: set[str]) -> None:
    """Check a saved model's configuration by value; a ValueError names the field at fault.
    ``weight_entries``: the archive's ``weight_<i>`` entry names."""
    if not isinstance(config, dict):
        raise _fail("(top level)", "an object", config)
    missing, unknown = CONFIG_KEYS - set(config), set(config) - CONFIG_KEYS
    if missing or unknown:
        raise ValueError(f"config fields: missing {sorted(missing)}, unknown {sorted(unknown)}")
    version = config["format_version"]
    if not is_int(version):
        raise _fail("format_version", "an int", version)
    model = config["model"]
    if not isinstance(model, dict) or set(model) != {"name", "layers"}:
        raise _fail("model", 'an object with "name" and "layers"', model)
    if not isinstance(model["name"], str):
        raise _fail("model.name", "a string", model["name"])
    if not isinstance(model["layers"], list) or not model["layers"]:
        raise _fail("model.layers", "a non-empty list", model["layers"])
    for i, spec in enumerate(model["layers"]):
        field = f"model.layers[{i}]"
        if not isinstance(spec, dict) or set(spec) != {"class_name", "config"}:
            raise _fail(field, 'an object with "class_name" and "config"', spec)
        cls = spec["class_name"]
        if not isinstance(cls, str) or cls not in LAYERS:
            raise _fail(f"{field}.class_name", f"one of {sorted(LAYERS)}", cls)
        arguments = spec["config"]
        if not isinstance(arguments, dict):
            raise _fail(f"{field}.config", "an object", arguments)
        accepted = set(inspect.signature(LAYERS[cls]).parameters)
        extra = sorted(set(arguments) - accepted)
        if extra:
            raise ValueError(f"config field {field}.config has arguments {extra} that {cls} does not take "
                             f"(it takes {sorted(accepted)})")
    shape = config["input_shape"]
    if not isinstance(shape, list) or len(shape) < 2 or not all(d is None or is_int(d) and d >= 0 for d in shape):
        raise _fail("input_shape", "a list of at least 2 entries, each null or an int >= 0", shape)
    if config["dtype"] not in ("float32", "float64"):
        raise _fail("dtype", '"float32" or "float64"', config["dtype"])
    weights = config["weights"]
    if not isinstance(weights, list) or not all(isinstance(w, str) and "/" in w for w in weights):
        raise _fail("weights", 'a list of "layer/weight" names', weights)
    if len(set(weights)) != len(weights):
        raise _fail("weights", "a list of distinct names", weights)
    expected = {f"weight_{i}" for i in range(len(weights))}
    if expected != weight_entries:
        raise ValueError(f"config field weights names {len(weights)} weights, the archive holds entries "
                         f"{sorted(weight_entries)[:8]}")
