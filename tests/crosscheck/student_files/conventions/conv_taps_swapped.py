"""
Convolution written tap by tap: for every kernel offset (a, b) the whole output
map is one matrix product, so there is no loop over output positions.
Data is NCHW, W is (F, C, k, k).
"""
import numpy as np


class ConvLayer:
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.k, self.s, self.p = kernel_size, stride, padding
        self.W = np.random.randn(out_channels, in_channels, kernel_size, kernel_size) * 0.1
        self.b = np.zeros(out_channels)

    def _taps(self, Ho, Wo):
        k, s = self.k, self.s
        for a in range(k):
            for b in range(k):
                yield a, b, (slice(a, a + s * (Ho - 1) + 1, s), slice(b, b + s * (Wo - 1) + 1, s))

    def forward(self, x):
        n, c, h, w = x.shape
        k, s, p = self.k, self.s, self.p
        self.x_shape = x.shape
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        Ho, Wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        out = np.zeros((n, self.W.shape[0], Ho, Wo))
        for a, b, (rows, cols) in self._taps(Ho, Wo):
            out += np.einsum("nchw,fc->nfhw", self.xp[:, :, rows, cols], self.W[:, :, a, b])
        return out + self.b.reshape(1, -1, 1, 1)

    def backward(self, dout):
        n, c, h, w = self.x_shape
        p = self.p
        Ho, Wo = dout.shape[2:]
        self.dW = np.zeros_like(self.W)
        dxp = np.zeros_like(self.xp)
        for a, b, (rows, cols) in self._taps(Ho, Wo):
            self.dW[:, :, b, a] = np.einsum("nfhw,nchw->fc", dout, self.xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, self.W[:, :, a, b])
        self.db = dout.sum(axis=(0, 2, 3))
        return dxp[:, :, p:p + h, p:p + w]
