"""Custom activations for my MLP experiments: classes with forward/backward that cache what the
backward needs, and a few plain functions with their derivatives."""
import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_prime(s):
    # s is the output of sigmoid (saves recomputing the exponential)
    return s * (1.0 - s)


def softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def softplus_grad(x):
    return sigmoid(x)


def swish(x):
    return x * sigmoid(x)


def swish_backward(dout, x):
    s = sigmoid(x)
    return dout * (s + x * s * (1 - s))


class Swish:
    def forward(self, x):
        self.x = x
        self.s = sigmoid(x)
        return x * self.s

    def backward(self, dout):
        s = self.s
        return dout * (s + self.x * s * (1 - s))


class GELU:
    """tanh approximation from Hendrycks & Gimpel."""

    def forward(self, x):
        self.x = x
        self.u = np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)
        self.t = np.tanh(self.u)
        return 0.5 * x * (1 + self.t)

    def backward(self, dout):
        x, t = self.x, self.t
        du = np.sqrt(2 / np.pi) * (1 + 3 * 0.044715 * x ** 2)
        return dout * (0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * du)


class Mish:
    def forward(self, x):
        self.x = x
        self.sp = softplus(x)
        self.tsp = np.tanh(self.sp)
        return x * self.tsp

    def backward(self, dout):
        sech2 = 1 - self.tsp ** 2
        return dout * (self.tsp + self.x * sech2 * sigmoid(self.x))
