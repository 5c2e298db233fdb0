"""Manifest entries for the conventions files of this corpus (same format as manifest.py's EXPECTED):
layer classes that average their gradients over the batch (a convention, a note), and the bugs of
window placement and axes that diagnosis names (kernel-hw-swapped, stride-ignored-in-dW)."""

_BATCH_MEAN = "gradients averaged over the batch"

EXPECTED: dict = {
    "conventions/mean_grads.py": {
        "convention": "layers",
        "notes": "NCHW Conv2d(in_channels, out_channels, kernel_size, stride, padding) with W (F, C, k, k), b (F,), "
                 "and Linear(in_features, out_features) with W (in, out); backward(dout) -> dx, dW and db divided "
                 "by the batch size m (dx is not). Correct under the batch-mean convention.",
        "functions": {
            "Conv2d": {"verdict": "passed-with-note", "labels": [], "notes": _BATCH_MEAN},
            "Linear": {"verdict": "passed-with-note", "labels": [], "notes": _BATCH_MEAN},
        },
    },
    "conventions/mean_grads_bug.py": {
        "convention": "layers",
        "notes": "mean_grads.py with one bug per class: Conv2d's dx uses the kernel rotated by 180 degrees "
                 "(dW, db still averaged, rightly); Linear averages dW but sums db, so the two parameter "
                 "gradients are scaled differently (no loss has this gradient).",
        "based_on": "conventions/mean_grads.py",
        "functions": {
            "Conv2d": {"verdict": "failed", "labels": ["flipped-kernel"],
                       "notes": "dx flipped; the batch mean of dW and db is still a note: " + _BATCH_MEAN},
            "Linear": {"verdict": "failed", "labels": ["scale-factor"],
                       "notes": "dW = x.T @ dout / m, db = dout.sum(axis=0): 1/N on dW only"},
        },
    },
    "conventions/conv_taps_swapped.py": {
        "convention": "layers",
        "notes": "NCHW ConvLayer computed tap by tap (one einsum per kernel offset (a, b)); backward writes "
                 "self.dW[:, :, b, a]: the filter gradient's kernel rows and columns swapped (square kernels). "
                 "dx and db right.",
        "functions": {"ConvLayer": {"verdict": "failed", "labels": ["kernel-hw-swapped"]}},
    },
    "conventions/conv_dw_stride.py": {
        "convention": "layers",
        "notes": "NHWC Conv2D(in_ch, out_ch, kernel_size, stride, pad), parameters/gradients dicts with W "
                 "(fr, fc, in_ch, out_ch); backward takes the dW patch at Xp[:, r:r + fr, c:c + fc] instead of "
                 "[r * s:r * s + fr, c * s:c * s + fc]: right at stride 1 only. dX and db right.",
        "functions": {"Conv2D": {"verdict": "failed", "labels": ["stride-ignored-in-dW"]}},
    },
}
