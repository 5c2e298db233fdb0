# layers.py -- started this on the old python 2 setup
import numpy as np


def relu_forward(x):
    """relu forward: elementwise max(0, x)"""
    out = np.zeros_like(x)
    flat_in = x.reshape(-1)
    flat_out = out.reshape(-1)
    for i in xrange(flat_in.shape[0]):
        if flat_in[i] > 0:
            flat_out[i] = flat_in[i]
    cache = x
    return out, cache


if __name__ == '__main__':
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    print "relu output:"
    print out
    print "negative entries left:", (out < 0).sum()
