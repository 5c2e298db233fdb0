"""
nn.py -- layers are callables: y = layer(x); backward(dy) returns every gradient at once,
(dx, dW, db), so the training loop can zip them with the parameters.  NCHW.
"""
import numpy as np


class Conv2d:
    def __init__(self, cin, cout, k, s=1, p=0):
        self.k, self.s, self.p = k, s, p
        self.W = np.random.randn(cout, cin, k, k) * 0.1
        self.b = np.zeros(cout)

    def __call__(self, x):
        k, s, p = self.k, self.s, self.p
        self.x = x
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        n, _, h, w = xp.shape
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        # im2col: (n, oh, ow, cin * k * k)
        cols = np.stack([xp[:, :, i * s:i * s + k, j * s:j * s + k].reshape(n, -1)
                         for i in range(oh) for j in range(ow)], axis=1)
        self.cols, self.out_hw = cols, (oh, ow)
        y = cols @ self.W.reshape(self.W.shape[0], -1).T + self.b        # (n, oh*ow, cout)
        return y.transpose(0, 2, 1).reshape(n, -1, oh, ow)

    def backward(self, dy):
        k, s, p = self.k, self.s, self.p
        n, cout, oh, ow = dy.shape
        dy2 = dy.reshape(n, cout, oh * ow).transpose(0, 2, 1)           # (n, oh*ow, cout)
        dW = np.einsum("npo,npc->oc", dy2, self.cols).reshape(self.W.shape)
        db = dy.sum(axis=(0, 2, 3))
        dcols = dy2 @ self.W.reshape(cout, -1)                          # (n, oh*ow, cin*k*k)
        h, w = self.x.shape[2] + 2 * p, self.x.shape[3] + 2 * p
        dxp = np.zeros((n, self.x.shape[1], h, w))
        for idx in range(oh * ow):
            i, j = divmod(idx, ow)
            dxp[:, :, i * s:i * s + k, j * s:j * s + k] += dcols[:, idx].reshape(n, -1, k, k)
        dx = dxp[:, :, p:h - p, p:w - p]
        return dx, dW, db


class Linear:
    def __init__(self, nin, nout):
        self.W = np.random.randn(nin, nout) / np.sqrt(nin)
        self.b = np.zeros(nout)

    def __call__(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dy):
        return dy @ self.W.T, self.x.T @ dy, dy.sum(0)


class Sigmoid:
    def __call__(self, x):
        self.y = 1 / (1 + np.exp(-x))
        return self.y

    def backward(self, dy):
        return (dy * self.y * (1 - self.y),)
