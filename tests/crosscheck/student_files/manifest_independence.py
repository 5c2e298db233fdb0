"""Manifest entries for the files of independence/ (same format as manifest.py's EXPECTED): CS231n
files whose forward has a bug and whose backward is right. Each function is checked on its own, so the
backward passes: its cache comes from crosscheck's reference forward when the forward keeps the
template's cache, and from the user's own forward (with a note on the row) when it does not."""

# the CS231n functions these files do not define (they hold the conv pair only)
_NOT_DEFINED = ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "batchnorm_forward",
                "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward", "layernorm_backward",
                "dropout_forward", "dropout_backward", "max_pool_forward_naive", "max_pool_backward_naive",
                "spatial_batchnorm_forward", "spatial_batchnorm_backward", "spatial_groupnorm_forward",
                "spatial_groupnorm_backward", "svm_loss", "softmax_loss")

EXPECTED: dict = {
    "independence/conv_forward_pad_once.py": {
        "convention": "cs231n",
        "notes": "conv_forward_naive computes the output size with the padding counted once, "
                 "H' = 1 + (H + pad - HH) // stride instead of 1 + (H + 2 pad - HH) // stride, so its output is "
                 "too small whenever pad >= 1 (right for pad == 0). conv_backward_naive is right and reads the "
                 "template's cache (x, w, b, conv_param): it must pass, whatever the forward computes.",
        "missing": list(_NOT_DEFINED),
        "functions": {
            "conv_forward_naive": {"verdict": "failed", "labels": ["output-shape"],
                                   "notes": "output too small by pad rows and columns when pad >= 1"},
            "conv_backward_naive": {"verdict": "passed", "labels": [],
                                    "notes": "its cache comes from crosscheck's reference conv_forward_naive"},
        },
    },
    "independence/conv_dict_cache_no_bias.py": {
        "convention": "cs231n",
        "notes": "conv_forward_naive forgets to add the bias b; it keeps a dict cache {x_pad, w, stride, pad} (not the "
                 "template's tuple), which conv_backward_naive reads. The backward is right: it passes, on the cache "
                 "of the user's own forward (the bias is not in it), and its row says where its cache came from.",
        "missing": list(_NOT_DEFINED),
        "functions": {
            "conv_forward_naive": {"verdict": "failed", "labels": [], "notes": "out lacks + b[f] (unexplained)"},
            "conv_backward_naive": {"verdict": "passed", "labels": [],
                                    "notes": "its cache comes from your conv_forward_naive (not the template's)"},
        },
    },
}
