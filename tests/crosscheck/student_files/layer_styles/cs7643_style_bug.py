"""
modules/ -- Conv2D, MaxPooling, Linear and ReLU for my assignment-2 network.

Every module caches what its backward needs in forward(); backward(dout) returns nothing
and stores the gradients in self.dx, self.dw, self.db (the optimiser reads dw, db).
Data is (N, C, H, W).
"""
import numpy as np


class Conv2D:
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=0):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.cache = None
        self._init_weights()

    def _init_weights(self):
        np.random.seed(1024)
        self.weight = 1e-3 * np.random.randn(self.out_channels, self.in_channels, self.kernel_size, self.kernel_size)
        self.bias = np.zeros(self.out_channels)
        self.dx = None
        self.dw = None
        self.db = None

    def forward(self, x):
        k, s, p = self.kernel_size, self.stride, self.padding
        N, C, H, W = x.shape
        H_out = (H + 2 * p - k) // s + 1
        W_out = (W + 2 * p - k) // s + 1
        x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        out = np.zeros((N, self.out_channels, H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):
                window = x_pad[:, :, i * s:i * s + k, j * s:j * s + k]
                out[:, :, i, j] = np.tensordot(window, self.weight, axes=([1, 2, 3], [1, 2, 3])) + self.bias
        self.cache = x
        return out

    def backward(self, dout):
        x = self.cache
        k, s, p = self.kernel_size, self.stride, self.padding
        _, _, H, W = x.shape
        _, _, H_out, W_out = dout.shape
        x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        dx_pad = np.zeros_like(x_pad)
        self.dw = np.zeros_like(self.weight)
        self.db = dout.sum(axis=(0, 2, 3))
        for i in range(H_out):
            for j in range(W_out):
                window = x_pad[:, :, i * s:i * s + k, j * s:j * s + k]
                g = dout[:, :, i, j]                                    # (N, F)
                self.dw += np.tensordot(g, window, axes=([0], [0]))     # (F, C, k, k)
                dx_pad[:, :, i * s:i * s + k, j * s:j * s + k] += np.tensordot(g, self.weight, axes=([1], [0]))
        self.dx = dx_pad[:, :, p:p + H, p:p + W]


class MaxPooling:
    def __init__(self, kernel_size, stride):
        self.kernel_size = kernel_size
        self.stride = stride
        self.cache = None
        self.dx = None

    def forward(self, x):
        k, s = self.kernel_size, self.stride
        N, C, H, W = x.shape
        H_out = (H - k) // s + 1
        W_out = (W - k) // s + 1
        out = np.zeros((N, C, H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):
                out[:, :, i, j] = np.max(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
        self.cache = (x, H_out, W_out)
        return out

    def backward(self, dout):
        x, H_out, W_out = self.cache
        k, s = self.kernel_size, self.stride
        N, C, _, _ = x.shape
        self.dx = np.zeros_like(x)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        window = x[n, c, i * s:i * s + k, j * s:j * s + k]
                        r, q = np.unravel_index(np.argmax(window), window.shape)
                        self.dx[n, c, i + r, j + q] += dout[n, c, i, j]


class Linear:
    def __init__(self, in_dim, out_dim):
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.cache = None
        np.random.seed(1024)
        self.weight = 1e-3 * np.random.randn(self.in_dim, self.out_dim)
        self.bias = np.zeros(self.out_dim)
        self.dx = None
        self.dw = None
        self.db = None

    def forward(self, x):
        out = x.reshape(x.shape[0], -1) @ self.weight + self.bias
        self.cache = x
        return out

    def backward(self, dout):
        x = self.cache
        self.dx = (dout @ self.weight.T).reshape(x.shape)
        self.dw = x.reshape(x.shape[0], -1).T @ dout
        self.db = dout.sum(axis=0)


class ReLU:
    def __init__(self):
        self.cache = None
        self.dx = None

    def forward(self, x):
        self.cache = x
        return np.maximum(0, x)

    def backward(self, dout):
        self.dx = dout * (self.cache > 0)
