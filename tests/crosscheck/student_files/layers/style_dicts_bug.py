"""
Layers for the numpy net. Each layer keeps its parameters in self.params and
the matching gradients in self.grads (same keys) so the solver can just loop
over the dicts. Images are NCHW.
"""
import numpy as np


# ---------------------------------------------------------------- im2col

def im2col(X, k, padding, stride):
    """(N, C, H, W) -> (C*k*k, h_out*w_out*N); columns ordered (row, col, sample)."""
    N, C, H, W = X.shape
    h_out = (H + 2 * padding - k) // stride + 1
    w_out = (W + 2 * padding - k) // stride + 1
    X_p = np.pad(X, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="constant")

    cols = np.empty((C * k * k, h_out * w_out * N), dtype=X.dtype)
    col = 0
    for i in range(h_out):
        for j in range(w_out):
            patch = X_p[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            cols[:, col:col + N] = patch.reshape(N, -1).T
            col += N
    return cols


def col2im(cols, X_shape, k, padding, stride):
    """Inverse direction of im2col: add every column back onto its patch."""
    N, C, H, W = X_shape
    h_out = (H + 2 * padding - k) // stride + 1
    w_out = (W + 2 * padding - k) // stride + 1
    X_p = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    col = 0
    for i in range(h_out):
        for j in range(w_out):
            X_p[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += \
                cols[:, col:col + N].T.reshape(N, C, k, k)
            col += N
    return X_p[:, :, padding:padding + H, padding:padding + W]


# ---------------------------------------------------------------- layers

class Conv:
    def __init__(self, X_dim, n_filter, h_filter, w_filter, stride, padding):
        # only square filters for now
        assert h_filter == w_filter, "Conv: only square kernels supported"
        self.d_X, self.h_X, self.w_X = X_dim
        self.n_filter, self.k = n_filter, h_filter
        self.stride, self.padding = stride, padding

        assert (self.h_X + 2 * padding - self.k) % stride == 0, "Conv: stride does not fit the height"
        assert (self.w_X + 2 * padding - self.k) % stride == 0, "Conv: stride does not fit the width"
        self.h_out = (self.h_X + 2 * padding - self.k) // stride + 1
        self.w_out = (self.w_X + 2 * padding - self.k) // stride + 1

        self.params = {
            "W": np.random.randn(n_filter, self.d_X, h_filter, w_filter) * np.sqrt(2.0 / (self.d_X * h_filter * w_filter)),
            "b": np.zeros((n_filter, 1)),
        }
        self.grads = {"W": None, "b": None}

    def forward(self, X):
        self.n_X = X.shape[0]
        self.X_shape = X.shape
        self.X_col = im2col(X, self.k, self.padding, self.stride)
        W_row = self.params["W"].reshape(self.n_filter, -1)

        out = W_row @ self.X_col + self.params["b"]
        out = out.reshape(self.n_filter, self.h_out, self.w_out, self.n_X)
        return out.transpose(3, 0, 1, 2)

    def backward(self, dout):
        dout_flat = dout.transpose(1, 2, 3, 0).reshape(self.n_filter, -1)

        dW = self.X_col @ dout_flat.T
        self.grads["W"] = dW.reshape(self.params["W"].shape)
        self.grads["b"] = np.sum(dout, axis=(0, 2, 3)).reshape(self.n_filter, -1)

        W_flat = self.params["W"].reshape(self.n_filter, -1)
        dX_col = W_flat.T @ dout_flat
        return col2im(dX_col, self.X_shape, self.k, self.padding, self.stride)


class Maxpool:
    def __init__(self, X_dim, size, stride):
        self.d_X, self.h_X, self.w_X = X_dim
        self.size, self.stride = size, stride
        assert (self.h_X - size) % stride == 0 and (self.w_X - size) % stride == 0, \
            "Maxpool: stride does not fit the input"
        self.h_out = (self.h_X - size) // stride + 1
        self.w_out = (self.w_X - size) // stride + 1
        self.params, self.grads = {}, {}

    def forward(self, X):
        self.n_X = X.shape[0]
        self.X_shape = X.shape
        # treat every channel as its own one-channel image
        X_r = X.reshape(-1, 1, self.h_X, self.w_X)
        self.X_col = im2col(X_r, self.size, 0, self.stride)      # (size*size, h_out*w_out*N*C)
        self.max_idx = np.argmax(self.X_col, axis=0)
        out = self.X_col[self.max_idx, range(self.max_idx.size)]
        out = out.reshape(self.h_out, self.w_out, self.n_X, self.d_X)
        return out.transpose(2, 3, 0, 1)

    def backward(self, dout):
        dX_col = np.zeros_like(self.X_col)
        dout_flat = dout.ravel()
        dX_col[self.max_idx, range(self.max_idx.size)] = dout_flat
        dX = col2im(dX_col, (self.n_X * self.d_X, 1, self.h_X, self.w_X), self.size, 0, self.stride)
        return dX.reshape(self.X_shape)


class FullyConnected:
    def __init__(self, in_size, out_size):
        self.params = {
            "W": np.random.randn(in_size, out_size) * np.sqrt(2.0 / in_size),
            "b": np.zeros((1, out_size)),
        }
        self.grads = {"W": None, "b": None}

    def forward(self, X):
        self.X_shape = X.shape
        self.X = X.reshape(X.shape[0], -1)
        return self.X @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.X.T @ dout
        self.grads["b"] = np.sum(dout, axis=1, keepdims=True)
        dX = dout @ self.params["W"].T
        return dX.reshape(self.X_shape)


class ReLU:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, X):
        self.X = X
        return np.maximum(X, 0)

    def backward(self, dout):
        dX = dout
        dX[self.X <= 0] = 0
        return dX
