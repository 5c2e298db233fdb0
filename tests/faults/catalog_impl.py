"""Probes of the code under test given to ``crosscheck run --impl``: what it returns, how it exits,
and the processes it starts. Each hostile module is npcnn.functional with ``relu`` (and its vjp)
replaced the way a user might write it; the run checks ``relu`` and ``sigmoid``, so a fault in relu
must cost relu's cases only, each with an outcome and a replay file, and sigmoid must still be checked.
"""
from __future__ import annotations

from harness import CONFUSE, LOSE, PY, Cmd, Probe, load_json, report_findings

MODULE = '''"""{doc}"""
import os, sys, time, signal, subprocess, threading, multiprocessing
import numpy as np
from npcnn.functional import *  # noqa: F401,F403
from npcnn.functional import vjp as _npcnn_vjp

{body}

def relu_pullback(features, y):
    return lambda dy: (np.where(np.asarray(features) > 0, dy, 0),)

{vjp}
'''

PLAIN_VJP = '''def vjp(op, *arrays, **params):
    if op == "relu":
        return relu(*arrays, **params), relu_pullback(arrays[0], None)
    return _npcnn_vjp(op, *arrays, **params)
'''


def module(doc: str, body: str, vjp: str = PLAIN_VJP) -> str:
    return MODULE.format(doc=doc, body=body, vjp=vjp)


def run_cmd(mod: str = "student_ops", *extra, timeout: float = 4, limit: float = 120, ops=("relu", "sigmoid")) -> Cmd:
    return Cmd([PY, "-m", "crosscheck", "run", "--impl", mod, "--ops", *ops, "--examples", "3", "--report", "R",
                "-j", "1", "--shrink-time", "1", "--timeout", str(timeout), "-q", *extra], limit=limit)


def judge_run(failing=True, mentions=(), forbid=("crosscheck bug",)):
    def judge(run):
        findings = report_findings(run, failing=failing)
        out = run.last().output
        for word in mentions:
            if word.lower() not in out.lower() and word.lower() not in _report_text(run).lower():
                findings.append((CONFUSE, f"neither the output nor the report mentions {word!r}"))
        for word in forbid:
            if word.lower() in out.lower() or word.lower() in _report_text(run).lower():
                findings.append((CONFUSE, f"says {word!r} about the user's own error"))
        return findings
    return judge


def _report_text(run) -> str:
    try:
        return (run.tmp / "R" / "report.json").read_text()
    except OSError:
        return ""


# --- what relu returns --------------------------------------------------------------------------------
# name -> (the student's relu body, whether the run must fail: True, or None when a lenient verdict is fair)
RETURNS = {
    "list-of-floats": ("def relu(features):\n    return [max(v, 0.0) for v in np.ravel(features)]", True),
    "nested-list": ("def relu(features):\n    return np.maximum(features, 0).tolist()", None),
    "ragged-list": ("def relu(features):\n    return [[1.0, 2.0], [3.0]]", True),
    "object-strings": ("def relu(features):\n    x = np.asarray(features)\n"
                       "    return np.array([f'{v:.3f}' for v in x.ravel()], dtype=object).reshape(x.shape)", True),
    "string": ("def relu(features):\n    return 'relu'", True),
    "none-forgot-return": ("def relu(features):\n    out = np.maximum(features, 0)", True),
    "dict": ("def relu(features):\n    return {'out': np.maximum(features, 0)}", True),
    "tuple-with-cache": ("def relu(features):\n    return np.maximum(features, 0), features", True),
    "int-scalar": ("def relu(features):\n    return 0", True),
    "complex": ("def relu(features):\n    return np.maximum(features, 0).astype(np.complex128)", True),
    "int64": ("def relu(features):\n    return np.maximum(features, 0).astype(np.int64)", True),
    "bool-mask": ("def relu(features):\n    return np.asarray(features) > 0", True),
    "float16": ("def relu(features):\n    return np.maximum(features, 0).astype(np.float16)", True),
    "all-nan": ("def relu(features):\n    return np.full_like(features, np.nan)", True),
    "all-inf": ("def relu(features):\n    return np.full_like(features, np.inf)", True),
    "np-matrix": ("def relu(features):\n    return np.asmatrix(np.maximum(np.atleast_2d(features), 0) + 1)", True),
    "masked-array": ("def relu(features):\n    return np.ma.masked_less(features, 0)", True),
    "generator": ("def relu(features):\n    return (max(v, 0) for v in np.ravel(features))", True),
    "self-containing-list": ("def relu(features):\n    out = []\n    out.append(out)\n    return out", True),
    "huge-wrong-shape": ("def relu(features):\n    return np.zeros((3000, 3000))", True),
    "writes-input": ("def relu(features):\n    np.maximum(features, 0, out=features)\n    return features", True),
    "array-sleeps": ("class Lazy:\n    def __array__(self, dtype=None, copy=None):\n        time.sleep(1000)\n"
                     "def relu(features):\n    return Lazy()", True),
    "array-raises": ("class Lazy:\n    def __array__(self, dtype=None, copy=None):\n"
                     "        raise RuntimeError('not computed yet')\n"
                     "def relu(features):\n    return Lazy()", True),
    "array-aborts": ("class Lazy:\n    def __array__(self, dtype=None, copy=None):\n        os.abort()\n"
                     "def relu(features):\n    return Lazy()", True),
    "array-returns-strings": ("class Lazy:\n    def __array__(self, dtype=None, copy=None):\n"
                              "        return np.array(['a', 'b'])\ndef relu(features):\n    return Lazy()", True),
    "reduce-aborts": ("class Result(np.ndarray):\n    def __reduce__(self):\n        os.abort()\n"
                      "def relu(features):\n    return np.maximum(features, 0).view(Result)", True),
    "reduce-sleeps": ("class Result(np.ndarray):\n    def __reduce__(self):\n        time.sleep(1000)\n"
                      "def relu(features):\n    return np.maximum(features, 0).view(Result)", True),
    "subclass-eq-raises": ("class Result(np.ndarray):\n    def __eq__(self, other):\n        raise TypeError('no')\n"
                           "    def __array_finalize__(self, obj):\n        self.tag = 'x'\n"
                           "def relu(features):\n    return (np.maximum(features, 0) + 1).view(Result)", True),
}

IN_PROCESS_TOO = ("object-strings", "ragged-list", "none-forgot-return", "dict", "complex", "generator",
                  "array-raises", "self-containing-list", "tuple-with-cache", "masked-array")


def _statuses(run, index):
    doc = load_json(run.tmp / f"R{index}" / "report.json") or {}
    counts = ((doc.get("summary") or {}).get("ops") or {}).get("relu") or {}
    return {k: v for k, v in counts.items() if isinstance(v, int) and v}


def _same_verdict_judge(failing):
    def judge(run):
        findings = []
        for index in (1, 2):
            findings += report_findings(run, report=f"R{index}", failing=failing, result=run.results[index - 1])
        a, b = _statuses(run, 1), _statuses(run, 2)
        if a != b:
            findings.append((CONFUSE, f"verdicts differ: worker {a} vs --in-process {b}"))
        return findings
    return judge


def _two_modes(mod: str, timeout: float = 4) -> list:
    def cmd(index, *extra):
        c = run_cmd(mod, *extra, timeout=timeout)
        c.argv[c.argv.index("R")] = f"R{index}"
        return c
    return [cmd(1), cmd(2, "--in-process")]


PULLBACKS = {
    "pullback-writes-forward-output": (
        "def relu(features):\n    return np.maximum(features, 0)",
        'def vjp(op, *arrays, **params):\n    if op == "relu":\n        y = relu(*arrays)\n'
        '        def pullback(dy):\n            mask = y > 0\n            y[...] = 0          # reuses the buffer\n'
        '            return (np.where(mask, dy, 0),)\n        return y, pullback\n'
        '    return _npcnn_vjp(op, *arrays, **params)\n', True),
    "pullback-generator": (
        "def relu(features):\n    return np.maximum(features, 0)",
        'def vjp(op, *arrays, **params):\n    if op == "relu":\n        x = arrays[0]\n'
        '        return relu(x), lambda dy: (g for g in [np.where(x > 0, dy, 0)])\n'
        '    return _npcnn_vjp(op, *arrays, **params)\n', None),
    "pullback-object-strings": (
        "def relu(features):\n    return np.maximum(features, 0)",
        'def vjp(op, *arrays, **params):\n    if op == "relu":\n        x = arrays[0]\n'
        '        return relu(x), lambda dy: (np.full(np.shape(x), "grad", dtype=object),)\n'
        '    return _npcnn_vjp(op, *arrays, **params)\n', True),
    "pullback-three-grads": (
        "def relu(features):\n    return np.maximum(features, 0)",
        'def vjp(op, *arrays, **params):\n    if op == "relu":\n        x = arrays[0]\n'
        '        return relu(x), lambda dy: (dy, dy, dy)\n'
        '    return _npcnn_vjp(op, *arrays, **params)\n', True),
    "vjp-returns-only-y": (
        "def relu(features):\n    return np.maximum(features, 0)",
        'def vjp(op, *arrays, **params):\n    if op == "relu":\n        return relu(arrays[0])\n'
        '    return _npcnn_vjp(op, *arrays, **params)\n', True),
    "vjp-pullback-not-callable": (
        "def relu(features):\n    return np.maximum(features, 0)",
        'def vjp(op, *arrays, **params):\n    if op == "relu":\n        return relu(arrays[0]), "pullback"\n'
        '    return _npcnn_vjp(op, *arrays, **params)\n', True),
    "pullback-returns-dict": (
        "def relu(features):\n    return np.maximum(features, 0)",
        'def vjp(op, *arrays, **params):\n    if op == "relu":\n        x = arrays[0]\n'
        '        return relu(x), lambda dy: {"features": np.where(x > 0, dy, 0)}\n'
        '    return _npcnn_vjp(op, *arrays, **params)\n', True),
    "pullback-ragged": (
        "def relu(features):\n    return np.maximum(features, 0)",
        'def vjp(op, *arrays, **params):\n    if op == "relu":\n'
        '        return relu(arrays[0]), lambda dy: ([[1.0], [2.0, 3.0]],)\n'
        '    return _npcnn_vjp(op, *arrays, **params)\n', True),
}


def return_value_probes() -> list:
    probes = []
    for name, (body, failing) in RETURNS.items():
        files = {"student_ops.py": module(f"relu returning: {name}", body)}
        probes.append(Probe(f"returns/{name}", "return-values",
                            "an implementation-error (or mismatch) outcome with a replay file per relu case, "
                            "sigmoid still checked, exit 1, no traceback of crosscheck's own",
                            [run_cmd()], judge_run(failing), files))
    for name in ("string", "ragged-list", "object-strings", "dict"):
        body, failing = RETURNS[name]
        cmd = run_cmd()
        cmd.argv[cmd.argv.index("-j") + 1] = "2"
        probes.append(Probe(f"returns/{name}/j2", "return-values",
                            "under -j 2 too: an outcome per relu case, sigmoid checked, shard logs kept",
                            [cmd], judge_run(failing), {"student_ops.py": module(f"relu returning: {name}", body)}))
    for name in IN_PROCESS_TOO:
        body, failing = RETURNS[name]
        files = {"student_ops.py": module(f"relu returning: {name}", body)}
        probes.append(Probe(f"returns/{name}/same-verdict-in-process", "return-values",
                            "the same relu verdict with and without --in-process, both reports complete",
                            _two_modes("student_ops"), _same_verdict_judge(failing), files))
    for name, (body, vjp, failing) in PULLBACKS.items():
        files = {"student_ops.py": module(f"vjp: {name}", body, vjp)}
        probes.append(Probe(f"returns/{name}", "return-values",
                            "an outcome per relu case (same in both modes), sigmoid still checked, exit 1",
                            _two_modes("student_ops"), _same_verdict_judge(failing), files))
    return probes


# --- exits, interrupts, crashes, hangs ----------------------------------------------------------------
EXITS = {
    "sys-exit-0": ("def relu(features):\n    sys.exit(0)", ()),
    "sys-exit-3": ("def relu(features):\n    sys.exit(3)", ()),
    "sys-exit-message": ("def relu(features):\n    sys.exit('relu: negative input not supported')",
                         ("negative input not supported",)),
    "raise-systemexit-in-pullback": ("def relu(features):\n    return np.maximum(features, 0)\n"
                                     "def relu_pullback(features, y):\n    def pb(dy):\n        raise SystemExit(1)\n"
                                     "    return pb", ()),
    "keyboard-interrupt": ("def relu(features):\n    raise KeyboardInterrupt", ()),
    "sigint-self": ("def relu(features):\n    os.kill(os.getpid(), signal.SIGINT)\n    time.sleep(5)", ()),
    "os-exit-0": ("def relu(features):\n    os._exit(0)", ()),
    "os-exit-5": ("def relu(features):\n    os._exit(5)", ()),
    "abort": ("def relu(features):\n    os.abort()", ()),
    "sigkill-self-like-oom": ("def relu(features):\n    os.kill(os.getpid(), signal.SIGKILL)", ("SIGKILL",)),
    "segfault": ("import ctypes\ndef relu(features):\n    return ctypes.string_at(0)", ()),
    "sleep-hang": ("def relu(features):\n    time.sleep(1000)", ("timeout",)),
    "busy-hang": ("def relu(features):\n    while True:\n        pass", ("timeout",)),
    "ignores-sigterm-and-hangs": ("def relu(features):\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                  "    time.sleep(1000)", ("timeout",)),
    "infinite-recursion": ("def relu(features):\n    return relu(features)", ("RecursionError",)),
    "memory-error": ("def relu(features):\n    raise MemoryError('Unable to allocate 8.00 EiB')", ("MemoryError",)),
    "wrong-parameter-name": ("def relu(x):\n    return np.maximum(x, 0)", ("features",)),
    "no-parameters": ("def relu():\n    return 0.0", ("features",)),
    "relu-not-callable": ("relu = 0.0", ("relu",)),
}
IMPORT_FAULTS = {
    "import-raises": "raise ImportError('cannot import name conv2d_fast from helpers')",
    "import-sys-exit-0": "sys.exit(0)",
    "import-hangs": "time.sleep(1000)",
    "import-aborts": "os.abort()",
    "import-keyboard-interrupt": "raise KeyboardInterrupt",
}
IN_PROCESS_EXITS = ("sys-exit-0", "sys-exit-3", "keyboard-interrupt", "wrong-parameter-name",
                    "raise-systemexit-in-pullback")


def exit_probes() -> list:
    probes = []
    for name, (body, mentions) in EXITS.items():
        files = {"student_ops.py": module(f"relu that: {name}", body)}
        probes.append(Probe(f"exits/{name}", "exits",
                            "an outcome per relu case (crash/timeout/error naming what happened), sigmoid "
                            "still checked, exit 1, within the timeouts",
                            [run_cmd()], judge_run(True, mentions), files))
    for name in IN_PROCESS_EXITS:
        body, mentions = EXITS[name]
        files = {"student_ops.py": module(f"relu that: {name}", body)}
        probes.append(Probe(f"exits/{name}/in-process", "exits",
                            "with --in-process too: an outcome per relu case, sigmoid checked, exit 1",
                            [run_cmd("student_ops", "--in-process")], judge_run(True, mentions), files))
    for name, line in IMPORT_FAULTS.items():
        files = {"student_ops.py": module(f"module that at import: {name}", "def relu(features):\n"
                                          "    return np.maximum(features, 0)\n" + line)}
        probes.append(Probe(f"exits/{name}", "exits",
                            "one line saying the module could not be imported and why, exit 1 or 2, no hang, "
                            "no report claiming ok",
                            [run_cmd()], _judge_import_fault, files))
    return probes


def _judge_import_fault(run):
    r = run.last()
    findings = []
    if r.timed_out or r.pipe_held:
        return findings
    if r.rc == 0:
        findings.append((LOSE, "exit 0 although the module could not be imported"))
    elif r.rc not in (1, 2):
        findings.append((CONFUSE, f"exit {r.rc} for a module that cannot be imported"))
    if "student_ops" not in r.output:
        findings.append((CONFUSE, "the message does not name the module"))
    doc = load_json(run.tmp / "R" / "report.json")
    if doc and doc.get("ok"):
        findings.append((LOSE, "report.json says ok"))
    if doc and doc.get("in_progress"):     # no case ran, so none is lost: the report misleads
        findings.append((CONFUSE, "report.json left in progress after the module was refused"))
    return findings


# --- processes the code under test starts --------------------------------------------------------------
PROCESSES = {
    "pool-blocks": "def relu(features):\n    with multiprocessing.Pool(2) as pool:\n"
                   "        pool.map(time.sleep, [1000, 1000])",
    "pool-at-import-never-closed": "POOL = multiprocessing.Pool(2)\n"
                                   "def relu(features):\n    return np.maximum(features, 0)",
    "popen-sleep-each-call": "def relu(features):\n    subprocess.Popen(['sleep', '300'])\n"
                             "    return np.maximum(features, 0)",
    "popen-ignores-sigterm": "def relu(features):\n    subprocess.Popen(['sh', '-c', 'trap \"\" TERM; sleep 300'])\n"
                             "    return np.maximum(features, 0)",
    "popen-then-hang": "def relu(features):\n    subprocess.Popen(['sleep', '300'])\n    time.sleep(1000)",
    "fork-child-sleeps": "def relu(features):\n    if os.fork() == 0:\n        time.sleep(300)\n        os._exit(0)\n"
                         "    return np.maximum(features, 0)",
    "fork-child-returns-too": "def relu(features):\n    os.fork()\n    return np.maximum(features, 0)",
    "mp-process-not-joined": "def relu(features):\n"
                             "    multiprocessing.Process(target=time.sleep, args=(300,)).start()\n"
                             "    return np.maximum(features, 0)",
    "non-daemon-thread": "def relu(features):\n    threading.Thread(target=time.sleep, args=(300,)).start()\n"
                         "    return np.maximum(features, 0)",
    "process-pool-executor": "import concurrent.futures\nEX = concurrent.futures.ProcessPoolExecutor(2)\n"
                             "def relu(features):\n    EX.submit(time.sleep, 300)\n    return np.maximum(features, 0)",
    "popen-then-crash": "def relu(features):\n    subprocess.Popen(['sleep', '300'])\n    os.abort()",
    "pool-blocks-j2": "def relu(features):\n    with multiprocessing.Pool(2) as pool:\n"
                      "        pool.map(time.sleep, [1000, 1000])",
}


def _judge_processes(run):
    findings = report_findings(run, failing=None)
    r = run.last()
    if not (r.timed_out or r.pipe_held) and r.elapsed > 75:
        findings.append((LOSE, f"took {r.elapsed:.0f} s with --timeout 4"))
    return findings


def process_probes() -> list:
    probes = []
    for name, body in PROCESSES.items():
        files = {"student_ops.py": module(f"relu that: {name}", body)}
        cmd = run_cmd(timeout=4, limit=100)
        if name.endswith("-j2"):
            cmd.argv[cmd.argv.index("-j") + 1] = "2"
        probes.append(Probe(f"processes/{name}", "processes",
                            "the run ends within its timeouts, its output pipes close, no process of the "
                            "code under test remains, every case recorded",
                            [cmd], _judge_processes, files))
    student = ("import multiprocessing, time\nimport numpy as np\n"
               "def relu_forward(x):\n    with multiprocessing.Pool(2) as p:\n        p.map(time.sleep, [1000, 1000])\n"
               "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n")
    probes.append(Probe("processes/check-pool-blocks", "processes",
                        "crosscheck check ends within its timeout, no process left, report final",
                        [Cmd([PY, "-m", "crosscheck", "check", "student.py", "--functions", "relu_forward",
                              "--examples", "2", "--timeout", "4", "--report", "R", "-q"], limit=100)],
                        _judge_check_final, {"student.py": student}))
    return probes


def _judge_check_final(run):
    doc = load_json(run.tmp / "R" / "report.json")
    r = run.last()
    if r.timed_out or r.pipe_held:
        return []
    if doc is None or doc.get("in_progress"):
        return [(LOSE, "report.json missing or in progress")]
    if r.rc == 0 or doc.get("ok"):
        return [(LOSE, "exit 0 / ok for a function that hangs")]
    return []


def probes() -> list:
    return return_value_probes() + exit_probes() + process_probes()
