"""
tinyconv/ops.py -- a small NumPy library of TensorFlow-compatible conv ops (NHWC).

conv2d_backprop_filter follows tf.compat.v1.nn.conv2d_backprop_filter: the
gradient of conv2d with respect to its filters, shaped filter_sizes.
"""
import numpy as np


def _pads(size, k, s, padding):
    if padding == "VALID":
        return 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def conv2d_backprop_filter(input, filter_sizes, out_backprop, strides=1, padding="VALID", dilations=1,
                           data_format="NHWC"):
    if data_format != "NHWC":
        raise ValueError(f"data_format: only 'NHWC' is supported, got {data_format!r}")
    kh, kw, c_in, c_out = filter_sizes
    sh, sw = (strides, strides) if np.isscalar(strides) else tuple(strides)[-3:-1] if len(strides) == 4 else strides
    top, bottom = _pads(input.shape[1], kh, sh, padding)
    left, right = _pads(input.shape[2], kw, sw, padding)
    x = np.pad(input, ((0, 0), (top, bottom), (left, right), (0, 0)))
    _, out_h, out_w, _ = out_backprop.shape
    dw = np.zeros((kh, kw, c_in, c_out), dtype=input.dtype)
    for a in range(kh):
        for b in range(kw):
            patch = x[:, a:a + out_h, b:b + out_w, :]
            dw[a, b] = np.einsum("nhwc,nhwf->cf", patch, out_backprop)
    return dw
