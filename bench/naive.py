"""Naive loop implementations, CS231n-style (NCHW activations, OIHW filters): the baseline that
vectorised layers are compared against. Straightforward nested loops over batch, filters/channels
and output positions, each step a small NumPy window operation, as students first write them.
"""
from __future__ import annotations

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {"stride", "pad"} -> (out, cache)."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    oh, ow = 1 + (h + 2 * pad - hh) // stride, 1 + (wd + 2 * pad - ww) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, f, oh, ow), dtype=x.dtype)
    for i in range(n):
        for k in range(f):
            for r in range(oh):
                for c in range(ow):
                    window = xp[i, :, r * stride:r * stride + hh, c * stride:c * stride + ww]
                    out[i, k, r, c] = np.sum(window * w[k]) + b[k]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """(dx, dw, db) for :func:`conv_forward_naive`'s cache and upstream dout (N, F, OH, OW)."""
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, f, oh, ow = dout.shape
    _, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for i in range(n):
        for k in range(f):
            for r in range(oh):
                for c in range(ow):
                    rows, cols = slice(r * stride, r * stride + hh), slice(c * stride, c * stride + ww)
                    dw[k] += xp[i, :, rows, cols] * dout[i, k, r, c]
                    dxp[i, :, rows, cols] += w[k] * dout[i, k, r, c]
    return dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, db


def _pool_windows(shape, pool_param):
    n, ch, h, w = shape
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    for i in range(n):
        for c in range(ch):
            for r in range(1 + (h - ph) // s):
                for q in range(1 + (w - pw) // s):
                    yield i, c, r, q, slice(r * s, r * s + ph), slice(q * s, q * s + pw)


def _pool_out(x, pool_param):
    n, ch, h, w = x.shape
    s = pool_param["stride"]
    return np.zeros((n, ch, 1 + (h - pool_param["pool_height"]) // s, 1 + (w - pool_param["pool_width"]) // s),
                    dtype=x.dtype)


def max_pool_forward_naive(x, pool_param):
    """x (N, C, H, W), pool_param {"pool_height", "pool_width", "stride"} (no padding) -> (out, cache)."""
    out = _pool_out(x, pool_param)
    for i, c, r, q, rows, cols in _pool_windows(x.shape, pool_param):
        out[i, c, r, q] = np.max(x[i, c, rows, cols])
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """dx: each output's gradient to the first maximum of its window (row-major, TF's tie rule)."""
    x, pool_param = cache
    dx = np.zeros_like(x)
    for i, c, r, q, rows, cols in _pool_windows(x.shape, pool_param):
        window = x[i, c, rows, cols]
        a, b = np.unravel_index(np.argmax(window), window.shape)
        dx[i, c, rows.start + a, cols.start + b] += dout[i, c, r, q]
    return dx


def avg_pool_forward_naive(x, pool_param):
    out = _pool_out(x, pool_param)
    for i, c, r, q, rows, cols in _pool_windows(x.shape, pool_param):
        out[i, c, r, q] = np.mean(x[i, c, rows, cols])
    return out, (x, pool_param)


def avg_pool_backward_naive(dout, cache):
    x, pool_param = cache
    dx = np.zeros_like(x)
    cells = pool_param["pool_height"] * pool_param["pool_width"]
    for i, c, r, q, rows, cols in _pool_windows(x.shape, pool_param):
        dx[i, c, rows, cols] += dout[i, c, r, q] / cells
    return dx
