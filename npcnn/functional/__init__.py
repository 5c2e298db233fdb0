"""npcnn's ops: TensorFlow's layouts (NHWC activations, HWIO filters) and argument names.

Every differentiable op has a hand-written backward rule, reached through :func:`npcnn.vjp`.
"""
from ..gradients import vjp
from .conv import conv2d, depthwise_conv2d
from .conv_backward import conv2d_backprop_filter, conv2d_backprop_input
from .conv_transpose import conv2d_transpose
