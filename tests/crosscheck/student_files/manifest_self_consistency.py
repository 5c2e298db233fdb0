"""Manifest entries for the self_consistency files of this corpus (same format as manifest.py's EXPECTED).

Code that no TensorFlow op matches (custom activations, a scaled tanh, a whole network) is judged
against finite differences of its own forward: a correct one is passed-with-note (the note says no
TensorFlow op matches), a wrong backward fails. The bugs were established by the math (each
derivative written out below) and by central differences in float64.
"""

_NO_OP = "no TensorFlow op matches the forward; backward judged against your own forward"

EXPECTED: dict = {
    "self_consistency/activations.py": {
        "convention": "layers",
        "notes": "Swish, GELU (tanh approximation) and Mish classes, and function pairs: sigmoid with "
                 "sigmoid_prime(s) written on the forward's output, softplus with softplus_grad(x), swish with "
                 "swish_backward(dout, x). All correct. sigmoid and softplus match TensorFlow's ops.",
        "functions": {
            "Swish": {"verdict": "passed-with-note", "labels": [], "notes": _NO_OP},
            "GELU": {"verdict": "passed-with-note", "labels": [], "notes": _NO_OP},
            "Mish": {"verdict": "passed-with-note", "labels": [], "notes": _NO_OP},
            "swish": {"verdict": "passed-with-note", "labels": [], "notes": _NO_OP},
            "sigmoid": {"verdict": "passed-with-note", "labels": [],
                        "notes": "sigmoid_prime takes the forward's output (s * (1 - s)): a convention"},
            "softplus": {"verdict": "passed", "labels": []},
        },
    },
    "self_consistency/activations_bug.py": {
        "convention": "layers",
        "notes": "activations.py with Mish.backward missing the sigmoid(x) factor of the chain rule: "
                 "mish'(x) = tanh(sp(x)) + x * sech^2(sp(x)) * sigmoid(x), where sp = softplus and sp' = sigmoid.",
        "based_on": "self_consistency/activations.py",
        "functions": {"Mish": {"verdict": "failed", "labels": []}},
    },
    "self_consistency/scaled_tanh.py": {
        "convention": "layers",
        "notes": "LeCun's 1.7159 * tanh(2x/3), correct: identified as a scaled tanh (TensorFlow's tanh does not "
                 "match the forward), the backward judged against the forward.",
        "functions": {"ScaledTanh": {"verdict": "passed-with-note", "labels": [],
                                     "notes": "scaled tanh: 1.7159 * tanh(0.6667 x)"}},
    },
    "self_consistency/scaled_tanh_bug.py": {
        "convention": "layers",
        "notes": "scaled_tanh.py whose backward drops the inner factor 2/3: d/dx A tanh(Sx) = A S (1 - tanh^2(Sx)).",
        "based_on": "self_consistency/scaled_tanh.py",
        "functions": {"ScaledTanh": {"verdict": "failed", "labels": ["scale-factor"]}},
    },
    "self_consistency/softmax.py": {
        "convention": "layers",
        "notes": "a standalone Softmax class over the rows, backward by the full Jacobian-vector product "
                 "p * (g - sum(g * p)); its name and its behaviour say softmax: TensorFlow judges it.",
        "functions": {"Softmax": {"verdict": "passed", "labels": []}},
    },
    "self_consistency/softmax_bug.py": {
        "convention": "layers",
        "notes": "softmax.py with the diagonal-only backward p * (1 - p) * g (the off-diagonal terms "
                 "-p_i p_j g_j of the Jacobian dropped).",
        "based_on": "self_consistency/softmax.py",
        "functions": {"Softmax": {"verdict": "failed", "labels": ["softmax-jacobian-diagonal-only"]}},
    },
    "self_consistency/relu_leaky.py": {
        "convention": "layers",
        "notes": "a class named ReLU that computes a leaky relu with slope 0.01 (correct backward): the name "
                 "and the behaviour disagree, the note says so; leaky_relu(alpha) is identified from the numbers.",
        "functions": {"ReLU": {"verdict": "passed-with-note", "labels": [],
                               "notes": "ReLU's name says relu, but its forward computes leaky_relu(alpha=0.01)"}},
    },
    "self_consistency/network.py": {
        "convention": "layers",
        "notes": "Conv -> ReLU -> Flatten -> Dense layer classes and a Net running them in a list, backward in "
                 "reverse; all correct. Conv, ReLU and Dense match TensorFlow's ops (both verdicts given); "
                 "Flatten and Net are judged against their own forward, Net on its input and the layers' W and b.",
        "functions": {
            "Conv": {"verdict": "passed-with-note", "labels": [], "notes": "its NCHW layout, told from its shapes"},
            "Flatten": {"verdict": "passed-with-note", "labels": [], "notes": _NO_OP},
            "Net": {"verdict": "passed-with-note", "labels": [], "notes": _NO_OP},
        },
    },
    "self_consistency/network_bug.py": {
        "convention": "layers",
        "notes": "network.py whose Conv.backward overwrites dW at each output position (= instead of +=), so dW "
                 "is the last position's contribution only. Wrong in the Conv row (TensorFlow) and in the Net "
                 "row (d_layers[0].W against finite differences).",
        "based_on": "self_consistency/network.py",
        "functions": {
            "Conv": {"verdict": "failed", "labels": []},
            "Net": {"verdict": "failed", "labels": []},
        },
    },
}
