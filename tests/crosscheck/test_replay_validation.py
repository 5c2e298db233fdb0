"""Replay files are judged by value before anything is allocated or computed; text from a file or from
the code under test is printed safely; the CLI's numeric options take only what they mean.

Every hostile file here is refused with ReplayFileError naming its field, and ``crosscheck replay``
says so in one line with exit 2 (exit 1 keeps meaning "the case still fails")."""
import base64
import copy
import json
import shlex

import numpy as np
import pytest
from _outcomes import conv_case
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed

from crosscheck.case import IMPLEMENTATION_ERROR, Case, Outcome
from crosscheck.cli import main
from crosscheck.cli.parser import build_parser
from crosscheck.registry import OPS
from crosscheck.replay import ReplayFileError, encode_array, load_replay, read_replay, replay_command, save_case
from crosscheck.replay_schema import MAX_DEPTH, MAX_ELEMENTS, validate
from crosscheck.report import format_outcome_text
from crosscheck.report.json_report import outcome_to_dict
from crosscheck.report.terminal import printable


@pytest.fixture
def conv_doc(tmp_path):
    path = save_case(tmp_path / "conv.json", conv_case())
    return json.loads(path.read_text())


def _pool_doc(**params) -> dict:
    case = Case("max_pool2d", {"ksize": 2, "strides": 1, "padding": "SAME", **params},
                {"input": np.ones((1, 4, 4, 1), np.float32)}, np.ones((1, 4, 4, 1), np.float32), "float32", 0)
    return {"format": "crosscheck-case", "version": 1, "impl": "npcnn.functional", "status": "mismatch",
            "failures": [], "case": json.loads(json.dumps(_case_dict(case)))}


def _case_dict(case: Case) -> dict:
    from crosscheck.replay import case_to_dict
    return case_to_dict(case)


def _network_doc() -> dict:
    return {"format": "crosscheck-case", "version": 1, "impl": "npcnn.Sequential", "status": "mismatch",
            "failures": [], "case": {"op": "network", "dtype": "float64", "seed": 0,
                                     "params": {"input_shape": [3, 3, 1], "batch": 2, "classes": 2, "steps": 1,
                                                "optimizer": "adam",
                                                "layers": [{"class_name": "Flatten", "config": {}},
                                                           {"class_name": "Dense", "config": {"units": 2}}]},
                                     "arrays": {"x": encode_array(np.zeros((2, 3, 3, 1)))}, "dy": None}}


def _set(doc: dict, dotted: str, value) -> dict:
    doc = copy.deepcopy(doc)
    *parents, last = dotted.split(".")
    node = doc
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


_DELETE = object()
_EMPTY_HUGE = {"dtype": "float32", "shape": [2**32, 2**32], "data": ""}


# (id, which document, field to change, the new value, text the one-line refusal must hold)
HOSTILE = [
    ("shape product wraps in int64", "conv", "case.arrays.input", _EMPTY_HUGE, "case.arrays.input.shape[0]"),
    ("shape over the element limit", "conv", "case.arrays.input", {"dtype": "float32", "shape": [2**14, 2**14],
                                                                    "data": ""}, "at most 134217728"),
    ("zero-size shape with a huge axis", "conv", "case.arrays.input", {"dtype": "float32", "shape": [0, 2**40],
                                                                        "data": ""}, "case.arrays.input.shape[1]"),
    ("data shorter than the shape", "conv", "case.arrays.input.data", "AAAA", "case.arrays.input.data"),
    ("data not base64", "conv", "case.arrays.input.data", "!" * 640, "not base64"),
    ("object dtype of the right byte count", "conv", "case.arrays.input.dtype", "object", "'object' is not one of"),
    ("big-endian spelling", "conv", "case.arrays.input.dtype", ">f4", "case.arrays.input.dtype"),
    ("too many dimensions", "conv", "case.arrays.input.shape", [1] * 9, "at most 8 dimensions"),
    ("strides NaN", "conv", "case.params.strides", float("nan"), "case.params.strides: nan is not an integer"),
    ("strides 0", "conv", "case.params.strides", 0, "TensorFlow requires positive"),
    ("strides past int32", "conv", "case.params.strides", [1, 2**31], "case.params.strides[1]: 2147483648"),
    ("strides true", "conv", "case.params.strides", True, "case.params.strides"),
    ("negative pad", "conv", "case.params.padding", [[0, 0], [-1, 0], [0, 0], [0, 0]], "case.params.padding[1][0]"),
    ("huge explicit pads", "conv", "case.params.padding", [[0, 0], [2**20, 2**20], [2**20, 2**20], [0, 0]],
     "case.params.padding"),
    ("padding name not SAME/VALID", "conv", "case.params.padding", "FULL", "is not 'SAME' or 'VALID'"),
    ("huge dilation with VALID", "conv", "case.params.dilations", [2**30, 1], "case.params.dilations"),
    ("data_format not a layout", "conv", "case.params.data_format", "NCDHW", "case.params.data_format"),
    ("unknown parameter", "conv", "case.params.groups", 2, "conv2d takes no parameter groups"),
    ("dtype not a float", "conv", "case.dtype", "object", "case.dtype"),
    ("unknown op", "conv", "case.op", "conv3d", "unknown op 'conv3d'"),
    ("seed past uint64", "conv", "case.seed", 2**70, "case.seed"),
    ("other version", "conv", "version", 2, "this crosscheck reads version 1"),
    ("impl not a string", "conv", "impl", ["npcnn"], "impl: ['npcnn'] is not a string"),
    ("status unknown", "conv", "status", "fine", "status"),
    ("check convention unknown", "conv", "check", {"target": "x.py", "function": "f", "convention": "torch"},
     "check.convention"),
    ("ksize 2**31-1 with SAME", "pool", "case.params.ksize", 2**31 - 1, "case.params.ksize: 2147483647 pads the input"),
    ("ksize larger than the input with VALID", "pool", "case.params.padding", "VALID",
     "larger than the padded input"),
    ("network without input_shape", "network", "case.params.input_shape", _DELETE, "case.params.input_shape: missing"),
    ("network of a huge batch", "network", "case.params.batch", 2**30, "case.params.input_shape"),
    ("network optimizer unknown", "network", "case.params.optimizer", "lbfgs", "case.params.optimizer"),
    ("network seed negative", "network", "case.seed", -1, "case.seed"),
    ("network layer class not a name", "network", "case.params.layers", [{"class_name": "os.system", "config": {}}],
     "case.params.layers[0].class_name"),
    ("network layer of a huge kernel", "network", "case.params.layers",
     [{"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": [2**20, 2**20]}}],
     "case.params.layers[0].config.kernel_size[0]"),
]


@pytest.mark.parametrize("name, base, field, value, message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_value_is_refused_naming_its_field(name, base, field, value, message, conv_doc):
    doc = {"conv": conv_doc, "pool": _pool_doc(ksize=5), "network": _network_doc()}[base]
    if base == "pool" and field == "case.params.ksize":
        doc = _pool_doc()
    if name == "object dtype of the right byte count":   # 8-byte pointers: frombuffer would make objects of them
        doc = _set(doc, "case.arrays.input.data",
                   base64.b64encode(bytes(8 * 120)).decode())
    with pytest.raises(ReplayFileError) as info:
        validate(_set(doc, field, value))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_the_unchanged_documents_are_accepted(conv_doc):
    for doc in (conv_doc, _pool_doc(), _network_doc()):
        validate(doc)


def _write(tmp_path, name: str, raw: bytes):
    path = tmp_path / name
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize("raw, message", [
    (b"[" * 100_000 + b"]" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
    (b'{"format": "crosscheck-case", "impl": "\xff\xfe"}', "not UTF-8 text (byte 0xff at offset 39)"),
    (b'{"format": "crosscheck-case", ', "not JSON"),
    (b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[[[["}', "not a crosscheck replay file"),
    (b'{"seed": ' + b"1" * 5000 + b"}", "seed: an integer of 5000 digits; at most 40"),
    (b'{"format": "crosscheck-case", "impl": "\\ud800", "case": {}}', "impl: '\\\\ud800' holds a lone surrogate"),
], ids=["deep nesting", "non-UTF-8 bytes", "truncated JSON", "brackets inside strings are not nesting",
        "an integer past Python's digit limit", "a lone surrogate"])
def test_the_file_itself_is_checked_before_parsing(tmp_path, raw, message):
    with pytest.raises(ReplayFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_replay(_write(tmp_path, "x.json", raw))


def test_a_device_or_directory_is_not_read(tmp_path):
    with pytest.raises(ReplayFileError, match="not a regular file"):
        read_replay("/dev/zero")      # st_size 0 and endless: never read to the end
    with pytest.raises(OSError):
        read_replay(tmp_path)


def test_replay_of_a_refused_file_is_exit_2_and_one_line(tmp_path, conv_doc, capsys):
    files = {"deep.json": b"[" * 5000 + b"]" * 5000,
             "bytes.json": b'\xff{"format": 1}',
             "wrap.json": json.dumps(_set(conv_doc, "case.arrays.input", _EMPTY_HUGE)).encode(),
             "ksize.json": json.dumps(_pool_doc(ksize=2**31 - 1)).encode(),
             "net.json": json.dumps(_set(_network_doc(), "case.params.input_shape", _DELETE)).encode()}
    for name, raw in files.items():
        path = _write(tmp_path, name, raw)
        assert main(["replay", str(path)]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith(f"crosscheck: error: cannot use replay file {path}: "), err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["replay", str(tmp_path)]) == 2
    assert "Is a directory" in capsys.readouterr().err


# ------------------------------------------------------------------ everything crosscheck writes is read back

def _draw_all(strategy, n: int) -> list:
    drawn = []

    @hypothesis_seed(5)
    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(case):
        drawn.append(case)
    draw()
    return drawn


def test_every_case_the_strategies_draw_passes_validation(tmp_path):
    count = 0
    for name, info in sorted(OPS.items()):
        for dtype in ("float32", "float64"):
            strategies = [info.strategy(dtype), info.strategy(dtype, False)] + ([info.extreme(dtype)]
                                                                                if info.extreme else [])
            for strategy in strategies:
                for case in _draw_all(strategy, 6):
                    load_replay(save_case(tmp_path / "c.json", case))
                    count += 1
    assert count > 300


def test_the_large_cases_pass_validation(tmp_path):
    checked = 0
    for name, info in sorted(OPS.items()):
        if info.large is None:
            continue
        large = info.large("float32")
        for strategy in large if isinstance(large, tuple) else (large,):
            for case in _draw_all(strategy, 1):
                load_replay(save_case(tmp_path / "large.json", case))
                assert sum(a.size for a in case.arrays.values()) <= MAX_ELEMENTS
                checked += 1
    assert checked >= 4


def test_network_cases_the_strategy_draws_pass_validation():
    from crosscheck.networks import architectures  # deferred: crosscheck.networks imports npcnn and Keras
    for arch in _draw_all(architectures(), 30):
        params = {"architecture": arch.describe(), "layers": arch.layers, "input_shape": list(arch.input_shape),
                  "batch": arch.batch, "classes": arch.classes, "optimizer": "rmsprop", "steps": 10}
        doc = _set(_network_doc(), "case.params", json.loads(json.dumps(params)))
        validate(doc)


# ------------------------------------------------------------------ text printed and suggested commands

def test_replay_command_quotes_every_word_from_a_file():
    command = replay_command("out dir/cases/c.json", "x; touch pwned #")
    assert shlex.split(command) == ["crosscheck", "replay", "out dir/cases/c.json", "--impl", "x; touch pwned #"]
    assert replay_command("c.json", "npcnn.functional") == "crosscheck replay c.json"
    assert shlex.split(replay_command("c.json", check_target="my file.py")) == \
        ["crosscheck", "replay", "c.json", "--check", "my file.py"]


def test_control_characters_are_escaped_in_the_terminal_report():
    hostile = "boom\x1b[2J\x1b]0;title\x07\r\u202eevil"
    outcome = Outcome(conv_case(), IMPLEMENTATION_ERROR, message=f"Traceback ...\nValueError: {hostile}",
                      impl="mod\x1b[31m")
    outcome.case.params["note"] = hostile
    text = format_outcome_text(outcome_to_dict(outcome, "c.json"), snippet=False)
    assert not any(c in text for c in "\x1b\x07\r\u202e")
    assert "boom\\x1b[2J" in text and "\\u202eevil" in text
    assert "--impl 'mod\\x1b[31m'" in text       # the command quoted, then shown escaped
    assert printable("tab\tstays") == "tab\tstays"
    assert printable("lone \ud800") == "lone \\ud800"     # no output encoding could write it


def test_replay_prints_the_recorded_impl_quoted_and_escaped(tmp_path, conv_doc, capsys, monkeypatch):
    path = _write(tmp_path, "c.json", json.dumps(_set(conv_doc, "impl", "x; rm -rf ~ #\x1b[2J")).encode())
    monkeypatch.setattr("crosscheck.cli.replay.run_case", lambda case, impl: Outcome(case, "pass"))
    monkeypatch.setattr("crosscheck.cli.replay.load_impl_under_test", lambda name, timeout: None)
    assert main(["replay", str(path), "--here"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert f"crosscheck replay {path} --impl 'x; rm -rf ~ #\\x1b[2J'" in out


# ------------------------------------------------------------------ numeric options

@pytest.mark.parametrize("argv", [
    ["run", "--timeout", "nan"], ["run", "--timeout", "0"], ["run", "--timeout", "-1"], ["run", "--timeout", "inf"],
    ["run", "--timeout", "1e300"], ["replay", "c.json", "--timeout", "nan"], ["check", "x.py", "--timeout", "0"],
    ["run", "--shrink-time", "nan"], ["run", "--shrink-time", "-1"], ["run", "--examples", "0"],
    ["run", "-j", "0"], ["run", "-j", "-2"], ["check", "x.py", "--examples", "-1"], ["run", "--timeout", "soon"],
])
def test_a_numeric_option_outside_its_meaning_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[-2] if argv[-2] != '-j' else '-j/--jobs'}: '{argv[-1]}'" in err


def test_numeric_options_in_range_are_taken():
    args = build_parser().parse_args(["run", "--timeout", "0.5", "--shrink-time", "0", "--examples", "3", "-j", "2"])
    assert (args.timeout, args.shrink_time, args.examples, args.jobs) == (0.5, 0.0, 3, 2)


def test_a_network_layer_npcnn_cannot_build_is_exit_2_naming_it(tmp_path, capsys):
    layers = [{"class_name": "Flatten", "config": {}}, {"class_name": "Lambda", "config": {"function": "os.system"}}]
    path = _write(tmp_path, "net.json", json.dumps(_set(_network_doc(), "case.params.layers", layers)).encode())
    assert main(["replay", str(path), "--here"]) == 2     # the replaying child's side, where npcnn is imported
    err = capsys.readouterr().err
    assert "case.params.layers[1]: unknown layer class 'Lambda'" in err and "Traceback" not in err


def test_a_problem_line_is_text_not_markup():
    from rich.console import Console

    from crosscheck.cli.tables import print_problems
    console = Console(record=True, width=200, force_terminal=False)
    print_problems(console, ["TensorFlow said [/bold] and \x1b[2J [red]x[/red]"])   # rich markup would raise
    text = console.export_text()
    assert "fails: TensorFlow said [/bold] and \\x1b[2J [red]x[/red]" in text


def test_a_check_case_is_bounded_as_its_op_is():
    check = {"target": "layers.py", "function": "max_pool_forward_naive", "convention": "cs231n"}
    validate(_set(_pool_doc(), "check", check))
    with pytest.raises(ReplayFileError, match="case.params.ksize: 2147483647 pads the input"):
        validate(_set(_pool_doc(ksize=2**31 - 1), "check", check))
    with pytest.raises(ReplayFileError, match="nested deeper than"):
        validate(_set(_pool_doc(), "check", {**check, "extra": json.loads("[" * 40 + "]" * 40)}))


def test_an_integer_too_long_to_parse_is_named_by_its_field(tmp_path):
    from crosscheck.replay_schema import read_document
    path = tmp_path / "case.json"
    path.write_text('{"case": {"params": {"ksize": [' + "1" * 401 + ', 2]}}}')
    with pytest.raises(ReplayFileError, match=r"case\.params\.ksize\[0\]: an integer of 401 digits; at most 40"):
        read_document(path)


def test_what_the_code_under_test_prints_in_a_replay_is_shown_escaped(tmp_path, monkeypatch):
    import subprocess
    import sys
    (tmp_path / "noisy_relu.py").write_text(
        "import sys\nimport numpy as np\nfrom npcnn.functional import *  # noqa\n\n"
        "def relu(features):\n    print('\\x1b[2J\\x1b]0;pwned\\x07cleared', file=sys.stderr)\n"
        "    return np.maximum(features, 0)\n")
    case = Case("relu", {}, {"features": np.ones((2, 2), np.float32)}, np.ones((2, 2), np.float32), "float32", 0)
    path = save_case(tmp_path / "relu.json", case)
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-m", "crosscheck", "replay", str(path), "--impl", "noisy_relu"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "\\x1b[2J\\x1b]0;pwned\\x07cleared" in r.stdout, r.stdout + r.stderr
