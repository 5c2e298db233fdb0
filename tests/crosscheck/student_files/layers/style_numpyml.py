"""
Layers in the numpy-ml spirit: NHWC batches, parameters created lazily on the
first forward pass (so the layer does not need to be told its input size),
`parameters` and `gradients` dicts with the same keys.
"""
import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2D:
    def __init__(self, out_ch, kernel_shape, stride=1, pad=0):
        """
        out_ch: number of filters
        kernel_shape: (fr, fc) or an int for square kernels
        stride: int
        pad: int, zeros added on every side
        """
        self.out_ch = out_ch
        self.kernel_shape = _pair(kernel_shape)
        self.stride = stride
        self.pad = pad
        self.in_ch = None
        self.is_initialized = False
        self.parameters = {"W": None, "b": None}
        self.gradients = {"W": None, "b": None}
        self.derived_variables = {}

    def _init_params(self):
        fr, fc = self.kernel_shape
        fan_in = fr * fc * self.in_ch
        W = np.random.randn(fr, fc, self.in_ch, self.out_ch) * np.sqrt(2.0 / fan_in)
        b = np.zeros((1, 1, 1, self.out_ch))
        self.parameters = {"W": W, "b": b}
        self.gradients = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.is_initialized = True

    def forward(self, X):
        """X: (n_ex, in_rows, in_cols, in_ch) -> Y: (n_ex, out_rows, out_cols, out_ch)"""
        if not self.is_initialized:
            self.in_ch = X.shape[3]
            self._init_params()

        W, b = self.parameters["W"], self.parameters["b"]
        n_ex, in_rows, in_cols, in_ch = X.shape
        fr, fc = self.kernel_shape
        s, p = self.stride, self.pad
        out_rows = (in_rows + 2 * p - fr) // s + 1
        out_cols = (in_cols + 2 * p - fc) // s + 1

        X_pad = np.pad(X, ((0, 0), (p, p), (p, p), (0, 0)), mode="constant")
        Y = np.zeros((n_ex, out_rows, out_cols, self.out_ch), dtype=X.dtype)
        for r in range(out_rows):
            for c in range(out_cols):
                window = X_pad[:, r * s:r * s + fr, c * s:c * s + fc, :]     # (n_ex, fr, fc, in_ch)
                Y[:, r, c, :] = np.tensordot(window, W, axes=3)
        Y = Y + b

        self.X = X
        self.derived_variables["X_pad"] = X_pad
        return Y

    def backward(self, dLdY):
        """dLdY: like Y. Returns dLdX (like X) and stores dW, db in self.gradients."""
        X, X_pad = self.X, self.derived_variables["X_pad"]
        W = self.parameters["W"]
        n_ex, in_rows, in_cols, in_ch = X.shape
        fr, fc = self.kernel_shape
        s, p = self.stride, self.pad
        _, out_rows, out_cols, _ = dLdY.shape

        dX_pad = np.zeros_like(X_pad)
        dW = np.zeros_like(W)
        for r in range(out_rows):
            for c in range(out_cols):
                window = X_pad[:, r * s:r * s + fr, c * s:c * s + fc, :]
                d = dLdY[:, r, c, :]                                           # (n_ex, out_ch)
                dW += np.tensordot(window, d, axes=([0], [0]))                 # (fr, fc, in_ch, out_ch)
                dX_pad[:, r * s:r * s + fr, c * s:c * s + fc, :] += np.tensordot(d, W, axes=([1], [3]))
        db = dLdY.sum(axis=(0, 1, 2), keepdims=True)

        self.gradients["W"] = dW
        self.gradients["b"] = db
        return dX_pad[:, p:p + in_rows, p:p + in_cols, :]


class Pool2D:
    def __init__(self, kernel_shape, stride=1, mode="max"):
        """mode: 'max' or 'average'; no padding."""
        assert mode in ("max", "average"), "mode must be 'max' or 'average'"
        self.kernel_shape = _pair(kernel_shape)
        self.stride = stride
        self.mode = mode
        self.parameters, self.gradients = {}, {}

    def forward(self, X):
        n_ex, in_rows, in_cols, nc = X.shape
        fr, fc = self.kernel_shape
        s = self.stride
        out_rows = (in_rows - fr) // s + 1
        out_cols = (in_cols - fc) // s + 1

        Y = np.zeros((n_ex, out_rows, out_cols, nc), dtype=X.dtype)
        for r in range(out_rows):
            for c in range(out_cols):
                window = X[:, r * s:r * s + fr, c * s:c * s + fc, :]
                if self.mode == "max":
                    Y[:, r, c, :] = window.max(axis=(1, 2))
                else:
                    Y[:, r, c, :] = window.mean(axis=(1, 2))
        self.X = X
        return Y

    def backward(self, dLdY):
        X = self.X
        n_ex, in_rows, in_cols, nc = X.shape
        fr, fc = self.kernel_shape
        s = self.stride
        _, out_rows, out_cols, _ = dLdY.shape

        dX = np.zeros_like(X)
        for m in range(n_ex):
            for r in range(out_rows):
                for c in range(out_cols):
                    for ch in range(nc):
                        r0, c0 = r * s, c * s
                        if self.mode == "max":
                            xi = X[m, r0:r0 + fr, c0:c0 + fc, ch]
                            # only the first max (row-major) gets the gradient
                            y, x = np.unravel_index(np.argmax(xi), xi.shape)
                            dX[m, r0 + y, c0 + x, ch] += dLdY[m, r, c, ch]
                        else:
                            dX[m, r0:r0 + fr, c0:c0 + fc, ch] += dLdY[m, r, c, ch] / (fr * fc)
        return dX


class FullyConnected:
    def __init__(self, n_out):
        self.n_out = n_out
        self.n_in = None
        self.is_initialized = False
        self.parameters = {"W": None, "b": None}
        self.gradients = {"W": None, "b": None}

    def _init_params(self):
        W = np.random.randn(self.n_in, self.n_out) * np.sqrt(2.0 / self.n_in)
        b = np.zeros((1, self.n_out))
        self.parameters = {"W": W, "b": b}
        self.gradients = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.is_initialized = True

    def forward(self, X):
        """X: (n_ex, n_in) (extra dims get flattened) -> (n_ex, n_out)"""
        self.X_shape = X.shape
        X2 = X.reshape(X.shape[0], -1)
        if not self.is_initialized:
            self.n_in = X2.shape[1]
            self._init_params()
        self.X = X2
        return X2 @ self.parameters["W"] + self.parameters["b"]

    def backward(self, dLdY):
        W = self.parameters["W"]
        dW = self.X.T @ dLdY
        db = dLdY.sum(axis=0, keepdims=True)
        dX = dLdY @ W.T
        self.gradients["W"] = dW
        self.gradients["b"] = db
        return dX.reshape(self.X_shape)
