"""The bug gallery as code: each bug is one small textual change to the correct implementation in
cs231n_reference.py, with the function it breaks and the diagnosis labels crosscheck must give.
docs/bug-gallery.md shows each one's report (regenerate: python tests/crosscheck/cs231n_gallery.py)."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

REFERENCE = Path(__file__).with_name("cs231n_reference.py")


@dataclass(frozen=True)
class Bug:
    key: str
    title: str
    function: str          # the row that must fail
    old: str               # text in cs231n_reference.py ...
    new: str               # ... replaced by this
    labels: tuple = ()     # likely causes the row must list
    verdict: str = "failed"
    notes: tuple = ()      # text the row's notes must contain (a convention it follows)


BUGS = [
    Bug("conv-dx-unflipped", "conv backward: dx accumulated with the kernel rotated by 180°",
        "conv_backward_naive",
        "dxp[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))",
        "dxp[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w[:, :, ::-1, ::-1], axes=([1], [0]))",
        ("flipped-kernel",)),
    Bug("conv-forward-convolution", "conv forward computes a true convolution (kernel flipped) instead of TF's "
        "cross-correlation", "conv_forward_naive",
        "out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b",
        "out[:, :, i, j] = np.tensordot(patch, w[:, :, ::-1, ::-1], axes=([1, 2, 3], [1, 2, 3])) + b",
        ("flipped-kernel",)),
    Bug("conv-dx-undilated", "strided conv backward: dout scattered without the stride (dout not dilated)",
        "conv_backward_naive",
        "dxp[:, :, rows, cols] +=", "dxp[:, :, i:i + HH, j:j + WW] +=", ("stride-ignored-in-dX",)),
    Bug("conv-dx-unpad-offset", "conv backward: padding cropped from dx at the wrong offset",
        "conv_backward_naive",
        "dx = dxp[:, :, pad:pad + H, pad:pad + W]", "dx = dxp[:, :, :H, :W]", ("spatial-shift",)),
    Bug("conv-db-axes", "conv backward: bias gradient summed over the wrong axes", "conv_backward_naive",
        "db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(1, 2, 3))", ("shape-mismatch",)),
    Bug("maxpool-all-ties", "max-pool backward: the gradient goes to every tied maximum",
        "max_pool_backward_naive",
        """            first = window.argmax(axis=2)
            r, c = np.unravel_index(first, (ph, pw))
            dx[n_idx, c_idx, i * s + r, j * s + c] += dout[:, :, i, j]""",
        """            hit = window == window.max(axis=2, keepdims=True)
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += (hit * dout[:, :, i, j, None]).reshape(N, C, ph, pw)""",
        (), "passed-with-note", ("full gradient to every tied maximum",)),
    Bug("maxpool-hw-swapped", "max-pool backward: window row/column unravelled with height and width swapped "
        "(wrong only for non-square windows)", "max_pool_backward_naive",
        "r, c = np.unravel_index(first, (ph, pw))", "c, r = np.unravel_index(first, (pw, ph))", ()),
    Bug("softmax-no-1/N", "softmax loss: gradient not divided by the batch size", "softmax_loss",
        "    dx /= N\n", "", ("scale-factor",)),
    Bug("softmax-no-max", "softmax loss: exp of the raw scores (the max not subtracted) overflows",
        "softmax_loss", "shifted = x - x.max(axis=1, keepdims=True)", "shifted = x", ("numerically-unstable",)),
    Bug("svm-sign", "SVM loss: gradient with the wrong sign", "svm_loss",
        "dx = positive / N", "dx = -positive / N", ("sign-flip",)),
    Bug("batchnorm-no-mean-term", "batch-norm backward: the gradient through the mean is dropped",
        "batchnorm_backward", "dx = dxhat * inv_std + dvar * 2 * xhat / (N * inv_std) + dmu / N",
        "dx = dxhat * inv_std + dvar * 2 * xhat / (N * inv_std)", ()),
    Bug("spatial-bn-reshape", "spatial batch norm: x.reshape(-1, C) without moving channels last",
        "spatial_batchnorm_forward",
        """    flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache""",
        """    flat = x.reshape(-1, C)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return out.reshape(N, C, H, W), cache""", ("layout-mixup",)),
    Bug("groupnorm-wrong-axis", "group norm: groups formed along the wrong channel axis (G groups of "
        "interleaved channels)", "spatial_groupnorm_forward",
        """    grouped = x.reshape(N, G, C // G, H, W)
    mu = grouped.mean(axis=(2, 3, 4), keepdims=True)
    var = grouped.var(axis=(2, 3, 4), keepdims=True)""",
        """    grouped = x.reshape(N, C // G, G, H, W)
    mu = grouped.mean(axis=(1, 3, 4), keepdims=True)
    var = grouped.var(axis=(1, 3, 4), keepdims=True)""", ()),
    Bug("relu-output", "ReLU backward multiplies by the output instead of the 0/1 input mask", "relu_backward",
        "return dout * (x > 0)", "return dout * np.maximum(x, 0)", ()),
    Bug("affine-dx-unshaped", "affine backward: dx left flat instead of reshaped to x's shape", "affine_backward",
        "dx = (dout @ w.T).reshape(x.shape)", "dx = dout @ w.T", ("shape-mismatch",)),
    Bug("dropout-drop-prob", "dropout: p used as the drop probability (the convention keeps with probability p)",
        "dropout_forward", "mask = (np.random.rand(*x.shape) < p) / p", "mask = (np.random.rand(*x.shape) >= p) / p",
        ("scale-factor",)),
]


def source(bug: Bug) -> str:
    text = REFERENCE.read_text()
    assert text.count(bug.old) == 1, f"{bug.key}: the text to replace must occur once in {REFERENCE.name}"
    return text.replace(bug.old, bug.new)


def write_bug(bug: Bug, directory: str | Path | None = None) -> Path:
    """The buggy implementation as a .py file (for `crosscheck check`)."""
    directory = Path(directory or tempfile.mkdtemp(prefix="cs231n_bug_"))
    path = directory / f"layers_{bug.key.replace('-', '_').replace('/', '')}.py"
    path.write_text(source(bug))
    return path
