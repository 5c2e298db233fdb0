"""A tiny CNN from scratch: Conv -> ReLU -> Flatten -> Dense, trained with plain SGD.
Each layer keeps its input in forward and stores dW/db in backward; the network's backward runs
the layers in reverse."""
import numpy as np


class Conv:
    """'valid' convolution, stride 1, x: (N, C, H, W), W: (F, C, k, k)."""

    def __init__(self, in_channels, out_channels, kernel_size):
        scale = np.sqrt(2.0 / (in_channels * kernel_size * kernel_size))
        self.W = np.random.randn(out_channels, in_channels, kernel_size, kernel_size) * scale
        self.b = np.zeros(out_channels)
        self.k = kernel_size

    def forward(self, x):
        self.x = x
        n, c, h, w = x.shape
        k = self.k
        out = np.zeros((n, self.W.shape[0], h - k + 1, w - k + 1))
        for i in range(h - k + 1):
            for j in range(w - k + 1):
                patch = x[:, :, i:i + k, j:j + k]
                out[:, :, i, j] = np.tensordot(patch, self.W, axes=([1, 2, 3], [1, 2, 3])) + self.b
        return out

    def backward(self, dout):
        x, k = self.x, self.k
        dx = np.zeros_like(x)
        self.dW = np.zeros_like(self.W)
        self.db = dout.sum(axis=(0, 2, 3))
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                patch = x[:, :, i:i + k, j:j + k]
                g = dout[:, :, i, j]                         # (N, F)
                self.dW += np.tensordot(g, patch, axes=([0], [0]))
                dx[:, :, i:i + k, j:j + k] += np.tensordot(g, self.W, axes=([1], [0]))
        return dx


class ReLU:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * (self.x > 0)


class Flatten:
    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.shape)


class Dense:
    def __init__(self, in_features, out_features):
        self.W = np.random.randn(in_features, out_features) * np.sqrt(2.0 / in_features)
        self.b = np.zeros(out_features)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Net:
    """For 1x6x6 inputs: 2 filters of 3x3, then 3 outputs."""

    def __init__(self):
        self.layers = [Conv(1, 2, 3), ReLU(), Flatten(), Dense(2 * 4 * 4, 3)]

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def step(self, lr):
        for layer in self.layers:
            if hasattr(layer, "W"):
                layer.W -= lr * layer.dW
                layer.b -= lr * layer.db
