"""``Sequential.load`` of a hostile file: every declared shape is bounded by the file before
anything is allocated, and the configuration is checked by value; anything wrong is one
ValueError naming the file and the entry or field, never MemoryError, AttributeError, KeyError,
RecursionError or a layer's own exception class."""
import io
import json
import zipfile

import numpy as np
import pytest

from npcnn import layers, models


@pytest.fixture
def saved(tmp_path):
    """``(path, config, weights)`` of a saved Conv2D + Dense model."""
    model = models.Sequential([layers.Conv2D(2, 3, name="conv"), layers.Flatten(name="flat"),
                               layers.Dense(3, name="dense")])
    model.build((None, 5, 5, 1))
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path) as data:
        config = json.loads(str(data["config"]))
        weights = {k: data[k] for k in data.files if k != "config"}
    return path, config, weights


def _npy(header: dict, data: bytes) -> bytes:
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, header)
    return f.getvalue() + data


def _write(path, members: dict, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, raw in members.items():
            z.writestr(name, raw)
    return path


def _members(config, weights) -> dict:
    out = {"config.npy": _npy_of(np.array(json.dumps(config)))}
    out.update({f"{k}.npy": _npy_of(v) for k, v in weights.items()})
    return out


def _npy_of(array) -> bytes:
    f = io.BytesIO()
    np.save(f, array)
    return f.getvalue()


def _refused(path, *words):
    with pytest.raises(ValueError) as info:
        models.Sequential.load(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize("shape", [(2**40, 2**40), (2**62,), (3, 10**6), (10**30,)])
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_weight_declaring_a_huge_shape_is_refused_before_allocating(saved, tmp_path, shape, compression):
    path, config, weights = saved
    members = _members(config, weights)
    members["weight_0.npy"] = _npy({"descr": "<f4", "fortran_order": False, "shape": shape}, b"\0" * 64)
    _refused(_write(tmp_path / "huge.npz", members, compression), "weight_0", "declares")


def test_an_entry_claiming_more_bytes_than_the_file_holds(saved, tmp_path):
    path, config, weights = saved
    target = _write(tmp_path / "claims.npz", _members(config, weights))
    raw = bytearray(target.read_bytes())
    # the central directory's uncompressed size of the last entry: a zip that lies about its sizes
    with zipfile.ZipFile(target) as z:
        info = z.infolist()[-1]
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24:central + 28] = (2**32 - 1).to_bytes(4, "little")
    target.write_bytes(bytes(raw))
    _refused(target, info.filename)


@pytest.mark.parametrize("descr, words", [("|O", "weight_0"), ("<i8", "weight_0"), ("<c16", "weight_0")])
def test_a_weight_of_another_dtype_is_refused(saved, tmp_path, descr, words):
    path, config, weights = saved
    members = _members(config, weights)
    members["weight_0.npy"] = _npy({"descr": descr, "fortran_order": False, "shape": (3, 3, 1, 2)}, b"\0" * 288)
    _refused(_write(tmp_path / "dtype.npz", members), words)


def _edit(config, path_of_field, value):
    target = config
    for key in path_of_field[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path_of_field[-1]]
    else:
        target[path_of_field[-1]] = value
    return config


@pytest.mark.parametrize("field, value, words", [
    (["model", "layers"], "abc", "model.layers"),
    (["model", "layers"], [], "model.layers"),
    (["model", "layers"], None, "model.layers"),
    (["model", "layers", 0], "Conv2D", "model.layers[0]"),
    (["model", "layers", 0, "class_name"], "Lambda", "model.layers[0].class_name"),
    (["model", "layers", 0, "class_name"], ["Conv2D"], "model.layers[0].class_name"),
    (["model", "layers", 0, "config"], [1, 2], "model.layers[0].config"),
    (["model", "layers", 0, "config", "exec"], "print(1)", "exec"),
    (["model", "layers", 0, "config", "strides"], [10**30, 1], "strides"),
    (["model", "layers", 0, "config", "strides"], 2**63, "strides"),
    (["model", "layers", 0, "config", "filters"], True, "filters"),
    (["model", "layers", 0, "config", "filters"], 2**62, "filters"),
    (["model", "layers", 0, "config", "filters"], "2", "filters"),
    (["model", "layers", 0, "config", "kernel_size"], [[3]], "kernel_size"),
    (["model", "layers", 0, "config", "padding"], {"a": 1}, "padding"),
    (["model", "layers", 0, "config", "activation"], ["relu"], "activation"),
    (["model", "layers", 0, "config", "use_bias"], "yes", "use_bias"),
    (["model", "layers", 0, "config", "name"], 5, "name"),
    (["model", "layers", 0, "config", "bias_initializer"], {"class_name": "constant", "config": [1]}, "constant"),
    (["model", "layers", 0, "config", "bias_initializer"], {"class_name": "constant", "config": {"value": "x"}},
     "value"),
    (["model", "layers", 2, "config", "units"], 10**30, "units"),
    (["model", "name"], 7, "model.name"),
    (["model"], "abc", "model"),
    (["input_shape"], "abc", "input_shape"),
    (["input_shape"], [None, 5, 5, True], "input_shape"),
    (["input_shape"], [None, 5, 5, -1], "input_shape"),
    (["input_shape"], [None, 5, 5, 2**62], "input_shape"),
    (["input_shape"], [None, 2**40, 2**40, 1], "input_shape"),
    (["dtype"], "float16", "dtype"),
    (["dtype"], ["float32"], "dtype"),
    (["weights"], "abc", "weights"),
    (["weights"], [1, 2, 3], "weights"),
    (["weights"], ["conv/kernel", "conv/kernel", "dense/kernel", "dense/bias"], "weights"),
    (["weights"], ["conv/kernel"], "weights"),
    (["format_version"], "1", "format_version"),
    (["format_version"], 2, "format_version"),
    (["format_version"], KeyError, "format_version"),
    (["extra"], 1, "extra"),
])
def test_a_malformed_config_names_the_field(saved, tmp_path, field, value, words):
    path, config, weights = saved
    edited = _write(tmp_path / "edited.npz", _members(_edit(config, field, value), weights))
    _refused(edited, words)


@pytest.mark.parametrize("text, words", [("[" * 100000 + "]" * 100000, "nests too deeply"),
                                         ('{"a": 1e999999}', "config"), ("[1, 2]", "top level"),
                                         ("\ud800", "config")])
def test_a_config_that_is_not_the_expected_json(saved, tmp_path, text, words):
    path, config, weights = saved
    members = _members(config, weights)
    members["config.npy"] = _npy_of(np.array(text))
    _refused(_write(tmp_path / "text.npz", members), words)


def test_a_config_entry_that_is_not_one_string(saved, tmp_path):
    path, config, weights = saved
    members = _members(config, weights)
    members["config.npy"] = _npy_of(np.array([json.dumps(config)] * 2))
    _refused(_write(tmp_path / "two.npz", members), "'config'")
    members["config.npy"] = _npy_of(np.ones(3))
    _refused(_write(tmp_path / "floats.npz", members), "'config'")


def test_an_honest_file_still_loads(saved):
    path, config, weights = saved
    model = models.Sequential.load(path)
    x = np.random.default_rng(0).random((2, 5, 5, 1)).astype(np.float32)
    assert model.predict(x).shape == (2, 3)
    for (name, value), saved_value in zip(model.parameters().items(), weights.values()):
        np.testing.assert_array_equal(value, saved_value, err_msg=name)
