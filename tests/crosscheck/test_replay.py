"""Replay files round-trip a Case bit for bit; the snippet is valid Python naming the case."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crosscheck.case import Case
from crosscheck.replay import (case_id, decode_array, encode_array, load_case, load_replay, replay_filename,
                               save_case, snippet)

from _outcomes import conv_case, mismatch_outcome

ROOT = Path(__file__).resolve().parents[2]


def _assert_same_case(a: Case, b: Case):
    assert (a.op, a.dtype, a.seed, a.params) == (b.op, b.dtype, b.seed, b.params)
    assert list(a.arrays) == list(b.arrays)
    for name in a.arrays:
        assert a.arrays[name].dtype == b.arrays[name].dtype
        assert a.arrays[name].shape == b.arrays[name].shape
        assert a.arrays[name].tobytes() == b.arrays[name].tobytes(), name
    assert (a.dy is None) == (b.dy is None)
    if a.dy is not None:
        assert a.dy.tobytes() == b.dy.tobytes() and a.dy.dtype == b.dy.dtype


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_exact(tmp_path, dtype):
    case = conv_case(dtype)
    path = save_case(tmp_path / "case.json", case)
    _assert_same_case(case, load_case(path))


def test_special_values_survive():
    # values whose decimal text would lose them: signed zero, NaN payload, subnormals, inf, float32 ulps
    a = np.array([-0.0, np.nan, np.inf, -np.inf, 5e-324, 1 / 3], dtype=np.float64)
    a_nan = a.view(np.uint64).copy()
    a_nan[1] |= 0xDEAD
    a = a_nan.view(np.float64)
    b = np.nextafter(np.float32(1), np.float32(2), dtype=np.float32).reshape(1, 1)
    labels = np.array([[3, 0], [1, 2]], dtype=np.int64)
    for x in (a, b, labels, np.zeros((0, 3), np.float32)):
        y = decode_array(json.loads(json.dumps(encode_array(x))))
        assert y.dtype == x.dtype and y.shape == x.shape and y.tobytes() == x.tobytes()
        assert y.flags.writeable


def test_non_contiguous_and_big_endian_arrays():
    x = np.arange(24, dtype=np.float64).reshape(4, 6)[:, ::2]
    y = decode_array(encode_array(x))
    np.testing.assert_array_equal(x, y)
    be = np.arange(5, dtype=">f4")
    np.testing.assert_array_equal(decode_array(encode_array(be)), be)


def test_params_round_trip_and_dy_none(tmp_path):
    leaky = Case("leaky_relu", {"alpha": 1 / 3}, {"features": np.ones((2, 3))}, None, "float64", np.int64(5))
    got = load_case(save_case(tmp_path / "l.json", leaky))
    assert got.params == {"alpha": 1 / 3} and got.dy is None and got.seed == 5
    conv = Case("conv2d", {"strides": (2, np.int64(1)), "padding": [[0, 0], [1, 2], [3, 4], [0, 0]]},
                {"input": np.ones((1, 4, 4, 1)), "filters": np.ones((2, 2, 1, 1))}, None, "float64", 0)
    got = load_case(save_case(tmp_path / "c.json", conv))
    assert got.params == {"strides": [2, 1], "padding": [[0, 0], [1, 2], [3, 4], [0, 0]]}


def test_replay_file_records_impl_and_failures(tmp_path):
    outcome = mismatch_outcome(impl="my_layers")
    path = save_case(tmp_path / replay_filename(outcome), outcome.case, outcome)
    case, impl = load_replay(path)
    assert impl == "my_layers"
    doc = json.loads(path.read_text())
    assert doc["status"] == "mismatch" and doc["failures"][0]["tensor"] == "d_input"
    assert path.name.startswith("conv2d-float32-")
    _assert_same_case(outcome.case, case)


def test_case_id_depends_on_content():
    a, b = conv_case(seed=1), conv_case(seed=1)
    assert case_id(a) == case_id(b)
    b.arrays["input"][0, 0, 0, 0] = np.nextafter(b.arrays["input"][0, 0, 0, 0], np.float32(9))
    assert case_id(a) != case_id(b)


def test_load_rejects_other_json(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a crosscheck replay file"):
        load_case(p)


def test_snippet_is_python_and_names_the_case():
    case = conv_case()
    case.params["padding"] = [[1, 0], [0, 2]]
    src = snippet(case, "out/cases/c.json", "my_layers")
    ast.parse(src)
    assert "import my_layers as impl" in src
    assert "impl.vjp('conv2d', input, filters, **params)" in src
    assert "'out/cases/c.json'" in src
    # npcnn's 2-pair explicit padding becomes TF's 4-pair form
    assert "padding=[[0, 0], [1, 0], [0, 2], [0, 0]]" in src
    assert len(src.splitlines()) < 30


def test_snippet_for_op_without_tf_one_liner_uses_the_oracle():
    case = Case("batch_normalization", {"axis": -1}, {"x": np.ones((2, 3)), "gamma": np.ones(3),
                                                      "beta": np.zeros(3)}, np.ones((2, 3)), "float64", 0)
    src = snippet(case, "c.json")
    ast.parse(src)
    assert "compute_reference(load_case('c.json'))" in src
    # moving statistics are keyword-only arrays of the vjp
    assert "impl.batch_normalization(x=x, gamma=gamma, beta=beta" in src


def test_snippet_of_a_dilated_nchw_conv_uses_the_oracle():
    case = conv_case()
    case.params.update(dilations=[2, 1])
    assert "compute_reference" in snippet(case, "c.json", tf_path="backprop_ops")
    assert "ref.paths['backprop_ops']" in snippet(case, "c.json", tf_path="backprop_ops")
    assert "compute_reference" not in snippet(conv_case(), "c.json")


_RUN_SNIPPETS = """
import runpy, sys
for path in sys.argv[1:]:
    print('==', path)
    runpy.run_path(path)
"""


def test_snippets_reproduce_npcnn_against_tensorflow(tmp_path):
    # one case per op and dtype, in both snippet modes; npcnn is correct, so every printed error is tiny
    from hypothesis import HealthCheck, given, seed, settings
    from crosscheck.registry import OPS, get_op
    cases = []
    for op in sorted(OPS):
        for dtype in ("float32", "float64"):
            @seed(3)
            @settings(max_examples=1, database=None, suppress_health_check=list(HealthCheck))
            @given(get_op(op).strategy(dtype))
            def draw(case):
                cases.append(case)
            draw()
    scripts = []
    for i, case in enumerate(cases):
        path = save_case(tmp_path / f"c{i}.json", case)
        script = tmp_path / f"s{i}.py"
        script.write_text(snippet(case, str(path)))
        scripts.append(str(script))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", _RUN_SNIPPETS, *scripts], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    errors = [line.split() for line in proc.stdout.splitlines() if "max abs err" in line]
    assert len(errors) >= 2 * len(cases)       # the output and at least one gradient per case
    assert all(float(e[-1]) < 1e-3 for e in errors), proc.stdout
    modes = ["compute_reference" in Path(s).read_text() for s in scripts]
    assert any(modes) and not all(modes)
