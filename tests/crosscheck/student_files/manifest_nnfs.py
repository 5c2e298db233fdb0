"""Manifest entries for the "Neural Networks from Scratch"-style files of this corpus (same format as
manifest.py's EXPECTED): layer classes whose forward returns None and stores self.output, whose
backward stores self.dinputs / self.dweights / self.dbiases; Activation_X classes; a random
Layer_Dropout(rate); loss classes (Loss_CategoricalCrossentropy with calculate(), the combined
Activation_Softmax_Loss_CategoricalCrossentropy, Loss_BinaryCrossentropy) and, in another style,
SoftmaxCrossEntropy / CrossEntropyLoss with forward(logits, labels) and backward(). Every file checks
with no glue. The bugs are established by finite differences or by the maths in
tests/crosscheck/test_nnfs_style.py."""

_DROPOUT = "a random forward: judged by its own mask"
_CLIPPED = "probabilities clipped to [1e-07, 1 - 1e-07] before the log"
_LOSS_SUM = "loss summed over the batch"
_NO_OP = "no TensorFlow op matches the forward; backward judged against your own forward"

EXPECTED: dict = {
    "nnfs/correct.py": {
        "convention": "layers",
        "notes": "Layer_Dense(n_inputs, n_neurons, L1/L2 regularizer args defaulting to 0) with weights (in, out) and "
                 "biases (1, out), Layer_Dropout(rate) with rate the drop probability, Activation_ReLU, "
                 "Activation_Softmax (full Jacobian per sample), Activation_Sigmoid, Loss_CategoricalCrossentropy "
                 "(probabilities in, per-sample losses out, calculate() the mean, gradient divided by the samples), "
                 "Loss_BinaryCrossentropy, and the combined Activation_Softmax_Loss_CategoricalCrossentropy (clips "
                 "its probabilities at 1e-7 before the log: the loss of scores ~1000 apart is capped at 16.1). "
                 "All correct.",
        "functions": {
            "Layer_Dropout": {"verdict": "passed-with-note", "labels": [],
                              "notes": _DROPOUT + "; its rate is the probability of dropping a unit"},
            "Activation_Softmax_Loss_CategoricalCrossentropy": {"verdict": "passed-with-note", "labels": [],
                                                                "notes": _CLIPPED},
        },
    },
    "nnfs/bug_dense_dweights_transposed.py": {
        "convention": "layers",
        "notes": "correct.py whose Layer_Dense computes dweights = dvalues.T @ inputs: the transpose of the "
                 "weight gradient, (n_neurons, n_inputs) where the weights are (n_inputs, n_neurons).",
        "based_on": "nnfs/correct.py",
        "functions": {"Layer_Dense": {"verdict": "failed", "labels": ["transposed"]}},
    },
    "nnfs/bug_relu_mask_from_dvalues.py": {
        "convention": "layers",
        "notes": "correct.py whose Activation_ReLU backward zeroes the gradient where dvalues <= 0 instead of where "
                 "the input is <= 0.",
        "based_on": "nnfs/correct.py",
        "functions": {"Activation_ReLU": {"verdict": "failed", "labels": ["relu-mask-from-upstream"]}},
    },
    "nnfs/bug_softmax_diagonal.py": {
        "convention": "layers",
        "notes": "correct.py whose Activation_Softmax backward is dvalues * p * (1 - p): the Jacobian's diagonal "
                 "only (the off-diagonal -p_i p_j terms dropped).",
        "based_on": "nnfs/correct.py",
        "functions": {"Activation_Softmax": {"verdict": "failed", "labels": ["softmax-jacobian-diagonal-only"]}},
    },
    "nnfs/bug_combined_not_divided.py": {
        "convention": "layers",
        "notes": "correct.py whose combined softmax + cross-entropy backward forgets to divide by the samples while "
                 "its forward returns the mean loss: the gradient is N times the loss's (only one of the two "
                 "scaled: a bug, not the sum convention).",
        "based_on": "nnfs/correct.py",
        "functions": {"Activation_Softmax_Loss_CategoricalCrossentropy": {"verdict": "failed",
                                                                          "labels": ["scale-factor"]}},
    },
    "nnfs/bug_cce_eye_of_samples.py": {
        "convention": "layers",
        "notes": "correct.py whose Loss_CategoricalCrossentropy backward one-hot encodes class-index labels with "
                 "np.eye(samples) instead of np.eye(classes): raises for most batch sizes, wrong values where "
                 "the shapes happen to broadcast (one-hot labels are right).",
        "based_on": "nnfs/correct.py",
        "functions": {"Loss_CategoricalCrossentropy": {"verdict": "failed", "labels": []}},
    },
    "nnfs/bug_dropout_backward_unscaled.py": {
        "convention": "layers",
        "notes": "correct.py whose Layer_Dropout keeps the 0/1 mask, scales its forward by 1 / keep but not its "
                 "backward: dinputs is keep times the gradient.",
        "based_on": "nnfs/correct.py",
        "functions": {"Layer_Dropout": {"verdict": "failed", "labels": ["scale-factor"]}},
    },
    "nnfs/softmax_ce_style.py": {
        "convention": "layers",
        "notes": "SoftmaxCrossEntropy.forward(logits, labels) -> the mean loss (labels class indices), "
                 "backward() -> dlogits; CrossEntropyLoss.forward(logits, one-hot targets) -> the loss summed over "
                 "the batch, backward(dout=1.0) -> its gradient; SoftmaxWithLoss (labels one-hot or indices) adds "
                 "1e-7 to the probability inside the log (-log(p + 1e-7): a convention, noted). All correct.",
        "functions": {
            "CrossEntropyLoss": {"verdict": "passed-with-note", "labels": [], "notes": _LOSS_SUM},
            "SoftmaxWithLoss": {"verdict": "passed-with-note", "labels": [],
                                "notes": "adds 1e-07 to the probabilities before the log"},
        },
    },
    "nnfs/softmax_ce_style_bug.py": {
        "convention": "layers",
        "notes": "softmax_ce_style.py with one bug in each of two classes: SoftmaxCrossEntropy takes log(probs[y]) of "
                 "probabilities that underflow to 0 for scores ~1000 apart (the loss is inf); CrossEntropyLoss sums "
                 "its loss but divides its gradient by N.",
        "based_on": "nnfs/softmax_ce_style.py",
        "functions": {
            "SoftmaxCrossEntropy": {"verdict": "failed", "labels": ["log-underflow"]},
            "CrossEntropyLoss": {"verdict": "failed", "labels": ["scale-factor"]},
        },
    },
    "nnfs/training_flag.py": {
        "convention": "layers",
        "notes": "The later chapters: every forward takes a training flag (crosscheck passes training=True; "
                 "Layer_Dropout is also checked in test mode, where it must be the identity), Activation_Linear "
                 "(the identity: no TensorFlow op, judged against its own forward), Loss_MeanSquaredError with a "
                 "Loss base class (regularization_loss, calculate(..., include_regularization=False)), an optimizer, "
                 "Layer_Input (no backward: not a layer class) and a Model filled by add() and finalize(): built "
                 "with no arguments it holds no layers, so it is cannot-check, its layers checked on their own "
                 "rows. All correct.",
        "functions": {
            "Layer_Dropout": {"verdict": "passed-with-note", "labels": [],
                              "notes": _DROPOUT + "; its rate is the probability of dropping a unit"},
            "Activation_Linear": {"verdict": "passed-with-note", "labels": [], "notes": _NO_OP},
            "Model": {"verdict": "cannot-check", "labels": [],
                      "notes": "an empty container until add(); not a claim that it is wrong"},
        },
    },
    "nnfs/training_flag_bug.py": {
        "convention": "layers",
        "notes": "training_flag.py whose Loss_MeanSquaredError backward forgets to divide by the number of outputs "
                 "(its forward averages over them): K times the gradient for K outputs.",
        "based_on": "nnfs/training_flag.py",
        "functions": {"Loss_MeanSquaredError": {"verdict": "failed", "labels": ["scale-factor"]}},
    },
}
