"""What the NumPy process times: npcnn, the naive loops and the plain BLAS GEMM of the same size.

This module never imports TensorFlow (its thread pools would compete with BLAS's).
"""
from __future__ import annotations

import numpy as np

import npcnn
import npcnn.functional as F
from npcnn import padding as P

from . import naive
from .cases import BenchCase, gemm_dims, make_arrays, make_upstream

PASSES = ("fwd", "fwd+bwd")


def _op_arrays(case: BenchCase, arrays: dict) -> list:
    return [arrays[k] for k in case.shapes]


def npcnn_calls(case: BenchCase, arrays: dict, dy: np.ndarray) -> dict:
    """``{"fwd": f, "fwd+bwd": g, "vjp": v, "pullback": p}``: npcnn's forward function, vjp +
    pullback, and the two halves of the latter apart (where a fwd+bwd's time goes)."""
    fn = getattr(F, case.npcnn_fn)
    args = _op_arrays(case, arrays)

    def vjp():
        return npcnn.vjp(case.npcnn_fn, *args, **case.params)

    def fwd_bwd():
        return vjp()[1](dy)
    pullback = vjp()[1]
    return {"fwd": lambda: fn(*args, **case.params), "fwd+bwd": fwd_bwd, "vjp": vjp, "pullback": lambda: pullback(dy)}


def gemm_calls(case: BenchCase, dtype: str) -> dict | None:
    """The im2col-equivalent GEMMs: forward ``(M,K)@(K,N)``; fwd+bwd adds ``dy@B^T`` and ``A^T@dy``."""
    dims = gemm_dims(case)
    if dims is None:
        return None
    m, k, n = dims
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(s).astype(dtype) for s in ((m, k), (k, n), (m, n)))

    def fwd_bwd():
        return a @ b, c @ b.T, a.T @ c
    return {"fwd": lambda: a @ b, "fwd+bwd": fwd_bwd}


def _symmetric_pad(case: BenchCase, kernel) -> int:
    geom = P.window_geometry(case.shapes["input"][1:3], kernel, P.spatial_pair(case.params["strides"], "strides"),
                             (1, 1), P.normalize_padding(case.params["padding"], "NHWC"))
    (t, b), (l, r) = geom.pads
    if not t == b == l == r:
        raise ValueError(f"naive loops need symmetric padding, {case.key} has {geom.pads}")
    return t


def naive_calls(case: BenchCase, arrays: dict, dy: np.ndarray) -> dict | None:
    """The CS231n-style loops on the same numbers (moved to NCHW / OIHW outside the timed calls)."""
    if not case.naive:
        return None
    x = np.ascontiguousarray(arrays["input"].transpose(0, 3, 1, 2))
    dout = np.ascontiguousarray(dy.transpose(0, 3, 1, 2))
    if case.op == "conv2d":
        w = np.ascontiguousarray(arrays["filters"].transpose(3, 2, 0, 1))
        b = np.zeros(w.shape[0], dtype=w.dtype)
        param = {"stride": P.spatial_pair(case.params["strides"], "strides")[0],
                 "pad": _symmetric_pad(case, w.shape[2:])}
        return {"fwd": lambda: naive.conv_forward_naive(x, w, b, param),
                "fwd+bwd": lambda: naive.conv_backward_naive(dout, naive.conv_forward_naive(x, w, b, param)[1])}
    k = P.spatial_pair(case.params["ksize"], "ksize")
    param = {"pool_height": k[0], "pool_width": k[1], "stride": P.spatial_pair(case.params["strides"], "strides")[0]}
    fwd, bwd = ((naive.max_pool_forward_naive, naive.max_pool_backward_naive) if case.op == "max_pool2d"
                else (naive.avg_pool_forward_naive, naive.avg_pool_backward_naive))
    return {"fwd": lambda: fwd(x, param), "fwd+bwd": lambda: bwd(dout, fwd(x, param)[1])}


def arrays_for(case: BenchCase, dtype: str):
    return make_arrays(case, dtype), make_upstream(case, dtype)
