"""The worked example of docs/check-your-own.md: layer objects in the style of many from-scratch
tutorials (a 3x3 conv and a 2x2 max pool, NHWC), checked against TensorFlow with crosscheck's
``assert_matches_tf`` inside ordinary hypothesis tests."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import crosscheck
from crosscheck.case import Case


class Conv3x3:
    """3x3 'valid' convolution, stride 1, NHWC input, weights (3, 3, in_channels, filters)."""

    def __init__(self, weights):
        self.w = weights

    def forward(self, x):
        self.x = x
        n, h, w, _ = x.shape
        out = np.zeros((n, h - 2, w - 2, self.w.shape[3]))
        for i in range(3):
            for j in range(3):
                out += x[:, i:i + h - 2, j:j + w - 2, :] @ self.w[i, j]
        return out

    def backward(self, dout):
        """Returns dx; stores the weight gradient in self.dw."""
        n, h, w, _ = self.x.shape
        dx, self.dw = np.zeros_like(self.x), np.zeros_like(self.w)
        for i in range(3):
            for j in range(3):
                window = self.x[:, i:i + h - 2, j:j + w - 2, :]
                self.dw[i, j] = np.tensordot(window, dout, axes=([0, 1, 2], [0, 1, 2]))
                dx[:, i:i + h - 2, j:j + w - 2, :] += dout @ self.w[i, j].T
        return dx


class MaxPool2:
    """2x2 max pool, stride 2, NHWC (odd trailing rows/columns dropped)."""

    def forward(self, x):
        self.x = x
        n, h, w, c = x.shape
        return self._windows(x).max(axis=(2, 4))

    def _windows(self, x):
        n, h, w, c = x.shape
        return x[:, :h - h % 2, :w - w % 2].reshape(n, h // 2, 2, w // 2, 2, c)

    def backward(self, dout):
        n, h, w, c = self.x.shape
        win = self._windows(self.x)
        hit = win == win.max(axis=(2, 4), keepdims=True)
        dx = np.zeros_like(self.x)
        dx[:, :h - h % 2, :w - w % 2] = (hit * dout[:, :, None, :, None, :]).reshape(n, h - h % 2, w - w % 2, c)
        return dx


# --- adapters: the op's keyword arguments in, the layer's answer out ------------------------------

def conv_forward(input, filters, **params):
    return Conv3x3(filters).forward(input)


def conv_backward(dy, input, filters, **params):
    layer = Conv3x3(filters)
    layer.forward(input)
    dx = layer.backward(dy)
    return dx, layer.dw


def pool_forward(input, **params):
    return MaxPool2().forward(input)


def pool_backward(dy, input, **params):
    layer = MaxPool2()
    layer.forward(input)
    return (layer.backward(dy),)


# --- the tests: hypothesis draws the shapes, TensorFlow is the oracle ------------------------------

@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(3, 9), w=st.integers(3, 9), cin=st.integers(1, 3),
       cout=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_conv3x3_matches_tf(n, h, w, cin, cout, seed):
    rng = np.random.default_rng(seed)
    case = Case("conv2d", dict(strides=[1, 1], padding="VALID", dilations=[1, 1], data_format="NHWC"),
                {"input": rng.standard_normal((n, h, w, cin)), "filters": rng.standard_normal((3, 3, cin, cout))},
                rng.standard_normal((n, h - 2, w - 2, cout)), "float64", seed)
    crosscheck.assert_matches_tf(case, conv_forward, conv_backward)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(2, 9), w=st.integers(2, 9), c=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_maxpool2_matches_tf(n, h, w, c, seed):
    rng = np.random.default_rng(seed)
    size = n * h * w * c
    x = np.linspace(-1.0, 1.0, size)[rng.permutation(size)].reshape(n, h, w, c)   # no ties
    case = Case("max_pool2d", dict(ksize=[2, 2], strides=[2, 2], padding="VALID", data_format="NHWC"),
                {"input": x}, rng.standard_normal((n, h // 2, w // 2, c)), "float64", seed)
    crosscheck.assert_matches_tf(case, pool_forward, pool_backward)
