import numpy as np

from .im2col import *


def conv_forward_fast(x, w, b, conv_param):
    """im2col + one big matrix multiply"""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param['stride'], conv_param['pad']
    out_h = (H + 2 * pad - HH) // stride + 1
    out_w = (W + 2 * pad - WW) // stride + 1

    x_cols = im2col_indices(x, HH, WW, padding=pad, stride=stride)
    res = w.reshape(F, -1).dot(x_cols) + b.reshape(-1, 1)      # (F, N*out_h*out_w)
    out = res.reshape(F, N, out_h, out_w).transpose(1, 0, 2, 3)
    cache = (x, w, b, conv_param, x_cols)
    return out, cache


def conv_backward_fast(dout, cache):
    x, w, b, conv_param, x_cols = cache
    F, _, HH, WW = w.shape
    stride, pad = conv_param['stride'], conv_param['pad']

    db = np.sum(dout, axis=(0, 2, 3))
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    dw = dout_mat.dot(x_cols.T).reshape(w.shape)
    dx_cols = w.reshape(F, -1).T.dot(dout_mat)
    dx = col2im_indices(dx_cols, x.shape, HH, WW, padding=pad, stride=stride)
    return dx, dw, db
