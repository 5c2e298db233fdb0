"""tinyconv: a small NumPy 2-D convolution library (NHWC activations, HWIO filters, float32)."""
from .conv import conv2d, conv2d_backward

__all__ = ["conv2d", "conv2d_backward"]
