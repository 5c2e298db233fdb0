"""The type aliases of npcnn's annotations (what each argument form accepts)."""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["ArrayLike", "DTypeLike", "SpatialArg", "PaddingArg", "ShapeArg", "Shape", "Axes", "Pullback", "OpResult"]

#: A window size, stride or dilation: one int for both spatial axes, an ``(h, w)`` pair, or
#: TensorFlow's 4-element form (``[1, h, w, 1]`` for NHWC, ``[1, 1, h, w]`` for NCHW).
SpatialArg = Union[int, Sequence[int]]

#: ``"VALID"``, ``"SAME"`` (any case) or explicit ``[[top, bottom], [left, right]]`` (or TensorFlow's
#: 4-pair form, whose batch and channel pairs are ``[0, 0]``).
PaddingArg = Union[str, Sequence[Sequence[int]]]

#: One axis or several (an int or a sequence of ints).
Axes = Union[int, Sequence[int]]

#: A shape argument: a sequence of ints (a tuple, a list, an int array).
ShapeArg = Sequence[int]

#: A layer's input or output shape, batch axis included; an axis not known yet is None.
Shape = tuple[Optional[int], ...]

#: ``pullback(dy)``: one gradient per array argument, in order (None for integer labels).
Pullback = Callable[[np.ndarray], tuple[Optional[np.ndarray], ...]]

#: What a backward rule returns: the op's output and its pullback.
OpResult = tuple[np.ndarray, Pullback]
