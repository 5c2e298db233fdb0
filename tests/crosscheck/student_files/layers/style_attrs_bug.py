"""
deepnet/layers.py -- the layers of my little conv net.

Every layer has forward(x) and backward(dout). Layers with parameters keep
them as attributes (W, b) and backward() leaves the gradients in dW, db so the
optimiser can pick them up.  Data is NCHW.
"""
import numpy as np


class Conv:
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding

        # He init
        fan_in = in_channels * kernel_size * kernel_size
        self.W = np.random.randn(out_channels, in_channels, kernel_size, kernel_size) * np.sqrt(2.0 / fan_in)
        self.b = np.zeros(out_channels)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)

        self.x = None
        self.x_pad = None

    def _out_size(self, n):
        return (n + 2 * self.padding - self.kernel_size) // self.stride + 1

    def forward(self, x):
        N, C, H, W = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        H_out, W_out = self._out_size(H), self._out_size(W)

        self.x = x
        self.x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="constant")

        out = np.zeros((N, self.out_channels, H_out, W_out), dtype=x.dtype)
        for i in range(H_out):
            for j in range(W_out):
                patch = self.x_pad[:, :, i * s:i * s + k, j * s:j * s + k]
                out[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, self.W)
        out += self.b.reshape(1, -1, 1, 1)
        return out

    def backward(self, dout):
        N, C, H, W = self.x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        _, _, H_out, W_out = dout.shape

        self.dW = np.zeros_like(self.W)
        self.db = dout.sum(axis=(0, 2, 3))
        dx_pad = np.zeros_like(self.x_pad)
        for i in range(H_out):
            for j in range(W_out):
                patch = self.x_pad[:, :, i * s:i * s + k, j * s:j * s + k]
                g = dout[:, :, i, j]
                self.dW += np.einsum("nf,nchw->fchw", g, patch)
                # backprop through a convolution = convolve with the flipped kernel
                dx_pad[:, :, i * s:i * s + k, j * s:j * s + k] += np.einsum("nf,fchw->nchw", g, self.W[:, :, ::-1, ::-1])
        return dx_pad[:, :, p:p + H, p:p + W]


class MaxPool:
    def __init__(self, size=2, stride=2):
        self.size = size
        self.stride = stride
        self.x = None

    def forward(self, x):
        N, C, H, W = x.shape
        sz, s = self.size, self.stride
        H_out = (H - sz) // s + 1
        W_out = (W - sz) // s + 1
        self.x = x
        out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
        for i in range(H_out):
            for j in range(W_out):
                out[:, :, i, j] = x[:, :, i * s:i * s + sz, j * s:j * s + sz].max(axis=(2, 3))
        return out

    def backward(self, dout):
        x = self.x
        N, C, _, _ = x.shape
        sz, s = self.size, self.stride
        _, _, H_out, W_out = dout.shape
        dx = np.zeros_like(x)
        for i in range(H_out):
            for j in range(W_out):
                win = x[:, :, i * s:i * s + sz, j * s:j * s + sz].reshape(N, C, -1)
                # one-hot of the (first) max in every window
                onehot = np.zeros_like(win)
                np.put_along_axis(onehot, win.argmax(axis=2)[..., None], 1, axis=2)
                grad = onehot
                dx[:, :, i * s:i * s + sz, j * s:j * s + sz] += grad.reshape(N, C, sz, sz)
        return dx


class Linear:
    def __init__(self, in_features, out_features):
        self.W = np.random.randn(in_features, out_features) * np.sqrt(2.0 / in_features)
        self.b = np.zeros(out_features)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.x = None

    def forward(self, x):
        self.x = x
        return x.reshape(x.shape[0], -1) @ self.W + self.b

    def backward(self, dout):
        x2 = self.x.reshape(self.x.shape[0], -1)
        self.dW = x2.T @ dout / x2.shape[0]
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.x.shape)


class ReLU:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * (dout > 0)
