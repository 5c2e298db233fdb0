"""Smoke test of ``python -m bench``: it runs on one tiny case and writes JSON with the expected keys.

Speed is what the benchmark measures, not what this test asserts.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    out, doc = tmp / "bench.json", tmp / "performance.md"
    doc.write_text("# Performance\n\n<!-- bench:harness -->\nkept as it is\n<!-- /bench:harness -->\n")
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--ops", "conv2d", "--dtype", "float32",
                           "--shapes", "mnist", "--repeats", "2", "--json", str(out), "--out", str(doc)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout, doc.read_text()


def test_json_has_machine_settings_results_and_targets(result):
    data, _, _ = result
    assert {"machine", "settings", "results", "targets", "memory", "isolation", "harness"} <= set(data)
    assert data["machine"]["cpus"] >= 1 and data["machine"]["numpy"]


def test_each_pass_has_npcnn_tf_gemm_and_naive_figures(result):
    data, _, _ = result
    rows = {(r["case"], r["dtype"], r["pass"]): r for r in data["results"]}
    assert set(rows) == {("mnist", "float32", "fwd"), ("mnist", "float32", "fwd+bwd")}
    for row in rows.values():
        for side in ("npcnn", "tf_eigen", "tf_onednn", "gemm", "naive"):
            assert row[side]["median_ms"] > 0, side
        assert {"npcnn_over_tf_eigen", "npcnn_over_tf_onednn", "naive_over_npcnn", "npcnn_gflops", "gemm_gflops",
                "fraction_of_gemm"} <= set(row)
        # the naive loops are a reference: they must compute what npcnn computes (float32 rounding only)
        assert row["naive_max_rel_diff"] < 1e-5


def test_targets_are_records_and_the_table_is_printed(result):
    data, stdout, _ = result
    assert all({"target", "value", "limit", "met"} <= set(t) for t in data["targets"])
    assert "npcnn/TF" in stdout and "conv2d/mnist" in stdout


def test_the_performance_doc_names_its_command_machine_and_figures_and_keeps_the_other_section(result):
    data, _, doc = result
    assert "Written by `python -m bench --quick --ops conv2d --dtype float32 --shapes mnist --repeats 2" in doc
    tf = data["settings"]["tf"]
    # each backend timed in a worker of its own, which reports the backend it really ran
    assert {b: tf[b]["backend"] for b in tf} == {"eigen": "eigen", "onednn": "onednn"}
    assert f"TensorFlow {tf['eigen']['tf_version']}, Eigen kernels (TF_ENABLE_ONEDNN_OPTS=0)" in doc
    assert "oneDNN kernels (TF_ENABLE_ONEDNN_OPTS=1)" in doc
    blas = data["machine"]["blas"][0]
    assert f"NumPy {data['machine']['numpy']}" in doc and f"{data['machine']['cpus']} cores" in doc
    assert f"{blas['architecture']} kernels" in doc
    assert "| npcnn ms | TF Eigen ms | TF oneDNN ms | npcnn/TF Eigen | npcnn/TF oneDNN |" in doc
    row = next(r for r in data["results"] if r["pass"] == "fwd+bwd")
    assert (f"| {row['npcnn']['median_ms']:.2f} | {row['tf_eigen']['median_ms']:.2f} | {row['tf_onednn']['median_ms']:.2f} "
            f"| {row['npcnn_over_tf_eigen']:.2f} | {row['npcnn_over_tf_onednn']:.2f} |") in doc
    assert doc.index("<!-- bench:npcnn -->") < doc.index("<!-- bench:harness -->\nkept as it is\n")


def test_each_npcnn_tf_target_says_where_the_time_goes(result):
    """npcnn's fwd+bwd timed in halves (vjp forward, pullback) beside TF's forward and the rest; a
    missed target prints that line under the table."""
    import io
    from rich.console import Console
    from bench.__main__ import print_goals
    data, _, _ = result
    (row,) = [r for r in data["results"] if r["pass"] == "fwd+bwd"]
    assert row["npcnn_vjp"]["median_ms"] > 0 and row["npcnn_pullback"]["median_ms"] > 0
    found = {t["target"]: t for t in data["targets"] if t["target"].startswith("npcnn/TF")}
    assert set(found) == {"npcnn/TF eigen: conv2d/mnist float32 fwd+bwd", "npcnn/TF onednn: conv2d/mnist float32 fwd+bwd"}
    assert [t["limit"] for t in found.values()] == [1.0, 1.5]   # conv2d: at most Eigen's time, 1.5x oneDNN's
    target = found["npcnn/TF onednn: conv2d/mnist float32 fwd+bwd"]
    assert "vjp forward" in target["detail"] and "pullback" in target["detail"] and "TF onednn " in target["detail"]
    out = io.StringIO()
    print_goals(Console(file=out, width=200), [dict(target, met=False), dict(target, met=True, target="met one")])
    assert "where the time goes" in out.getvalue() and target["detail"] in out.getvalue()
    assert "met one:" not in out.getvalue()


def test_naive_loops_agree_with_a_direct_sum():
    """The naive conv is a reference in the benchmark: check it on one output cell by hand."""
    import numpy as np

    from bench.naive import conv_forward_naive
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    assert out.shape == (1, 3, 3, 3)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    assert np.isclose(out[0, 1, 2, 1], (xp[0, :, 4:7, 2:5] * w[1]).sum() + b[1])


def test_every_mutant_judged_equivalent_still_exists():
    """bench/mutation.py's equivalence registry names real mutants (it would rot silently otherwise)."""
    from bench.mutation import DEFAULT_FILES, EQUIVALENT, PACKAGE, mutant_keys
    files = sorted({str(p.relative_to(PACKAGE)) for pattern in DEFAULT_FILES for p in PACKAGE.glob(pattern)
                    if p.name != "__init__.py"})
    keys = mutant_keys(files)
    assert [k for k in EQUIVALENT if k not in keys] == []


def test_mutation_since_reads_the_new_side_of_each_hunk():
    from bench.mutation import changed_lines
    diff = ("diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n"
            "@@ -3,2 +3,4 @@ def f():\n-a\n-b\n+a\n+b\n+c\n+d\n"
            "@@ -20 +22 @@ x\n-old\n+new\n"
            "@@ -30,3 +31,0 @@ y\n-gone\n-gone\n-gone\n")
    assert changed_lines(diff) == {3, 4, 5, 6, 22}


def test_false_alarm_count_runs_and_fails_only_on_a_failing_status(capsys):
    from bench.false_alarms import main
    code = main(["--examples", "8", "--ops", "relu,conv2d"])
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    assert "false alarms (mismatch on correct npcnn): 0" in out


def test_harness_groups_are_the_registry_families_and_its_targets_read_its_figures():
    from bench.harness import op_groups, targets
    from crosscheck.registry import OPS
    groups = op_groups()
    assert groups["conv2d"] == ["conv2d"] and "activations" in groups
    assert sorted(op for name, ops in groups.items() if name != "conv2d" for op in ops) == sorted(OPS)
    rates = {name: {"cases_per_s": 100.0, "ms_per_case": 10.0, "over_bare_tape": 20.0}
             for name in [*groups, "conv2d --paths first"]}
    ran = {"returncode": 0, "seconds": 30.0}
    harness = {"rates": {"eigen": {"groups": rates, "bare_tape_ms": 0.5, "bare_tape_warm_ms": 0.4}}, "crosscheck_run": {"serial": {**ran, "seconds": 50.0}, "j2": ran,
                                                             "j2_over_serial": 0.6},
               "shrink": {"shrink_s": 2.0, "minimal_shapes": {"input": [1, 6, 1, 1]}}}
    found = []
    targets(harness, lambda name, value, limit, met, detail="": found.append((name, met, detail)))
    assert [met for _, met, _ in found] == [False, False, True, True, True]
    assert found[0][2].startswith("10.00 ms per case = 20.0 bare-tape calls of 0.50 ms")   # a missed rate says where it goes
