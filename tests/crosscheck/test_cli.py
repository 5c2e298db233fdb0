"""The ``crosscheck`` command on deliberately broken implementations, on npcnn, and on usage errors.

The broken modules are written to a temporary directory and reached through ``--impl``, exactly
as a user's own library would be.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crosscheck.case import Case
from crosscheck.cli import main
from crosscheck.replay import save_case

ROOT = Path(__file__).resolve().parents[2]


# conv2d's input gradient must correlate dy with the kernel rotated by 180 degrees; this one uses
# the kernel as it is (npcnn's rule applied to a pre-flipped kernel undoes the flip).
BROKEN_CONV = '''
"""npcnn, except that conv2d's input gradient uses the unflipped kernel."""
import numpy as np
import npcnn
from npcnn.functional import *  # noqa: F401,F403


def vjp(op, *arrays, **params):
    y, pullback = npcnn.vjp(op, *arrays, **params)
    if op != "conv2d":
        return y, pullback
    x, w, *rest = arrays
    _, unflipped_pullback = npcnn.vjp("conv2d", x, np.ascontiguousarray(w[::-1, ::-1]), *rest, **params)

    def broken_pullback(dy):
        grads = list(pullback(dy))
        grads[0] = unflipped_pullback(dy)[0]
        return tuple(grads)
    return y, broken_pullback
'''

# A max-pool with two classic backward bugs: the gradient goes to every element equal to the
# window maximum (TensorFlow gives it to the first one only), and windows that share their maximum
# overwrite each other's gradient instead of adding it.
BROKEN_POOL = '''
"""npcnn, except for a max_pool2d whose backward pass is wrong."""
import numpy as np
import npcnn
from npcnn import padding as P
from npcnn._checks import from_nhwc, to_nhwc
from npcnn.functional import *  # noqa: F401,F403
from npcnn.functional.im2col import pad_nhwc, window_slices, window_view


def _forward(input, ksize, strides, padding="VALID", data_format="NHWC"):
    x = to_nhwc(np.asarray(input), data_format)
    geom = P.window_geometry(x.shape[1:3], P.spatial_pair(ksize, "ksize", data_format),
                             P.spatial_pair(strides, "strides", data_format), (1, 1),
                             P.normalize_padding(padding, data_format))
    xp = pad_nhwc(x, geom.pads, -np.inf)
    windows = window_view(xp, geom)
    return windows.max(axis=(3, 4)), x, windows, geom


def max_pool2d(input, ksize, strides, padding="VALID", data_format="NHWC"):
    return from_nhwc(_forward(input, ksize, strides, padding, data_format)[0], data_format)


def vjp(op, *arrays, **params):
    if op != "max_pool2d":
        return npcnn.vjp(op, *arrays, **params)
    fmt = params.get("data_format", "NHWC")
    y, x, windows, geom = _forward(arrays[0], **params)

    def pullback(dy):
        dy = to_nhwc(dy, fmt)
        (t, b), (l, r) = geom.pads
        n, h, w, c = x.shape
        dxp = np.zeros((n, t + h + b, l + w + r, c), x.dtype)
        for i in range(geom.kernel[0]):
            for j in range(geom.kernel[1]):
                hs, ws = window_slices(geom, i, j)
                is_max = windows[:, :, :, i, j, :] == y          # bug 1: every tied maximum
                dxp[:, hs, ws, :] = np.where(is_max, dy, dxp[:, hs, ws, :])   # bug 2: = instead of +=
        return (from_nhwc(dxp[:, t:t + h, l:l + w, :], fmt),)
    return from_nhwc(y, fmt), pullback
'''


@pytest.fixture(scope="module")
def impl_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("impls")
    (d / "broken_conv.py").write_text(BROKEN_CONV)
    (d / "broken_pool.py").write_text(BROKEN_POOL)
    return d


def crosscheck(args, impl_dir, cwd):
    """``crosscheck ARGS`` through ``crosscheck.cli.main`` in this process, as ``python -m crosscheck
    ARGS`` would run it: in ``cwd``, with ``impl_dir`` first on the path (for the worker processes and
    the shard processes too), stdout and stderr captured. A run's work is done in shard processes
    forked from this process's fork server (:mod:`crosscheck.forking`), as a new process's would be
    from its own: each command spares a new process's TensorFlow import (about 7 s of CPU). What
    only a new process shows (signals to the command, imports, the entry point, the TensorFlow
    backend chosen at its start) is tested with ``python -m crosscheck``. Modules imported from
    ``impl_dir`` or ``cwd`` are forgotten after."""
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    saved_path, saved_cwd, saved_env = list(sys.path), os.getcwd(), os.environ.get("PYTHONPATH")
    before = set(sys.modules)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(impl_dir), str(ROOT)])
    sys.path[:0] = [str(impl_dir)]
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:      # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        if saved_env is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_env
        for name in set(sys.modules) - before:
            where = str(getattr(sys.modules[name], "__file__", "") or "")
            if where.startswith((str(impl_dir), str(cwd))):
                del sys.modules[name]
    return subprocess.CompletedProcess(["crosscheck", *args], code, out.getvalue(), err.getvalue())


def failing_diffs(doc):
    return [(o, d) for o in doc["outcomes"] if o["status"] == "mismatch" for d in o["diffs"]
            if not d["passed"] and d["judged"]]


@pytest.fixture(scope="module")
def broken_conv_run(impl_dir, tmp_path_factory):
    """conv2d's drawn cases (no large case: a mismatch on it costs most of the run), shrunk."""
    out = tmp_path_factory.mktemp("conv_run")
    proc = crosscheck(["run", "-j", "1", "--ops", "conv2d", "--impl", "broken_conv", "--examples", "10",
                       "--no-large", "--report", str(out / "rep")], impl_dir, out)
    return proc, out / "rep"


def test_unflipped_conv_kernel_is_caught(broken_conv_run):
    proc, rep = broken_conv_run
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads((rep / "report.json").read_text())
    assert doc["ok"] is False and doc["impl"] == "broken_conv"
    assert doc["summary"]["ops"]["conv2d"]["mismatch"] > 0
    found = failing_diffs(doc)
    # only the input gradient is wrong: the output and the filter gradient still match
    assert {d["tensor"] for _, d in found} == {"d_input"}
    for o, d in found:
        assert o["op"] == "conv2d" and o["impl"] == "broken_conv"
        worst = d["worst"][0]
        assert len(worst["index"]) == 4 and all(0 <= i < s for i, s in zip(worst["index"], d["shape"]))
        assert d["max_abs_err"] >= max(w["abs_err"] for w in d["worst"])
        assert worst["abs_err"] > d["atol"] + d["rtol"] * abs(worst["expected"])
        assert Path(o["replay"]["file"]).exists()
    assert "d_input differs from TensorFlow" in proc.stdout and "Worst elements of d_input" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_first_path_mode_finds_the_same_mismatches_with_every_path(broken_conv_run, impl_dir, tmp_path):
    _, rep = broken_conv_run
    proc = crosscheck(["run", "-j", "1", "--ops", "conv2d", "--impl", "broken_conv", "--examples", "10",
                       "--no-large", "--paths", "first", "--report", str(tmp_path / "rep")], impl_dir, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    every, first = (json.loads((r / "report.json").read_text()) for r in (rep, tmp_path / "rep"))
    assert first["paths"] == "first" and every["paths"] == "all"
    assert first["summary"]["counts"] == every["summary"]["counts"]
    key = lambda o: (o["seed"], [d["path"] for d in o["diffs"] if not d["passed"]])  # noqa: E731
    assert sorted(map(key, first["outcomes"])) == sorted(map(key, every["outcomes"]))


def test_every_mismatch_has_a_replay_file(broken_conv_run):
    _, rep = broken_conv_run
    doc = json.loads((rep / "report.json").read_text())
    files = {Path(o["replay"]["file"]).name for o in doc["outcomes"] if o["status"] == "mismatch"}
    assert files == {p.name for p in (rep / "cases").iterdir()}
    drawn = {Path(o["replay"]["file"]).name for o in doc["outcomes"] if o["status"] == "mismatch"
             and not o.get("minimal")}
    assert len(drawn) == doc["summary"]["counts"]["mismatch"]
    assert {o["dtype"] for o in doc["outcomes"] if o.get("minimal")} == {"float32", "float64"}   # one per dtype


def test_replay_reproduces_the_mismatch(broken_conv_run, impl_dir, monkeypatch, capsys):
    _, rep = broken_conv_run
    monkeypatch.syspath_prepend(str(impl_dir))
    doc = json.loads((rep / "report.json").read_text())
    command = doc["outcomes"][0]["replay"]["command"].split()
    assert command[:2] == ["crosscheck", "replay"] and command[-2:] == ["--impl", "broken_conv"]
    assert main(command[1:]) == 1
    out = capsys.readouterr().out
    assert "d_input differs from TensorFlow" in out and "still fails" in out
    # a replay file never chooses the code that runs: without --impl it is npcnn's, which passes
    assert main(["replay", command[2]]) == 0
    out = capsys.readouterr().out
    assert "status: pass" in out and "--impl broken_conv" in out


def test_snippet_of_a_real_mismatch_runs(broken_conv_run, impl_dir):
    _, rep = broken_conv_run
    doc = json.loads((rep / "report.json").read_text())
    o, d = failing_diffs(doc)[0]
    script = rep / "snippet.py"
    script.write_text(o["replay"]["snippet"])
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(impl_dir), str(ROOT)]),
                               "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr
    errors = {line.split()[0]: float(line.split()[-1]) for line in proc.stdout.splitlines()}
    assert errors["d_input"] == pytest.approx(d["max_abs_err"], rel=1e-6)
    assert errors["d_input"] > 1e-3 > errors["d_filters"]


def test_max_pool_backward_bugs_are_caught(impl_dir, tmp_path):
    proc = crosscheck(["run", "-j", "1", "--ops", "max_pool2d", "--impl", "broken_pool", "--examples", "10",
                       "--no-large", "--report", "rep"], impl_dir, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    found = failing_diffs(doc)
    # the input gradient (ties, overlapping windows); NaN-holding extreme cases also expose its forward
    assert found and "d_input" in {d["tensor"] for _, d in found}
    assert {d["tensor"] for _, d in found} <= {"d_input", "y", "vjp:y"}
    assert all(o["op"] == "max_pool2d" and d["worst"] for o, d in found)


def test_tied_maxima_case_is_caught_on_replay(impl_dir, tmp_path, monkeypatch, capsys):
    # every 2x2 window holds its maximum twice: TF gives the gradient to the first one only
    x = np.array([[1., 3., 0., 0.], [3., 2., -1., 0.], [5., 5., 2., 2.], [1., 0., 2., 2.]])
    dy = np.array([[0.5, -1.5], [2.0, 0.25]])
    case = Case("max_pool2d", {"ksize": [2, 2], "strides": [2, 2], "padding": "VALID", "data_format": "NHWC"},
                {"input": x.reshape(1, 4, 4, 1)}, dy.reshape(1, 2, 2, 1), "float64", 0)
    path = save_case(tmp_path / "ties.json", case)
    monkeypatch.syspath_prepend(str(impl_dir))
    assert main(["replay", str(path), "--impl", "broken_pool"]) == 1
    out = capsys.readouterr().out
    assert "d_input differs from TensorFlow" in out
    assert main(["replay", str(path)]) == 0     # npcnn follows TF's first-maximum rule


def test_npcnn_passes_a_small_run(tmp_path):
    proc = crosscheck(["run", "--ops", "conv2d", "relu", "--examples", "3", "--seed", "1", "--report", "rep"],
                      ROOT, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["ok"] and doc["summary"]["counts"]["mismatch"] == 0
    assert set(doc["summary"]["ops"]) == {"conv2d", "relu"}
    assert set(doc["summary"]["ops"]["conv2d"]["dtypes"]) == {"float32", "float64"}
    assert (tmp_path / "rep" / "report.html").exists()
    assert "conv2d" in proc.stdout and "passed" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["run", "--ops", "conv3d"], "unknown op conv3d; known ops:"),
    (["run", "--ops", "conv2d", "--impl", "no_such_module_xyz"], "cannot use --impl no_such_module_xyz"),
    (["replay", "does-not-exist.json"], "cannot use replay file does-not-exist.json"),
])
def test_usage_errors_exit_2_with_a_message(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # where a refused run leaves its default ./crosscheck-report
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_option_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--dtype", "float16"])
    assert info.value.code == 2


def test_ops_lists_every_registered_op(capsys):
    from crosscheck.registry import OPS
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    for name, info in OPS.items():
        assert name in out


def test_fail_fast_stops_at_the_first_failure_in_one_process(impl_dir, tmp_path):
    proc = crosscheck(["run", "--ops", "conv2d", "relu", "--impl", "broken_conv", "--examples", "10", "--fail-fast",
                       "--no-error-parity", "--shrink-time", "0", "--report", "rep"], impl_dir, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc.get("jobs", 1) == 1                          # two ops, yet one shard process: a serial stop is the point
    statuses = [o["status"] for o in doc["outcomes"]]
    assert statuses == ["mismatch"]                         # the report holds the failure it stopped at
    assert doc["summary"]["counts"]["mismatch"] == 1 and "relu" not in doc["summary"]["ops"]


def test_in_process_runs_in_one_process_and_j_1_is_serial(impl_dir, tmp_path):
    for extra, name in ((["--in-process"], "inproc"), (["-j", "1"], "serial")):
        proc = crosscheck(["run", "--ops", "relu", "sigmoid", "--examples", "2", "--no-error-parity", "--no-large",
                           *extra, "--report", name], impl_dir, tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        doc = json.loads((tmp_path / name / "report.json").read_text())
        assert doc.get("jobs", 1) == 1 and doc["ops"] == ["relu", "sigmoid"], name
