"""Loss classes in the style of many from-scratch repositories: the loss layer takes the logits and
the labels, returns a number, and its backward takes nothing (or the loss's upstream gradient) and
returns the gradient with respect to the logits."""
import numpy as np


class SoftmaxCrossEntropy:
    """Mean softmax cross-entropy; labels are class indices (N,)."""

    def forward(self, logits, labels):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs = np.exp(log_probs)
        self.labels = labels
        return -log_probs[np.arange(len(labels)), labels].mean()

    def backward(self):
        n = len(self.labels)
        grad = self.probs.copy()
        grad[np.arange(n), self.labels] -= 1
        return grad / n


class CrossEntropyLoss:
    """Softmax cross-entropy summed over the batch; targets are one-hot rows (N, C)."""

    def forward(self, logits, targets):
        shifted = logits - logits.max(axis=1, keepdims=True)
        self.log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.targets = targets
        return -np.sum(targets * self.log_probs)

    def backward(self, dout=1.0):
        return dout * (np.exp(self.log_probs) - self.targets)
