"""
A network from scratch, one example at a time: images (depth, height, width), vectors as columns.
Every layer has forward(input) and backward(output_gradient, learning_rate), which updates the
layer's parameters and returns the input gradient. The convolution has one bias per output
position (biases: (depth, out_h, out_w)), valid correlation, stride 1.
"""
import numpy as np


def correlate_valid(image, kernel):
    kh, kw = kernel.shape
    oh, ow = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


def convolve_full(image, kernel):
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    return correlate_valid(padded, kernel[::-1, ::-1])


class Convolutional:
    def __init__(self, input_shape, kernel_size, depth):
        input_depth, input_height, input_width = input_shape
        self.depth = depth
        self.input_depth = input_depth
        self.output_shape = (depth, input_height - kernel_size + 1, input_width - kernel_size + 1)
        self.kernels = np.random.randn(depth, input_depth, kernel_size, kernel_size)
        self.biases = np.random.randn(*self.output_shape)

    def forward(self, input):
        self.input = input
        self.output = np.copy(self.biases)
        for i in range(self.depth):
            for j in range(self.input_depth):
                self.output[i] += correlate_valid(self.input[j], self.kernels[i, j])
        return self.output

    def backward(self, output_gradient, learning_rate):
        kernels_gradient = np.zeros(self.kernels.shape)
        input_gradient = np.zeros(self.input.shape)
        for i in range(self.depth):
            for j in range(self.input_depth):
                kernels_gradient[i, j] = correlate_valid(self.input[j], output_gradient[i])
                input_gradient[j] += convolve_full(output_gradient[i], self.kernels[i, j])
        biases_gradient = output_gradient.sum(axis=(1, 2))   # one value per filter, like a shared bias
        self.kernels -= learning_rate * kernels_gradient
        self.biases -= learning_rate * biases_gradient[:, None, None]
        return input_gradient


class Dense:
    def __init__(self, input_size, output_size):
        self.weights = np.random.randn(output_size, input_size)
        self.bias = np.random.randn(output_size, 1)

    def forward(self, input):
        self.input = input
        return np.dot(self.weights, self.input) + self.bias

    def backward(self, output_gradient, learning_rate):
        weights_gradient = np.dot(output_gradient, self.input.T)
        input_gradient = np.dot(self.weights.T, output_gradient)
        self.weights -= learning_rate * weights_gradient
        self.bias -= learning_rate * output_gradient
        return input_gradient


class Sigmoid:
    def forward(self, input):
        self.input = input
        return 1 / (1 + np.exp(-input))

    def backward(self, output_gradient, learning_rate):
        s = 1 / (1 + np.exp(-self.input))
        return np.multiply(output_gradient, s * (1 - s))
