"""docs/performance.md, written by the benchmark: one section per kind of run, each naming the
command that wrote it, the machine, the versions, the TensorFlow backend in force and the date.

``python -m bench`` rewrites the ``npcnn`` section, ``python -m bench --harness`` the ``harness``
section; the other section, if the file has it, is kept as it is. The text above the first section
is rewritten each time.
"""
from __future__ import annotations

import datetime
import re
import shlex
from pathlib import Path

TITLE = "# Performance"

INTRO = """\
Every figure below was measured by the command its section names; nothing here is typed by hand.
Run the same command to measure your own machine: it rewrites its section of this file (`--out`
writes elsewhere). Figures are medians of wall-clock time. Other processes on the machine move them
from run to run, so compare figures only within one section: within a run, the contestants take
turns call by call and load hits them alike.
"""

NPCNN_ABOUT = """\
npcnn, TensorFlow (CPU, inside `tf.function`, in a child process so the two never share thread
pools), the naive CS231n loops (small shapes only) and a plain BLAS GEMM of the same size as the
im2col conv's (its ceiling) compute the same arrays, taking turns call by call: before each timed
call a 0.2 s pause lets the others' thread pools fall asleep (OpenBLAS's spin for about 0.1 s after
their work) and one untimed call wakes the contestant's own, as in a loop of calls. `fwd` is the
forward pass, `fwd+bwd` the forward pass and every gradient (npcnn's `vjp` and pullback,
TensorFlow's `GradientTape`). TensorFlow is timed with each of its CPU backends, Eigen's kernels
and oneDNN's (`TF_ENABLE_ONEDNN_OPTS=0` and `=1`, one child process each), in the same rounds.
`npcnn/TF` below 1 means npcnn is faster; `% of GEMM` is how close npcnn's conv or dense comes to
the GEMM ceiling.
"""

HARNESS_ABOUT = """\
How fast crosscheck checks: cases per second per op group (float32, every TensorFlow path unless
marked, one process, crosscheck's thread limits applied before anything is timed; passing cases
over their own time, the others counted apart), each also as a multiple of one bare eager
`GradientTape` conv2d call measured in the same process (a ratio that carries across machines
better than the rate); conv2d with every path and with `--paths first` interleaved; the default
`crosscheck run` with `-j 1` and `-j 2`; and the time to shrink a conv2d bug to its minimal case.
"""


BACKEND_NAMES = {"eigen": "Eigen", "onednn": "oneDNN"}


def _command(argv: list[str]) -> str:
    """The command line, less ``--json FILE`` (a copy of the figures elsewhere, no change to them)."""
    shown, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--json="):
            skip = False
            continue
        if arg == "--json":
            skip = True
            continue
        shown.append(shlex.quote(arg))
    return " ".join(["python", "-m", "bench", *shown])


def _f(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def blas_line(info: dict) -> str:
    """NumPy's BLAS: library, version, the kernels it chose for this CPU, its default threads."""
    return "; ".join(f"{b.get('internal_api')} {b.get('version')}, {b.get('architecture') or 'unknown'} kernels, "
                     f"{b.get('num_threads')} threads by default" for b in info.get("blas", [])) or "unknown"


def machine_lines(info: dict, tf_configs: list[dict] | None) -> list[str]:
    """The machine and the versions, as Markdown list items; one TensorFlow line per backend timed."""
    lines = [f"- CPU: {info.get('cpu_model') or 'unknown'}, {info.get('cpus')} cores"
             + (f" ({', '.join(info['cpu_features'])})" if info.get("cpu_features") else ""),
             f"- Python {info.get('python')}, NumPy {info.get('numpy')} (BLAS: {blas_line(info)})"]
    for config in tf_configs or []:
        backend = BACKEND_NAMES.get(config.get("backend"), config.get("backend", "unknown"))
        how = config.get("backend_chosen_by", "")
        lines.append(f"- TensorFlow {config.get('tf_version')}, {backend} kernels" + (f" ({how})" if how else ""))
    if not tf_configs:
        lines.append("- TensorFlow: not run (`--no-tf`)")
    lines.append(f"- Platform: {info.get('platform')}")
    load = info.get("loadavg_at_start")
    if load:
        lines.append(f"- Load average when the run started: {load[0]:.1f} (1 min), {load[1]:.1f} (5 min), "
                     f"from other processes on the machine")
    return lines


def _header(title: str, argv: list[str], info: dict, tf_configs: list[dict] | None, about: str) -> list[str]:
    today = datetime.date.today().isoformat()
    return [f"## {title}", "", f"Written by `{_command(argv)}` on {today}.", "", *machine_lines(info, tf_configs), "",
            about.rstrip(), ""]


def targets_table(goals: list[dict]) -> list[str]:
    if not goals:
        return []
    lines = ["Targets (this run's figures against the project's goals):", "",
             "| target | value | limit | met |", "|---|---:|---:|---|"]
    for g in goals:
        met = {True: "yes", False: "no", None: "-"}[g["met"]]
        lines.append(f"| {g['target']} | {g['value']:.3g} | {g['limit']:g} | {met} |")
    return [*lines, ""]


def columns(rows: list[dict]) -> list[tuple]:
    """``(header, row -> cell text)`` of the npcnn table, a TensorFlow column and ratio per backend
    the rows were timed on (the terminal table and this file's show the same)."""
    backends = [b for b in BACKEND_NAMES if any(f"tf_{b}" in r for r in rows)]
    gemm = lambda r: None if "fraction_of_gemm" not in r else 100 * r["fraction_of_gemm"]  # noqa: E731
    out = [("case", lambda r: f"{r['op']}/{r['case']}"), ("dtype", lambda r: r["dtype"]), ("pass", lambda r: r["pass"]),
           ("npcnn ms", lambda r: _f(r["npcnn"]["median_ms"], ".2f"))]
    for b in backends:
        out.append((f"TF {BACKEND_NAMES[b]} ms", lambda r, b=b: _f(r.get(f"tf_{b}", {}).get("median_ms"), ".2f")))
    for b in backends:
        out.append((f"npcnn/TF {BACKEND_NAMES[b]}", lambda r, b=b: _f(r.get(f"npcnn_over_tf_{b}"), ".2f")))
    return out + [("naive ms", lambda r: _f(r.get("naive", {}).get("median_ms"), ".0f")),
                  ("naive/npcnn", lambda r: _f(r.get("naive_over_npcnn"), ".0f")),
                  ("GFLOP/s", lambda r: _f(r.get("npcnn_gflops"), ".1f")),
                  ("GEMM GFLOP/s", lambda r: _f(r.get("gemm_gflops"), ".1f")),
                  ("% of GEMM", lambda r: _f(gemm(r), ".0f"))]


def table(rows: list[dict]) -> list[str]:
    """The npcnn table as Markdown lines."""
    cols = columns(rows)
    right = lambda name: name not in ("case", "dtype", "pass")  # noqa: E731
    return ["| " + " | ".join(name for name, _ in cols) + " |",
            "|" + "|".join("---:" if right(name) else "---" for name, _ in cols) + "|",
            *("| " + " | ".join(cell(r) for _, cell in cols) + " |" for r in rows)]


def npcnn_section(result: dict, argv: list[str]) -> str:
    """The ``python -m bench`` section: medians and ratios per case, dtype and pass."""
    settings = result["settings"]
    lines = _header("npcnn against TensorFlow", argv, result["machine"], list((settings.get("tf") or {}).values()),
                    NPCNN_ABOUT)
    threads = settings["threads"]
    threads = f"{threads} (BLAS, npcnn's own threads and TensorFlow's intra-op pool)" if isinstance(threads, int) else threads
    lines += [f"Settings: {settings['repeats']} timed calls per figure at most, {settings['budget_s']:g} s per "
              f"figure at most; threads: {threads}.", "",
              *table(result["results"])]
    lines += ["", "The cases (NHWC inputs, HWIO filters):", ""]
    seen = set()
    for r in result["results"]:
        key = f"{r['op']}/{r['case']}"
        if key not in seen:
            seen.add(key)
            shapes = ", ".join(f"{name} {tuple(shape)}" for name, shape in r["shapes"].items())
            params = ", ".join(f"{k}={v!r}" for k, v in r["params"].items())
            lines.append(f"- `{key}`: {r['note']}; `{r['fn']}`, {shapes}" + (f"; {params}" if params else ""))
    lines.append("")
    for r in (result.get("isolation") or {}).get("results", []):
        lines.append(f"Both in one process with explicit thread pools ({result['isolation']['config']}): {r['case']} "
                     f"{r['dtype']} fwd+bwd npcnn x{r['npcnn_vs_separate']:.2f}, TF x{r['tf_vs_separate']:.2f} of the "
                     f"separate-process medians.")
    memory = result.get("memory")
    if memory:
        lines.append(f"Memory: {memory['shape']} forward + backward: peak RSS {memory['peak_rss_mb']:.0f} MB "
                     f"({memory['rss_before_mb']:.0f} MB before the pass); im2col works in batch chunks of at most "
                     f"{memory['im2col_budget_mb']:.0f} MB, where the whole batch's im2col matrix would be "
                     f"{memory['unchunked_im2col_mb']:.0f} MB.")
    if lines[-1]:
        lines.append("")
    return "\n".join(lines + targets_table(result["targets"]))


def harness_section(result: dict, argv: list[str]) -> str:
    """The ``python -m bench --harness`` section: crosscheck's own speed."""
    harness = result["harness"]
    lines = _header("crosscheck's own speed", argv, result["machine"], result.get("tf"), HARNESS_ABOUT)
    for backend, rates in harness["rates"].items():
        lines += [f"TensorFlow's {BACKEND_NAMES.get(backend, backend)} kernels: {rates['examples_per_op']} cases per op; "
                  f"one bare-tape conv2d call {rates['bare_tape_ms']:.2f} ms on shapes new to the process "
                  f"({rates.get('bare_tape_warm_ms', float('nan')):.2f} ms on one warm shape).", "",
                  "| group | ops | cases | not passing | cases/s | ms per case | x bare tape |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for name, g in rates["groups"].items():
            ops = g["ops"][0] if len(g["ops"]) == 1 else ", ".join(g["ops"])
            lines.append(f"| {name} | {ops} | {g['cases']} | {g.get('not_passing', 0)} | {g['cases_per_s']:.0f} "
                         f"| {g['ms_per_case']:.2f} | {g['over_bare_tape']:.1f} |")
        lines.append("")
        for op, j in rates.get("journal_overhead", {}).items():
            lines.append(f"- {op}, each case journaled (so that a TensorFlow crash costs one case) / not: ratio "
                         f"{j['ratio']:.3f} (medians of {j['rounds']} alternating rounds)")
        lines.append("")
    lines += ["On crosscheck's default backend:", ""]
    run = harness["crosscheck_run"]
    lines.append(f"- default `crosscheck run`: {run['serial']['seconds']:.1f} s with `-j 1`, {run['j2']['seconds']:.1f} s "
                 f"with `-j 2`")
    s = harness["shrink"]
    lines.append(f"- shrinking ({s['bug']}): first failure after {s['cases_to_first_failure']} cases at input "
                 f"{s['first_shapes']['input']}; minimal input {s['minimal_shapes']['input']}, filters "
                 f"{s['minimal_shapes']['filters']}, after {s['shrink_cases_tried']} cases in {s['shrink_s']:.1f} s")
    if "pytest_n2" in harness:
        p = harness["pytest_n2"]
        lines.append(f"- `pytest -n 2` (default hypothesis profile): {p['seconds']:.0f} s, exit status {p['returncode']}")
    return "\n".join([*lines, ""] + targets_table(result["targets"]))


def _marker(name: str, end: bool = False) -> str:
    return f"<!-- {'/' if end else ''}bench:{name} -->"


def write(path: Path, name: str, section: str) -> None:
    """Put ``section`` in ``path`` as its ``name`` section (replacing that section, keeping the others)."""
    path = Path(path)
    old = path.read_text() if path.exists() else ""
    sections = dict(re.findall(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->\n", old, re.S))
    sections[name] = section.rstrip("\n") + "\n"
    order = [n for n in ("npcnn", "harness") if n in sections] + sorted(set(sections) - {"npcnn", "harness"})
    body = "".join(f"\n{_marker(n)}\n{sections[n]}{_marker(n, end=True)}\n" for n in order)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{TITLE}\n\n{INTRO}{body}")
