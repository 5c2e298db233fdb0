"""CS231n assignment 2 (my layers.py): conv forward/backward keeping the padded input in a dict cache."""
import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride', 'pad'} -> (out, cache)."""
    S, P = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H + 2 * P - HH) // S + 1
    W_out = (W + 2 * P - WW) // S + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * S:i * S + HH, j * S:j * S + WW]
                    out[n, f, i, j] = np.sum(window * w[f])
    cache = {"x_pad": x_pad, "w": w, "stride": S, "pad": P}
    return out, cache


def conv_backward_naive(dout, cache):
    """dout (N, F, H_out, W_out), the cache of conv_forward_naive -> (dx, dw, db)."""
    x_pad, w, S, P = cache["x_pad"], cache["w"], cache["stride"], cache["pad"]
    N, F, H_out, W_out = dout.shape
    _, _, HH, WW = w.shape
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * S:i * S + HH, j * S:j * S + WW]
                    dw[f] += window * dout[n, f, i, j]
                    dx_pad[n, :, i * S:i * S + HH, j * S:j * S + WW] += w[f] * dout[n, f, i, j]
    H, W = x_pad.shape[2] - 2 * P, x_pad.shape[3] - 2 * P
    return dx_pad[:, :, P:P + H, P:P + W], dw, db
