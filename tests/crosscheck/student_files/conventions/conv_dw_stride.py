"""
Conv2D for NHWC batches, parameters and gradients in dicts, weights
(fr, fc, in_ch, out_ch) as in Keras.
"""
import numpy as np


class Conv2D:
    def __init__(self, in_ch, out_ch, kernel_size, stride=1, pad=0):
        self.out_ch = out_ch
        self.kernel_shape = (kernel_size, kernel_size)
        self.stride = stride
        self.pad = pad
        fr = fc = kernel_size
        self.parameters = {"W": np.random.randn(fr, fc, in_ch, out_ch) * 0.1,
                           "b": np.zeros((1, 1, 1, out_ch))}
        self.gradients = {"W": np.zeros((fr, fc, in_ch, out_ch)), "b": np.zeros((1, 1, 1, out_ch))}

    def forward(self, X):
        W, b = self.parameters["W"], self.parameters["b"]
        fr, fc = self.kernel_shape
        s, p = self.stride, self.pad
        Xp = np.pad(X, ((0, 0), (p, p), (p, p), (0, 0)))
        n_ex, in_rows, in_cols, _ = X.shape
        out_rows = (in_rows + 2 * p - fr) // s + 1
        out_cols = (in_cols + 2 * p - fc) // s + 1
        Y = np.zeros((n_ex, out_rows, out_cols, self.out_ch))
        for r in range(out_rows):
            for c in range(out_cols):
                window = Xp[:, r * s:r * s + fr, c * s:c * s + fc, :]
                Y[:, r, c, :] = np.tensordot(window, W, axes=([1, 2, 3], [0, 1, 2]))
        self.X, self.Xp = X, Xp
        return Y + b

    def backward(self, dLdY):
        W = self.parameters["W"]
        fr, fc = self.kernel_shape
        s, p = self.stride, self.pad
        n_ex, out_rows, out_cols, _ = dLdY.shape
        dXp = np.zeros_like(self.Xp)
        dW = np.zeros_like(W)
        for r in range(out_rows):
            for c in range(out_cols):
                g = dLdY[:, r, c, :]
                dXp[:, r * s:r * s + fr, c * s:c * s + fc, :] += np.tensordot(g, W, axes=([1], [3]))
                dW += np.tensordot(self.Xp[:, r:r + fr, c:c + fc, :], g, axes=([0], [0]))
        self.gradients["W"] = dW
        self.gradients["b"] = dLdY.sum(axis=(0, 1, 2)).reshape(1, 1, 1, -1)
        rows, cols = self.X.shape[1:3]
        return dXp[:, p:p + rows, p:p + cols, :]
