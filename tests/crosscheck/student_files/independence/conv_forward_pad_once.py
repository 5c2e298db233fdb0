"""CS231n assignment 2, layers.py: the convolution pair, naive version (tuple cache as in the template)."""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    """
    Inputs:
    - x: Input data of shape (N, C, H, W)
    - w: Filter weights of shape (F, C, HH, WW)
    - b: Biases, of shape (F,)
    - conv_param: dict with 'stride' and 'pad'

    Returns (out, cache), out of shape (N, F, H', W'), cache = (x, w, b, conv_param).
    """
    stride = conv_param["stride"]
    pad = conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Hp = 1 + (H + pad - HH) // stride
    Wp = 1 + (W + pad - WW) // stride
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    out = np.zeros((N, F, Hp, Wp))
    w_rows = w.reshape(F, -1)
    for r in range(Hp):
        for c in range(Wp):
            patch = xp[:, :, r * stride:r * stride + HH, c * stride:c * stride + WW].reshape(N, -1)
            out[:, :, r, c] = patch @ w_rows.T + b
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """Returns (dx, dw, db) for the cache of conv_forward_naive."""
    x, w, b, conv_param = cache
    stride = conv_param["stride"]
    pad = conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, Hp, Wp = dout.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    w_rows = w.reshape(F, -1)
    for r in range(Hp):
        for c in range(Wp):
            r0, c0 = r * stride, c * stride
            patch = xp[:, :, r0:r0 + HH, c0:c0 + WW].reshape(N, -1)
            g = dout[:, :, r, c]                     # (N, F)
            dw += (g.T @ patch).reshape(w.shape)
            dxp[:, :, r0:r0 + HH, c0:c0 + WW] += (g @ w_rows).reshape(N, C, HH, WW)
    dx = dxp[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db
