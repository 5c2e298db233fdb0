"""Likely causes of a mismatch: a fixed set of hypotheses, each tested against the actual tensor.

For every mismatched tensor, each hypothesis builds what the implementation *would* have produced
if it had made one specific, common mistake (a kernel not rotated, a shifted window, a missing 1/N,
a reshape instead of a transpose, ...) and compares the actual tensor with that. The hypotheses
under which the actual tensor matches (under the same tolerance as the real comparison) are
attached to ``TensorDiff.diagnosis`` as ``{"label": ..., "evidence": ...}``. The labels are a stable
vocabulary, documented in docs/diagnosis.md:

    shape-mismatch, output-shape, output-type, modifies-input, nan-inf-mismatch, sign-flip,
    scale-factor, flipped-kernel, kernel-hw-swapped, spatial-shift, same-padding-wrong-side,
    layout-mixup, border-only, stride-phase, stride-ignored-in-dX, stride-ignored-in-dW,
    wrong-window-offset, transposed, softmax-jacobian-diagonal-only, maxpool-tie-policy, maxpool-all-ties,
    precision-only
    (and "arbiter", from crosscheck.arbiter)

Hypotheses that change the case (a rotated kernel, padding on the other side, the other layout)
recompute the TensorFlow reference on the changed case; they run only for mismatches.

    labels.py       the vocabulary, and what each label means
    hypotheses.py   one function per hypothesis (and the shape hypotheses)
    window_hypotheses.py  windows placed wrongly in a backward (the stride ignored)
    diagnose.py     running them on a mismatch; the causes read from the case alone
"""
from __future__ import annotations

from .diagnose import defaults_differ, diagnose, diagnose_tensor, output_shape_evidence, raised_cropping_at_zero_pad
from .labels import CONSEQUENCE_OF, LABELS, LOCATIONAL

__all__ = ["CONSEQUENCE_OF", "LABELS", "LOCATIONAL", "defaults_differ", "diagnose", "diagnose_tensor", "output_shape_evidence",
           "raised_cropping_at_zero_pad"]
