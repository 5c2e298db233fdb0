"""Manifest entries for the layer_styles files of this corpus (same format as manifest.py's EXPECTED).

Layer classes in the styles of from-scratch CNN repositories, each checked as written, with no
glue: same_padding.py puts the extra row of an even kernel's SAME padding at the top (told from its
forward: a note); lecun_tanh.py and its bug are a scaled tanh, judged against their own forward as
they are, and also checked through a one-line ``crosscheck.Layer`` declaration with
``scale=(1.7159, 2/3)`` so that TensorFlow's tanh judges them (layer_styles/check_lecun_tanh*.py);
layer_styles/check_same_padding*.py declare the top side instead of telling it. Labels
are left empty where crosscheck has no name for the bug yet (the row must still fail)."""

_S = "layer_styles/"

EXPECTED: dict = {
    _S + "cs7643_style.py": {
        "convention": "layers",
        "notes": "CS7643 template: Conv2D(in_channels, out_channels, kernel_size=3, stride=1, padding=0) with "
                 "weight (F, C, k, k) and bias (F,), MaxPooling(kernel_size, stride), Linear(in_dim, out_dim) with "
                 "weight (in, out), ReLU; NCHW. backward(dout) returns None and leaves self.dx, self.dw, self.db.",
        "functions": {"Conv2D": {"verdict": "passed-with-note", "labels": []},
                      "MaxPooling": {"verdict": "passed-with-note", "labels": [], "notes": "first maximum"},
                      "Linear": {"verdict": "passed", "labels": []},
                      "ReLU": {"verdict": "passed", "labels": []}},
    },
    _S + "cs7643_style_bug.py": {
        "convention": "layers",
        "notes": "cs7643_style.py with MaxPooling's dx written at window offset i instead of i * stride "
                 "(self.dx[n, c, i + r, j + q]): right at stride 1 only. Its backward returns None: the input "
                 "gradient is read from self.dx (a pool is never a first layer, so it is judged).",
        "based_on": _S + "cs7643_style.py",
        "functions": {"MaxPooling": {"verdict": "failed", "labels": []}},
    },
    _S + "passes_style.py": {
        "convention": "layers",
        "notes": "forward_pass(inputs) / backward_pass(d_outputs) -> d_inputs; Convolution(input_channels, "
                 "num_filters, filter_size, stride=1, padding=0) with weights (F, C, k, k), biases (F, 1); "
                 "MaxPool(pool_size=2, stride=2); FullyConnected(input_size, output_size) with weights (out, in); "
                 "Tanh. Gradients in grad_weights / grad_biases. NCHW.",
        "functions": {"Convolution": {"verdict": "passed-with-note", "labels": []},
                      "MaxPool": {"verdict": "passed-with-note", "labels": [], "notes": "first maximum"},
                      "FullyConnected": {"verdict": "passed-with-note", "labels": []},
                      "Tanh": {"verdict": "passed", "labels": []}},
    },
    _S + "passes_style_bug.py": {
        "convention": "layers",
        "notes": "passes_style.py with Tanh.backward_pass using 1 - tanh(output)**2 (tanh applied to the cached "
                 "output a second time) instead of 1 - output**2.",
        "based_on": _S + "passes_style.py",
        "functions": {"Tanh": {"verdict": "failed", "labels": []}},
    },
    _S + "call_tuple_style.py": {
        "convention": "layers",
        "notes": "__call__ is the forward; backward(dy) returns (dx, dW, db). Conv2d(cin, cout, k, s=1, p=0) "
                 "(cin, cout: names crosscheck does not know, matched by trying sizes) with im2col, W (F, C, k, k); "
                 "Linear(nin, nout) with W (in, out); Sigmoid returns (dx,). NCHW.",
        "functions": {"Conv2d": {"verdict": "passed-with-note", "labels": []},
                      "Linear": {"verdict": "passed", "labels": []},
                      "Sigmoid": {"verdict": "passed", "labels": []}},
    },
    _S + "call_tuple_style_bug.py": {
        "convention": "layers",
        "notes": "call_tuple_style.py with Conv2d's dx cropped as dxp[:, :, p:-p, p:-p]: empty when p == 0.",
        "based_on": _S + "call_tuple_style.py",
        "functions": {"Conv2d": {"verdict": "failed", "labels": ["crop-empty-at-zero-pad"]}},
    },
    _S + "fprop_style.py": {
        "convention": "layers",
        "notes": "fprop(x) / bprop(grad_out) -> {'x': dx, 'W': dW, 'b': db}; sizes are pairs: "
                 "Conv2D(in_channels, out_channels, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0)) with "
                 "W (F, C, kh, kw), AvgPool2D(kernel_size=(2, 2), stride=(2, 2)), Dense(in_features, out_features). "
                 "NCHW.",
        "functions": {"Conv2D": {"verdict": "passed-with-note", "labels": []},
                      "AvgPool2D": {"verdict": "passed-with-note", "labels": []},
                      "Dense": {"verdict": "passed", "labels": []}},
    },
    _S + "fprop_style_bug.py": {
        "convention": "layers",
        "notes": "fprop_style.py with Conv2D's dx accumulated with the 180-degree rotated kernel.",
        "based_on": _S + "fprop_style.py",
        "functions": {"Conv2D": {"verdict": "failed", "labels": ["flipped-kernel"]}},
    },
    _S + "lazy_hwc_style.py": {
        "convention": "layers",
        "notes": "One image at a time, (H, W, C). Conv(num_filters, size=3) creates filters (F, k, k, C) at its "
                 "first forward, SAME padding for odd sizes, stride 1, keeps d_filters / d_bias; MaxPool(size=2) "
                 "with stride = size; Dense(n_in, n_out) on column vectors (W (out, in), b (out, 1), x (in, N)), "
                 "keeps dW / db.",
        "functions": {"Conv": {"verdict": "passed-with-note", "labels": [],
                               "notes": "its forward raises with an even size (p = (size - 1) // 2 pads too "
                                        "little): checked on odd sizes, and the note says so"},
                      "MaxPool": {"verdict": "passed-with-note", "labels": [], "notes": "first maximum"},
                      "Dense": {"verdict": "passed-with-note", "labels": []}},
    },
    _S + "lazy_hwc_style_bug.py": {
        "convention": "layers",
        "notes": "lazy_hwc_style.py with MaxPool's backward mask taken over the whole (k, k, C) window "
                 "(window == np.max(window)) instead of per channel: only the channel holding the overall "
                 "maximum gets a gradient.",
        "based_on": _S + "lazy_hwc_style.py",
        "functions": {"MaxPool": {"verdict": "failed", "labels": []}},
    },
    _S + "inplace_lr_style.py": {
        "convention": "layers",
        "notes": "backward(d_out, learning_rate) returns d_input (pre-update weights) and steps the weights in "
                 "place; ConvLayer(in_channels, num_filters, kernel_size, stride=1) on one (C, H, W) image, "
                 "kernels (F, C, k, k), no padding; DenseLayer(input_dim, output_dim) on (N, D) rows.",
        "functions": {"ConvLayer": {"verdict": "passed-with-note", "labels": []},
                      "DenseLayer": {"verdict": "passed", "labels": []}},
    },
    _S + "inplace_lr_style_bug.py": {
        "convention": "layers",
        "notes": "inplace_lr_style.py with ConvLayer's bias gradient summed over every filter too "
                 "(d_out.sum() instead of d_out.sum(axis=(1, 2))): every bias takes the same step.",
        "based_on": _S + "inplace_lr_style.py",
        "functions": {"ConvLayer": {"verdict": "failed", "labels": []}},
    },
    _S + "untied_bias.py": {
        "convention": "layers",
        "notes": "One example at a time, backward(output_gradient, learning_rate) steps in place. "
                 "Convolutional(input_shape, kernel_size, depth) has biases (depth, out_h, out_w), one per output "
                 "position (an untied bias): TensorFlow's conv2d checks the forward, d_input, d_filters and d_bias "
                 "summed over positions with the bias set to b[f] at every position; d_bias itself is judged "
                 "against the layer's own forward (a note says so). Dense(input_size, output_size) on column "
                 "vectors (D, 1) only (its bias step takes (out, 1)); Sigmoid.",
        "functions": {"Convolutional": {"verdict": "passed-with-note", "labels": [], "notes": "untied bias"},
                      "Dense": {"verdict": "passed-with-note", "labels": []},
                      "Sigmoid": {"verdict": "passed", "labels": []}},
    },
    _S + "untied_bias_bug.py": {
        "convention": "layers",
        "notes": "untied_bias.py with the bias gradient summed over the output positions into one value per "
                 "filter (as for a shared bias) and broadcast back: every position of a filter takes the same "
                 "step, out_h * out_w times the position's own gradient summed. Sum over positions: out_h * out_w "
                 "times TensorFlow's d_bias (scale-factor); per position: not the finite differences.",
        "based_on": _S + "untied_bias.py",
        "functions": {"Convolutional": {"verdict": "failed", "labels": ["scale-factor"]}},
    },
    _S + "lecun_tanh.py": {
        "convention": "layers",
        "declared_by": _S + "check_lecun_tanh.py",
        "notes": "LeCunTanh: 1.7159 * tanh(2x/3), backward S * (A - f(x)^2 / A). Declared with scale=(1.7159, 2/3): "
                 "TensorFlow's tanh of 2x/3, times 1.7159, judges the forward and d_x (a note names the declared "
                 "scale). Undeclared, it is found by its behaviour and judged against its own forward.",
        "functions": {"LeCunTanh": {"verdict": "passed-with-note", "labels": [], "notes": "declared scale"}},
    },
    _S + "lecun_tanh_bug.py": {
        "convention": "layers",
        "declared_by": _S + "check_lecun_tanh_bug.py",
        "notes": "lecun_tanh.py whose backward takes tanh's derivative 1 - y^2 on the scaled output y = 1.7159 "
                 "tanh(2x/3) (and drops the factor 1.7159): S * (1 - f(x)^2) instead of S * (A - f(x)^2 / A).",
        "based_on": _S + "lecun_tanh.py",
        "functions": {"LeCunTanh": {"verdict": "failed", "labels": []}},
    },
    _S + "same_padding.py": {
        "convention": "layers",
        "notes": "Conv2D(in_channels, out_channels, kernel_size), SAME padding of any kernel size with the extra "
                 "row and column at the top and left, stride 1, NCHW. Discovery tells the side from its forward "
                 "on an even kernel and checks every kernel size under it, with a note.",
        "functions": {"Conv2D": {"verdict": "passed-with-note", "labels": []}},
    },
    _S + "same_padding_bug.py": {
        "convention": "layers",
        "notes": "same_padding.py with dx cropped from the bottom pad's offset (dxp[:, :, after:after + h, ...]): "
                 "right for odd kernels, shifted by one for even kernels.",
        "based_on": _S + "same_padding.py",
        "functions": {"Conv2D": {"verdict": "failed", "labels": ["same-padding-wrong-side"]}},
    },
    _S + "check_same_padding.py": {
        "convention": "layers",
        "notes": "same_padding.py's Conv2D declared in one line: supports padding='same-top' with kernels 2-4.",
        "functions": {"Conv2D": {"verdict": "passed", "labels": []}},
    },
    _S + "check_same_padding_bug.py": {
        "convention": "layers",
        "notes": "same_padding_bug.py's Conv2D declared the same way.",
        "functions": {"Conv2D": {"verdict": "failed", "labels": ["same-padding-wrong-side"]}},
    },
}
