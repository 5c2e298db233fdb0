"""
cnn/layers.py -- a small CNN library, one class per layer.

    layer.forward_pass(inputs)     -> outputs
    layer.backward_pass(d_outputs) -> d_inputs   (and grad_weights / grad_biases for layers with parameters)

Images are (batch, channels, height, width).
"""
import numpy as np


class Convolution:
    def __init__(self, input_channels, num_filters, filter_size, stride=1, padding=0):
        self.stride = stride
        self.padding = padding
        self.filter_size = filter_size
        scale = np.sqrt(1.0 / (input_channels * filter_size * filter_size))
        self.weights = np.random.uniform(-scale, scale, (num_filters, input_channels, filter_size, filter_size))
        self.biases = np.zeros((num_filters, 1))
        self.grad_weights = np.zeros_like(self.weights)
        self.grad_biases = np.zeros_like(self.biases)

    def forward_pass(self, inputs):
        self.inputs = inputs
        f, s, p = self.filter_size, self.stride, self.padding
        batch, _, height, width = inputs.shape
        out_h = (height + 2 * p - f) // s + 1
        out_w = (width + 2 * p - f) // s + 1
        self.padded = np.pad(inputs, ((0, 0), (0, 0), (p, p), (p, p)))
        outputs = np.zeros((batch, self.weights.shape[0], out_h, out_w))
        for y in range(out_h):
            for x in range(out_w):
                patch = self.padded[:, :, y * s:y * s + f, x * s:x * s + f]
                outputs[:, :, y, x] = np.einsum("bchw,kchw->bk", patch, self.weights) + self.biases[:, 0]
        return outputs

    def backward_pass(self, d_outputs):
        f, s, p = self.filter_size, self.stride, self.padding
        _, _, out_h, out_w = d_outputs.shape
        d_padded = np.zeros_like(self.padded)
        self.grad_weights = np.zeros_like(self.weights)
        for y in range(out_h):
            for x in range(out_w):
                patch = self.padded[:, :, y * s:y * s + f, x * s:x * s + f]
                g = d_outputs[:, :, y, x]
                self.grad_weights += np.einsum("bk,bchw->kchw", g, patch)
                d_padded[:, :, y * s:y * s + f, x * s:x * s + f] += np.einsum("bk,kchw->bchw", g, self.weights)
        self.grad_biases = d_outputs.sum(axis=(0, 2, 3)).reshape(-1, 1)
        height, width = self.inputs.shape[2:]
        return d_padded[:, :, p:p + height, p:p + width]


class MaxPool:
    def __init__(self, pool_size=2, stride=2):
        self.pool_size = pool_size
        self.stride = stride

    def forward_pass(self, inputs):
        self.inputs = inputs
        k, s = self.pool_size, self.stride
        batch, channels, height, width = inputs.shape
        out_h, out_w = (height - k) // s + 1, (width - k) // s + 1
        outputs = np.zeros((batch, channels, out_h, out_w))
        for y in range(out_h):
            for x in range(out_w):
                outputs[:, :, y, x] = inputs[:, :, y * s:y * s + k, x * s:x * s + k].max(axis=(2, 3))
        return outputs

    def backward_pass(self, d_outputs):
        k, s = self.pool_size, self.stride
        batch, channels, _, _ = self.inputs.shape
        d_inputs = np.zeros_like(self.inputs)
        for y in range(d_outputs.shape[2]):
            for x in range(d_outputs.shape[3]):
                window = self.inputs[:, :, y * s:y * s + k, x * s:x * s + k].reshape(batch, channels, -1)
                first = window.argmax(axis=2)
                rows, cols = np.unravel_index(first, (k, k))
                for b in range(batch):
                    for c in range(channels):
                        d_inputs[b, c, y * s + rows[b, c], x * s + cols[b, c]] += d_outputs[b, c, y, x]
        return d_inputs


class FullyConnected:
    def __init__(self, input_size, output_size):
        self.weights = np.random.randn(output_size, input_size) * np.sqrt(2.0 / input_size)
        self.biases = np.zeros(output_size)

    def forward_pass(self, inputs):
        self.input_shape = inputs.shape
        self.inputs = inputs.reshape(inputs.shape[0], -1)
        return self.inputs @ self.weights.T + self.biases

    def backward_pass(self, d_outputs):
        self.grad_weights = d_outputs.T @ self.inputs
        self.grad_biases = d_outputs.sum(axis=0)
        return (d_outputs @ self.weights).reshape(self.input_shape)


class Tanh:
    def forward_pass(self, inputs):
        self.outputs = np.tanh(inputs)
        return self.outputs

    def backward_pass(self, d_outputs):
        return d_outputs * (1 - self.outputs ** 2)
