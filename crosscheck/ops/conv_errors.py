"""The invalid calls of the convolutions (error parity): bad spellings and values of every window
parameter, shapes that do not fit, and both sides of every size bound."""
from __future__ import annotations

import numpy as np

from .. import geometry as G
from ._common import error, ones, window_errors


def conv2d_errors() -> list:
    x, w = ones(1, 5, 5, 2), ones(3, 3, 2, 2)
    base = {"strides": 1, "padding": "SAME"}
    a = {"input": x, "filters": w}
    return window_errors(a, base) + [
        error("input not 4-D", "input", {"input": ones(5, 5, 2), "filters": w}, **base),
        error("filters not 4-D", "filters", {"input": x, "filters": ones(3, 3, 2)}, **base),
        error("input channels not a multiple of the filter's", "filters", {"input": ones(1, 5, 5, 3), "filters": w}, **base),
        error("bias of the wrong length", "bias", {**a, "bias": ones(3)}, **base),
        error("window larger than the input (VALID)", "input", {"input": ones(1, 2, 2, 2), "filters": w},
              strides=1, padding="VALID"),
        error("integer input", "input", {"input": np.ones((1, 5, 5, 2), np.int32), "filters": w.astype(np.int32)}, **base),
        error("mixed dtypes", "filters", {"input": x, "filters": w.astype(np.float64)}, **base),
        error("empty batch", "input", {"input": ones(0, 5, 5, 2), "filters": w}, **base),
        error("empty height (SAME)", "input", {"input": ones(1, 0, 5, 2), "filters": w}, **base),
        error("no output channels", "filters", {"input": x, "filters": ones(3, 3, 2, 0)}, **base),
        error("no input channels", "filters", {"input": ones(1, 5, 5, 0), "filters": ones(3, 3, 0, 2)}, **base),
        error("filters with no input channels", "filters", {"input": x, "filters": ones(3, 3, 0, 2)}, **base),
        error("input with no channels", "input", {"input": ones(1, 5, 5, 0), "filters": w}, **base),
        error("empty kernel", "filters", {"input": x, "filters": ones(0, 3, 2, 2)}, **base),
        error("explicit pad on the channel axis (NCHW)", "padding", {"input": ones(1, 2, 5, 5), "filters": w},
              strides=1, padding=[[0, 0], [1, 0], [1, 1], [1, 1]], data_format="NCHW"),
        error("explicit pad on the batch axis (NCHW)", "padding", {"input": ones(1, 2, 5, 5), "filters": w},
              strides=1, padding=[[1, 0], [0, 0], [1, 1], [1, 1]], data_format="NCHW"),
    ]


def size_bound_errors(size_param: str, arrays: dict, in_size: int = 3, k: int = 3, stride: int = 2) -> list:
    """Both sides of both bounds of the sizes ``size_param`` (conv2d_transpose's output_shape,
    conv2d_backprop_input's input_sizes) may take for a 3x3 input, kernel and output of 2 channels,
    stride 2: under SAME, VALID and explicit pads, along H and along W (the other axis in range).
    The sizes in the range are computed by TensorFlow, the ones beside it refused."""
    out = []
    for name, padding, per_axis in (("SAME", "SAME", ("SAME", "SAME")), ("VALID", "VALID", ("VALID", "VALID")),
                                    ("explicit", [[0, 0], [1, 0], [0, 1], [0, 0]], ((1, 0), (0, 1)))):
        ranges = [G.transpose_sizes(in_size, k, stride, 1, p) for p in per_axis]
        for axis, axis_name in enumerate("HW"):
            r = ranges[axis]
            for n, where in ((r.start - 1, "below"), (r.start, "at the bottom of"), (r.stop - 1, "at the top of"),
                             (r.stop, "above")):
                if n < 1:
                    continue
                hw = [ranges[0].start, ranges[1].start]
                hw[axis] = n
                out.append(error(f"{size_param} {n} {where} the {axis_name} range {r.start}..{r.stop - 1} ({name}, "
                                 f"stride {stride})", size_param, arrays,
                                 **{size_param: [1, *hw, 2], "strides": stride, "padding": padding}))
    return out


def backprop_input_errors() -> list:
    w, dy = ones(3, 3, 2, 2), ones(1, 5, 5, 2)
    base = {"input_sizes": [1, 5, 5, 2], "strides": 1, "padding": "SAME"}
    a = {"filters": w, "out_backprop": dy}
    return window_errors(a, base) + [
        error("input_sizes with 3 values", "input_sizes", a, **{**base, "input_sizes": [5, 5, 2]}),
        error("out_backprop of the wrong shape", "out_backprop", {"filters": w, "out_backprop": ones(1, 4, 5, 2)}, **base),
        error("filters not 4-D", "filters", {"filters": ones(3, 3, 2), "out_backprop": dy}, **base),
        error("empty batch", "input_sizes", {"filters": w, "out_backprop": ones(0, 5, 5, 2)},
              **{**base, "input_sizes": [0, 5, 5, 2]}),
        error("empty height (SAME)", "input_sizes", {"filters": w, "out_backprop": ones(1, 0, 5, 2)},
              **{**base, "input_sizes": [1, 0, 5, 2]}),
        error("no input channels", "input_sizes", {"filters": ones(3, 3, 0, 2), "out_backprop": dy},
              **{**base, "input_sizes": [1, 5, 5, 0]}),
        error("no output channels", "filters", {"filters": ones(3, 3, 2, 0), "out_backprop": ones(1, 5, 5, 0)}, **base),
        error("filters with no input channels", "filters", {"filters": ones(3, 3, 0, 2), "out_backprop": dy}, **base),
    ] + size_bound_errors("input_sizes", {"filters": w, "out_backprop": ones(1, 3, 3, 2)})


def backprop_filter_errors() -> list:
    x, dy = ones(1, 5, 5, 2), ones(1, 5, 5, 2)
    base = {"filter_sizes": [3, 3, 2, 2], "strides": 1, "padding": "SAME"}
    a = {"input": x, "out_backprop": dy}
    return window_errors(a, base) + [
        error("filter_sizes with 3 values", "filter_sizes", a, **{**base, "filter_sizes": [3, 3, 2]}),
        error("out_backprop of the wrong shape", "out_backprop", {"input": x, "out_backprop": ones(1, 5, 4, 2)}, **base),
        error("input not 4-D", "input", {"input": ones(5, 5, 2), "out_backprop": dy}, **base),
        error("empty batch", "input", {"input": ones(0, 5, 5, 2), "out_backprop": ones(0, 5, 5, 2)}, **base),
        error("empty height (SAME)", "input", {"input": ones(1, 0, 5, 2), "out_backprop": ones(1, 0, 5, 2)}, **base),
        error("no input channels", "filter_sizes", {"input": ones(1, 5, 5, 0), "out_backprop": dy},
              **{**base, "filter_sizes": [3, 3, 0, 2]}),
        error("no output channels", "filter_sizes", {"input": x, "out_backprop": ones(1, 5, 5, 0)},
              **{**base, "filter_sizes": [3, 3, 2, 0]}),
        error("filter_sizes with no input channels", "filter_sizes", a, **{**base, "filter_sizes": [3, 3, 0, 2]}),
    ]


def transpose_errors() -> list:
    x, w = ones(1, 3, 3, 2), ones(3, 3, 2, 2)
    base = {"output_shape": [1, 5, 5, 2], "strides": 1, "padding": "VALID"}
    a = {"input": x, "filters": w}
    return window_errors(a, base) + [
        error("output_shape not reachable", "output_shape", a, **{**base, "output_shape": [1, 7, 7, 2]}),
        error("output_shape not reachable along W only", "output_shape", a, **{**base, "output_shape": [1, 5, 7, 2]}),
        error("output_shape below the VALID range", "output_shape", a, **{**base, "output_shape": [1, 4, 4, 2]}),
        error("output_shape the explicit pads cannot produce", "output_shape",
              {"input": ones(1, 1, 1, 2), "filters": ones(1, 1, 2, 2)}, output_shape=[1, 1, 1, 2], strides=1,
              padding=[[0, 0], [1, 1], [1, 1], [0, 0]]),
        error("output_shape with an empty H the pads overshoot", "output_shape",
              {"input": ones(1, 4, 3, 2), "filters": ones(1, 1, 2, 2)}, output_shape=[1, 0, 3, 2], strides=1,
              padding=[[0, 0], [5, 5], [0, 0], [0, 0]]),
        error("output_shape with an empty H the pads reach (computed)", "output_shape",
              {"input": ones(1, 4, 3, 2), "filters": ones(1, 1, 2, 2)}, output_shape=[1, 0, 3, 2], strides=1,
              padding=[[0, 0], [2, 2], [0, 0], [0, 0]]),
        error("output_shape with 3 values", "output_shape", a, **{**base, "output_shape": [5, 5, 2]}),
        error("input channels unequal filters[3]", "input", {"input": ones(1, 3, 3, 3), "filters": w}, **base),
        error("input not 4-D", "input", {"input": ones(3, 3, 2), "filters": w}, **base),
        error("filters not 4-D", "filters", {"input": x, "filters": ones(3, 3, 2)}, **base),
        error("output channels not a multiple of filters[2]", "output_shape", {"input": x, "filters": ones(3, 3, 2, 2)},
              **{**base, "output_shape": [1, 5, 5, 3]}),
        error("empty kernel", "filters", {"input": x, "filters": ones(0, 3, 2, 2)}, **base),
        error("output_shape below the SAME range", "output_shape", a, output_shape=[1, 4, 5, 2], strides=2,
              padding="SAME"),
        error("empty batch", "input", {"input": ones(0, 3, 3, 2), "filters": w}, **{**base, "output_shape": [0, 5, 5, 2]}),
        error("empty height (SAME)", "input", {"input": ones(1, 0, 3, 2), "filters": w}, output_shape=[1, 0, 3, 2],
              strides=1, padding="SAME"),
        error("no input channels", "input", {"input": ones(1, 3, 3, 0), "filters": ones(3, 3, 2, 0)}, **base),
        error("no output channels", "output_shape", {"input": x, "filters": ones(3, 3, 0, 2)},
              **{**base, "output_shape": [1, 5, 5, 0]}),
        error("filters with no output channels", "filters", {"input": x, "filters": ones(3, 3, 0, 2)}, **base),
    ] + size_bound_errors("output_shape", a)


def depthwise_errors() -> list:
    x, f = ones(1, 5, 5, 2), ones(2, 2, 2, 1)
    base = {"strides": [1, 1], "padding": "SAME"}
    a = {"input": x, "filter": f}
    return window_errors(a, base) + [
        error("filter in-channels unequal input channels", "filter", {"input": x, "filter": ones(2, 2, 3, 1)}, **base),
        error("filter not 4-D", "filter", {"input": x, "filter": ones(2, 2, 2)}, **base),
        error("window larger than the input (VALID)", "input", {"input": ones(1, 1, 1, 2), "filter": f},
              strides=[1, 1], padding="VALID"),
        error("empty batch", "input", {"input": ones(0, 5, 5, 2), "filter": f}, **base),
        error("empty height (SAME)", "input", {"input": ones(1, 0, 5, 2), "filter": f}, **base),
        error("no channel multiplier", "filter", {"input": x, "filter": ones(2, 2, 2, 0)}, **base),
        error("no input channels", "input", {"input": ones(1, 5, 5, 0), "filter": ones(2, 2, 0, 1)}, **base),
        error("empty kernel", "filter", {"input": x, "filter": ones(0, 2, 2, 1)}, **base),
    ]
