"""What a correct checker should conclude about each file in this corpus.

EXPECTED maps a path (relative to this folder) to
    {"convention": "cs231n" | "layers" | "deeplearning-ai",
     "notes": str,
     "functions": {name: {"verdict": ..., "labels": [...], "notes": str (optional)}},
     ... optional per-file keys, see below}

For layer-class files the keys of "functions" are class names.
Any function (or class) that the file defines but that is not listed is expected to get
"passed". A function absent from the file is named in "missing" (cs231n files) and should
not be reported at all.

Optional per-file keys:
    "dropout_p": "drop" | "keep"     meaning of dropout_param['p'] in this file
    "groupnorm_gamma": "(C,)" | "(1, C, 1, 1)"   shape of gamma/beta (and dgamma/dbeta)
                                       expected by spatial_groupnorm_*
    "based_on": the correct file this one was derived from (it differs only by the bug)
    "missing": functions of the convention's standard set that the file does not define
    "import": how the file has to be / can be loaded, when that is not "load it by path"
    "declared_by": a file whose crosscheck.Layer declarations (LAYERS) check this one's classes

Per-function optional key:
    "also_acceptable": other verdicts that are defensible for that function.
"""

VERDICTS = {
    "passed": "matches the reference on every generated case",
    "passed-with-note": "correct, but follows a documented convention that differs from TensorFlow's "
                        "(a max-pool tie rule, dropout p meaning drop probability, no input gradient ...)",
    "failed": "runs, but gives wrong values or wrong shapes, raises on valid inputs, or modifies its inputs",
    "not-implemented": "still the starter stub: returns None in place of the result",
    "cannot-check": "crosscheck cannot call the code as written (and says what to declare): not a bug",
    "error": "cannot be checked at all because loading the file fails (SyntaxError, hang at import, ...)",
}

# The bugs of this corpus by name. "labels" in EXPECTED are crosscheck's diagnosis labels
# (docs/diagnosis.md); a bug that crosscheck has no label for is expected as "unexplained" (it must
# still fail). The first group has labels of its own; the second names the others.
LABELS = {
    "crop-empty-at-zero-pad": "dx cropped from the padded gradient with [pad:-pad], empty when pad == 0",
    "pool-overwrites-overlap": "max-pool backward writes dx with = instead of +=, wrong where windows overlap",
    "hw-swapped": "output height computed from the input width and vice versa (wrong for non-square inputs)",
    "bn-test-without-affine": "batchnorm test mode returns the normalised x without gamma and beta",
    "bn-test-batch-statistics": "batchnorm test mode uses the batch's own mean/var instead of the running ones",
    "eps-outside-sqrt": "divides by sqrt(var) + eps instead of sqrt(var + eps)",
    "wrong-statistics-axes": "normalisation statistics taken over the wrong axes",
    "numerically-unstable": "softmax exp() without subtracting the row max: overflows for large scores",
    "log-underflow": "log taken of an already underflowed probability: -inf for large score gaps",
    "modifies-input": "writes into one of its input arrays",
    "wrong-window-offset": "gradient written at window offset i instead of i * stride",
    "stride-ignored-in-dX": "input gradient accumulated at window start r instead of r * stride",
    "stride-ignored-in-dW": "filter gradient's input patch taken at r instead of r * stride",
    "kernel-hw-swapped": "filter gradient written with kernel rows and columns swapped (dW[:, :, b, a])",
    "transposed": "a dense layer's weight gradient computed as dvalues.T @ inputs (the transpose)",
    "softmax-jacobian-diagonal-only": "softmax backward uses p * (1 - p) * g, dropping the off-diagonal terms",

    "flipped-kernel": "input gradient uses the 180-degree-rotated kernel (the forward is a correlation)",
    "upstream-gradient-dropped": "backward routes the mask but never multiplies it by the upstream gradient",
    "scale-factor": "a parameter gradient divided by the batch size, or a bias gradient averaged over the batch "
                    "instead of summed",
    "relu-mask-from-upstream": "relu backward masks with dout > 0 instead of x > 0",
    "dW-transposed": "dW computed as the transposed product and reshaped, scrambling filters",
    "dout-flatten-order": "upstream gradient flattened in a different order than the im2col columns",
    "shape-mismatch": "bias gradient summed over the wrong axis (wrong shape)",
    "sign-flip": "in-place update adds lr * grad (gradient ascent)",
    "average-not-divided": "average-pool backward does not divide the gradient by the window size",
    "accumulator-overwritten": "bias gradient overwritten in the loop instead of summed over all positions",
    "all-zero-gradient": "returns zero arrays of the right shapes (stub that was never filled in)",
}

TIE_NOTES = ("first maximum", "split equally", "full gradient to every tied maximum")

CS231N_FUNCTIONS = (
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "layernorm_forward", "layernorm_backward", "dropout_forward", "dropout_backward",
    "conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward", "svm_loss", "softmax_loss",
)

_NO_GROUPNORM = ["spatial_groupnorm_forward", "spatial_groupnorm_backward"]
_DROP_P_NOTE = ("dropout_param['p'] is the DROP probability (2017 assignment): mask = rand >= p, "
                "scaled by 1 / (1 - p); correct under that convention")
_POOL_FIRST = {"verdict": "passed", "labels": [], "notes": "first maximum"}
_DROPOUT_2017 = {
    "dropout_forward": {"verdict": "passed-with-note", "labels": [], "notes": _DROP_P_NOTE,
                        "also_acceptable": ["passed"]},
    "dropout_backward": {"verdict": "passed-with-note", "labels": [], "notes": _DROP_P_NOTE,
                         "also_acceptable": ["passed"]},
}


def _cs(notes, functions, year, based_on=None, **extra):
    entry = {"convention": "cs231n", "notes": notes, "functions": functions,
             "dropout_p": "drop" if year == 2017 else "keep"}
    if year == 2017:
        entry["missing"] = list(_NO_GROUPNORM)
        functions.update({k: v for k, v in _DROPOUT_2017.items() if k not in functions})
    else:
        entry["groupnorm_gamma"] = "(1, C, 1, 1)" if year == 2019 else "(C,)"
    if based_on:
        entry["based_on"] = based_on
    entry.update(extra)
    return entry


EXPECTED = {
    # ------------------------------------------------------------------ cs231n, correct
    "cs231n/correct_2017.py": _cs(
        "All correct. Explicit loops, np.pad, tuple caches, staged (graph) batchnorm backward. "
        "2017 conventions: dropout p is the drop probability; no groupnorm functions.",
        {"max_pool_backward_naive": dict(_POOL_FIRST)}, 2017),
    "cs231n/correct_2019.py": _cs(
        "All correct. Loops over n, f/c, i, j with manual zero padding, tuple caches. "
        "Dropout p is the keep probability; groupnorm gamma/beta (1, C, 1, 1). "
        "Batchnorm/spatial batchnorm backward only defined for train-mode caches (test mode caches None).",
        {"max_pool_backward_naive": dict(_POOL_FIRST)}, 2019),
    "cs231n/correct_2022.py": _cs(
        "All correct. Vectorised (tensordot over N/F/C, loops only over output positions), np.pad, dict caches. "
        "Dropout p is the keep probability; groupnorm gamma/beta (C,) (reshaped to (1, C, 1, 1) internally, "
        "so (1, C, 1, 1) inputs also work); dgamma/dbeta returned as (C,).",
        {"max_pool_backward_naive": dict(_POOL_FIRST)}, 2022),

    # ------------------------------------------------------------------ cs231n, tie rules
    "cs231n/ties_full.py": _cs(
        "correct_2019 except max_pool_backward_naive uses mask = (window == np.max(window)) and += over windows: "
        "every tied maximum receives the full upstream gradient. Identical to TF when there are no ties.",
        {"max_pool_backward_naive": {"verdict": "passed-with-note", "labels": [],
                                     "notes": "full gradient to every tied maximum"}},
        2019, based_on="cs231n/correct_2019.py"),
    "cs231n/ties_split.py": _cs(
        "correct_2019 except max_pool_backward_naive splits each window's gradient equally among its tied maxima.",
        {"max_pool_backward_naive": {"verdict": "passed-with-note", "labels": [], "notes": "split equally"}},
        2019, based_on="cs231n/correct_2019.py"),
    "cs231n/ties_full_overwrite.py": _cs(
        "Tie rule of ties_full AND dx[window] = mask * dout (assignment, not +=): every window overwrites the whole "
        "dx window, so with stride < pool size earlier contributions (including non-zero ones) are lost. "
        "Correct (up to the tie rule) when stride >= pool size.",
        {"max_pool_backward_naive": {"verdict": "failed", "labels": ["pool-overwrites-overlap"],
                                     "notes": "full gradient to every tied maximum"}},
        2019, based_on="cs231n/correct_2019.py"),

    # ------------------------------------------------------------------ cs231n, bugs
    "cs231n/bug_crop_pad0.py": _cs(
        "correct_2017 except conv_backward_naive returns dx_pad[:, :, pad:-pad, pad:-pad].",
        {"conv_backward_naive": {"verdict": "failed", "labels": ["crop-empty-at-zero-pad"],
                                 "notes": "right for pad >= 1; with pad == 0 dx has shape (N, C, 0, 0) "
                                          "(dw and db still right)"},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2017, based_on="cs231n/correct_2017.py"),
    "cs231n/bug_pool_overwrite.py": _cs(
        "correct_2017 except max_pool_backward_naive writes dx[argmax position] = dout (not +=). "
        "Wrong only where overlapping windows (stride < pool size) share a maximum.",
        {"max_pool_backward_naive": {"verdict": "failed", "labels": ["pool-overwrites-overlap"],
                                     "notes": "first maximum"}},
        2017, based_on="cs231n/correct_2017.py"),
    "cs231n/bug_hw_swapped.py": _cs(
        "correct_2019 except conv_forward_naive and conv_backward_naive compute H_new from W and W_new from H. "
        "Square inputs are right. For non-square inputs the loops run past the input and the "
        "window * w[f] product raises ValueError (broadcast of a truncated window) for almost every "
        "shape; the output would otherwise have shape (N, F, W_out, H_out).",
        {"conv_forward_naive": {"verdict": "failed", "labels": ["hw-swapped"],
                                "notes": "raises ValueError on non-square inputs"},
         "conv_backward_naive": {"verdict": "failed", "labels": [],
                                 "notes": "same swapped sizes: checked on its own (its cache from the reference "
                                          "forward), its loops run over (W_out, H_out) and raise IndexError on "
                                          "dout for non-square outputs (a raise names no mistake: failing only "
                                          "where H != W is no evidence, small squares pass for other bugs too)"},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2019, based_on="cs231n/correct_2019.py"),
    "cs231n/bug_bn_test_no_affine.py": _cs(
        "correct_2022 except batchnorm_forward in test mode returns x_hat (no gamma, beta). "
        "spatial_batchnorm_forward calls batchnorm_forward and inherits the bug in test mode. Train mode is right.",
        {"batchnorm_forward": {"verdict": "failed", "labels": ["bn-test-without-affine"]},
         "spatial_batchnorm_forward": {"verdict": "failed", "labels": ["bn-test-without-affine"],
                                       "notes": "inherited from batchnorm_forward (test mode only)"},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2022, based_on="cs231n/correct_2022.py"),
    "cs231n/bug_bn_test_batch_stats.py": _cs(
        "correct_2017 except batchnorm_forward in test mode normalises with the batch's own mean and variance "
        "(running_mean/running_var are ignored, and left unchanged). spatial_batchnorm_forward inherits it.",
        {"batchnorm_forward": {"verdict": "failed", "labels": ["bn-test-batch-statistics"]},
         "spatial_batchnorm_forward": {"verdict": "failed", "labels": ["bn-test-batch-statistics"],
                                       "notes": "inherited from batchnorm_forward (test mode only)"},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2017, based_on="cs231n/correct_2017.py"),
    "cs231n/bug_eps_outside_sqrt.py": _cs(
        "correct_2017 except batchnorm_forward divides by (sqrt(var) + eps) in train and test mode; "
        "batchnorm_backward and batchnorm_backward_alt are the exact gradients of that forward (consistent), "
        "so they differ from TF too. spatial_batchnorm_* call these and inherit it. The relative error is "
        "about eps / (2 sqrt(var)): ~5e-6 for var ~ 1, tens of percent when var is comparable to eps; "
        "needs small-variance cases (or tight float64 tolerances) to show. var == 0 gives division by zero "
        "in the backward pass.",
        {"batchnorm_forward": {"verdict": "failed", "labels": ["eps-outside-sqrt"]},
         "batchnorm_backward": {"verdict": "failed", "labels": ["eps-outside-sqrt"]},
         "batchnorm_backward_alt": {"verdict": "failed", "labels": ["eps-outside-sqrt"]},
         "spatial_batchnorm_forward": {"verdict": "failed", "labels": ["eps-outside-sqrt"],
                                       "notes": "inherited from batchnorm_forward"},
         "spatial_batchnorm_backward": {"verdict": "failed", "labels": ["eps-outside-sqrt"],
                                        "notes": "inherited from batchnorm_backward_alt"},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2017, based_on="cs231n/correct_2017.py"),
    "cs231n/bug_groupnorm_per_pixel.py": _cs(
        "correct_2019 except spatial_groupnorm_forward takes each group's mean/var per pixel (over the group's "
        "C // G channels only, axis 2 of (N, G, C//G, H, W)), with a backward consistent with that forward. "
        "Equal to the correct result when H = W = 1.",
        {"spatial_groupnorm_forward": {"verdict": "failed", "labels": ["wrong-statistics-axes"]},
         "spatial_groupnorm_backward": {"verdict": "failed", "labels": ["wrong-statistics-axes"]},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2019, based_on="cs231n/correct_2019.py"),
    "cs231n/bug_spatial_bn_axes.py": _cs(
        "correct_2022 except spatial_batchnorm_forward flattens x to (N, C*H*W) and calls batchnorm_forward with "
        "gamma/beta repeated H*W times, so every (c, h, w) is normalised over N only; the backward is consistent "
        "(dgamma/dbeta summed back to (C,)). Equal to the correct result when H * W == 1. Its running statistics "
        "have C*H*W entries: if bn_param already holds (C,)-shaped running_mean/running_var it raises ValueError "
        "(broadcast) in train and test mode, unless C == 1 or H * W == 1.",
        {"spatial_batchnorm_forward": {"verdict": "failed", "labels": ["wrong-statistics-axes"]},
         "spatial_batchnorm_backward": {"verdict": "failed", "labels": ["wrong-statistics-axes"]},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2022, based_on="cs231n/correct_2022.py"),
    "cs231n/bug_softmax_no_max.py": _cs(
        "correct_2019 except softmax_loss uses exp(x) without subtracting the row max. Exact for moderate scores; "
        "a score above ~709 overflows: loss inf, dx nan.",
        {"softmax_loss": {"verdict": "failed", "labels": ["numerically-unstable"]},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2019, based_on="cs231n/correct_2019.py"),
    "cs231n/bug_log_underflow.py": _cs(
        "correct_2022 except softmax_loss computes probs = exp(shifted) / sum and loss = -mean(log(probs[range(N), y])). "
        "It does shift by the max, so dx is always right, but when the correct class trails the max by more than "
        "~745 its probability underflows to 0 and the loss is inf.",
        {"softmax_loss": {"verdict": "failed", "labels": ["log-underflow"],
                          "notes": "dx correct, loss inf for large score gaps"},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2022, based_on="cs231n/correct_2022.py"),
    "cs231n/bug_inplace_dout.py": _cs(
        "correct_2017 except relu_backward does dout[x <= 0] = 0; return dout. Values are right; the caller's "
        "dout is modified.",
        {"relu_backward": {"verdict": "failed", "labels": ["modifies-input"], "notes": "values correct"},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2017, based_on="cs231n/correct_2017.py"),
    "cs231n/bug_inplace_x.py": _cs(
        "correct_2019 except relu_forward clamps x in place (x[x < 0] = 0; out = x, cache = x). Values are "
        "right; the caller's x is modified. relu_backward is unaffected (the clamped x gives the same mask).",
        {"relu_forward": {"verdict": "failed", "labels": ["modifies-input"], "notes": "values correct"},
         "max_pool_backward_naive": dict(_POOL_FIRST)},
        2019, based_on="cs231n/correct_2019.py"),

    # ------------------------------------------------------------------ cs231n, stubs and broken files
    "cs231n/stubs.py": _cs(
        "Starter-code state (2019 conventions): conv_forward_naive returns (None, cache), conv_backward_naive "
        "returns (None, None, None), max_pool_backward_naive returns None (TODO regions hold only `pass`); "
        "affine_backward returns zeros of the right shapes; everything else is the correct_2019 code.",
        {"conv_forward_naive": {"verdict": "not-implemented", "labels": []},
         "conv_backward_naive": {"verdict": "not-implemented", "labels": []},
         "max_pool_backward_naive": {"verdict": "not-implemented", "labels": []},
         "affine_backward": {"verdict": "not-implemented", "labels": [],
                             "notes": "dx, dw, db are np.zeros_like(x/w/b); the TODO region is just `pass`"}},
        2019, based_on="cs231n/correct_2019.py"),
    "cs231n/py2_style.py": {
        "convention": "cs231n",
        "notes": "Python 2 file (print statements, xrange): importing it under Python 3 raises SyntaxError "
                 "(line 20, print statement). Defines only relu_forward.",
        "import": "syntax-error",
        "missing": [f for f in CS231N_FUNCTIONS if f != "relu_forward"],
        "functions": {"relu_forward": {"verdict": "error", "labels": [],
                                       "notes": "SyntaxError at import under Python 3"}},
    },
    "cs231n/hang_at_import.py": {
        "convention": "cs231n",
        "notes": "relu_forward and relu_backward are correct, but the module runs `while True: pass` at module "
                 "level after defining them, so importing it never returns: the loader needs a timeout "
                 "(e.g. import in a subprocess).",
        "import": "hangs",
        "missing": [f for f in CS231N_FUNCTIONS if f not in ("relu_forward", "relu_backward")],
        "functions": {"relu_forward": {"verdict": "error", "labels": [], "notes": "import never finishes"},
                      "relu_backward": {"verdict": "error", "labels": [], "notes": "import never finishes"}},
    },
    "cs231n_pkg/cs231n/layers.py": _cs(
        "Package case. cs231n_pkg/cs231n/ holds __init__.py (empty), im2col.py (im2col_indices / col2im_indices), "
        "fast_layers.py (conv_forward_fast / conv_backward_fast via `from .im2col import *`) and layers.py, "
        "which starts with `from cs231n.im2col import *` and `from .fast_layers import conv_forward_fast` and is "
        "otherwise correct_2019. Loading layers.py by path alone fails (ModuleNotFoundError: cs231n, or a "
        "relative-import error); it must be imported as cs231n.layers with cs231n_pkg on sys.path. "
        "conv_forward_fast is visible in the module (imported), conv_backward_fast is not.",
        {"max_pool_backward_naive": dict(_POOL_FIRST),
         "conv_forward_fast": {"verdict": "passed", "labels": [],
                               "notes": "imported from fast_layers; forward only in this module"}},
        2019, based_on="cs231n/correct_2019.py",
        **{"import": "package: sys.path += [<this folder>/cs231n_pkg]; import cs231n.layers"}),
    "cs231n_pkg/cs231n/__init__.py": {
        "convention": "cs231n",
        "notes": "Empty package marker for cs231n_pkg/cs231n. Nothing to check.",
        "import": "package: sys.path += [<this folder>/cs231n_pkg]; import cs231n",
        "missing": list(CS231N_FUNCTIONS),
        "functions": {},
    },
    "cs231n_pkg/cs231n/im2col.py": {
        "convention": "cs231n",
        "notes": "Helpers im2col_indices(x, field_height, field_width, padding=1, stride=1) -> "
                 "(C*fh*fw, N*out_h*out_w) and its adjoint col2im_indices(cols, x_shape, ...). No convention "
                 "functions; importable on its own (numpy only).",
        "missing": list(CS231N_FUNCTIONS),
        "functions": {},
    },
    "cs231n_pkg/cs231n/fast_layers.py": {
        "convention": "cs231n",
        "notes": "im2col based conv_forward_fast / conv_backward_fast (correct, same contract as the naive "
                 "versions). Relative import of .im2col: load as cs231n.fast_layers. Defines nothing else.",
        "import": "package: sys.path += [<this folder>/cs231n_pkg]; import cs231n.fast_layers",
        "missing": list(CS231N_FUNCTIONS),
        "functions": {"conv_forward_fast": {"verdict": "passed", "labels": []},
                      "conv_backward_fast": {"verdict": "passed", "labels": []}},
    },

    # ------------------------------------------------------------------ layer classes
    "layers/style_attrs.py": {
        "convention": "layers",
        "notes": "deepnet-like: NCHW; Conv(in_channels, out_channels, kernel_size, stride=1, padding=0) with W "
                 "(F, C, k, k), b (F,); MaxPool(size=2, stride=2); Linear(in, out) with W (in, out), b (out,), "
                 "flattens its input; ReLU. forward(x) -> out, backward(dout) -> dx, gradients in self.dW/self.db.",
        "functions": {"Conv": {"verdict": "passed-with-note", "labels": []},
                      "MaxPool": {"verdict": "passed-with-note", "labels": [], "notes": "first maximum"},
                      "Linear": {"verdict": "passed", "labels": []},
                      "ReLU": {"verdict": "passed", "labels": []}},
    },
    "layers/style_attrs_bug.py": {
        "convention": "layers",
        "notes": "style_attrs.py with one backward bug per class (forward passes are all correct).",
        "based_on": "layers/style_attrs.py",
        "functions": {
            "Conv": {"verdict": "failed", "labels": ["flipped-kernel"],
                     "notes": "dx accumulates W[:, :, ::-1, ::-1] * dout; dW and db are right (1x1 kernels hide it)"},
            "MaxPool": {"verdict": "failed", "labels": ["upstream-gradient-dropped"],
                        "notes": "dx is the one-hot mask of the first maximum, not multiplied by dout"},
            "Linear": {"verdict": "failed", "labels": ["scale-factor"],
                       "notes": "dW = x.T @ dout / N; dx and db right (N == 1 hides it)"},
            "ReLU": {"verdict": "failed", "labels": ["relu-mask-from-upstream"], "notes": "dx = dout * (dout > 0)"},
        },
    },
    "layers/style_dicts.py": {
        "convention": "layers",
        "notes": "hipsternet-like: NCHW, im2col helpers in the file; Conv(X_dim=(C, H, W), n_filter, h_filter, "
                 "w_filter, stride, padding) asserts square kernels and (H + 2p - k) % stride == 0; "
                 "params {'W': (F, C, k, k), 'b': (F, 1)}, grads same keys and shapes; Maxpool(X_dim, size, stride) "
                 "asserts the stride fits; FullyConnected(in_size, out_size) with b (1, out); ReLU. "
                 "forward(X) -> out, backward(dout) -> dX.",
        "functions": {"Conv": {"verdict": "passed-with-note", "labels": []},
                      "Maxpool": {"verdict": "passed-with-note", "labels": [], "notes": "first maximum"},
                      "FullyConnected": {"verdict": "passed", "labels": []},
                      "ReLU": {"verdict": "passed", "labels": []}},
    },
    "layers/style_dicts_bug.py": {
        "convention": "layers",
        "notes": "style_dicts.py with one backward bug per class.",
        "based_on": "layers/style_dicts.py",
        "functions": {
            "Conv": {"verdict": "failed", "labels": ["unexplained"],
                     "notes": "grads['W'] = (X_col @ dout_flat.T).reshape(W.shape): scrambled whenever F > 1; "
                              "dX and db right"},
            "Maxpool": {"verdict": "failed", "labels": ["unexplained"],
                        "notes": "dout.ravel() instead of dout.transpose(2, 3, 0, 1).ravel(); right only when "
                                 "N * C == 1 or the output is 1x1"},
            "FullyConnected": {"verdict": "failed", "labels": ["shape-mismatch"],
                               "notes": "grads['b'] = sum over axis 1 -> shape (N, 1) instead of (1, out); dX, dW right"},
            "ReLU": {"verdict": "failed", "labels": ["modifies-input"],
                     "notes": "dX = dout (no copy) then dX[X <= 0] = 0: values right, caller's dout zeroed"},
        },
    },
    "layers/style_inplace.py": {
        "convention": "layers",
        "notes": "cnn-from-scratch-like, one grayscale image at a time. Conv3x3(num_filters): filters "
                 "(num_filters, 3, 3), forward((h, w)) -> (h-2, w-2, num_filters), valid, stride 1, no bias; "
                 "backprop(d_L_d_out, learn_rate) does filters -= lr * grad and returns None. "
                 "MaxPool2: (h, w, c) -> (h//2, w//2, c), backprop(d_L_d_out) -> d_input. "
                 "Softmax(input_len, nodes): weights (input_len, nodes), biases (nodes,), forward flattens and "
                 "returns probabilities, backprop(d_L_d_out wrt the probabilities, learn_rate) applies the full "
                 "softmax Jacobian, updates weights/biases in place and returns d_input in the input's shape. "
                 "Parameter gradients are only observable through the in-place update (grad = (old - new) / lr). "
                 "Checked as written: Softmax is told a dense layer followed by softmax by its weights and behaviour.",
        "functions": {
            "Conv3x3": {"verdict": "passed-with-note", "labels": [],
                        "notes": "no input gradient (first layer, backprop returns None); filter gradient only "
                                 "through the in-place SGD step",
                        "also_acceptable": ["passed"]},
            "MaxPool2": {"verdict": "passed-with-note", "labels": [],
                         "notes": "full gradient to every tied maximum"},
            "Softmax": {"verdict": "passed", "labels": [],
                        "notes": "a dense layer + softmax on one example (layout D, the input flattened); weight/bias "
                                 "gradients through the in-place update; d_input uses the pre-update weights"},
        },
    },
    "layers/style_inplace_bug.py": {
        "convention": "layers",
        "notes": "style_inplace.py with one backprop bug per class (forward passes correct).",
        "based_on": "layers/style_inplace.py",
        "functions": {
            "Conv3x3": {"verdict": "failed", "labels": ["sign-flip"],
                        "notes": "filters += learn_rate * grad (the gradient itself is right)"},
            "MaxPool2": {"verdict": "failed", "labels": ["wrong-window-offset"],
                         "notes": "block gradient written at [i:i+2, j:j+2] instead of [2i:2i+2, 2j:2j+2]; "
                                  "full gradient to every tied maximum"},
            "Softmax": {"verdict": "failed", "labels": ["softmax-jacobian-diagonal-only"],
                        "notes": "d_L_d_t = p * (1 - p) * d_L_d_out: d_input, weight and bias updates all wrong"},
        },
    },
    "layers/style_numpyml.py": {
        "convention": "layers",
        "notes": "numpy-ml-like, NHWC batches. Conv2D(out_ch, kernel_shape, stride=1, pad=0): parameters "
                 "{'W': (fr, fc, in_ch, out_ch), 'b': (1, 1, 1, out_ch)} created lazily on the first forward "
                 "(call forward once before overwriting them); gradients same keys, set by backward(dLdY) -> dX. "
                 "Pool2D(kernel_shape, stride=1, mode='max'|'average'), no padding. FullyConnected(n_out): lazy "
                 "W (n_in, n_out), b (1, n_out), flattens extra input dims.",
        "functions": {"Conv2D": {"verdict": "passed", "labels": []},
                      "Pool2D": {"verdict": "passed", "labels": [],
                                 "notes": "first maximum (mode='max'); mode='average' divides by fr * fc"},
                      "FullyConnected": {"verdict": "passed", "labels": []}},
    },
    "layers/style_numpyml_bug.py": {
        "convention": "layers",
        "notes": "style_numpyml.py with one backward bug per class.",
        "based_on": "layers/style_numpyml.py",
        "functions": {
            "Conv2D": {"verdict": "failed", "labels": ["stride-ignored-in-dX"],
                       "notes": "dX window starts at r instead of r * stride: right at stride 1 only; dW, db right"},
            "Pool2D": {"verdict": "failed", "labels": ["scale-factor"],
                       "notes": "mode='average' only; mode='max' is right (first maximum)"},
            "FullyConnected": {"verdict": "failed", "labels": ["scale-factor"],
                               "notes": "db = dLdY.mean(axis=0); dX, dW right (batch of 1 hides it)"},
        },
    },

    # ------------------------------------------------------------------ deeplearning.ai
    "deeplearning_ai/correct.py": {
        "convention": "deeplearning-ai",
        "notes": "NHWC 'Convolutional Neural Networks: Step by Step' functions, all correct. conv_backward crops "
                 "with [pad:pad + n_H_prev] so pad == 0 works. pool_backward (max) uses create_mask_from_window, "
                 "so tied maxima all get the full gradient; average mode uses distribute_value.",
        "functions": {
            "zero_pad": {"verdict": "passed", "labels": []},
            "conv_single_step": {"verdict": "passed", "labels": []},
            "conv_forward": {"verdict": "passed", "labels": []},
            "pool_forward": {"verdict": "passed", "labels": []},
            "conv_backward": {"verdict": "passed", "labels": []},
            "create_mask_from_window": {"verdict": "passed", "labels": [],
                                        "notes": "x == max(x): marks every tied maximum (as the assignment asks)"},
            "distribute_value": {"verdict": "passed", "labels": []},
            "pool_backward": {"verdict": "passed-with-note", "labels": [],
                              "notes": "full gradient to every tied maximum (mode='max'); mode='average' exact"},
        },
    },
    "deeplearning_ai/buggy.py": {
        "convention": "deeplearning-ai",
        "notes": "correct.py with three bugs in two functions: conv_backward overwrites db "
                 "(db[:, :, :, c] = dZ[i, h, w, c], so db ends up as the last dZ value of each channel) and crops "
                 "dA_prev with [pad:-pad] (ValueError, empty array broadcast, when pad == 0; right for pad >= 1); "
                 "distribute_value forgets to divide by n_H * n_W (pool_backward, which calls it, is checked on its own "
                 "with the reference distribute_value).",
        "based_on": "deeplearning_ai/correct.py",
        "functions": {
            "conv_backward": {"verdict": "failed", "labels": ["accumulator-overwritten", "crop-empty-at-zero-pad"],
                              "notes": "dW right; dA_prev right for pad >= 1"},
            "create_mask_from_window": {"verdict": "passed", "labels": [],
                                        "notes": "x == max(x): marks every tied maximum"},
            "distribute_value": {"verdict": "failed", "labels": ["scale-factor"]},
            "pool_backward": {"verdict": "passed-with-note", "labels": [],
                              "notes": "its own code is right: checked on its own, it calls crosscheck's reference "
                                       "distribute_value (the bug is distribute_value's row); full gradient to every "
                                       "tied maximum"},
        },
    },
}

# Each group of files keeps its entries in a manifest_<group>.py of its own (same format).
from manifest_conventions import EXPECTED as _CONVENTIONS  # noqa: E402
from manifest_independence import EXPECTED as _INDEPENDENCE  # noqa: E402
from manifest_layer_styles import EXPECTED as _LAYER_STYLES  # noqa: E402
from manifest_nnfs import EXPECTED as _NNFS  # noqa: E402
from manifest_notebooks import EXPECTED as _NOTEBOOKS  # noqa: E402
from manifest_self_consistency import EXPECTED as _SELF_CONSISTENCY  # noqa: E402

for _group in (_CONVENTIONS, _INDEPENDENCE, _LAYER_STYLES, _NOTEBOOKS, _SELF_CONSISTENCY, _NNFS):
    assert not set(_group) & set(EXPECTED), set(_group) & set(EXPECTED)
    EXPECTED.update(_group)
