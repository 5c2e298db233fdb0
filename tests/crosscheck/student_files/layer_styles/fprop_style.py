"""
layers.py -- fprop / bprop layers. Sizes are pairs, as in the framework this mimics:
Conv2D(in_channels, out_channels, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0)).
bprop(grad_out) returns a dict: {"x": grad wrt the input, "W": ..., "b": ...}.  NCHW.
"""
import numpy as np


class Conv2D:
    def __init__(self, in_channels, out_channels, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0)):
        self.kh, self.kw = kernel_size
        self.sh, self.sw = stride
        self.ph, self.pw = padding
        bound = 1 / np.sqrt(in_channels * self.kh * self.kw)
        self.W = np.random.uniform(-bound, bound, (out_channels, in_channels, self.kh, self.kw))
        self.b = np.random.uniform(-bound, bound, out_channels)

    def fprop(self, x):
        self.x = x
        xp = np.pad(x, ((0, 0), (0, 0), (self.ph, self.ph), (self.pw, self.pw)))
        self.xp = xp
        n, _, h, w = xp.shape
        oh = (h - self.kh) // self.sh + 1
        ow = (w - self.kw) // self.sw + 1
        out = np.empty((n, self.W.shape[0], oh, ow))
        for i in range(oh):
            for j in range(ow):
                r, c = i * self.sh, j * self.sw
                out[:, :, i, j] = np.tensordot(xp[:, :, r:r + self.kh, c:c + self.kw], self.W,
                                               axes=([1, 2, 3], [1, 2, 3]))
        return out + self.b[None, :, None, None]

    def bprop(self, grad_out):
        dW = np.zeros_like(self.W)
        dxp = np.zeros_like(self.xp)
        for i in range(grad_out.shape[2]):
            for j in range(grad_out.shape[3]):
                r, c = i * self.sh, j * self.sw
                g = grad_out[:, :, i, j]
                dW += np.tensordot(g, self.xp[:, :, r:r + self.kh, c:c + self.kw], axes=([0], [0]))
                dxp[:, :, r:r + self.kh, c:c + self.kw] += np.tensordot(g, self.W, axes=([1], [0]))
        h, w = self.x.shape[2:]
        dx = dxp[:, :, self.ph:self.ph + h, self.pw:self.pw + w]
        return {"x": dx, "W": dW, "b": grad_out.sum(axis=(0, 2, 3))}


class AvgPool2D:
    def __init__(self, kernel_size=(2, 2), stride=(2, 2)):
        self.kh, self.kw = kernel_size
        self.sh, self.sw = stride

    def fprop(self, x):
        self.x_shape = x.shape
        n, c, h, w = x.shape
        oh, ow = (h - self.kh) // self.sh + 1, (w - self.kw) // self.sw + 1
        out = np.empty((n, c, oh, ow))
        for i in range(oh):
            for j in range(ow):
                r, q = i * self.sh, j * self.sw
                out[:, :, i, j] = x[:, :, r:r + self.kh, q:q + self.kw].mean(axis=(2, 3))
        return out

    def bprop(self, grad_out):
        dx = np.zeros(self.x_shape)
        share = 1.0 / (self.kh * self.kw)
        for i in range(grad_out.shape[2]):
            for j in range(grad_out.shape[3]):
                r, q = i * self.sh, j * self.sw
                dx[:, :, r:r + self.kh, q:q + self.kw] += grad_out[:, :, i, j][:, :, None, None] * share
        return {"x": dx}


class Dense:
    def __init__(self, in_features, out_features):
        self.W = np.random.randn(in_features, out_features) * 0.01
        self.b = np.zeros(out_features)

    def fprop(self, x):
        self.x = x
        return x @ self.W + self.b

    def bprop(self, grad_out):
        return {"x": grad_out @ self.W.T, "W": self.x.T @ grad_out, "b": grad_out.sum(axis=0)}
