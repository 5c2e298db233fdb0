"""
Conv2D with "same" padding for any kernel size, stride 1, NCHW. An even kernel needs an odd
total pad: the extra row and column go at the top and left (pad_top = k // 2, pad_bottom =
(k - 1) // 2), so the output has the input's height and width.
"""
import numpy as np


class Conv2D:
    def __init__(self, in_channels, out_channels, kernel_size):
        self.k = kernel_size
        self.W = np.random.randn(out_channels, in_channels, kernel_size, kernel_size) * 0.1
        self.b = np.zeros(out_channels)

    def _pads(self):
        return self.k // 2, (self.k - 1) // 2

    def forward(self, x):
        before, after = self._pads()
        self.x_shape = x.shape
        self.xp = np.pad(x, ((0, 0), (0, 0), (before, after), (before, after)))
        n, _, h, w = x.shape
        out = np.empty((n, self.W.shape[0], h, w))
        for i in range(h):
            for j in range(w):
                out[:, :, i, j] = np.einsum("nchw,fchw->nf", self.xp[:, :, i:i + self.k, j:j + self.k], self.W)
        return out + self.b[:, None, None]

    def backward(self, dout):
        before, after = self._pads()
        n, _, h, w = self.x_shape
        self.dW = np.zeros_like(self.W)
        dxp = np.zeros_like(self.xp)
        for i in range(h):
            for j in range(w):
                g = dout[:, :, i, j]
                self.dW += np.einsum("nf,nchw->fchw", g, self.xp[:, :, i:i + self.k, j:j + self.k])
                dxp[:, :, i:i + self.k, j:j + self.k] += np.einsum("nf,fchw->nchw", g, self.W)
        self.db = dout.sum(axis=(0, 2, 3))
        return dxp[:, :, after:after + h, after:after + w]
