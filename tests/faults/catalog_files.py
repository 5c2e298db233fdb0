"""Probes of the files users hand to crosscheck: a student's file for ``crosscheck check`` (module-level
``os.chdir``, ``sys.exit``, ``input()``, loops, aborts) and replay files for ``crosscheck replay``
with hostile values (huge integers, NaN, wrong dtypes, deep nesting, non-UTF-8, shapes whose product
wraps, missing fields, terminal escapes in the ``impl`` text)."""
from __future__ import annotations

import base64
import json
import re

import numpy as np

from harness import CONFUSE, LOSE, PY, Cmd, Probe, last_line, load_json

# --- crosscheck check: a student's file -----------------------------------------------------------------
RELU_OK = ("def relu_forward(x):\n    out = np.maximum(0, x)\n    cache = x\n    return out, cache\n\n"
           "def relu_backward(dout, cache):\n    x = cache\n    return dout * (x > 0) * 2.0   # wrong: doubled\n")
HEADER = "import os, sys, time, signal\nimport numpy as np\n"

STUDENT_FILES = {
    # name -> (path of the student's file, its text, whether the check must fail, words the output must hold)
    "chdir-to-own-folder": ("sub/layers.py", HEADER + "os.chdir(os.path.dirname(os.path.abspath(__file__)))\n"
                            + RELU_OK, True, ()),
    "chdir-elsewhere": ("layers.py", HEADER + "os.makedirs('elsewhere', exist_ok=True)\nos.chdir('elsewhere')\n"
                        + RELU_OK, True, ()),
    "sys-exit-at-import": ("layers.py", HEADER + RELU_OK + "sys.exit()\n", True, ()),
    "sys-exit-0-at-import": ("layers.py", HEADER + RELU_OK + "if __name__ != '__main__':\n    sys.exit(0)\n",
                             True, ()),
    "input-at-import-eof": ("layers.py", HEADER + "NAME = input('Your name: ')\n" + RELU_OK, True, ("input",)),
    "input-at-import-blocks": ("layers.py", HEADER + "NAME = input('Your name: ')\n" + RELU_OK, True, ()),
    "infinite-loop-at-import": ("layers.py", HEADER + "while True:\n    pass\n" + RELU_OK, True, ()),
    "abort-at-import": ("layers.py", HEADER + "os.abort()\n" + RELU_OK, True, ()),
    "segfault-at-import": ("layers.py", HEADER + "import ctypes\nctypes.string_at(0)\n" + RELU_OK, True, ()),
    "syntax-error": ("layers.py", HEADER + "def relu_forward(x)\n    return x\n", True, ("syntax",)),
    "missing-package": ("layers.py", HEADER + "import cs231n_fast_layers_missing\n" + RELU_OK, True,
                        ("cs231n_fast_layers_missing",)),
    "keyboard-interrupt-at-import": ("layers.py", HEADER + "raise KeyboardInterrupt\n" + RELU_OK, True, ()),
    "prints-megabytes-at-import": ("layers.py", HEADER + "print('x' * 4_000_000)\nprint('y' * 4_000_000, "
                                   "file=sys.stderr)\n" + RELU_OK, True, ()),
    "sys-exit-in-forward": ("layers.py", HEADER + RELU_OK.replace("    out = np.maximum(0, x)\n",
                            "    sys.exit(0)\n"), True, ()),
    "abort-in-backward": ("layers.py", HEADER + RELU_OK.replace("    x = cache\n", "    os.abort()\n"), True, ()),
    "hang-in-forward": ("layers.py", HEADER + RELU_OK.replace("    out = np.maximum(0, x)\n",
                        "    time.sleep(1000)\n"), True, ()),
    "ignores-sigterm-hang-in-forward": ("layers.py", HEADER + "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                        + RELU_OK.replace("    out = np.maximum(0, x)\n", "    time.sleep(1000)\n"),
                                        True, ()),
    "keyboard-interrupt-in-forward": ("layers.py", HEADER + RELU_OK.replace("    out = np.maximum(0, x)\n",
                                      "    raise KeyboardInterrupt\n"), True, ()),
    "forward-returns-no-cache": ("layers.py", HEADER + RELU_OK.replace("    return out, cache\n",
                                 "    return out\n"), True, ()),
    "backward-wrong-signature": ("layers.py", HEADER + RELU_OK.replace("def relu_backward(dout, cache):",
                                 "def relu_backward(dout):\n    cache = 0"), True, ()),
    "escape-codes-in-exception": ("layers.py", HEADER + RELU_OK.replace("    out = np.maximum(0, x)\n",
                                  "    raise ValueError('bad\\x1b]0;owned\\x07\\x1b[2J shape')\n"), True, ()),
}


def _check_judge(rel_file: str, failing: bool, mentions):
    def judge(run):
        r = run.last()
        findings = []
        if r.timed_out or r.pipe_held:
            return findings
        doc = load_json(run.tmp / "crosscheck-report" / "report.json")
        if doc is None:
            findings.append((LOSE, "no crosscheck-report/report.json where the run announced it"))
        elif doc.get("in_progress"):
            findings.append((LOSE, "crosscheck-report/report.json still in progress"))
        elif failing and doc.get("ok"):
            findings.append((LOSE, "report.json says ok"))
        if failing and r.rc == 0:
            findings.append((LOSE, "exit 0 although the file fails or cannot be loaded"))
        if r.rc not in (0, 1):
            findings.append((CONFUSE, f"exit {r.rc} (documented: 0, 1, 2 usage): {last_line(r.output)}"))
        stray = [p for p in run.tmp.rglob("report.json") if p.parent != run.tmp / "crosscheck-report"]
        if stray:
            findings.append((LOSE, f"report written to {stray[0].relative_to(run.tmp)}"))
        for path in re.findall(r"crosscheck replay (\S+\.json)", r.output):
            if not (run.tmp / path).is_file():
                findings.append((LOSE, f"printed replay command names {path}, which does not exist"))
                break
        for word in mentions:
            if word.lower() not in r.output.lower():
                findings.append((CONFUSE, f"the output does not mention {word!r}"))
        if "crosscheck bug" in r.output.lower():
            findings.append((CONFUSE, "blames crosscheck for the student's file"))
        return findings
    return judge


def check_probes() -> list:
    probes = []
    for name, (rel, text, failing, mentions) in STUDENT_FILES.items():
        cmd = Cmd([PY, "-m", "crosscheck", "check", rel, "--functions", "relu_forward", "relu_backward",
                   "--examples", "3", "--timeout", "5"], limit=100,
                  stdin="hold" if name == "input-at-import-blocks" else "devnull")
        probes.append(Probe(f"check/{name}", "check-files",
                            "the file runs only in a worker; ./crosscheck-report holds the final report and the "
                            "replay files the printed commands name; exit 1 with the reason, within the timeout",
                            [cmd], _check_judge(rel, failing, mentions), {rel: text}))
    return probes


# --- replay files ---------------------------------------------------------------------------------------
def encode(a: np.ndarray) -> dict:
    return {"dtype": a.dtype.name, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode()}


def replay_doc(op: str = "relu") -> dict:
    rng = np.random.default_rng(3)
    if op == "relu":
        arrays, dy, params = {"features": rng.standard_normal((2, 3)).astype(np.float32)}, (2, 3), {}
    elif op == "max_pool2d":
        arrays, dy = {"input": rng.standard_normal((1, 4, 4, 1)).astype(np.float32)}, (1, 2, 2, 1)
        params = {"ksize": [2, 2], "strides": [2, 2], "padding": "VALID"}
    else:
        arrays = {"input": rng.standard_normal((1, 4, 4, 1)).astype(np.float32),
                  "filters": rng.standard_normal((2, 2, 1, 1)).astype(np.float32)}
        dy, params = (1, 3, 3, 1), {"strides": [1, 1], "padding": "VALID"}
    return {"format": "crosscheck-case", "version": 1, "impl": "npcnn.functional", "status": "mismatch",
            "failures": [], "case": {"op": op, "dtype": "float32", "seed": 0, "params": params,
                                     "arrays": {k: encode(v) for k, v in arrays.items()},
                                     "dy": encode(rng.standard_normal(dy).astype(np.float32))}}


def _set(path: str, value, op: str = "relu"):
    def make():
        doc = replay_doc(op)
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
        return json.dumps(doc)
    return make


_DELETE = object()
NEST = 100_000


def _raw(text_or_bytes):
    return lambda: text_or_bytes


REPLAYS = {
    # name -> (file content maker, exit statuses that are right, a word the message must hold)
    "valid-relu-baseline": (_set("status", "mismatch"), {0}, ""),
    "ksize-2pow31-same": (_set("case.params", {"ksize": [2**31 - 1, 2**31 - 1], "strides": [1, 1],
                                               "padding": "SAME"}, "max_pool2d"), {2}, "ksize"),
    "ksize-2pow63": (_set("case.params", {"ksize": [2**63, 2], "strides": [2, 2], "padding": "VALID"},
                          "max_pool2d"), {2}, "ksize"),
    "ksize-10pow400": (lambda: _set("case.params", {}, "max_pool2d")().replace(
        '"params": {}', '"params": {"ksize": [1' + "0" * 400 + ', 2], "strides": [2, 2], "padding": "VALID"}'),
        {2}, "ksize"),
    "strides-nan": (lambda: _set("case.params.strides", [1, 1], "conv2d")().replace(
        '"strides": [1, 1]', '"strides": [NaN, NaN]'), {2}, "strides"),
    "strides-1e300": (_set("case.params.strides", [1e300, 1e300], "conv2d"), {2}, "strides"),
    "strides-negative": (_set("case.params.strides", [-1, -1], "conv2d"), {2}, "strides"),
    "strides-bool": (_set("case.params.strides", [True, True], "conv2d"), {2}, "strides"),
    "strides-string": (_set("case.params.strides", "2", "conv2d"), {2}, "strides"),
    "shape-product-wraps-to-zero": (_set("case.arrays.features", {"dtype": "float32", "shape": [2**32, 2**32],
                                                                  "data": ""}), {2}, "shape"),
    "shape-2pow62-times-4": (_set("case.arrays.features", {"dtype": "float32", "shape": [2**62, 4],
                                                           "data": ""}), {2}, "shape"),
    "shape-negative": (_set("case.arrays.features", {"dtype": "float32", "shape": [-1, 3], "data": ""}),
                       {2}, "shape"),
    "shape-larger-than-data": (_set("case.arrays.features", {"dtype": "float32", "shape": [100, 100],
                                                             "data": base64.b64encode(bytes(24)).decode()}),
                               {2}, "features"),
    "dtype-object": (_set("case.arrays.features.dtype", "object"), {2}, "dtype|object"),
    "dtype-unicode": (_set("case.arrays.features.dtype", "<U6"), {2}, "dtype|<U6"),
    "dtype-complex": (_set("case.arrays.features.dtype", "complex64"), {2}, "dtype|complex64"),
    "dtype-unknown": (_set("case.arrays.features.dtype", "float33"), {2}, "dtype|float33"),
    "case-dtype-int": (_set("case.dtype", 32), {2}, "dtype"),
    "data-not-base64": (_set("case.arrays.features.data", "!!not base64!!"), {2}, "data"),
    "deep-nesting": (_raw('{"format": "crosscheck-case", "version": 1, "case": {"op": "relu", "params": '
                          + "[" * NEST + "]" * NEST + "}}"), {2}, ""),
    "non-utf8-bytes": (lambda: _set("impl", "IMPL")().encode().replace(b"IMPL", b"npcnn\xff\xfe\xc3"), {2}, ""),
    "empty-file": (_raw(""), {2}, ""),
    "not-json": (_raw("op: relu\nshape: [2, 3]\n"), {2}, ""),
    "top-level-list": (_raw("[]"), {2}, ""),
    "missing-case": (_raw('{"format": "crosscheck-case", "version": 1}'), {2}, "case"),
    "missing-op": (_set("case.op", _DELETE), {2}, "op"),
    "unknown-op": (_set("case.op", "conv9d"), {2}, "conv9d"),
    "op-is-code": (_set("case.op", "__import__('os').system('touch PWNED')"), {2}, "op"),
    "unknown-parameter": (_set("case.params", {"evil": 1}), {2}, "evil"),
    "missing-array": (_set("case.arrays", {}), {2}, "features"),
    "arrays-is-list": (_set("case.arrays", [1, 2, 3]), {2}, "arrays"),
    "version-999": (_set("version", 999), {2}, "version"),
    "escape-codes-in-impl": (_set("impl", "npcnn.functional; rm -rf ~ \x1b]0;owned\x07\x1b[2J"), {0, 1}, ""),
    "escape-codes-in-status": (_set("status", "\x1b[31mmismatch\x1b[0m\x1b]8;;http://x\x07"), {0, 1, 2}, ""),
}


def _replay_judge(expected: set, word: str):
    def judge(run):
        r = run.last()
        findings = []
        if r.timed_out or r.pipe_held:
            return findings
        if r.rc not in expected:
            findings.append((CONFUSE, f"exit {r.rc}, expected {sorted(expected)}: {last_line(r.output)}"))
        if word and r.rc != 0 and not any(w.lower() in r.output.lower() for w in word.split("|")):
            findings.append((CONFUSE, f"the message does not name {word!r}: {last_line(r.output)}"))
        if (run.tmp / "PWNED").exists():
            findings.append((LOSE, "text from the replay file ran as code"))
        if "; rm -rf ~" in r.output and "'npcnn.functional; rm -rf ~" not in r.output:
            findings.append((CONFUSE, "the impl text from the file is printed unquoted"))
        return findings
    return judge


def replay_probes() -> list:
    probes = []
    for name, (make, expected, word) in REPLAYS.items():
        content = make()
        probes.append(Probe(f"replay/{name}", "replay-files",
                            "exit 2 with one line naming the field (no traceback, no hang, nothing allocated "
                            "beyond the file's size), or a normal replay for valid files, printed text quoted "
                            "and free of control characters",
                            [Cmd([PY, "-m", "crosscheck", "replay", "case.json", "--timeout", "10"], limit=60)],
                            _replay_judge(expected, word), {"case.json": content}))
    probes.append(Probe("replay/file-is-directory", "replay-files", "exit 2 naming the path",
                        [lambda tmp, run: (tmp / "case.json").mkdir(),
                         Cmd([PY, "-m", "crosscheck", "replay", "case.json"], limit=60)],
                        _replay_judge({2}, "case.json")))
    probes.append(Probe("replay/file-missing", "replay-files", "exit 2 naming the path",
                        [Cmd([PY, "-m", "crosscheck", "replay", "nope.json"], limit=60)],
                        _replay_judge({2}, "nope.json")))
    return probes


def probes() -> list:
    return check_probes() + replay_probes()
