"""TensorFlow building blocks of the reference paths (imports TensorFlow; CPU, NHWC inside).

Gradients come from ``tf.GradientTape`` with the case's random upstream gradient
(``output_gradients=dy``). NCHW cases are transposed to NHWC inside the taped function (float64
NCHW raises on CPU: quirk ``nchw-float64``), so gradients come back in the case's layout. The
alternate formulations the quirk registry names live here: a zero-dilated kernel for dilated
convs (``dilated-conv-gradient``), convs group by group (``grouped-conv-gradient``), average
pooling built from ``tf.nn.conv2d`` (``avg-pool-grad-same-window``).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import geometry as G
from ..opinfo import Call
from ..tf_import import tensorflow
from . import tf_glue

tf = tensorflow()

tf_glue.install()

OpError = tf.errors.OpError


_TO_NHWC, _FROM_NHWC = np.array([0, 2, 3, 1], np.int32), np.array([0, 3, 1, 2], np.int32)


def to_nhwc(t, data_format: str):
    return t if data_format == "NHWC" else tf.transpose(t, _TO_NHWC)


def from_nhwc(t, data_format: str):
    return t if data_format == "NHWC" else tf.transpose(t, _FROM_NHWC)


def nhwc_array(a: np.ndarray, data_format: str) -> np.ndarray:
    """A path's constant input in NHWC (the transpose done in NumPy: nothing differentiates it)."""
    return a if data_format == "NHWC" else a.transpose(0, 2, 3, 1)


def nhwc_result(t, data_format: str) -> np.ndarray:
    """A path's NHWC output tensor as an array in the case's layout."""
    a = t.numpy()
    return a if data_format == "NHWC" else a.transpose(0, 3, 1, 2)


def nhwc_shape(shape, data_format: str) -> list[int]:
    s = [int(v) for v in shape]
    return s if data_format == "NHWC" else [s[0], s[2], s[3], s[1]]


def tf_padding(padding):
    """Canonical padding as TensorFlow's NHWC ops take it: "SAME", "VALID" or the 4-pair list."""
    return padding if isinstance(padding, str) else G.full_padding(padding, "NHWC")


_SHARED: dict | None = None     # id(array) -> (array, tensor) while shared_constants() is open


@contextmanager
def shared_constants():
    """Within the block, :func:`constant` converts each array once: the paths of one case share the
    tensors of its arrays (an EagerTensor is immutable, so sharing changes no value)."""
    global _SHARED
    outer, _SHARED = _SHARED, {}
    try:
        yield
    finally:
        _SHARED = outer


def _shared(key, a: np.ndarray, make):
    """``make(a)`` once per ``key`` inside :func:`shared_constants` (the cache holds ``a``, so its id
    cannot be reused while the block lasts); outside it, ``make(a)`` every time."""
    if _SHARED is None:
        return make(a)
    hit = _SHARED.get(key)
    if hit is None:
        hit = _SHARED[key] = (a, make(a))
    return hit[1]


def constant(a: np.ndarray):
    """``tf.constant(a)``; inside :func:`shared_constants`, the same tensor for the same array object."""
    return _shared(id(a), a, tf.constant)


def nhwc_constant(a: np.ndarray, data_format: str):
    """A path's constant input as an NHWC tensor (transposed in NumPy: nothing differentiates it)."""
    if data_format == "NHWC":
        return constant(a)
    return _shared(("nhwc", id(a)), a, lambda v: tf.constant(nhwc_array(v, data_format)))


def tensor(value):
    """A NumPy array as a (shared) constant; a tensor as it is."""
    return constant(value) if isinstance(value, np.ndarray) else value


def sizes(values) -> np.ndarray:
    """A shape, axis or permutation argument (input_sizes, filter_sizes, output_shape, axis, perm) as
    int32: TF's eager fast path takes an array; a Python list sent each call through its slower
    fallback (the same op with the same value)."""
    return np.asarray(values, dtype=np.int32)


def tape(fn: Callable, call: Call, differentiable, arrays: dict | None = None) -> dict:
    """``{"y": fn(**arrays)}`` plus ``{"d_<name>": ...}`` for ``differentiable`` by GradientTape with
    ``output_gradients=dy``. A gradient TF reports as None (no dependence) is zeros."""
    given = call.arrays if arrays is None else arrays
    consts = {k: constant(v) for k, v in given.items()}
    watched = [n for n in differentiable if n in consts]
    with tf.GradientTape() as gt:
        for n in watched:
            gt.watch(consts[n])
        y = fn(**consts)
    out = {"y": y.numpy()}
    if call.dy is not None and watched:
        grads = gt.gradient(y, [consts[n] for n in watched], output_gradients=constant(call.dy))
        for n, g in zip(watched, grads):
            out["d_" + n] = np.zeros_like(given[n]) if g is None else tf.convert_to_tensor(g).numpy()
    return out


# ------------------------------------------------------------------------------------ convolution

@dataclass(frozen=True)
class ConvSetup:
    """A conv2d configuration: NHWC input shape, HWIO filter shape, strides, dilations, TF padding, groups."""
    fmt: str
    x_nhwc: list
    w_shape: list
    strides: tuple
    dilations: tuple
    pad: object
    groups: int

    @property
    def tf_strides(self):
        return [1, *self.strides, 1]

    @property
    def dilated_kernel_shape(self):
        kh, kw, cg, o = self.w_shape
        return [*G.effective_window((kh, kw), self.dilations), cg, o]


def conv_setup(x_shape, w_shape, call: Call) -> ConvSetup:
    """``x_shape`` in the call's layout, ``w_shape`` HWIO."""
    fmt = call.data_format
    x = nhwc_shape(x_shape, fmt)
    w = [int(v) for v in w_shape]
    return ConvSetup(fmt, x, w, tuple(call.params["strides"]), tuple(call.params["dilations"]),
                     tf_padding(call.params["padding"]), x[3] // w[2])


def dilated_tap_indices(kernel_hw, dilations) -> np.ndarray:
    """``(kh, kw, 2)`` positions ``(i * dh, j * dw)`` of the taps in the zero-dilated kernel."""
    (kh, kw), (dh, dw) = kernel_hw, dilations
    return np.stack(np.meshgrid(np.arange(kh) * dh, np.arange(kw) * dw, indexing="ij"), axis=-1).astype(np.int32)


def zero_dilate(w, dilations):
    """Zero-inserted kernel ``(kh_eff, kw_eff, ...)`` (quirk ``dilated-conv-gradient``: TF's own
    dilated conv gradients fail on CPU). A NumPy array (a path's constant) is dilated in NumPy; a
    tensor (one a tape watches) by ``tf.scatter_nd``, whose gradient samples the taps back out."""
    if max(dilations) == 1:
        return w
    kh, kw = int(w.shape[0]), int(w.shape[1])
    shape = [*G.effective_window((kh, kw), dilations), *(int(v) for v in w.shape[2:])]
    if isinstance(w, np.ndarray):
        out = np.zeros(shape, dtype=w.dtype)
        out[::dilations[0], ::dilations[1]] = w
        return out
    if 0 in shape:   # scatter_nd refuses an empty output; an empty kernel has nothing to differentiate
        return tf.zeros(shape, w.dtype)
    return tf.scatter_nd(tf.constant(dilated_tap_indices((kh, kw), dilations)), w, sizes(shape))


def split_groups(t, groups: int, axis: int = -1):
    """Quirk ``grouped-conv-gradient``: TF's grouped conv gradients fail on CPU, so convs run per group."""
    return [t] if groups == 1 else tf.split(t, groups, axis=axis)


def _concat(parts):
    return parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)


def conv_nhwc(x, w, g: ConvSetup):
    """tf.nn.conv2d in NHWC with the zero-dilated kernel, group by group."""
    wd = tensor(zero_dilate(w, g.dilations))
    return _concat([tf.nn.conv2d(xg, wg, g.tf_strides, g.pad)
                    for xg, wg in zip(split_groups(x, g.groups), split_groups(wd, g.groups))])


def backprop_input_nhwc(w, dy, g: ConvSetup):
    """tf.compat.v1.nn.conv2d_backprop_input (NHWC), zero-dilated kernel, group by group."""
    wd = tensor(zero_dilate(w, g.dilations))
    size = sizes([*g.x_nhwc[:3], g.x_nhwc[3] // g.groups])
    return _concat([tf.compat.v1.nn.conv2d_backprop_input(size, wg, dyg, g.tf_strides, g.pad)
                    for wg, dyg in zip(split_groups(wd, g.groups), split_groups(dy, g.groups))])


def backprop_filter_nhwc(x, dy, g: ConvSetup):
    """tf.compat.v1.nn.conv2d_backprop_filter (NHWC); with dilation, the gradient of the
    zero-dilated kernel sampled at the taps; group by group."""
    kh_eff, kw_eff, cg, o = g.dilated_kernel_shape
    size = sizes([kh_eff, kw_eff, cg, o // g.groups])
    dw = _concat([tf.compat.v1.nn.conv2d_backprop_filter(xg, size, dyg, g.tf_strides, g.pad)
                  for xg, dyg in zip(split_groups(x, g.groups), split_groups(dy, g.groups))])
    return dw if max(g.dilations) == 1 else dw[::g.dilations[0], ::g.dilations[1]]


def conv_transpose_nhwc(dy, w, g: ConvSetup):
    """tf.nn.conv2d_transpose (NHWC) onto the conv's input shape, zero-dilated kernel, by group."""
    wd = tensor(zero_dilate(w, g.dilations))
    size = sizes([*g.x_nhwc[:3], g.x_nhwc[3] // g.groups])
    return _concat([tf.nn.conv2d_transpose(dyg, wg, size, g.tf_strides, g.pad)
                    for wg, dyg in zip(split_groups(wd, g.groups), split_groups(dy, g.groups))])


def keras_output_padding(g: ConvSetup, dy_hw, kernel_hw):
    """The ``output_padding`` that makes Keras' Conv2DTranspose produce the conv's input size, or
    the reason it cannot. Keras sizes: VALID ``(in-1)s + k + op``; SAME ``(in-1)s + k % 2 + op``,
    or ``in * s`` when output_padding is None; Keras requires ``0 <= op < s``."""
    if not isinstance(g.pad, str):
        return None, "Keras Conv2DTranspose takes only 'valid'/'same' padding, not explicit pads"
    if g.groups > 1:
        return None, "Keras Conv2DTranspose has no groups"
    ops = [size - ((n_in - 1) * s + (k if g.pad == "VALID" else k % 2))
           for size, n_in, k, s in zip(g.x_nhwc[1:3], dy_hw, kernel_hw, g.strides)]
    if all(0 <= op < s for op, s in zip(ops, g.strides)):
        return tuple(ops), ""
    if g.pad == "SAME" and all(size == n_in * s for size, n_in, s in zip(g.x_nhwc[1:3], dy_hw, g.strides)):
        return None, ""
    return None, (f"Keras Conv2DTranspose cannot produce input size {g.x_nhwc[1:3]} from {list(dy_hw)} "
                  f"(output_padding would be {ops}; Keras needs 0 <= output_padding < strides {list(g.strides)})")


def keras_conv2d_transpose(dy, w, g: ConvSetup):
    """dx by Keras's Conv2DTranspose with the conv's kernel (bias off; a dilated conv's kernel given
    zero-dilated): ``keras.ops.conv_transpose`` with the arguments ``Conv2DTranspose.call`` passes
    it (tests/crosscheck/test_oracle.py checks a built layer gives the same). Calling the op, not a
    layer, spares building a layer and its variable per kernel shape (about 12 ms each)."""
    import keras  # deferred: imports TensorFlow (Keras)
    w = zero_dilate(w, g.dilations)
    kh, kw = int(w.shape[0]), int(w.shape[1])
    output_padding, why_not = keras_output_padding(g, [int(v) for v in dy.shape[1:3]], (kh, kw))
    if why_not:
        raise ValueError(why_not)
    return keras.ops.conv_transpose(dy, constant(w), **keras_transpose_arguments(g, output_padding))


def keras_transpose_arguments(g: ConvSetup, output_padding) -> dict:
    """The keyword arguments ``Conv2DTranspose.call`` gives ``keras.ops.conv_transpose`` for a layer
    made with these strides, padding and output_padding (as the layer standardises them)."""
    return {"strides": list(g.strides), "padding": g.pad.lower(), "output_padding": output_padding,
            "dilation_rate": (1, 1), "data_format": "channels_last"}


# --------------------------------------------------------------------------------------- pooling

def avg_pool_as_conv(x, ksize, strides, pad):
    """avg_pool2d (NHWC, VALID/SAME) as a window sum by tf.nn.conv2d with a ones kernel, channels
    folded into the batch, divided by the count of valid (unpadded) cells: differentiable by TF's
    conv gradient, independent of TF's AvgPoolGrad."""
    n, h, w, c = (int(v) for v in x.shape)
    folded = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n * c, h, w, 1])
    ones = tf.ones([*ksize, 1, 1], dtype=x.dtype)
    sums = tf.nn.conv2d(folded, ones, [1, *strides, 1], pad)
    counts = tf.nn.conv2d(tf.ones([1, h, w, 1], dtype=x.dtype), ones, [1, *strides, 1], pad)
    y = sums / counts
    return tf.transpose(tf.reshape(y, [n, c, *y.shape[1:3]]), [0, 2, 3, 1])
