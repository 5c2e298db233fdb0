"""What `crosscheck check --convention layers` cannot discover about style_inplace.py, declared."""
import crosscheck
from style_inplace_bug import Conv3x3, MaxPool2, Softmax

no_batch = {"pool_sizes": (2,), "strides": (2,)}
LAYERS = [
    crosscheck.Layer(lambda c: Conv3x3(c.out_channels), op="conv2d", layout="HW", filter_layout="FHW",
                     weights={"filters": "filters"}, grads="update", backward="backprop", learning_rate=1.0,
                     supports={"kernel_sizes": (3,), "strides": (1,), "pads": (0,), "bias": False}),
    crosscheck.Layer(lambda c: MaxPool2(), op="max_pool2d", layout="HWC", backward="backprop", supports=no_batch),
    crosscheck.Layer(lambda c: Softmax(c.in_features, c.out_features), op="dense", activation="softmax", layout="D",
                     weights={"kernel": "weights", "bias": "biases"}, grads="update", backward="backprop",
                     learning_rate=1.0),
]
