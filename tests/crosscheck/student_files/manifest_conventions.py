"""Manifest entries for the conventions files of this corpus (same format as manifest.py's EXPECTED):
layer classes that average their gradients over the batch (a convention, a note), and the bugs of
window placement and axes that diagnosis names (kernel-hw-swapped, stride-ignored-in-dW)."""

_BATCH_MEAN = "gradients averaged over the batch"
_LOSS_SUM = "loss summed over the batch"
_CS231N = ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "batchnorm_forward",
           "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward", "layernorm_backward",
           "dropout_forward", "dropout_backward", "conv_forward_naive", "conv_backward_naive",
           "max_pool_forward_naive", "max_pool_backward_naive", "spatial_batchnorm_forward",
           "spatial_batchnorm_backward", "spatial_groupnorm_forward", "spatial_groupnorm_backward")

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
    "conventions/loss_sum.py": {
        "convention": "cs231n",
        "notes": "softmax_loss and svm_loss written with loops, returning the SUM of the per-example losses and "
                 "its gradient (no division by N): consistent, the gradient of the loss returned. The reference "
                 "(the assignment's) averages.",
        "missing": list(_CS231N),
        "functions": {
            "softmax_loss": {"verdict": "passed-with-note", "labels": [], "notes": _LOSS_SUM},
            "svm_loss": {"verdict": "passed-with-note", "labels": [], "notes": _LOSS_SUM},
        },
    },
    "conventions/loss_sum_bug.py": {
        "convention": "cs231n",
        "notes": "loss_sum.py except softmax_loss divides dx by N (left from a mean version) while its loss is "
                 "still the sum: the gradient is not the loss's gradient.",
        "based_on": "conventions/loss_sum.py",
        "missing": list(_CS231N),
        "functions": {
            "softmax_loss": {"verdict": "failed", "labels": ["scale-factor"],
                             "notes": "loss N times the reference's, dx right (N == 1 hides it)"},
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
