"""npcnn's ops: TensorFlow's layouts (NHWC activations, HWIO filters) and argument names.

Every differentiable op has a hand-written backward rule, reached through :func:`npcnn.vjp`.
"""
from ..gradients import vjp
from .conv import conv2d, depthwise_conv2d
from .conv_backward import conv2d_backprop_filter, conv2d_backprop_input
from .conv_transpose import conv2d_transpose
from .pooling import avg_pool2d, global_avg_pool2d, max_pool2d
from .activations import elu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from .core import dense, dropout, dropout_mask, flatten
from .losses import mean_squared_error, softmax_cross_entropy_with_logits, sparse_softmax_cross_entropy_with_logits
from .normalization import batch_normalization, group_normalization, layer_normalization, moments
