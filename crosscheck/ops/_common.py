"""Small pieces shared by the op descriptions: lazy TensorFlow access, TF-spelled parameters,
error-input builders, tolerance floors."""
from __future__ import annotations

import numpy as np

from .. import geometry as G
from ..opinfo import Call, ErrorInput, rms
from ..params import AXIS_FORMS, PADDING_FORMS, PADDING_STRING_FORMS, SPATIAL_FORMS, Param


def tf_lib():
    """crosscheck.oracle.tf_lib, imported on first use (importing an op description never imports TF)."""
    from ..oracle import tf_lib  # deferred: imports TensorFlow
    return tf_lib


DATA_FORMAT = Param("'NHWC' or 'NCHW' (arrays are stored in this layout)", "value", "NHWC", ("'NHWC'", "'NCHW'"))
STRIDES = Param("[sh, sw]; an int, 1, 2 or TF's 4 values", "spatial", 1, SPATIAL_FORMS)
DILATIONS = Param("[dh, dw]; an int, 1, 2 or TF's 4 values", "spatial", 1, SPATIAL_FORMS)
PADDING = Param("'VALID', 'SAME' (any case) or explicit pairs: 2 pairs or TF's 4 pairs", "padding", "VALID",
                PADDING_FORMS)
CONV_PARAMS = {"strides": STRIDES, "padding": PADDING, "dilations": DILATIONS, "data_format": DATA_FORMAT}


def axis_param(doc: str = "the class axis", default=-1) -> Param:
    return Param(doc, "axis", default, AXIS_FORMS)


def pool_params(explicit: bool) -> dict:
    padding = PADDING if explicit else Param("'VALID' or 'SAME' (any case)", "padding-name", "VALID",
                                             PADDING_STRING_FORMS)
    return {"ksize": Param("[kh, kw]; an int, 1, 2 or TF's 4 values", "spatial", forms=SPATIAL_FORMS),
            "strides": Param("[sh, sw]; an int, 1, 2 or TF's 4 values", "spatial", forms=SPATIAL_FORMS),
            "padding": padding, "data_format": DATA_FORMAT}


# ---------------------------------------------------------------- parameters in TensorFlow's spelling

def tf_spatial(value, fmt: str = "NHWC"):
    """Per-axis values as TF's 4-element list (NHWC); anything unreadable passed on as given."""
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return G.full_values(value, "NHWC")
    return value


def tf_spatial_pair(value):
    """Per-axis values as a 2-element list (TF's depthwise dilations); unreadable values as given."""
    return list(value) if isinstance(value, tuple) else value


def tf_pad(padding):
    """Canonical padding as TF's NHWC ops take it; unreadable values as given."""
    if isinstance(padding, tuple):
        return G.full_padding(padding, "NHWC")
    return padding


def nhwc_only(call: Call) -> str:
    return "" if call.data_format == "NHWC" else "plain TF needs NHWC here (quirk nchw-float64); the oracle transposes"


def empty_axis_features(in_sizes, padding) -> list[str]:
    """The coverage feature of a window op's input with an empty H or W (none otherwise)."""
    if 0 not in tuple(in_sizes):
        return []
    return ["empty H or W, SAME (an empty output)" if padding == "SAME"
            else "empty H or W, explicit pads cover the window"]


# --------------------------------------------------------------------------- error inputs

def error(label: str, argument: str, arrays: dict, **params) -> ErrorInput:
    return ErrorInput(label, arrays, params, argument)


def refused(label: str, argument: str, rule: str, arrays: dict, **params) -> ErrorInput:
    """An invalid call by a documented rule (for ops whose reference is not one plain TF call)."""
    return ErrorInput(label, arrays, params, argument, rule)


def ones(*shape, dtype="float32") -> np.ndarray:
    return np.linspace(-1.0, 1.0, int(np.prod(shape)) or 1)[:int(np.prod(shape))].reshape(shape).astype(dtype)


def window_errors(arrays: dict, base: dict, *, dilations: bool = True, window: str | None = None,
                  explicit: bool = True) -> list[ErrorInput]:
    """Invalid spellings and values shared by every sliding-window op (NHWC float32 arrays)."""
    out = [error("stride 0", "strides", arrays, **{**base, "strides": 0}),
           error("negative stride", "strides", arrays, **{**base, "strides": [1, -1]}),
           error("stride in the batch entry", "strides", arrays, **{**base, "strides": [2, 1, 1, 1]}),
           error("3 stride values", "strides", arrays, **{**base, "strides": [1, 1, 1]}),
           error("stride True", "strides", arrays, **{**base, "strides": True}),
           error("stride 1.5", "strides", arrays, **{**base, "strides": 1.5}),
           error("a stride list holding 1.5", "strides", arrays, **{**base, "strides": [1.5, 1]}),
           error("stride as a NumPy integer", "strides", arrays, **{**base, "strides": np.int64(1)}),
           error("unknown padding name", "padding", arrays, **{**base, "padding": "FULL"}),
           error("non-ASCII padding look-alike", "padding", arrays, **{**base, "padding": "\u017fame"}),
           error("unknown data_format", "data_format", arrays, **{**base, "data_format": "NCWH"})]
    if dilations:
        out += [error("dilation 0", "dilations", arrays, **{**base, "dilations": 0}),
                error("negative dilation", "dilations", arrays, **{**base, "dilations": [-2, 1]})]
    if window:
        out += [error(f"{window} 0", window, arrays, **{**base, window: 0}),
                error(f"{window} in the channel entry", window, arrays, **{**base, window: [1, 2, 2, 2]})]
    if explicit:
        out += [error("negative explicit pad", "padding", arrays, **{**base, "padding": [[0, 0], [-1, 1], [1, 1], [0, 0]]}),
                error("explicit pad on the batch axis", "padding", arrays,
                      **{**base, "padding": [[1, 0], [1, 1], [1, 1], [0, 0]]}),
                error("explicit pad on the channel axis", "padding", arrays,
                      **{**base, "padding": [[0, 0], [1, 1], [1, 1], [0, 1]]}),
                error("3 explicit pairs", "padding", arrays, **{**base, "padding": [[0, 0], [1, 1], [1, 1]]})]
    else:
        out.append(error("explicit pads", "padding", arrays, **{**base, "padding": [[0, 0], [1, 1], [1, 1], [0, 0]]}))
    return out


# ------------------------------------------------------------------------------- tolerance floors

def bilinear_floor(first: str, second: str):
    """For y = first (*) second (a conv or a matmul, linear in each), one term of an element is a
    product of typical size rms(first) * rms(second); the gradients pair dy with the other array.
    A sum that cancels below the size of one of its terms has no relative accuracy left, whatever
    the summation order (a 1x1x1x1 filter gradient summing 4 products of size 0.6 came out at 1e-3)."""
    def floor(call: Call) -> dict:
        a, b = rms(call.arrays[first]), rms(call.arrays[second])
        floors = {"y": a * b}
        if call.dy is not None:
            g = rms(call.dy)
            floors.update({"d_" + first: g * b, "d_" + second: g * a, "d_bias": g})
        return floors
    return floor


def dy_floor(tensor: str):
    """Gradients of saturating ops are differences of terms of size |dy| (tanh: dy - dy*t^2;
    sigmoid: dy*s - dy*s^2; log_softmax and the cross-entropies: dy - dy*softmax), so their rounding
    error follows rms(dy) even where the result is nearly zero."""
    return lambda call: {tensor: rms(call.dy)} if call.dy is not None else {}
