"""Even kernels too: where same_padding.py puts the extra row of SAME padding, declared."""
import crosscheck
from same_padding import Conv2D

LAYERS = [crosscheck.Layer(lambda c: Conv2D(c.in_channels, c.out_channels, c.kernel), op="conv2d",
                           supports={"padding": "same-top", "strides": (1,), "kernel_sizes": (2, 3, 4), "square": True})]
