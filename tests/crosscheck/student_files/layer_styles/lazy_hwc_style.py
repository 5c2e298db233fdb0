"""
One image at a time, channels last: an image is (height, width, channels).

Conv builds its filters (num_filters, size, size, channels) the first time it sees an image,
so it needs no input size; padding keeps the size ("same", odd sizes). Dense works on column
vectors: x is (n_in, 1), W is (n_out, n_in), b is (n_out, 1). backward(d_out) returns d_input
and stores d_filters / d_bias, dW / db.
"""
import numpy as np


class Conv:
    def __init__(self, num_filters, size=3):
        self.num_filters = num_filters
        self.size = size
        self.filters = None
        self.bias = None

    def forward(self, image):
        if self.filters is None:
            channels = image.shape[2]
            self.filters = np.random.randn(self.num_filters, self.size, self.size, channels) / self.size ** 2
            self.bias = np.zeros(self.num_filters)
        p = (self.size - 1) // 2
        self.padded = np.pad(image, ((p, p), (p, p), (0, 0)))
        h, w, _ = image.shape
        out = np.zeros((h, w, self.num_filters))
        for i in range(h):
            for j in range(w):
                region = self.padded[i:i + self.size, j:j + self.size, :]
                out[i, j] = np.sum(region[None] * self.filters, axis=(1, 2, 3)) + self.bias
        return out

    def backward(self, d_out):
        p = (self.size - 1) // 2
        h, w, _ = d_out.shape
        self.d_filters = np.zeros_like(self.filters)
        d_padded = np.zeros_like(self.padded)
        for i in range(h):
            for j in range(w):
                region = self.padded[i:i + self.size, j:j + self.size, :]
                for f in range(self.num_filters):
                    self.d_filters[f] += d_out[i, j, f] * region
                    d_padded[i:i + self.size, j:j + self.size, :] += d_out[i, j, f] * self.filters[f]
        self.d_bias = d_out.sum(axis=(0, 1))
        return d_padded[p:p + h, p:p + w, :]


class MaxPool:
    def __init__(self, size=2):
        self.size = size

    def forward(self, image):
        self.image = image
        s = self.size
        h, w, c = image.shape
        out = np.zeros((h // s, w // s, c))
        for i in range(h // s):
            for j in range(w // s):
                out[i, j] = np.amax(image[i * s:(i + 1) * s, j * s:(j + 1) * s], axis=(0, 1))
        return out

    def backward(self, d_out):
        s = self.size
        d_image = np.zeros_like(self.image)
        for i in range(d_out.shape[0]):
            for j in range(d_out.shape[1]):
                window = self.image[i * s:(i + 1) * s, j * s:(j + 1) * s]
                for c in range(window.shape[2]):
                    r, q = np.unravel_index(np.argmax(window[:, :, c]), (s, s))
                    d_image[i * s + r, j * s + q, c] += d_out[i, j, c]
        return d_image


class Dense:
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_out, n_in) * np.sqrt(1.0 / n_in)
        self.b = np.zeros((n_out, 1))

    def forward(self, x):
        self.x = x
        return self.W @ x + self.b

    def backward(self, d_out):
        self.dW = d_out @ self.x.T
        self.db = d_out.sum(axis=1, keepdims=True)
        return self.W.T @ d_out
