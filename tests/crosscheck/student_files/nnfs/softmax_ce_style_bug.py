"""softmax_ce_style.py with one bug per class: SoftmaxCrossEntropy takes the log of the probabilities
(which underflow to 0 for scores far apart: the loss is inf), CrossEntropyLoss sums the loss but
divides its gradient by the batch size."""
import numpy as np


class SoftmaxCrossEntropy:
    """Mean softmax cross-entropy; labels are class indices (N,)."""

    def forward(self, logits, labels):
        shifted = logits - logits.max(axis=1, keepdims=True)
        self.probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        self.labels = labels
        return -np.log(self.probs[np.arange(len(labels)), labels]).mean()

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
        return dout * (np.exp(self.log_probs) - self.targets) / len(self.targets)


class SoftmaxWithLoss:
    """Softmax and the mean cross-entropy in one layer; labels one-hot or class indices. Adds a small
    delta inside the log so that a zero probability gives no -inf."""

    def forward(self, x, t):
        self.t = t
        x = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)
        if t.ndim == 2:
            t = t.argmax(axis=1)
        batch_size = self.y.shape[0]
        return -np.sum(np.log(self.y[np.arange(batch_size), t] + 1e-7)) / batch_size

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        if self.t.ndim == 2:
            dx = dx - self.t
        else:
            dx[np.arange(batch_size), self.t] -= 1
        return dx * dout / batch_size
