"""The fixed benchmark cases: named shapes per op, the arrays they run on, their FLOP counts.

Every process (NumPy side, TensorFlow worker, memory probe) builds a case's arrays with
:func:`make_arrays`, seeded by the case name, so each side computes on the same numbers.
Layouts are npcnn's and TensorFlow's: NHWC activations, HWIO filters, depthwise ``[kh, kw, C, M]``.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class BenchCase:
    """One named shape of one op. ``shapes`` maps array names to shapes; ``params`` are the op's keywords."""
    op: str            # the --ops group, a registry op name (conv2d includes depthwise_conv2d)
    name: str
    shapes: dict
    params: dict = field(default_factory=dict)
    fn: str = ""       # npcnn.functional name (defaults from op)
    naive: bool = False  # also time the naive loop implementation (small shapes only)
    quick: bool = False  # part of --quick
    note: str = ""

    @property
    def npcnn_fn(self) -> str:
        return self.fn or self.op

    @property
    def key(self) -> str:
        return f"{self.op}/{self.name}"


CS231N_PAD = [[0, 0], [1, 1], [1, 1], [0, 0]]

CASES = (
    BenchCase("conv2d", "mnist", {"input": (16, 28, 28, 1), "filters": (3, 3, 1, 16)},
              {"strides": 1, "padding": "SAME"}, naive=True, quick=True, note="small MNIST-like first layer"),
    BenchCase("conv2d", "cs231n", {"input": (100, 31, 31, 3), "filters": (3, 3, 3, 25)},
              {"strides": 2, "padding": CS231N_PAD}, naive=True, quick=True,
              note="CS231n benchmark x(100,3,31,31) w(25,3,3,3) stride 2 pad 1 (NCHW there, NHWC here)"),
    BenchCase("conv2d", "cifar", {"input": (32, 32, 32, 32), "filters": (3, 3, 32, 64)},
              {"strides": 1, "padding": "SAME"}, quick=True, note="CIFAR-like 32x32, 32->64"),
    BenchCase("conv2d", "resnet56", {"input": (8, 56, 56, 64), "filters": (3, 3, 64, 64)},
              {"strides": 1, "padding": "SAME"}, note="ResNet-like 56x56x64 3x3"),
    BenchCase("conv2d", "strided", {"input": (16, 32, 32, 64), "filters": (3, 3, 64, 128)},
              {"strides": 2, "padding": "SAME"}, note="3x3 stride 2, 64->128"),
    BenchCase("conv2d", "pointwise", {"input": (16, 28, 28, 128), "filters": (1, 1, 128, 256)},
              {"strides": 1, "padding": "VALID"}, note="1x1, 128->256"),
    BenchCase("conv2d", "depthwise", {"input": (16, 56, 56, 64), "filter": (3, 3, 64, 1)},
              {"strides": 1, "padding": "SAME"}, fn="depthwise_conv2d", note="depthwise 3x3, 64 channels"),
    BenchCase("max_pool2d", "mnist", {"input": (16, 28, 28, 16)}, {"ksize": 2, "strides": 2, "padding": "VALID"},
              naive=True, quick=True, note="2x2 s2"),
    BenchCase("max_pool2d", "resnet56", {"input": (8, 112, 112, 64)}, {"ksize": 3, "strides": 2, "padding": "SAME"},
              note="3x3 s2 SAME (ResNet stem)"),
    BenchCase("avg_pool2d", "mnist", {"input": (16, 28, 28, 16)}, {"ksize": 2, "strides": 2, "padding": "VALID"},
              naive=True, quick=True, note="2x2 s2"),
    BenchCase("avg_pool2d", "resnet56", {"input": (8, 112, 112, 64)}, {"ksize": 3, "strides": 2, "padding": "SAME"},
              note="3x3 s2 SAME"),
    BenchCase("dense", "mnist", {"x": (64, 784), "kernel": (784, 128), "bias": (128,)}, quick=True,
              note="784 -> 128"),
    BenchCase("dense", "wide", {"x": (256, 1024), "kernel": (1024, 1024), "bias": (1024,)}, note="1024 -> 1024"),
    BenchCase("batch_normalization", "cifar", {"x": (32, 32, 32, 64), "gamma": (64,), "beta": (64,)},
              {"training": True}, quick=True, note="training mode, NHWC"),
    BenchCase("batch_normalization", "resnet56", {"x": (8, 56, 56, 64), "gamma": (64,), "beta": (64,)},
              {"training": True}, note="training mode, NHWC"),
)

#: the --ops groups, in the order of the cases
OPS = tuple(dict.fromkeys(case.op for case in CASES))


def select(ops=None, quick=False, names=None) -> list[BenchCase]:
    """The cases of ``ops`` (all by default); ``quick`` keeps the --quick subset; ``names`` filters by name."""
    return [c for c in CASES if (not ops or c.op in ops) and (not quick or c.quick)
            and (not names or c.name in names or c.key in names)]


def get_case(key: str) -> BenchCase:
    return next(c for c in CASES if c.key == key)


def make_arrays(case: BenchCase, dtype: str) -> dict:
    """The case's inputs (standard normal; batch-norm gamma around 1) in ``dtype``, seeded by its name."""
    rng = np.random.default_rng(zlib.crc32(f"{case.key}:{dtype}".encode()))
    arrays = {k: rng.standard_normal(s).astype(dtype) for k, s in case.shapes.items()}
    if "gamma" in arrays:
        arrays["gamma"] = (1 + 0.1 * arrays["gamma"]).astype(dtype)
    return arrays


def make_upstream(case: BenchCase, dtype: str) -> np.ndarray:
    """The random upstream gradient (never all-ones) for the case's output, seeded by its name."""
    rng = np.random.default_rng(zlib.crc32(f"{case.key}:{dtype}:dy".encode()))
    return rng.standard_normal(output_shape(case)).astype(dtype)


def output_shape(case: BenchCase) -> tuple:
    """NHWC output shape (from npcnn's padding rules, the one place that defines them)."""
    from npcnn import padding as P  # deferred: the code under test, imported only where it is run
    s = case.shapes
    if case.op == "dense":
        return (*s["x"][:-1], s["kernel"][1])
    if case.op == "batch_normalization":
        return s["x"]
    n, h, w, c = s["input"]
    if case.op == "conv2d":
        f = s.get("filters") or s["filter"]
        kernel, cout = f[:2], (f[3] if "filters" in s else f[2] * f[3])
    else:
        kernel, cout = P.spatial_pair(case.params["ksize"], "ksize", "NHWC"), c
    geom = P.window_geometry((h, w), kernel, P.spatial_pair(case.params["strides"], "strides", "NHWC"), (1, 1),
                             P.normalize_padding(case.params["padding"], "NHWC"))
    return (n, *geom.out, cout)


def gemm_dims(case: BenchCase):
    """``(M, K, N)`` of the im2col GEMM that computes the forward pass, or None (not a GEMM op)."""
    s = case.shapes
    if case.op == "dense":
        return (int(np.prod(s["x"][:-1])), s["kernel"][0], s["kernel"][1])
    if case.op == "conv2d" and "filters" in s:
        kh, kw, cin, cout = s["filters"]
        n, oh, ow, _ = output_shape(case)
        return (n * oh * ow, kh * kw * cin, cout)
    return None


def forward_flops(case: BenchCase) -> int | None:
    """Multiply-add FLOPs (2 per MAC) of the forward pass; backward of a conv/dense is twice that."""
    if case.fn == "depthwise_conv2d":
        kh, kw, c, m = case.shapes["filter"]
        n, oh, ow, _ = output_shape(case)
        return 2 * n * oh * ow * kh * kw * c * m
    dims = gemm_dims(case)
    return None if dims is None else 2 * dims[0] * dims[1] * dims[2]
