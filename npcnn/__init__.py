"""npcnn: a NumPy CNN library with hand-written backward passes and TensorFlow's exact semantics."""
from importlib.metadata import PackageNotFoundError, version

from . import functional
from .gradients import differentiable_ops, vjp, vjp_rule

try:
    __version__ = version("npcnn-crosscheck")
except PackageNotFoundError:   # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["functional", "vjp", "vjp_rule", "differentiable_ops"]

# Models, layers, optimizers, losses, initializers and datasets (Keras-like API).
from . import config, datasets, initializers, layers, losses, models, optimizers  # noqa: E402
from .layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Conv2DTranspose,  # noqa: E402
                     Dense, DepthwiseConv2D, Dropout, Flatten, GlobalAveragePooling2D, GroupNormalization,
                     LayerNormalization, MaxPooling2D, ReLU)
from .losses import CategoricalCrossentropy, MeanSquaredError, SparseCategoricalCrossentropy  # noqa: E402
from .models import History, Sequential, load_model  # noqa: E402
from .optimizers import SGD, Adam, RMSprop  # noqa: E402

__all__ += [
    "datasets", "initializers", "layers", "losses", "models", "optimizers",
    "Activation", "AveragePooling2D", "BatchNormalization", "Conv2D", "Conv2DTranspose", "Dense",
    "DepthwiseConv2D", "Dropout", "Flatten", "GlobalAveragePooling2D", "GroupNormalization",
    "LayerNormalization", "MaxPooling2D", "ReLU",
    "CategoricalCrossentropy", "MeanSquaredError", "SparseCategoricalCrossentropy",
    "History", "Sequential", "load_model", "SGD", "Adam", "RMSprop",
]
