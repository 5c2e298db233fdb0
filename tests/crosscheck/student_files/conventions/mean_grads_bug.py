"""
nn/layers.py -- building blocks for my numpy CNN (NCHW).

Like most tutorials, the parameter gradients are averaged over the mini-batch:
backward() stores dW and db already divided by the batch size m, so the
optimiser does W -= lr * dW without caring about the batch size.
"""
import numpy as np


class Conv2d:
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        k = kernel_size
        self.stride, self.pad, self.k = stride, padding, k
        scale = np.sqrt(2.0 / (in_channels * k * k))
        self.W = np.random.randn(out_channels, in_channels, k, k) * scale
        self.b = np.zeros(out_channels)
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        m, C, H, W = x.shape
        k, s, p = self.k, self.stride, self.pad
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        Ho = (H + 2 * p - k) // s + 1
        Wo = (W + 2 * p - k) // s + 1
        F = self.W.shape[0]
        out = np.zeros((m, F, Ho, Wo))
        for i in range(Ho):
            for j in range(Wo):
                window = self.xp[:, :, i * s:i * s + k, j * s:j * s + k]
                out[:, :, i, j] = np.tensordot(window, self.W, axes=([1, 2, 3], [1, 2, 3]))
        return out + self.b[None, :, None, None]

    def backward(self, dout):
        m = self.x.shape[0]
        k, s, p = self.k, self.stride, self.pad
        _, _, H, W = self.x.shape
        _, _, Ho, Wo = dout.shape
        dW = np.zeros_like(self.W)
        dxp = np.zeros_like(self.xp)
        for i in range(Ho):
            for j in range(Wo):
                window = self.xp[:, :, i * s:i * s + k, j * s:j * s + k]
                dW += np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))
                flipped = self.W[:, :, ::-1, ::-1]
                dxp[:, :, i * s:i * s + k, j * s:j * s + k] += np.tensordot(dout[:, :, i, j], flipped, axes=([1], [0]))
        # average over the batch
        self.dW = dW / m
        self.db = dout.sum(axis=(0, 2, 3)) / m
        return dxp[:, :, p:p + H, p:p + W]


class Linear:
    def __init__(self, in_features, out_features):
        self.W = np.random.randn(in_features, out_features) * 0.01
        self.b = np.zeros(out_features)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        m = self.x.shape[0]
        self.dW = self.x.T @ dout / m
        self.db = np.sum(dout, axis=0)
        return dout @ self.W.T
