"""Probes of npcnn's public API with hostile argument values (each must be a ValueError or TypeError
naming the argument), of crosscheck's command-line options (each bad value: exit 2 naming the
option), and of the pytest plugin (a session that crashed, aborted, exited 0 or was interrupted
after recording failures must never leave a report that says ok, and its outcomes must be
recoverable)."""
from __future__ import annotations

import json

from catalog_files import replay_doc
from harness import CONFUSE, LOSE, PY, Cmd, Probe, last_line, load_json, report_findings

# --- npcnn's public API ------------------------------------------------------------------------------------
PRELUDE = '''
import io, json, zipfile
import numpy as np
import npcnn
from npcnn import functional as F
x = np.random.default_rng(0).standard_normal((1, 6, 6, 2))
w = np.random.default_rng(1).standard_normal((3, 3, 2, 4))
def layer(l):
    return npcnn.Sequential([l]).build((1, 6, 6, 2), "float64").predict(x)
def saved_model():
    m = npcnn.Sequential([npcnn.Conv2D(2, 3), npcnn.Flatten(), npcnn.Dense(3)]).build((1, 6, 6, 2), "float64")
    m.save("model.npz")
def rewrite(entry, data):
    with zipfile.ZipFile("model.npz") as z:
        items = {n: z.read(n) for n in z.namelist()}
    items[entry] = data
    with zipfile.ZipFile("model.npz", "w") as z:
        for n, d in items.items():
            z.writestr(n, d)
def npy_header(shape, descr="<f8"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()
def config_edit(fn):
    saved_model()
    with zipfile.ZipFile("model.npz") as z:
        cfg = json.loads(str(np.load(io.BytesIO(z.read("config.npy")))))
    fn(cfg)
    buf = io.BytesIO()
    np.save(buf, np.array(json.dumps(cfg)))
    rewrite("config.npy", buf.getvalue())
'''
RUNNER = PRELUDE + '''
try:
    @SETUP@
    result = @EXPR@
    print(json.dumps({"raised": None, "result": repr(result)[:100]}))
except BaseException as exc:
    print(json.dumps({"raised": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__],
                      "message": str(exc)[:400]}))
'''

NPCNN_CALLS = {
    # name -> (setup statement, expression, the argument the message must name)
    "conv2d-strides-1e30": ("pass", "F.conv2d(x, w, strides=10**30)", "strides"),
    "conv2d-strides-2pow63": ("pass", "F.conv2d(x, w, strides=2**63)", "strides"),
    "conv2d-dilations-1e30": ("pass", "F.conv2d(x, w, dilations=10**30)", "dilations"),
    "conv2d-dilations-2pow63": ("pass", "F.conv2d(x, w, dilations=2**63)", "dilations"),
    "conv2d-padding-2pow62": ("pass", "F.conv2d(x, w, padding=[[2**62, 2**62], [0, 0]])", "padding"),
    "conv2d-strides-string": ("pass", "F.conv2d(x, w, strides='2')", "strides"),
    "conv2d-strides-float": ("pass", "F.conv2d(x, w, strides=1.5)", "strides"),
    "conv2d-strides-bool": ("pass", "F.conv2d(x, w, strides=True)", "strides"),
    "conv2d-strides-nan": ("pass", "F.conv2d(x, w, strides=float('nan'))", "strides"),
    "conv2d-padding-lowercase-typo": ("pass", "F.conv2d(x, w, padding='smae')", "padding"),
    "conv2d-data-format-typo": ("pass", "F.conv2d(x, w, data_format='NWHC')", "data_format"),
    "conv2d-input-strings": ("pass", "F.conv2d(np.full((1, 4, 4, 2), 'a'), w)", "input"),
    "avg-pool-strides-2pow62-same": ("pass", "F.avg_pool2d(x, 2, 2**62, 'SAME')", "strides"),
    "max-pool-ksize-2pow62": ("pass", "F.max_pool2d(x, 2**62, 1, 'SAME')", "ksize"),
    "max-pool-ksize-zero": ("pass", "F.max_pool2d(x, 0, 1)", "ksize"),
    "depthwise-strides-1e30": ("pass", "F.depthwise_conv2d(x, np.ones((3, 3, 2, 1)), strides=10**30)", "strides"),
    "group-norm-groups-true": ("pass", "F.group_normalization(x, np.ones(2), np.zeros(2), groups=True)", "groups"),
    "group-norm-groups-string": ("pass", "F.group_normalization(x, np.ones(2), np.zeros(2), groups='2')", "groups"),
    "leaky-relu-alpha-string": ("pass", "F.leaky_relu(x, alpha='x')", "alpha"),
    "dropout-rate-nan": ("pass", "F.dropout(x, float('nan'), 0)", "rate"),
    "dropout-rate-bool": ("pass", "F.dropout(x, True, 0)", "rate"),
    "softmax-axis-1e30": ("pass", "F.softmax(x, axis=10**30)", "axis"),
    "Conv2D-strides-1e30": ("pass", "layer(npcnn.Conv2D(4, 3, strides=10**30))", "strides"),
    "Conv2D-filters-bool": ("pass", "layer(npcnn.Conv2D(True, 3))", "filters"),
    "Conv2D-filters-float": ("pass", "layer(npcnn.Conv2D(2.5, 3))", "filters"),
    "Conv2D-kernel-negative": ("pass", "layer(npcnn.Conv2D(4, -3))", "kernel_size"),
    "Dense-units-1e12": ("pass", "npcnn.Sequential([npcnn.Flatten(), npcnn.Dense(10**12)]).build((1, 6, 6, 2))",
                         "units"),
    "Dense-units-string": ("pass", "npcnn.Sequential([npcnn.Flatten(), npcnn.Dense('3')]).build((1, 6, 6, 2))",
                           "units"),
    "MaxPooling2D-pool-2pow63": ("pass", "layer(npcnn.MaxPooling2D(2**63))", "pool_size|ksize"),
    "load-huge-declared-shape": ("saved_model(); rewrite('weight_0.npy', npy_header((10**6, 10**6)) + bytes(64))",
                                 "npcnn.Sequential.load('model.npz')", "weight_0"),
    "load-shape-product-wraps": ("saved_model(); rewrite('weight_0.npy', npy_header((2**32, 2**32)))",
                                 "npcnn.Sequential.load('model.npz')", "weight_0"),
    "load-layers-is-string": ("config_edit(lambda c: c['model'].__setitem__('layers', 'abc'))",
                              "npcnn.Sequential.load('model.npz')", "layers"),
    "load-class-name-os-system": ("config_edit(lambda c: c['model']['layers'][0].__setitem__('class_name', "
                                  "'os.system'))", "npcnn.Sequential.load('model.npz')", "os.system"),
    "load-input-shape-huge": ("config_edit(lambda c: c.__setitem__('input_shape', [1, 10**6, 10**6, 2]))",
                              "npcnn.Sequential.load('model.npz')", "input_shape|kernel"),
    "load-units-1e12": ("config_edit(lambda c: c['model']['layers'][2]['config'].__setitem__('units', 10**12))",
                        "npcnn.Sequential.load('model.npz')", "units|kernel"),
    "load-weights-not-list": ("config_edit(lambda c: c.__setitem__('weights', 7))",
                              "npcnn.Sequential.load('model.npz')", "weights"),
    "load-object-dtype-entry": ("saved_model(); rewrite('weight_0.npy', npy_header((2,), '|O') + bytes(16))",
                                "npcnn.Sequential.load('model.npz')", "weight_0|object|dtype"),
}


def _npcnn_judge(word: str):
    def judge(run):
        r = run.last()
        if r.timed_out or r.pipe_held:
            return []
        if r.rc != 0:
            return [(LOSE, f"the process died (exit {r.rc}): {last_line(r.output)}")]
        try:
            doc = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return [(CONFUSE, f"no result: {last_line(r.output)}")]
        if doc["raised"] is None:
            return [(CONFUSE, f"computed without refusing: {doc['result']}")]
        if not {"ValueError", "TypeError"} & set(doc["mro"]):
            return [(CONFUSE, f"{doc['raised']}: {doc['message'][:150]}")]
        if not any(w.lower() in doc["message"].lower() for w in word.split("|")):
            return [(CONFUSE, f"{doc['raised']} does not name {word!r}: {doc['message'][:150]}")]
        return []
    return judge


def npcnn_probes() -> list:
    return [Probe(f"npcnn/{name}", "npcnn-api", f"ValueError/TypeError naming {word!r}, nothing huge allocated",
                  [Cmd([PY, "probe.py"], limit=60)], _npcnn_judge(word),
                  {"probe.py": RUNNER.replace("@SETUP@", setup).replace("@EXPR@", expr)})
            for name, (setup, expr, word) in NPCNN_CALLS.items()]


# --- command-line options --------------------------------------------------------------------------------
RUN = [PY, "-m", "crosscheck", "run", "--ops", "relu", "--examples", "2", "--report", "R", "-q"]
CHECK_FILE = ("import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"
              "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n")
CHECK = [PY, "-m", "crosscheck", "check", "layers.py", "--examples", "2", "--report", "R", "-q"]
OPTIONS = {
    "run-timeout-nan": (RUN + ["--timeout", "nan"], "--timeout"),
    "run-timeout-zero": (RUN + ["--timeout", "0"], "--timeout"),
    "run-timeout-negative": (RUN + ["--timeout", "-1"], "--timeout"),
    "run-timeout-inf": (RUN + ["--timeout", "inf"], "--timeout"),
    "run-timeout-1e400": (RUN + ["--timeout", "1e400"], "--timeout"),
    "run-timeout-word": (RUN + ["--timeout", "ten"], "--timeout"),
    "run-examples-negative": (RUN + ["--examples", "-1"], "--examples"),
    "run-examples-zero": (RUN + ["--examples", "0"], "--examples"),
    "run-jobs-zero": (RUN + ["-j", "0"], "-j"),
    "run-jobs-negative": (RUN + ["-j", "-3"], "-j"),
    "run-shard-zero": (RUN + ["--shard", "0/2"], "--shard"),
    "run-shard-past-n": (RUN + ["--shard", "3/2"], "--shard"),
    "run-shard-of-zero": (RUN + ["--shard", "1/0"], "--shard"),
    "run-shard-words": (RUN + ["--shard", "a/b"], "--shard"),
    "run-shrink-time-nan": (RUN + ["--shrink-time", "nan"], "--shrink-time"),
    "run-shrink-time-negative": (RUN + ["--shrink-time", "-5"], "--shrink-time"),
    "run-unknown-op": (RUN[:5] + ["relu", "conv9d"] + RUN[6:], "conv9d"),
    "run-impl-missing-module": (RUN + ["--impl", "no_such_module_here"], "no_such_module_here"),
    "run-junit-xml-is-a-directory": (RUN + ["--junit-xml", "."], "junit"),
    "check-timeout-nan": (CHECK + ["--timeout", "nan"], "--timeout"),
    "check-timeout-zero": (CHECK + ["--timeout", "0"], "--timeout"),
    "check-examples-zero": (CHECK + ["--examples", "0"], "--examples"),
    "check-unknown-function": (CHECK + ["--functions", "relu_forwrd"], "relu_forwrd"),
    "check-missing-file": ([PY, "-m", "crosscheck", "check", "nope.py", "--report", "R"], "nope.py"),
    "replay-timeout-nan": ([PY, "-m", "crosscheck", "replay", "x.json", "--timeout", "nan"], "--timeout"),
}


def _option_judge(word: str, codes=(2,)):
    def judge(run):
        r = run.last()
        if r.timed_out or r.pipe_held:
            return []
        findings = []
        if r.rc not in codes:
            findings.append((CONFUSE, f"exit {r.rc}, not 2 (usage): {last_line(r.output)}"))
        if word.lower().lstrip("-") not in r.output.lower():
            findings.append((CONFUSE, f"the message does not name {word}: {last_line(r.output)}"))
        return findings
    return judge


def option_probes() -> list:
    replay = json.dumps(replay_doc("relu"))
    return [Probe(f"cli/{name}", "cli-options", f"exit 2 (a missing file: 1 or 2) and one line naming {word}",
                  [Cmd(argv, limit=90)], _option_judge(word, (1, 2) if name == "check-missing-file" else (2,)),
                  {"layers.py": CHECK_FILE, "x.json": replay})
            for name, (argv, word) in OPTIONS.items()]


# --- the pytest plugin -----------------------------------------------------------------------------------
USER_TESTS = '''import os, sys, signal, time
import numpy as np
import crosscheck
from crosscheck.case import Case


def relu(features):
    return np.maximum(features, 0)


def doubled_backward(dy, features):
    return (dy * (features > 0) * 2.0,)


def good_backward(dy, features):
    return (dy * (features > 0),)


def case(seed):
    rng = np.random.default_rng(seed)
    return Case("relu", {{}}, {{"features": rng.standard_normal((2, 3))}}, rng.standard_normal((2, 3)), "float64", seed)


def test_good():
    crosscheck.assert_matches_tf(case(0), relu, good_backward)


{bad}

def test_zz_last():
    {fault}
'''
BAD_TESTS = "\n".join(f"def test_doubled_{i}():\n    crosscheck.assert_matches_tf(case({i}), relu, doubled_backward)\n"
                      for i in (1, 2, 3))
PLUGIN_FAULTS = {
    "no-fault": "pass",
    "abort": "os.abort()",
    "os-exit-0": "os._exit(0)",
    "segfault": "import ctypes; ctypes.string_at(0)",
    "sigkill-self": "os.kill(os.getpid(), signal.SIGKILL)",
    "keyboard-interrupt": "raise KeyboardInterrupt",
    "sys-exit-0": "sys.exit(0)",
    "chdir-then-mismatch": "os.chdir('/tmp'); crosscheck.assert_matches_tf(case(9), relu, doubled_backward)",
    "object-strings-forward": "crosscheck.check_op('relu', lambda x: np.full(np.shape(x), 'y', dtype=object), "
                              "lambda dy, x: (dy,), examples=2)",
    "ragged-forward": "crosscheck.assert_matches_tf(case(7), lambda x: [[1.0], [2.0, 3.0]], good_backward)",
}
PYTEST = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "test_user.py",
          "--crosscheck-report=rep"]


def _snapshot(tmp, run):
    run.session_report = load_json(tmp / "rep" / "report.json")


def _plugin_judge(run):
    findings = []
    session = run.results[-2]
    doc = getattr(run, "session_report", None)
    if doc and doc.get("ok") and not doc.get("in_progress"):
        findings.append((LOSE, "report.json says ok after a session that recorded 3 mismatches"))
    if session.rc == 0:
        findings.append((LOSE, "the pytest session exited 0"))
    rebuilt = run.last()
    doc = load_json(run.tmp / "rep" / "report.json")
    if doc is None or doc.get("in_progress"):
        findings.append((LOSE, f"no report after `crosscheck report rep` (exit {rebuilt.rc}): "
                               f"{last_line(rebuilt.output)}"))
    else:
        counts = (doc.get("summary") or {}).get("counts") or {}
        if counts.get("mismatch", 0) < 3:
            findings.append((LOSE, f"{counts.get('mismatch', 0)} of 3 recorded mismatches kept"))
    if "INTERNALERROR" in session.output:
        findings.append((CONFUSE, f"pytest INTERNALERROR: {last_line(session.output)}"))
    return findings


def plugin_probes() -> list:
    probes = []
    good = USER_TESTS.format(bad="", fault="pass")
    for name, fault in PLUGIN_FAULTS.items():
        steps = [Cmd(PYTEST, limit=150), lambda tmp, run: (tmp / "test_user.py").write_text(
                     USER_TESTS.format(bad=BAD_TESTS, fault=fault)),
                 Cmd(PYTEST, limit=150, documented={0, 1, 2, 3, 4, 5}), _snapshot,
                 Cmd([PY, "-m", "crosscheck", "report", "rep"], limit=60)]
        probes.append(Probe(f"plugin/{name}", "pytest-plugin",
                            "after a passing session, a session that records 3 mismatches and then "
                            f"meets `{fault}` never leaves report.json ok; its journal keeps the 3 mismatches",
                            steps, _plugin_judge, {"test_user.py": good}))
    for name, args in (("xdist-worker-abort", ["-n", "2"]),):
        probes.append(Probe(f"plugin/{name}", "pytest-plugin",
                            "under xdist, a worker that aborts after recording: its outcomes recovered, not ok",
                            [Cmd(PYTEST + args, limit=150), _snapshot,
                             Cmd([PY, "-m", "crosscheck", "report", "rep"], limit=60)],
                            _plugin_judge, {"test_user.py": USER_TESTS.format(bad=BAD_TESTS, fault="os.abort()")},
                            needs="xdist"))
    probes.append(Probe("plugin/report-path-is-a-file", "pytest-plugin", "a usage error naming the path",
                        [Cmd(PYTEST, limit=150)],
                        lambda run: [] if run.last().rc not in (0, 1, 3) and "rep" in run.last().output
                        else [(CONFUSE, f"exit {run.last().rc}: {last_line(run.last().output)}")],
                        {"test_user.py": good, "rep": "a file"}))
    probes.append(Probe("plugin/foreign-report-json", "pytest-plugin", "the user's rep/report.json is never deleted",
                        [Cmd(PYTEST, limit=150)],
                        lambda run: [] if (run.tmp / "rep" / "report.json").read_text() == '{"mine": 1}' else
                        [(LOSE, "the user's rep/report.json was overwritten")],
                        {"test_user.py": good, "rep/report.json": '{"mine": 1}'}))
    return probes


def probes() -> list:
    return npcnn_probes() + option_probes() + plugin_probes()


__all__ = ["probes", "report_findings"]
