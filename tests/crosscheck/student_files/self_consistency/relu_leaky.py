"""My ReLU layer (I switched it to a small negative slope to avoid dead units)."""
import numpy as np


class ReLU:
    def forward(self, x):
        self.mask = x > 0
        return np.where(self.mask, x, 0.01 * x)

    def backward(self, dout):
        return np.where(self.mask, dout, 0.01 * dout)
