"""conv2d and its backward pass, as TensorFlow's ``tf.nn.conv2d`` defines them, for the configurations
this library supports: NHWC input ``(N, H, W, C)``, HWIO filters ``(kh, kw, C, F)``, strides 1 or 2,
padding "SAME" or "VALID", no dilation, float32. Anything else raises NotImplementedError."""
import numpy as np


def _check(input, filters, strides, padding, dilations, data_format):
    sh, sw = (strides, strides) if np.ndim(strides) == 0 else tuple(strides)
    if data_format != "NHWC" or padding not in ("SAME", "VALID") or sh not in (1, 2) or sw not in (1, 2):
        raise NotImplementedError(f"tinyconv supports NHWC, SAME/VALID, strides 1-2 (got {data_format}, {padding}, {strides})")
    if np.any(np.asarray(dilations) != 1) or input.dtype != np.float32 or filters.shape[2] != input.shape[3]:
        raise NotImplementedError("tinyconv supports float32, no dilation and no groups")
    return sh, sw


def _pads(size, k, s, padding):
    """(before, after, out) along one axis."""
    if padding == "VALID":
        return 0, 0, (size - k) // s + 1
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total - total // 2, total // 2, out


def _geometry(input, filters, strides, padding, dilations, data_format):
    sh, sw = _check(input, filters, strides, padding, dilations, data_format)
    kh, kw = filters.shape[:2]
    top, bottom, oh = _pads(input.shape[1], kh, sh, padding)
    left, right, ow = _pads(input.shape[2], kw, sw, padding)
    return sh, sw, kh, kw, (top, bottom), (left, right), oh, ow


def conv2d(input, filters, strides=1, padding="VALID", dilations=1, data_format="NHWC"):
    """(N, H, W, C) conv (kh, kw, C, F) -> (N, OH, OW, F)."""
    sh, sw, kh, kw, ph, pw, oh, ow = _geometry(input, filters, strides, padding, dilations, data_format)
    x = np.pad(input, ((0, 0), ph, pw, (0, 0)))
    y = np.zeros((input.shape[0], oh, ow, filters.shape[3]), dtype=input.dtype)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
            y += np.einsum("nhwc,cf->nhwf", patch, filters[i, j])
    return y


def conv2d_backward(dy, input, filters, strides=1, padding="VALID", dilations=1, data_format="NHWC"):
    """Gradients (d_input, d_filters) of conv2d for the upstream gradient ``dy`` (N, OH, OW, F)."""
    sh, sw, kh, kw, ph, pw, oh, ow = _geometry(input, filters, strides, padding, dilations, data_format)
    x = np.pad(input, ((0, 0), ph, pw, (0, 0)))
    dx = np.zeros_like(x)
    dw = np.zeros_like(filters)
    for i in range(kh):
        for j in range(kw):
            rows, cols = slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw)
            dw[i, j] = np.einsum("nhwc,nhwf->cf", x[:, rows, cols, :], dy)
            dx[:, rows, cols, :] += np.einsum("nhwf,cf->nhwc", dy, filters[i, j])
    return dx[:, ph[0]:ph[0] + input.shape[1], pw[0]:pw[0] + input.shape[2], :], dw
