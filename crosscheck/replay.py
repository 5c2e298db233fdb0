"""Replay files: one Case as JSON, arrays embedded bit for bit, plus a standalone snippet.

A replay file is ``{"format": "crosscheck-case", "version": 1, "impl": ..., "status": ...,
"failures": [...], "case": {...}}``. Each array is stored as ``{"dtype", "shape", "data"}`` where
``data`` is the base64 of its raw little-endian C-order bytes, so float values (NaN payloads and
signed zeros included) come back exactly. ``params`` must be JSON-able (tuples are stored, and
come back, as lists; NumPy scalars as Python numbers).
See ``docs/report-format.md``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import shlex
from pathlib import Path
from typing import Any

import numpy as np

from . import callables
from .case import Case, Outcome
from .files import atomic_write_text
from .implementation import DEFAULT_IMPL
from .oracle.quirks import attach
from .registry import OPS
from .replay_schema import FLOAT_DTYPES, FORMAT, VERSION, ReplayFileError, read_document, validate  # noqa: F401


def encode_array(a: np.ndarray) -> dict:
    """``{"dtype": "float32", "shape": [...], "data": base64}`` of ``a``'s little-endian bytes."""
    a = np.asarray(a)
    little = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return {"dtype": a.dtype.name, "shape": list(a.shape),
            "data": base64.b64encode(np.ascontiguousarray(little).tobytes()).decode("ascii")}


def decode_array(d: dict) -> np.ndarray:
    """The array :func:`encode_array` stored, in native byte order, writable."""
    dtype = np.dtype(d["dtype"])
    raw = np.frombuffer(base64.b64decode(d["data"]), dtype=dtype.newbyteorder("<"))
    return raw.astype(dtype).reshape(d["shape"])


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists and NumPy scalars/arrays as Python numbers/lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def case_to_dict(case: Case) -> dict:
    return {"op": case.op, "dtype": case.dtype, "seed": jsonable(case.seed),
            "params": jsonable(case.params),
            "arrays": {name: encode_array(a) for name, a in case.arrays.items()},
            "dy": None if case.dy is None else encode_array(case.dy)}


def case_from_dict(d: dict) -> Case:
    return Case(op=d["op"], params=d["params"],
                arrays={name: decode_array(a) for name, a in d["arrays"].items()},
                dy=None if d.get("dy") is None else decode_array(d["dy"]),
                dtype=d["dtype"], seed=d["seed"])


def case_id(case: Case) -> str:
    """A short content hash: equal cases get equal ids, so replay file names never collide."""
    blob = json.dumps(case_to_dict(case), sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:10]


def replay_filename(outcome: Outcome) -> str:
    case = outcome.case
    return f"{case.op}-{case.dtype}-{case_id(case)}.json"


def save_case(path, case: Case, outcome: Outcome | None = None, impl: str | None = None,
              check: dict | None = None) -> Path:
    """Write ``case`` (and, when given, what ``outcome`` found) as a replay file at ``path``;
    ``check``: the ``crosscheck check`` target, convention and function it came from."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "version": VERSION,
           "impl": impl or (outcome.impl if outcome is not None else DEFAULT_IMPL),
           "status": None if outcome is None else outcome.status,
           "failures": [] if outcome is None else
           [{"tensor": d.tensor, "path": d.path, "max_abs_err": jsonable(d.max_abs_err)} for d in outcome.failures],
           "case": case_to_dict(case)}
    if check is not None:
        doc["check"] = jsonable(check)
    atomic_write_text(path, json.dumps(doc, indent=1, default=str))   # a full disk leaves no half file
    return path


def check_snippet(replay_path, check: dict) -> str:
    """The standalone snippet of a ``crosscheck check`` failure: the user's function on the saved case."""
    return "\n".join([
        "from crosscheck.check import load_user_code, rerun",
        "from crosscheck.report import format_outcome_text",
        "",
        f"module = load_user_code({str(check['target'])!r})",
        f"outcome = rerun({str(replay_path)!r}, module)   # {check['function']} ({check['convention']} convention)",
        "print(format_outcome_text(outcome, snippet=False))",
    ]) + "\n"


def read_replay(path) -> tuple[dict, Case]:
    """The validated document and its Case (ReplayFileError naming the field of a file that
    :mod:`crosscheck.replay_schema` refuses; OSError when it cannot be read)."""
    doc = read_document(path)
    validate(doc)
    return doc, case_from_dict(doc["case"])


def load_replay(path) -> tuple[Case, str]:
    """``(case, the implementation name it was found with)`` from a validated replay file."""
    doc, case = read_replay(path)
    return case, doc.get("impl") or DEFAULT_IMPL


def load_case(path) -> Case:
    return load_replay(path)[0]


def replay_command(path, impl: str = DEFAULT_IMPL, check_target: str | None = None) -> str:
    """The shell command that re-runs a replay file against the implementation it was found with (or,
    for a ``crosscheck check`` case, on ``check_target``); every word taken from a file or a path is
    quoted for the shell (``shlex.quote``): an ``impl`` text never runs as a command."""
    if callables.is_callables(impl):   # check_op / assert_matches_tf: functions, not a module
        return callables.replay_line(path, impl)
    words = ["crosscheck", "replay", str(path)]
    if check_target is not None:
        words += ["--check", str(check_target)]
    elif impl not in (DEFAULT_IMPL, "npcnn.Sequential"):
        words += ["--impl", str(impl)]
    return " ".join(shlex.quote(w) for w in words)


# --- the standalone snippet -------------------------------------------------------------------

def _plain_tf_reason(case: Case) -> str:
    """"" when the op's one-line TensorFlow call computes this case on CPU, else why not."""
    info = OPS.get(case.op)
    if info is None or not info.plain_tf:
        return "no single TensorFlow call computes this op"
    try:
        return info.plain_tf.works(attach(info.resolve(case)))
    except Exception as exc:
        return f"crosscheck cannot read this case's parameters ({exc})"


def _op_layout(case: Case) -> tuple[list, list, list, tuple]:
    """(positional vjp arrays, keyword-only arrays, differentiable arrays, output names)."""
    info = OPS.get(case.op)
    if info is None:   # an op crosscheck does not know: every array positional and differentiable
        names = list(case.arrays)
        return names, [], names, ("y",)
    positional = [n for n in info.arrays if n in case.arrays]
    keyword = [n for n in info.keyword_arrays() if n in case.arrays]
    return positional, keyword, [n for n in info.differentiable if n in case.arrays], info.outputs


def _network_snippet(replay_path) -> str:
    return "\n".join([
        "from crosscheck.networks import replay_network",
        "from crosscheck.replay import load_case",
        "",
        f"outcome = replay_network(load_case({str(replay_path)!r}))",
        "print(outcome.status)",
        "for d in outcome.failures:",
        "    print(d.tensor, d.path, 'max abs err', d.max_abs_err)",
    ])


def snippet(case: Case, replay_path="CASE.json", impl: str = DEFAULT_IMPL, tf_path: str | None = None) -> str:
    """Short standalone Python reproducing ``case``: the implementation against TensorFlow, printing
    the greatest absolute error per tensor. The arrays are read from the replay file at
    ``replay_path`` with json/base64/numpy. When the op's plain TensorFlow call cannot compute the
    case on CPU (its OpInfo's ``plain_tf.works`` says why), the snippet uses crosscheck's oracle,
    path ``tf_path`` (default: the first)."""
    if case.op == "network":   # a whole network in npcnn and Keras: crosscheck.networks rebuilds both
        return _network_snippet(replay_path)
    if callables.is_callables(impl):
        return callables.replay_snippet(replay_path, impl)
    positional, keyword, diff_names, outputs = _op_layout(case)
    names = positional + keyword
    kw_arrays = "".join(f", {n}={n}" for n in keyword)
    unpack = f"{', '.join(names)}{',' if len(names) == 1 else ''}"
    lines = [
        "import base64, json",
        "import numpy as np",
        "import tensorflow as tf",
        "import keras",
        f"import {impl} as impl",
        "",
        f"doc = json.load(open({str(replay_path)!r}))['case']",
        "arr = lambda d: np.frombuffer(base64.b64decode(d['data']), d['dtype']).reshape(d['shape'])",
        f"{unpack} = [arr(doc['arrays'][k]) for k in {names!r}]",
        "dy = arr(doc['dy'])" if case.dy is not None else "dy = None",
        f"params = {case.params!r}",
        "",
        f"y = impl.{case.op}({', '.join(f'{n}={n}' for n in names)}, **params)",
        f"actual = {'dict(zip(' + repr(list(outputs)) + ', y))' if len(outputs) > 1 else '{' + repr(outputs[0]) + ': y}'}",
    ]
    if case.dy is not None and diff_names:
        lines += [f"_, pullback = impl.vjp({case.op!r}, {', '.join(positional)}{kw_arrays}, **params)",
                  f"actual.update(zip({['d_' + n for n in positional]!r}, pullback(dy)))"]
    lines.append("")
    lines += _tf_lines(case, replay_path, tf_path, names, unpack, diff_names, outputs)
    lines += ["for name, e in expected.items():",
              "    print(name, 'max abs err', np.abs(np.asarray(actual[name], dtype=np.float64) - e).max(initial=0.0))"]
    return "\n".join(lines) + "\n"


def _tf_lines(case: Case, replay_path, tf_path, names, unpack, diff_names, outputs, raw: bool = False) -> list[str]:
    """Snippet lines that leave TensorFlow's tensors of ``case`` in ``expected`` (its plain call, or
    crosscheck's oracle where plain TensorFlow cannot compute the case on CPU; ``raw``: without the
    float64 detour around the backend's known defects)."""
    lines = []
    why_not = _plain_tf_reason(case)
    if not why_not:
        info = OPS[case.op]
        call = info.resolve(case)
        source = info.plain_tf.source(call) if callable(info.plain_tf.source) else info.plain_tf.source
        tf_params = {k: v for k, v in info.plain_tf.params(call).items() if v is not None}
        expr = source.format(params=", ".join(f"{k}={v!r}" for k, v in tf_params.items()))
        watched = diff_names if case.dy is not None else []
        lines += [f"{unpack} = [tf.constant(a) for a in [{', '.join(names)}]]",
                  "with tf.GradientTape() as tape:",
                  f"    tape.watch([{', '.join(watched)}])",
                  f"    y_tf = {expr}"]
        lines.append(f"expected = dict(zip({list(outputs)!r}, [t.numpy() for t in y_tf]))" if len(outputs) > 1
                     else f"expected = {{{outputs[0]!r}: y_tf.numpy()}}")
        if watched:
            lines += [f"grads = tape.gradient(y_tf, [{', '.join(watched)}], output_gradients=tf.constant(dy))",
                      f"expected.update({{'d_' + n: g.numpy() for n, g in zip({watched!r}, grads)}})"]
    else:
        path = repr(tf_path) if tf_path else "next(iter(ref.paths))"
        lines += [f"# plain TensorFlow cannot compute this case here ({why_not}): use crosscheck's oracle",
                  "from crosscheck.oracle.reference import compute_reference",
                  "from crosscheck.replay import load_case",
                  f"ref = compute_reference(load_case({str(replay_path)!r}){', detour=False' if raw else ''})",
                  f"expected = ref.paths[{path}]"]
    return lines


def tensorflow_snippet(case: Case, replay_path="CASE.json") -> str:
    """Short standalone Python that prints TensorFlow's tensors of ``case`` alone (shape, greatest
    magnitude, first values): run under TF_ENABLE_ONEDNN_OPTS=0 and =1 to see its two backends differ."""
    positional, keyword, diff_names, outputs = _op_layout(case)
    names = positional + keyword
    unpack = f"{', '.join(names)}{',' if len(names) == 1 else ''}"
    lines = ["# TensorFlow's Eigen and oneDNN kernels disagree on this case: run it twice and compare,",
             "#   TF_ENABLE_ONEDNN_OPTS=0 python this.py   and   TF_ENABLE_ONEDNN_OPTS=1 python this.py",
             "import base64, json", "import numpy as np", "import tensorflow as tf", "import keras", "",
             f"doc = json.load(open({str(replay_path)!r}))['case']",
             "arr = lambda d: np.frombuffer(base64.b64decode(d['data']), d['dtype']).reshape(d['shape'])",
             f"{unpack} = [arr(doc['arrays'][k]) for k in {names!r}]",
             "dy = arr(doc['dy'])" if case.dy is not None else "dy = None", ""]
    lines += _tf_lines(case, replay_path, None, names, unpack, diff_names, outputs, raw=True)
    lines += ["for name, e in expected.items():",
              "    e = np.asarray(e)",
              "    print(name, e.shape, 'max |value|', np.abs(e).max(initial=0.0), 'first values', e.ravel()[:4])"]
    return "\n".join(lines) + "\n"
