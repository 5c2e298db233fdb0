"""Mutation testing of crosscheck's verdict: mutate npcnn's op code, check that ``crosscheck run`` fails.

    python -m bench --mutation [--sample N] [--seed S] [--examples K] [-j 2] [--files GLOB ...] [--since REV]
    python -m bench.mutation   (the same options)

``--since REV`` mutates only the lines changed since the git revision REV (a review of a change).

A small AST mutator over ``npcnn/padding.py`` and ``npcnn/functional/*.py`` (the code whose
meaning crosscheck checks): arithmetic and comparison operators swapped, integer / float / boolean
constants changed (default argument values included), ``and``/``or`` swapped, ``not`` dropped,
``min``/``max`` swapped, a ``raise`` replaced by ``pass`` (a check that no longer refuses). String
constants and the arguments of ``raise`` (error messages) are left alone.

Each sampled mutant is written into a copy of the npcnn package under another name and checked
with ``crosscheck run --impl <copy>.functional --fail-fast`` in its own process (so crosscheck, which
must not import npcnn, cannot be affected by the mutation). A mutant is *killed* when the run fails;
it *survives* when the run passes. Survivors are run again with more examples, then looked up in
:data:`EQUIVALENT` (mutants judged not to change behaviour, each with its reason); the rest are holes
in crosscheck. The score is killed / (sampled - equivalent).
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "npcnn"
DEFAULT_FILES = ("padding.py", "functional/*.py")

_BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
           ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
_CMPOPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
           ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}

# Mutants judged not to change behaviour, after reading each survivor:
# (file, the source line, which of its identical twins, the mutation's kind, its column) -> the reason.
_SLICE = "the slice runs past the end of a 4-D shape (or of 4 pairs): the same entries, and every consumer zips " \
         "with the 2 spatial axes"
_BUDGET = "the im2col budget only sets how many batch chunks a conv uses; each sample's result is the same"
_BLOCK = "the cache block only sets how many samples a pass takes at a time; each sample's result is the same"
_HW = 'hw = x_shape[1:3] if data_format == "NHWC" else x_shape[2:4]'
_PAIRS = 'pairs = pairs[1:3] if data_format == "NHWC" else pairs[2:4]'
_LO = "lo = max(0, -(first // s)) if first < 0 else 0"
_HI = "hi = min(o, (n - 1 - first) // s + 1) if n - 1 >= first else 0"
#: the line of conv_nhwc that decides whether the forward's im2col matrices are kept
_FITS = "fits = n * per_sample <= min(im2col.IM2COL_BUDGET_BYTES, im2col.IM2COL_KEEP_BYTES)"
EQUIVALENT: dict[tuple, str] = {
    ("functional/pooling.py", _HW, 0, "3->4", 19): _SLICE,
    ("functional/pooling.py", _HW, 0, "4->5", 62): _SLICE,
    ("padding.py", _PAIRS, 0, "3->4", 24): _SLICE,
    ("padding.py", _PAIRS, 0, "4->5", 65): _SLICE,
    **{("functional/im2col.py", "IM2COL_BUDGET_BYTES = 128 * 2**20", 0, kind, col): _BUDGET
       for kind, col in (("2->3", 28), ("2->1", 28), ("20->21", 31), ("20->19", 31), ("128->129", 22),
                         ("128->127", 22), ("Mult->Div", 22), ("Pow->Mult", 28))},
    ("functional/im2col.py", _LO, 0, "0->1", 46): "at first == 0 both branches give lo = 0",
    ("functional/im2col.py", _HI, 0, "1->0", 53): "at first == n the other branch also gives hi = 0 <= lo",
    ("functional/im2col.py", "if t == b == l == r == 0:", 0, "Eq->NotEq", 7):
        "false whenever all pads are 0: the same zero padding, done by a copy instead of returning the array",
    ("functional/conv_backward.py", "if g == 1:", 1, "1->0", 12):
        "the grouped reshape with one group is the same reshape",
    ("functional/conv_backward.py", "if g > 1 and cg == 1:", 0, "Gt->GtE", 7):
        "one group with one input channel: the depthwise scatter computes the ordinary input gradient",
    **{("functional/conv_backward.py", "SMALL_CHANNELS = 16", 0, kind, 17):
       "the threshold picks one of two scatter orders that compute the same gradient" for kind in ("16->15", "16->17")},
    ("functional/activations.py", "if not -x.ndim <= axis < x.ndim:", 0, "Lt->LtE", 11):
        "axis == ndim still raises: NumPy's AxisError is a ValueError that names the axis",
    ("functional/activations.py", "return y, lambda dy: (np.where(x > 0, dy, dy * (y + one)),)", 0, "Gt->GtE", 35):
        "elu's gradient at 0 is dy on both branches (y + 1 = 1)",
    ("functional/activations.py", "return np.where(x > 0, x, x * _tf_alpha(alpha, x.dtype))", 0, "Gt->GtE", 20):
        "leaky_relu(0) is 0 (and -0.0) on both branches",
    ("functional/activations.py", "return np.where(x >= 0, one / (one + e), e / (one + e))", 0, "GtE->Gt", 20):
        "sigmoid(0) is 0.5 on both branches",
    ("functional/normalization.py",
     """raise ValueError(f"batch_normalization with training=False needs {' and '.join(missing)}")""", 0,
     "raise->pass", 12): "the next check refuses the missing statistics too, with a TypeError naming them",
    ("padding.py", "total = max((out - 1) * s + k_eff - size, 0)", 0, "0->1", 50):
        "a SAME pad of 0 becomes a pad of 1 after the input, which no window reaches",
    **{("functional/conv_backward.py",
        "parts = map_chunks(run, batch_chunks(dy.shape[0], dy[:1].nbytes, CACHE_BLOCK_BYTES))", 0, kind, 58): _BLOCK
       for kind in ("1->0", "1->2")},
    ("functional/im2col.py", "step = max(1, budget // max(1, bytes_per_sample))", 0, "1->2", 32): _BLOCK,
    ("functional/im2col.py", "if count.max() > 1:", 0, "Gt->GtE", 15):
        "no run of taps is ever found to tile the axis: every target is zero-filled and every offset added, the "
        "same sums in another order (what accumulation_order saves is one pass)",
    **{("functional/im2col.py", "GEMM_BLOCK_BYTES = 8 * 2**20", 0, kind, col): _BUDGET
       for kind, col in (("2->1", 23), ("2->3", 23), ("20->19", 26), ("20->21", 26), ("8->7", 19), ("8->9", 19),
                         ("Mult->Div", 19), ("Pow->Mult", 23))},
    ("functional/im2col.py", "budget = min(GEMM_BLOCK_BYTES, IM2COL_BUDGET_BYTES) if budget is None else budget", 0,
     "min->max", 13): _BUDGET,
    **{("functional/im2col.py", "CACHE_BLOCK_BYTES = 2**20", 0, kind, col): _BLOCK
       for kind, col in (("20->21", 23), ("20->19", 23), ("2->3", 20), ("2->1", 20), ("Pow->Mult", 20))},
    ("functional/conv.py", "if out_nhwc[0] != x_nhwc[0] or any(n not in r for n, r in zip(out_nhwc[1:3], ranges)):",
     0, "3->4", 77): _SLICE,
    ("functional/pooling.py", "ones = np.ones((1, *x_shape[1:3], 1), dtype=dtype)", 0, "1->2", 20):
        "two identical rows of valid-cell counts: row 0 is the same",
    ("functional/activations.py", "return np.where(x > 0, x, np.expm1(np.minimum(x, x.dtype.type(0))))", 0, "Gt->GtE", 20):
        "elu(0) is 0 on both branches",
    ("functional/conv.py", "@dataclass(frozen=True)", 0, "True->False", 18):
        "whether ConvSpec is frozen does not change what any op computes",
    **{("functional/pooling.py", "argmax = np.empty(y.shape, np.min_scalar_type(kh * kw - 1)) if with_argmax else None",
        0, kind, col): "the argmax index dtype is wide enough either way" for kind, col in (("1->0", 60), ("1->2", 60),
                                                                                         ("Sub->Add", 50))},
    ("functional/conv_backward.py", "channels_first = g == 1 and c < SMALL_CHANNELS", 0, "1->0", 26):
        "never scattering channels-first uses the other scatter order, which computes the same gradient",
    ("functional/core.py", "return np.random.default_rng(_check_seed(seed)).random(dims) >= rate", 0,
     "GtE->Gt", 11): "the keep mask changes only where a uniform draw equals the rate exactly (2**-53 per cell)",
    ("functional/conv.py", "if g == 1:", 0, "1->0", 12):
        "the grouped weight matrix with one group, (1, K, O), broadcasts in the GEMM to the same product",
    ("functional/conv.py", "x_nhwc[1:3], w_shape[:2], strides_hw, dilations_hw, _per_axis(P.normalize_padding("
     "padding, data_format)))]", 0, "2->3", 30): _SLICE,
    ("functional/conv.py", "raise ValueError(", 4, "raise->pass", 8):
        "resolve_conv refuses the same output_shape next (its channels are not a multiple of filters[2])",
    ("functional/conv.py", 'raise ValueError(f"filter {tuple(f_shape)} needs a non-empty kernel")', 0, "raise->pass", 8):
        "resolve_conv refuses the same empty kernel next, with a ValueError naming the filter",
    ("functional/conv.py", "if min(f_shape[:2]) < 1:   # no channels or a multiplier of 0 give an empty output, as in "
     "TensorFlow", 0, "1->0", 26): "resolve_conv refuses the same empty kernel next, with a ValueError naming the filter",
    **{("functional/conv_backward.py", 'sizes = as_shape(filter_sizes, "filter_sizes", 4, minimums=(1, 1, 1, 0))   # no '
        "output channels: an empty gradient", 0, "1->0", col):
       "resolve_conv refuses the same empty kernel or in-channels next, with a ValueError naming filter_sizes"
       for col in (64, 67, 70)},
    ("functional/conv_backward.py", "if spec.x_shape[3] == 0 or spec.w_shape[3] == 0:   # no channels in or out: an "
     "empty or zero gradient", 0, "3->2", 20):
        "an empty width gives the zero filter gradient the general path gives (windows over padding read zeros), "
        "and a channelless input the same empty gradient from the general path",
    ("functional/conv.py", "if g > 1 and cg == 1:", 0, "1->0", 11):
        "one group with one input channel: the depthwise multiply-add computes the ordinary convolution",
    ("functional/conv.py", "if g > 1 and cg == 1:", 0, "1->0", 23):
        "never taking the depthwise branch: the grouped GEMM computes the same depthwise convolution",
    ("functional/conv.py", "per_sample = oh * ow * kh * kw * x.shape[3] * x.itemsize", 0, "3->2", 45):
        "the chunk estimate only sets how many samples a GEMM takes at a time; each sample's result is the same",
    **{("functional/conv.py", line, 0, kind, col):
       "whether the forward keeps its im2col matrices for the filter gradient changes memory, not the gradient "
       "(the same per-chunk products, added in another order)"
       for line, kind, col in (("keep = keep if keep is not None and fits else None", "And->Or", 19),
                               ("keep = keep if keep is not None and fits else None", "IsNot->Is", 19),
                               *((_FITS, kind, col) for kind, col in (("LtE->Lt", 11), ("Mult->Div", 11),
                                                                    ("min->max", 29))))},
    ("functional/conv.py", "x_nhwc[1:3], w_shape[:2], strides_hw, dilations_hw, _per_axis(P.normalize_padding("
     "padding, data_format)))]", 0, "3->4", 17): _SLICE,
    **{("functional/normalization.py", "self.r = shape[ax - 1] if self.b == 1 and ax >= 1 else 1", 0, kind, col):
       "R = 1 and R = the size of the axis before the channels are both valid row layouts (each row a whole number "
       "of channel blocks): the choice changes the matrix's shape, not the arithmetic"
       for kind, col in (("Eq->NotEq", 34), ("1->2", 44), ("1->0", 44), ("1->2", 56))},
    ("functional/conv_backward.py", "taps = live_offsets(spec.geom, x.shape[1:3])", 0, "3->4", 45): _SLICE,
    ("functional/conv_backward.py", "if channels_first and len(chunks) == 1:", 0, "1->0", 41):
        "the channels-first scatter result is copied into dx instead of returned as a view: the same values",
    ("functional/conv_backward.py", "dy_rows = dy.reshape(-1, cout)", 0, "1->2", 30):
        "NumPy reads any negative size in reshape as the one unknown dimension",
    ("functional/normalization.py", "return a.reshape(a.size // self.width if self.width else 0, self.width)", 0,
     "0->1", 65): "with no channels the matrix is (1, 0) instead of (0, 0): both empty, every sum over them empty",
    ("functional/normalization.py",
     'raise ValueError(f"x must have a batch axis and a channel axis, got shape {x.shape}")', 0, "raise->pass", 8):
        "a 1-D x then has its channel axis on the batch axis, which the axis check refuses next",
}


@dataclass(frozen=True)
class Mutant:
    file: str          # relative to npcnn/
    line: int
    col: int
    kind: str
    source_line: str   # the line of the mutated node, as written
    occurrence: int    # how many earlier lines of the file read the same
    original: str      # the mutated node's source before
    mutated: str       # and after

    @property
    def key(self) -> tuple:
        """Stable across edits elsewhere in the file: the line's text (and which of its twins), the kind, the column."""
        return (self.file, self.source_line, self.occurrence, self.kind, self.col)


# ------------------------------------------------------------------------------- finding mutants

def _skipped_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes inside docstrings, f-strings and raise arguments (messages, not meaning)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.JoinedStr,)) or (isinstance(node, ast.Raise) and node.exc is not None):
            for sub in ast.walk(node.exc if isinstance(node, ast.Raise) else node):
                skip.add(id(sub))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            skip.add(id(node.value))
    return skip


def _constant_changes(value):
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1] if value == 0 else [value + 1, value - 1]
    if isinstance(value, float):
        return [value * 2] if value else [1.0]
    return []


class _Finder(ast.NodeVisitor):
    def __init__(self, skip):
        self.skip, self.points = skip, []

    def add(self, node, kind, apply):
        if id(node) not in self.skip and hasattr(node, "lineno"):
            self.points.append((node, kind, apply))

    def visit_BinOp(self, node):
        if type(node.op) in _BINOPS:
            self.add(node, f"{type(node.op).__name__}->{_BINOPS[type(node.op)].__name__}",
                     lambda n=node: setattr(n, "op", _BINOPS[type(n.op)]()))
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        if type(node.op) in _BINOPS:
            self.add(node, f"aug {type(node.op).__name__}->{_BINOPS[type(node.op)].__name__}",
                     lambda n=node: setattr(n, "op", _BINOPS[type(n.op)]()))
        self.generic_visit(node)

    def visit_Compare(self, node):
        for i, op in enumerate(node.ops):
            if type(op) in _CMPOPS:
                self.add(node, f"{type(op).__name__}->{_CMPOPS[type(op)].__name__}",
                         lambda n=node, i=i: n.ops.__setitem__(i, _CMPOPS[type(n.ops[i])]()))
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        self.add(node, f"{type(node.op).__name__}->{other.__name__}", lambda n=node, o=other: setattr(n, "op", o()))
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, (ast.Not, ast.USub)):
            self.add(node, f"drop {type(node.op).__name__}", lambda n=node: setattr(n, "op", ast.UAdd()))
        self.generic_visit(node)

    def visit_Constant(self, node):
        for new in _constant_changes(node.value):
            self.add(node, f"{node.value!r}->{new!r}", lambda n=node, v=new: setattr(n, "value", v))

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            other = "max" if node.func.id == "min" else "min"
            self.add(node.func, f"{node.func.id}->{other}", lambda n=node.func, o=other: setattr(n, "id", o))
        self.generic_visit(node)

    def visit_Raise(self, node):
        self.points.append((node, "raise->pass", None))   # replaced as a statement, below
        self.generic_visit(node)


class _RaiseToPass(ast.NodeTransformer):
    def __init__(self, target):
        self.target = target

    def visit_Raise(self, node):
        return ast.copy_location(ast.Pass(), node) if node is self.target else node


def find_mutants(files) -> list[tuple[str, int]]:
    """(relative file, index of the mutation point in that file) for every mutation point."""
    out = []
    for rel in files:
        tree = ast.parse((PACKAGE / rel).read_text())
        finder = _Finder(_skipped_nodes(tree))
        finder.visit(tree)
        out += [(rel, i) for i in range(len(finder.points))]
    return out


def mutant_keys(files) -> set:
    """The key of every mutation point (without building the mutants): one parse per file."""
    keys = set()
    for rel in files:
        source = (PACKAGE / rel).read_text()
        lines = [text.strip() for text in source.splitlines()]
        tree = ast.parse(source)
        finder = _Finder(_skipped_nodes(tree))
        finder.visit(tree)
        for node, kind, _ in finder.points:
            line = lines[node.lineno - 1]
            keys.add((rel, line, lines[:node.lineno - 1].count(line), kind, getattr(node, "col_offset", 0)))
    return keys


def make_mutant(rel: str, index: int) -> tuple[Mutant, str] | None:
    """The Mutant and the mutated file's source, or None when the mutation leaves the source unchanged."""
    source = (PACKAGE / rel).read_text()
    tree = ast.parse(source)
    finder = _Finder(_skipped_nodes(tree))
    finder.visit(tree)
    node, kind, apply = finder.points[index]
    before = ast.unparse(node)
    if apply is None:
        tree = _RaiseToPass(node).visit(tree)
        after = "pass"
    else:
        apply()
        after = ast.unparse(node)
    ast.fix_missing_locations(tree)
    mutated = ast.unparse(tree)
    if ast.dump(ast.parse(mutated)) == ast.dump(ast.parse(source)):
        return None
    lines = [text.strip() for text in source.splitlines()]
    line = lines[node.lineno - 1]
    return Mutant(rel, node.lineno, getattr(node, "col_offset", 0), kind, line, lines[:node.lineno - 1].count(line),
                  _short(before), _short(after)), mutated


def changed_lines(diff: str) -> set[int]:
    """The new-side line numbers of a ``git diff -U0`` of one file (added or changed lines)."""
    lines = set()
    for m in re.finditer(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", diff, re.M):
        start, count = int(m[1]), int(m[2] or 1)
        lines.update(range(start, start + count))
    return lines


def lines_changed_since(rev: str, rel: str) -> set[int]:
    diff = subprocess.run(["git", "diff", "-U0", rev, "--", str(PACKAGE / rel)], capture_output=True, text=True,
                          cwd=ROOT, check=True).stdout
    return changed_lines(diff)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


# ------------------------------------------------------------------------------------- running them

def run_mutant(mutant: Mutant, source: str, examples: int, timeout: float, workdir: Path, name: str) -> dict:
    pkg_root = workdir / name
    shutil.copytree(PACKAGE, pkg_root / name, ignore=shutil.ignore_patterns("__pycache__", "examples"))
    (pkg_root / name / mutant.file).write_text(source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pkg_root), str(ROOT)]), "TF_CPP_MIN_LOG_LEVEL": "3",
           "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "crosscheck", "run", "--impl", f"{name}.functional", "--examples", str(examples),
           "--fail-fast", "--report", str(pkg_root / "report")]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=pkg_root)
        code, out = proc.returncode, proc.stdout[-3000:] + proc.stderr[-2000:]
    except subprocess.TimeoutExpired:
        code, out = "timeout", ""
    report = pkg_root / "report" / "report.json"
    doc = json.loads(report.read_text()) if report.exists() else {}
    counts = doc.get("summary", {}).get("counts", {})
    shutil.rmtree(pkg_root, ignore_errors=True)
    return {"exit": code, "seconds": round(time.perf_counter() - start, 1), "counts": counts,
            "problems": doc.get("problems", []), "tail": out[-600:] if code not in (0, 1) else ""}


def verdict(result: dict) -> str:
    if result["exit"] == 0:
        return "survived-unsupported" if result["counts"].get("reference-unsupported") else "survived"
    if result["exit"] == 1:
        return "killed"
    return "killed-crash" if result["exit"] != "timeout" else "killed-timeout"


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m bench --mutation``."""
    parser = argparse.ArgumentParser(prog="python -m bench --mutation", description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=100, help="mutants to sample (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--examples", type=int, default=20, help="examples per op and dtype per mutant (default 20)")
    parser.add_argument("--confirm-examples", type=int, default=100,
                        help="examples per op and dtype when a survivor is run again (default 100)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="mutants checked at once (default 2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant run (default 600)")
    parser.add_argument("--files", nargs="+", default=list(DEFAULT_FILES), help="globs under npcnn/")
    parser.add_argument("--out", default="mutation-results.json", help="where the results go")
    parser.add_argument("--since", metavar="REV", help="only mutants on lines changed since this git revision")
    return parser


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    files = sorted({str(p.relative_to(PACKAGE)) for pattern in args.files for p in PACKAGE.glob(pattern)
                    if p.name != "__init__.py"})
    changed = {rel: lines_changed_since(args.since, rel) for rel in files} if args.since else None
    points = find_mutants(files)
    rng = random.Random(args.seed)
    rng.shuffle(points)
    chosen = []
    for rel, index in points:
        made = make_mutant(rel, index)
        if made is not None and (changed is None or made[0].line in changed[rel]):
            chosen.append(made)
        if len(chosen) == args.sample:
            break
    print(f"{len(points)} mutation points in {len(files)} files; checking {len(chosen)} mutants "
          f"({args.examples} examples per op and dtype, {args.jobs} at a time)", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="npcnn-mutants-"))

    def check(item):
        i, (mutant, source) = item
        result = run_mutant(mutant, source, args.examples, args.timeout, workdir, f"npcnn_mutant_{i:04d}")
        if verdict(result).startswith("survived"):
            result = run_mutant(mutant, source, args.confirm_examples, args.timeout, workdir, f"npcnn_mutant_{i:04d}")
            result["confirmed_with_examples"] = args.confirm_examples
        v = verdict(result)
        reason = EQUIVALENT.get(mutant.key, "")
        print(f"[{i + 1:3d}/{len(chosen)}] {v:22s} {result['seconds']:6.1f}s  {mutant.file}:{mutant.line}  "
              f"{mutant.kind}: {mutant.original[:60]} => {mutant.mutated[:60]}"
              + (f"  (equivalent: {reason})" if reason and v.startswith("survived") else ""), flush=True)
        return {**asdict(mutant), **result, "verdict": v, "equivalent": reason if v.startswith("survived") else ""}

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(check, enumerate(chosen)))
    shutil.rmtree(workdir, ignore_errors=True)
    survivors = [r for r in results if r["verdict"].startswith("survived")]
    equivalent = [r for r in survivors if r["equivalent"]]
    holes = [r for r in survivors if not r["equivalent"]]
    killed = len(results) - len(survivors)
    judged = len(results) - len(equivalent)
    score = killed / judged if judged else 1.0
    print(f"\n{killed} of {judged} non-equivalent mutants killed ({score:.1%}); {len(equivalent)} judged equivalent; "
          f"{sum(r['verdict'] == 'survived-unsupported' for r in survivors)} survived with reference-unsupported "
          f"cases; {time.perf_counter() - start:.0f} s")
    for r in equivalent:
        print(f"  equivalent  {r['file']}:{r['line']}  {r['original'][:50]} => {r['mutated'][:50]}  -- {r['equivalent']}")
    for r in holes:
        print(f"  SURVIVED    {r['file']}:{r['line']}  {r['source_line'][:70]}\n              {r['original'][:70]} "
              f"=> {r['mutated'][:70]}")
    Path(args.out).write_text(json.dumps({"files": files, "points": len(points), "sample": len(results),
                                          "seed": args.seed, "examples": args.examples, "killed": killed,
                                          "equivalent": len(equivalent), "score": score, "mutants": results},
                                         indent=1))
    print(f"results: {args.out}")
    return 0 if not holes else 1


if __name__ == "__main__":
    raise SystemExit(main())
