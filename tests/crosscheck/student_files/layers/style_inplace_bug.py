# cnn from scratch: conv -> maxpool -> softmax on one grayscale image at a time.
# backprop() does the gradient step itself (plain SGD), there is no optimiser.
import numpy as np


class Conv3x3:
    """3x3 'valid' convolution (really cross-correlation), stride 1, no bias."""

    def __init__(self, num_filters):
        self.num_filters = num_filters
        # divide by 9 so the first outputs are not huge
        self.filters = np.random.randn(num_filters, 3, 3) / 9

    def _windows(self, image):
        h, w = image.shape
        for r in range(h - 2):
            for c in range(w - 2):
                yield r, c, image[r:r + 3, c:c + 3]

    def forward(self, input):
        """input: (h, w) -> (h - 2, w - 2, num_filters)"""
        self.last_input = input
        h, w = input.shape
        output = np.zeros((h - 2, w - 2, self.num_filters))
        for r, c, window in self._windows(input):
            output[r, c] = np.sum(window * self.filters, axis=(1, 2))
        return output

    def backprop(self, d_L_d_out, learn_rate):
        """
        d_L_d_out: (h - 2, w - 2, num_filters).
        Updates the filters in place. This is the first layer so there is no
        need for the gradient w.r.t. the image: returns None.
        """
        grad = np.zeros(self.filters.shape)
        for r, c, window in self._windows(self.last_input):
            # every filter saw the same window
            grad += d_L_d_out[r, c][:, None, None] * window[None, :, :]
        self.filters += learn_rate * grad
        return None


class MaxPool2:
    """2x2 max pooling with stride 2 (odd leftover rows/cols are dropped)."""

    def forward(self, input):
        """input: (h, w, c) -> (h // 2, w // 2, c)"""
        self.last_input = input
        h, w, c = input.shape
        output = np.zeros((h // 2, w // 2, c))
        for i in range(h // 2):
            for j in range(w // 2):
                output[i, j] = np.amax(input[2 * i:2 * i + 2, 2 * j:2 * j + 2], axis=(0, 1))
        return output

    def backprop(self, d_L_d_out):
        """Route each gradient back to the max pixel of its 2x2 block."""
        x = self.last_input
        h, w, c = x.shape
        d_L_d_input = np.zeros(x.shape)
        for i in range(h // 2):
            for j in range(w // 2):
                block = x[2 * i:2 * i + 2, 2 * j:2 * j + 2]          # (2, 2, c)
                biggest = np.amax(block, axis=(0, 1))
                # every pixel equal to the max gets the gradient, so if two
                # pixels tie they both get it (simpler than picking one)
                is_max = block == biggest
                d_L_d_input[i:i + 2, j:j + 2] += is_max * d_L_d_out[i, j]
        return d_L_d_input


class Softmax:
    """Fully connected layer followed by softmax."""

    def __init__(self, input_len, nodes):
        self.weights = np.random.randn(input_len, nodes) / input_len
        self.biases = np.zeros(nodes)

    def forward(self, input):
        """Flattens input, returns the class probabilities (nodes,)."""
        self.last_input_shape = input.shape
        flat = input.flatten()
        self.last_input = flat

        totals = flat @ self.weights + self.biases
        self.last_totals = totals
        e = np.exp(totals - np.max(totals))     # minus the max so exp can't blow up
        self.last_probs = e / np.sum(e)
        return self.last_probs

    def backprop(self, d_L_d_out, learn_rate):
        """
        d_L_d_out: gradient of the loss w.r.t. the probabilities (nodes,).
        Updates weights/biases in place, returns the gradient w.r.t. the input
        of forward(), in its original shape.
        """
        p = self.last_probs
        # derivative of softmax: p * (1 - p)
        d_L_d_t = p * (1 - p) * d_L_d_out

        d_L_d_w = np.outer(self.last_input, d_L_d_t)
        d_L_d_b = d_L_d_t
        d_L_d_inputs = self.weights @ d_L_d_t       # uses the weights before the update

        self.weights -= learn_rate * d_L_d_w
        self.biases -= learn_rate * d_L_d_b
        return d_L_d_inputs.reshape(self.last_input_shape)
