"""
SGD inside the layers: backward(d_out, learning_rate) computes the gradients, returns the gradient
for the previous layer (computed with the weights *before* the step) and then updates its own
weights in place. One image at a time, (channels, height, width).
"""
import numpy as np


class ConvLayer:
    def __init__(self, in_channels, num_filters, kernel_size, stride=1):
        self.stride = stride
        self.kernel_size = kernel_size
        self.kernels = np.random.randn(num_filters, in_channels, kernel_size, kernel_size) * 0.1
        self.biases = np.zeros(num_filters)

    def forward(self, image):
        self.image = image
        k, s = self.kernel_size, self.stride
        _, h, w = image.shape
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        out = np.zeros((self.kernels.shape[0], oh, ow))
        for f in range(self.kernels.shape[0]):
            for i in range(oh):
                for j in range(ow):
                    out[f, i, j] = np.sum(image[:, i * s:i * s + k, j * s:j * s + k] * self.kernels[f]) + self.biases[f]
        return out

    def backward(self, d_out, learning_rate):
        k, s = self.kernel_size, self.stride
        d_kernels = np.zeros_like(self.kernels)
        d_image = np.zeros_like(self.image)
        for f in range(self.kernels.shape[0]):
            for i in range(d_out.shape[1]):
                for j in range(d_out.shape[2]):
                    patch = self.image[:, i * s:i * s + k, j * s:j * s + k]
                    d_kernels[f] += d_out[f, i, j] * patch
                    d_image[:, i * s:i * s + k, j * s:j * s + k] += d_out[f, i, j] * self.kernels[f]
        d_biases = d_out.sum()
        self.kernels -= learning_rate * d_kernels
        self.biases -= learning_rate * d_biases
        return d_image


class DenseLayer:
    def __init__(self, input_dim, output_dim):
        self.weights = np.random.randn(input_dim, output_dim) * 0.1
        self.biases = np.zeros(output_dim)

    def forward(self, inputs):
        self.inputs = inputs
        return inputs @ self.weights + self.biases

    def backward(self, d_out, learning_rate):
        d_inputs = d_out @ self.weights.T
        self.weights -= learning_rate * self.inputs.T @ d_out
        self.biases -= learning_rate * d_out.sum(axis=0)
        return d_inputs
