"""A softmax output layer on its own (the loss is computed elsewhere): rows are examples."""
import numpy as np


class Softmax:
    def forward(self, z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.p = e / e.sum(axis=1, keepdims=True)
        return self.p

    def backward(self, dp):
        # Jacobian-vector product: dz_i = p_i * (dp_i - sum_j p_j dp_j)
        return self.p * (dp - np.sum(dp * self.p, axis=1, keepdims=True))
