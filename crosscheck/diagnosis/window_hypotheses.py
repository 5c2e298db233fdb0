"""Hypotheses about a window op's backward that places its windows wrongly: the stride ignored in a
convolution's filter gradient (``stride-ignored-in-dW``) and a pooling gradient written at window
offset i instead of i * stride (``wrong-window-offset``). The input gradient of a convolution that
ignores its stride is :func:`crosscheck.diagnosis.hypotheses.undilated_dy` (``stride-ignored-in-dX``).

Each alternative is computed in float64 NumPy on the case's own arrays (NHWC inside)."""
from __future__ import annotations

import numpy as np

from .hypotheses import _falls, _matches
from .labels import entry


def _nhwc(a, fmt):
    return np.asarray(a, dtype=np.float64) if fmt != "NCHW" else np.asarray(a, dtype=np.float64).transpose(0, 2, 3, 1)


def _from_nhwc(a, fmt):
    return a if fmt != "NCHW" else a.transpose(0, 3, 1, 2)


def stride_ignored_dw(info, case, diff, actual, expected, tol) -> list[dict]:
    """A conv filter gradient whose patches start at (i, j) instead of (i * stride, j * stride):
    dW[a, b] = sum over n, i, j of x_pad[n, i + a * dilation, j + b * dilation] * dy[n, i, j]."""
    if case.op == "conv2d" and diff.tensor == "d_filters":
        x, dy = case.arrays["input"], case.dy
    elif case.op == "conv2d_backprop_filter" and diff.tensor == "y":
        x, dy = case.arrays["input"], case.arrays["out_backprop"]
    else:
        return []
    call = info.resolve(case)
    fmt = call.params.get("data_format", "NHWC")
    sh, sw = call.params["strides"][:2] if len(call.params["strides"]) == 2 else call.params["strides"][1:3]
    if (sh, sw) == (1, 1) or actual.ndim != 4:
        return []
    dh, dw = call.params.get("dilations", [1, 1])[:2] if len(call.params.get("dilations", [1, 1])) == 2 else \
        call.params["dilations"][1:3]
    (t, b), (l, r) = info.window(case).pads
    xp = np.pad(_nhwc(x, fmt), ((0, 0), (t, b), (l, r), (0, 0)))
    g = _nhwc(dy, fmt)
    kh, kw, c_in, _ = actual.shape
    if xp.shape[3] != c_in:   # grouped: not this hypothesis
        return []
    oh, ow = g.shape[1:3]
    alt = np.zeros(actual.shape)
    for a in range(kh):
        for bb in range(kw):
            patch = xp[:, a * dh:a * dh + oh, bb * dw:bb * dw + ow]
            if patch.shape[1:3] != (oh, ow):
                return []
            alt[a, bb] = np.einsum("nhwc,nhwf->cf", patch, g)
    ok, err = _matches(actual, alt, tol)
    if not ok:
        return []
    return [entry("stride-ignored-in-dW", f"equals the filter gradient with each input patch taken at (i, j) instead "
                                          f"of (i * {sh}, j * {sw}): the stride left out of the backward's window "
                                          f"position: " + _falls(diff, err))]


def wrong_window_offset(info, case, diff, actual, expected, tol) -> list[dict]:
    """A pooling input gradient whose window gradients are added at (i, j) instead of
    (i * stride, j * stride) (each window's own routing right: the first maximum, every tied
    maximum, or the average)."""
    if case.op not in ("max_pool2d", "avg_pool2d") or diff.tensor != "d_input" or actual.ndim != 4:
        return []
    win = info.window(case)
    sh, sw = win.strides
    if (sh, sw) == (1, 1):
        return []
    fmt = case.params.get("data_format", "NHWC")
    rules = ("first", "all") if case.op == "max_pool2d" else ("average",)
    for rule in rules:
        alt = _from_nhwc(_offset_pool_gradient(_nhwc(case.arrays["input"], fmt), _nhwc(case.dy, fmt), win, rule), fmt)
        ok, err = _matches(actual, alt, tol)
        if ok:
            return [entry("wrong-window-offset", f"equals the pooling gradient with each window's gradient added at "
                                                 f"(i, j) instead of (i * {sh}, j * {sw}): " + _falls(diff, err))]
    return []


def _offset_pool_gradient(x, dy, win, rule: str) -> np.ndarray:
    """The input gradient (NHWC) of pooling x with every window's gradient placed at offset (i, j)."""
    n, h, w, c = x.shape
    kh, kw = win.window
    sh, sw = win.strides
    (t, _), (l, _) = win.pads
    out = np.zeros_like(x)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            r0, c0 = i * sh - t, j * sw - l
            rows = [r for r in range(r0, r0 + kh) if 0 <= r < h]
            cols = [q for q in range(c0, c0 + kw) if 0 <= q < w]
            if not rows or not cols:
                continue
            patch = x[:, rows][:, :, cols].reshape(n, -1, c)
            if rule == "average":
                local = np.broadcast_to(dy[:, i, j][:, None] / patch.shape[1], patch.shape)
            elif rule == "first":
                local = np.zeros_like(patch)
                np.put_along_axis(local, patch.argmax(axis=1)[:, None], 1.0, axis=1)
                local = local * dy[:, i, j][:, None]
            else:
                local = (patch == patch.max(axis=1, keepdims=True)) * dy[:, i, j][:, None]
            local = local.reshape(n, len(rows), len(cols), c)
            for a, r in enumerate(rows):
                for b, q in enumerate(cols):
                    rr, qq = r - r0 + i - t, q - c0 + j - l
                    if 0 <= rr < h and 0 <= qq < w:
                        out[:, rr, qq] += local[:, a, b]
    return out


WINDOW_HYPOTHESES = [stride_ignored_dw, wrong_window_offset]
