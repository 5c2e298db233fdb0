"""The causes diagnosis names: a stable vocabulary (docs/diagnosis.md)."""
from __future__ import annotations

LABELS = {
    "shape-mismatch": "the tensor has another shape than TensorFlow's",
    "output-shape": "the forward output has another shape than TensorFlow's rule gives (the rule is stated)",
    "output-type": "an output is not a NumPy array of the case's dtype (a list, or float64 for a float32 case)",
    "modifies-input": "the implementation wrote into one of its inputs (crosscheck passes copies and keeps the original)",
    "default-differs": "a parameter the case leaves out (so TensorFlow's default applies) has another default in the "
                       "code under test's function",
    "nan-inf-mismatch": "NaN or Inf where TensorFlow has finite values (or the reverse)",
    "sign-flip": "the tensor equals minus TensorFlow's",
    "scale-factor": "the tensor equals TensorFlow's times a constant (the factor is given)",
    "flipped-kernel": "the tensor equals TensorFlow's for the kernel rotated by 180 degrees",
    "kernel-hw-swapped": "the tensor equals TensorFlow's with the kernel's height and width swapped",
    "spatial-shift": "the tensor equals TensorFlow's shifted by (di, dj) positions (where both overlap)",
    "same-padding-wrong-side": "the tensor equals TensorFlow's with the odd padding pixel on the top/left",
    "layout-mixup": "the tensor equals TensorFlow's with NCHW data read as NHWC (a reshape instead of a "
                    "transpose), or H and W swapped",
    "transposed": "a 2-D tensor equals TensorFlow's transposed (a matrix product taken in the other order)",
    "softmax-jacobian-diagonal-only": "a softmax input gradient equals g * p * (1 - p): the Jacobian's diagonal only",
    "border-only": "only positions near the border differ; the interior matches",
    "stride-phase": "only some stride phases (i mod s, j mod s) differ (where no hypothesis explains the values)",
    "stride-ignored-in-dX": "a strided conv's input gradient adds each window's gradient at (i, j) instead of "
                            "(i * stride, j * stride): dout not dilated by the stride",
    "stride-ignored-in-dW": "a strided conv's filter gradient takes each input patch at (i, j) instead of "
                            "(i * stride, j * stride)",
    "wrong-window-offset": "a strided pooling's input gradient adds each window's gradient at (i, j) instead of "
                           "(i * stride, j * stride)",
    "maxpool-tie-policy": "max-pool gradient matches another tie rule (split, last maximum) than TF's first maximum",
    "maxpool-all-ties": "max-pool gradient given to every tied maximum instead of the first one",
    "crop-empty-at-zero-pad": "the gradient is empty along H or W where the padding is 0: dx[:, :, pad:-pad] selects "
                              "nothing when pad == 0 (crop with pad:pad + H)",
    "pool-overwrites-overlap": "max-pool gradient written with = instead of += where windows overlap",
    "hw-swapped": "the tensor equals TensorFlow's with H and W swapped (e.g. an output height computed from the width)",
    "bn-test-without-affine": "batch norm's test mode returns the normalised x without gamma and beta",
    "bn-test-batch-statistics": "batch norm's test mode normalises with the batch's statistics, not the running ones",
    "eps-outside-sqrt": "normalises by sqrt(var) + eps instead of sqrt(var + eps)",
    "wrong-statistics-axes": "normalisation statistics over the wrong axes (group norm per pixel, spatial batch norm "
                             "per (c, h, w))",
    "numerically-unstable": "NaN or Inf for large inputs only (exp without subtracting the max); the evidence gives "
                            "the smallest magnitude at which it fails",
    "log-underflow": "the loss is Inf where TensorFlow's is finite, its gradient is not: log of an underflowed "
                     "probability",
    "relu-mask-from-upstream": "relu backward masks with dout > 0 instead of x > 0",
    "upstream-gradient-dropped": "the backward routes the mask but never multiplies it by the upstream gradient",
    "accumulator-overwritten": "a bias gradient holds only the last position's (or last sample's) upstream "
                               "gradient: = where += belongs in the loop",
    "precision-only": "float32 rounding: slightly beyond the tolerance, consistent with another summation order",
    "arbiter": "the float64 finite-difference verdict on a disagreeing gradient (crosscheck.arbiter)",
}

# labels that only say where the differences are (kept only when no hypothesis explains the values)
LOCATIONAL = {"border-only", "stride-phase"}
# label -> named mistakes it is a consequence of: dropped from a case's causes where one of them fits too
CONSEQUENCE_OF = {"spatial-shift": {"same-padding-wrong-side"}}


def entry(label: str, evidence: str) -> dict:
    assert label in LABELS, label
    return {"label": label, "evidence": evidence}

