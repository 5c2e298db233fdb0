"""TensorFlow reference paths for every registered op (CPU, the case's dtype, NHWC inside).

Gradients come from ``tf.GradientTape`` with the case's random upstream gradient
(``output_gradients=dy``). NCHW cases are transposed to NHWC inside the taped function (float64
NCHW raises on CPU), so gradients come back in the case's layout.

Where TensorFlow cannot compute a case on CPU, the reference is built another TF way and the
Reference's notes say so (DESIGN.md, "TensorFlow semantics"):

* dilation > 1: every dilated conv gradient fails on CPU, and depthwise with stride > 1 and
  dilation > 1 returns a wrong-size output (TF #100237). The reference convolves with a
  *zero-dilated* kernel (zeros inserted between taps, built by an exact 0/1 einsum inside the tape)
  without dilation; the filter gradient flows back through that einsum.
* groups > 1: grouped-conv gradients fail on CPU, so the conv is computed group by group and
  concatenated.
* float32 VALID max-pool with a window larger than the input kills the process (SIGFPE, TF
  #125509); :func:`precheck` refuses every window that does not fit the padded input, so such a
  case never reaches TensorFlow. An empty conv output is refused the same way.

``tf.errors.OpError`` from one path skips that path (the reason is kept); when no path works the
case is reference-unsupported.
"""
from __future__ import annotations

import os
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from npcnn import padding as P  # noqa: E402

from ..case import Case  # noqa: E402
from ..tolerance import tolerance  # noqa: E402
from . import Reference, ReferenceUnsupported  # noqa: E402

REFERENCES: dict[str, Callable[[Case, Reference], None]] = {}


def reference(op: str):
    """Register ``fn(case, ref)`` that fills ``ref.paths`` for ``op``."""
    def register(fn):
        REFERENCES[op] = fn
        return fn
    return register


def compute_reference(case: Case, first_only: bool = False) -> Reference:
    if case.op not in REFERENCES:
        raise ReferenceUnsupported(f"no TensorFlow reference is registered for op {case.op!r}")
    precheck(case)
    ref = Reference(first_only=first_only)
    REFERENCES[case.op](case, ref)
    if not ref.paths:
        reasons = "; ".join(f"{p}: {r}" for p, r in ref.skipped.items()) or "no path applies"
        raise ReferenceUnsupported(f"no TensorFlow path could compute this case ({reasons})")
    return ref


def run_path(ref: Reference, name: str, compute: Callable[[], dict]) -> None:
    """Compute one path; a TF error skips it with the reason instead of failing the case. With
    ``ref.first_only``, a path after one that worked is not computed."""
    if ref.first_only and ref.paths:
        return
    try:
        ref.paths[name] = {k: np.asarray(v) for k, v in compute().items()}
    except tf.errors.OpError as e:
        ref.skipped[name] = f"TensorFlow raised {type(e).__name__}: {first_line(e.message)}"
    except PathNotApplicable as e:
        ref.skipped[name] = str(e)


class PathNotApplicable(Exception):
    """This TF path cannot express the case (e.g. Keras has no explicit padding)."""


def first_line(text: str) -> str:
    return str(text).strip().splitlines()[0][:300] if str(text).strip() else ""


# --------------------------------------------------------------------------------- the pre-check

_WINDOW_OPS = {"conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "conv2d_transpose",
               "depthwise_conv2d", "max_pool2d", "avg_pool2d"}


def precheck(case: Case) -> None:
    """Refuse, before TensorFlow sees it, any sliding-window case whose window does not fit the
    (padded) input: float32 VALID max-pool would die of SIGFPE (TF #125509) and float32 conv VALID
    with an empty output returns a wrongly shaped result."""
    if case.op not in _WINDOW_OPS:
        return
    try:
        in_hw, kernel, strides, dilations, pad = window_args(case)
        geom = P.window_geometry(in_hw, kernel, strides, dilations, pad)
    except (ValueError, TypeError, KeyError, IndexError) as e:
        crash = " (TensorFlow would kill the process with SIGFPE, TF #125509)" if (
            case.op == "max_pool2d" and case.dtype == "float32") else ""
        raise ReferenceUnsupported(
            f"not handed to TensorFlow: the window does not fit the input{crash}: {e}") from None
    if min(geom.out) < 1:
        raise ReferenceUnsupported(f"not handed to TensorFlow: empty output {geom.out}")


def window_args(case: Case):
    """(input h, w), kernel, strides, dilations and normalised padding of a sliding-window case."""
    p, a = case.params, case.arrays
    fmt = p.get("data_format", "NHWC")
    if case.op == "conv2d_backprop_input":
        x_shape, kernel = p["input_sizes"], a["filters"].shape[:2]
    elif case.op == "conv2d_backprop_filter":
        x_shape, kernel = a["input"].shape, p["filter_sizes"][:2]
    elif case.op == "conv2d_transpose":
        x_shape, kernel = p["output_shape"], a["filters"].shape[:2]
    elif case.op in ("conv2d", "depthwise_conv2d"):
        x_shape, kernel = a["input"].shape, a["filters" if case.op == "conv2d" else "filter"].shape[:2]
    else:
        x_shape, kernel = a["input"].shape, P.spatial_pair(p["ksize"], "ksize", fmt)
    hw = tuple(x_shape[1:3]) if fmt == "NHWC" else tuple(x_shape[2:4])
    return (hw, tuple(kernel), P.spatial_pair(p.get("strides", 1), "strides", fmt),
            P.spatial_pair(p.get("dilations", 1), "dilations", fmt),
            P.normalize_padding(p.get("padding", "VALID"), fmt))


# ------------------------------------------------------------------------------ shared helpers

def to_nhwc(t, data_format: str):
    return t if data_format == "NHWC" else tf.transpose(t, [0, 2, 3, 1])


def from_nhwc(t, data_format: str):
    return t if data_format == "NHWC" else tf.transpose(t, [0, 3, 1, 2])


def nhwc_shape(shape, data_format: str) -> list[int]:
    s = [int(v) for v in shape]
    return s if data_format == "NHWC" else [s[0], s[2], s[3], s[1]]


def tf_pad(pad):
    """Normalised padding as TF takes it in NHWC: "SAME", "VALID" or the 4-pair list."""
    return pad if isinstance(pad, str) else [[0, 0], list(pad[0]), list(pad[1]), [0, 0]]


def tape(fn: Callable, case: Case, differentiable, arrays: dict | None = None) -> dict:
    """``{"y": fn(**arrays)}`` plus ``{"d_<name>": ...}`` for ``differentiable`` by GradientTape with
    ``output_gradients=case.dy``. A gradient TF reports as None (no dependence) is zeros."""
    consts = {k: tf.constant(v) for k, v in (case.arrays if arrays is None else arrays).items()}
    watched = [n for n in differentiable if n in consts]
    with tf.GradientTape() as gt:
        for n in watched:
            gt.watch(consts[n])
        y = fn(**consts)
    out = {"y": y.numpy()}
    if case.dy is not None and watched:
        grads = gt.gradient(y, [consts[n] for n in watched], output_gradients=tf.constant(case.dy))
        for n, g in zip(watched, grads):
            out["d_" + n] = np.zeros_like(case.arrays[n]) if g is None else tf.convert_to_tensor(g).numpy()
    return out


class ConvGeometry:
    """A conv2d configuration read from a case: NHWC shapes, strides, dilations, TF padding, groups."""

    def __init__(self, x_shape, w_shape, params):
        self.fmt = params.get("data_format", "NHWC")
        self.x_nhwc = nhwc_shape(x_shape, self.fmt)
        self.w_shape = [int(v) for v in w_shape]
        self.strides = P.spatial_pair(params.get("strides", 1), "strides", self.fmt)
        self.dilations = P.spatial_pair(params.get("dilations", 1), "dilations", self.fmt)
        self.pad = tf_pad(P.normalize_padding(params.get("padding", "VALID"), self.fmt))
        self.groups = self.x_nhwc[3] // self.w_shape[2]

    @property
    def dilated(self) -> bool:
        return max(self.dilations) > 1

    @property
    def tf_strides(self):
        return [1, *self.strides, 1]

    @property
    def dilated_kernel_shape(self):
        kh, kw, cg, o = self.w_shape
        return [P.effective_kernel(kh, self.dilations[0]), P.effective_kernel(kw, self.dilations[1]), cg, o]

    def notes(self) -> list[str]:
        notes = []
        if self.dilated:
            notes.append("dilated conv: TF's dilated conv gradients fail on CPU, so the "
                         "reference convolves with a zero-dilated (zero-inserted) kernel without dilation")
        if self.groups > 1:
            notes.append("grouped conv: TF's grouped-conv gradients fail on CPU, so the reference is "
                         "computed group by group")
        return notes


def insertion_matrix(k: int, d: int, dtype) -> np.ndarray:
    """``E (k_eff, k)`` with ``E[i * d, i] = 1``: ``E @ w`` inserts ``d - 1`` zeros between taps."""
    e = np.zeros((P.effective_kernel(k, d), k), dtype=dtype)
    e[np.arange(k) * d, np.arange(k)] = 1
    return e


def zero_dilate(w, dilations):
    """Zero-inserted kernel ``(kh_eff, kw_eff, ...)``, exact and differentiable."""
    if max(dilations) == 1:
        return w
    kh, kw = int(w.shape[0]), int(w.shape[1])
    eh = tf.constant(insertion_matrix(kh, dilations[0], w.dtype.as_numpy_dtype))
    ew = tf.constant(insertion_matrix(kw, dilations[1], w.dtype.as_numpy_dtype))
    return tf.einsum("ah,bw,hwio->abio", eh, ew, w)


def split_groups(t, groups: int, axis: int = -1):
    return [t] if groups == 1 else tf.split(t, groups, axis=axis)


def conv_nhwc(x, w, g: ConvGeometry):
    """tf.nn.conv2d in NHWC with the zero-dilated kernel, group by group."""
    wd = zero_dilate(w, g.dilations)
    parts = [tf.nn.conv2d(xg, wg, g.tf_strides, g.pad)
             for xg, wg in zip(split_groups(x, g.groups), split_groups(wd, g.groups))]
    return parts[0] if g.groups == 1 else tf.concat(parts, axis=-1)


def backprop_input_nhwc(w, dy, g: ConvGeometry):
    """tf.compat.v1.nn.conv2d_backprop_input (NHWC), zero-dilated kernel, group by group."""
    wd = zero_dilate(w, g.dilations)
    size = [*g.x_nhwc[:3], g.x_nhwc[3] // g.groups]
    parts = [tf.compat.v1.nn.conv2d_backprop_input(size, wg, dyg, g.tf_strides, g.pad)
             for wg, dyg in zip(split_groups(wd, g.groups), split_groups(dy, g.groups))]
    return parts[0] if g.groups == 1 else tf.concat(parts, axis=-1)


def backprop_filter_nhwc(x, dy, g: ConvGeometry):
    """tf.compat.v1.nn.conv2d_backprop_filter (NHWC); with dilation, the gradient of the
    zero-dilated kernel sampled at the taps; group by group."""
    kh_eff, kw_eff, cg, o = g.dilated_kernel_shape
    size = [kh_eff, kw_eff, cg, o // g.groups]
    parts = [tf.compat.v1.nn.conv2d_backprop_filter(xg, size, dyg, g.tf_strides, g.pad)
             for xg, dyg in zip(split_groups(x, g.groups), split_groups(dy, g.groups))]
    dw = parts[0] if g.groups == 1 else tf.concat(parts, axis=-1)
    return dw[::g.dilations[0], ::g.dilations[1]]


def conv_transpose_nhwc(dy, w, g: ConvGeometry):
    """tf.nn.conv2d_transpose (NHWC) onto the conv's input shape, zero-dilated kernel, by group."""
    wd = zero_dilate(w, g.dilations)
    size = [*g.x_nhwc[:3], g.x_nhwc[3] // g.groups]
    parts = [tf.nn.conv2d_transpose(dyg, wg, size, g.tf_strides, g.pad)
             for wg, dyg in zip(split_groups(wd, g.groups), split_groups(dy, g.groups))]
    return parts[0] if g.groups == 1 else tf.concat(parts, axis=-1)


def keras_output_padding(g: ConvGeometry, dy_hw, kernel_hw):
    """The ``output_padding`` that makes Keras' Conv2DTranspose produce the conv's input size, or
    PathNotApplicable. Keras sizes: VALID ``(in-1)s + k + op``; SAME ``(in-1)s + k % 2 + op``, or
    ``in * s`` when output_padding is None; Keras requires ``0 <= op < s``."""
    if not isinstance(g.pad, str):
        raise PathNotApplicable("Keras Conv2DTranspose takes only 'valid'/'same' padding, not explicit pads")
    if g.groups > 1:
        raise PathNotApplicable("Keras Conv2DTranspose has no groups")
    ops = []
    for size, n_in, k, s in zip(g.x_nhwc[1:3], dy_hw, kernel_hw, g.strides):
        base = (n_in - 1) * s + (k if g.pad == "VALID" else k % 2)
        ops.append(size - base)
    if all(0 <= op < s for op, s in zip(ops, g.strides)):
        return tuple(ops)
    if g.pad == "SAME" and all(size == n_in * s for size, n_in, s in zip(g.x_nhwc[1:3], dy_hw, g.strides)):
        return None
    raise PathNotApplicable(f"Keras Conv2DTranspose cannot produce input size {g.x_nhwc[1:3]} from {list(dy_hw)} "
                            f"(output_padding would be {ops}, Keras needs 0 <= output_padding < strides "
                            f"{list(g.strides)})")


_KERAS_LAYERS: dict = {}


def keras_conv2d_transpose(dy, w, g: ConvGeometry):
    """dx by a ``keras.layers.Conv2DTranspose`` whose kernel is the conv's kernel (bias off); a dilated
    conv's kernel is given zero-dilated (Keras' own dilation_rate hits TF's dilated backprop, which
    fails on CPU).

    Layers are cached per configuration and their kernel assigned, since building one costs
    milliseconds; the call is exactly the layer's ``call``.
    """
    import keras
    w = zero_dilate(w, g.dilations)
    kh, kw, cin, cout = (int(v) for v in w.shape)
    dy_hw = [int(v) for v in dy.shape[1:3]]
    output_padding = keras_output_padding(g, dy_hw, (kh, kw))
    dtype = w.dtype.name
    key = (kh, kw, cin, cout, tuple(g.strides), g.pad, output_padding, dtype)
    layer = _KERAS_LAYERS.get(key)
    if layer is None:
        layer = keras.layers.Conv2DTranspose(filters=cin, kernel_size=(kh, kw), strides=tuple(g.strides),
                                             padding=g.pad.lower(), output_padding=output_padding,
                                             use_bias=False, dtype=dtype)
        layer.build((None, None, None, cout))
        if len(_KERAS_LAYERS) > 256:
            _KERAS_LAYERS.clear()
        _KERAS_LAYERS[key] = layer
    layer.kernel.assign(w)
    dx = layer(dy)
    if list(dx.shape[1:3]) != g.x_nhwc[1:3]:
        raise PathNotApplicable(f"Keras Conv2DTranspose produced size {list(dx.shape[1:3])}, "
                                f"not the input's {g.x_nhwc[1:3]}")
    return dx


# ------------------------------------------------------------------------------------------ convs

def _differentiable(op: str):
    from ..registry import get_op
    return get_op(op).differentiable


@reference("conv2d")
def conv2d_reference(case: Case, ref: Reference) -> None:
    """Paths: tape (tf.nn.conv2d), backprop_ops (conv2d_backprop_input / _filter),
    tf_conv2d_transpose and keras_conv2d_transpose (dx only)."""
    a = case.arrays
    g = ConvGeometry(a["input"].shape, a["filters"].shape, case.params)
    ref.notes.extend(g.notes())

    def forward(input, filters, bias=None):
        y = conv_nhwc(to_nhwc(input, g.fmt), filters, g)
        if bias is not None:
            y = y + bias
        return from_nhwc(y, g.fmt)

    run_path(ref, "tape", lambda: tape(forward, case, _differentiable("conv2d")))
    dy = to_nhwc(tf.constant(case.dy), g.fmt)
    w = tf.constant(a["filters"])

    def backprop_ops():
        out = {"d_input": from_nhwc(backprop_input_nhwc(w, dy, g), g.fmt),
               "d_filters": backprop_filter_nhwc(to_nhwc(tf.constant(a["input"]), g.fmt), dy, g)}
        if "bias" in a:
            out["d_bias"] = tf.reduce_sum(dy, axis=[0, 1, 2])
        return {k: v.numpy() for k, v in out.items()}

    run_path(ref, "backprop_ops", backprop_ops)
    run_path(ref, "tf_conv2d_transpose",
             lambda: {"d_input": from_nhwc(conv_transpose_nhwc(dy, w, g), g.fmt).numpy()})
    run_path(ref, "keras_conv2d_transpose",
             lambda: {"d_input": from_nhwc(keras_conv2d_transpose(dy, w, g), g.fmt).numpy()})


@reference("conv2d_backprop_input")
def conv2d_backprop_input_reference(case: Case, ref: Reference) -> None:
    """tape through tf.compat.v1.nn.conv2d_backprop_input."""
    g = ConvGeometry(case.params["input_sizes"], case.arrays["filters"].shape, case.params)
    ref.notes.extend(g.notes())

    def forward(filters, out_backprop):
        return from_nhwc(backprop_input_nhwc(filters, to_nhwc(out_backprop, g.fmt), g), g.fmt)

    run_path(ref, "tape", lambda: tape(forward, case, _differentiable(case.op)))


@reference("conv2d_backprop_filter")
def conv2d_backprop_filter_reference(case: Case, ref: Reference) -> None:
    """tape through tf.compat.v1.nn.conv2d_backprop_filter."""
    g = ConvGeometry(case.arrays["input"].shape, case.params["filter_sizes"], case.params)
    ref.notes.extend(g.notes())

    def forward(input, out_backprop):
        return backprop_filter_nhwc(to_nhwc(input, g.fmt), to_nhwc(out_backprop, g.fmt), g)

    run_path(ref, "tape", lambda: tape(forward, case, _differentiable(case.op)))


@reference("conv2d_transpose")
def conv2d_transpose_reference(case: Case, ref: Reference) -> None:
    """tape through tf.nn.conv2d_transpose (filters [h, w, out, in] are the HWIO filters of the
    conv2d that maps output_shape back to the input's shape)."""
    g = ConvGeometry(case.params["output_shape"], case.arrays["filters"].shape, case.params)
    ref.notes.extend(g.notes())

    def forward(input, filters):
        return from_nhwc(conv_transpose_nhwc(to_nhwc(input, g.fmt), filters, g), g.fmt)

    run_path(ref, "tape", lambda: tape(forward, case, _differentiable(case.op)))


@reference("depthwise_conv2d")
def depthwise_conv2d_reference(case: Case, ref: Reference) -> None:
    """tape through tf.nn.depthwise_conv2d; dilated cases use the zero-dilated filter without
    dilation (TF's own dilated depthwise gradient fails on CPU and its stride > 1 forward has the
    wrong size, TF #100237)."""
    p = case.params
    fmt = p.get("data_format", "NHWC")
    strides = P.spatial_pair(p.get("strides", 1), "strides", fmt)
    dilations = P.spatial_pair(p.get("dilations", 1), "dilations", fmt)
    pad = tf_pad(P.normalize_padding(p.get("padding", "VALID"), fmt))
    if max(dilations) > 1:
        ref.notes.append("dilated depthwise: the reference runs tf.nn.depthwise_conv2d undilated on a "
                         "zero-dilated (zero-inserted) filter (TF's dilated depthwise is wrong-sized for "
                         "stride > 1, TF #100237, and its dilated gradients fail on CPU)")

    equal_strides = strides[0] == strides[1]
    if not equal_strides:
        ref.notes.append("unequal strides: tf.nn.depthwise_conv2d supports only equal strides on CPU, so "
                         "the reference is tf.nn.conv2d group by group (groups = channels)")
    c = case.arrays["filter"].shape[2]
    g = ConvGeometry([1, 1, 1, c] if fmt == "NHWC" else [1, c, 1, 1], [1, 1, 1, 1], p)

    def forward(input, filter):
        x = to_nhwc(input, fmt)
        if equal_strides:
            y = tf.nn.depthwise_conv2d(x, zero_dilate(filter, dilations), [1, *strides, 1], pad)
        else:
            kh, kw, _, mult = (int(v) for v in filter.shape)
            y = conv_nhwc(x, tf.reshape(filter, [kh, kw, 1, c * mult]), g)
        return from_nhwc(y, fmt)

    run_path(ref, "tape", lambda: tape(forward, case, _differentiable(case.op)))


# ---------------------------------------------------------------------------------------- pooling

def _pool_reference(case: Case, ref: Reference, pool) -> None:
    p = case.params
    fmt = p.get("data_format", "NHWC")
    ksize = P.spatial_pair(p["ksize"], "ksize", fmt)
    strides = P.spatial_pair(p.get("strides", 1), "strides", fmt)
    pad = tf_pad(P.normalize_padding(p.get("padding", "VALID"), fmt))

    def forward(input):
        return from_nhwc(pool(to_nhwc(input, fmt), list(ksize), list(strides), pad), fmt)

    run_path(ref, "tape", lambda: tape(forward, case, ("input",)))


@reference("max_pool2d")
def max_pool2d_reference(case: Case, ref: Reference) -> None:
    _pool_reference(case, ref, tf.nn.max_pool2d)


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


AVG_POOL_AS_CONV = "tape_avg_pool_as_conv"


@reference("avg_pool2d")
def avg_pool2d_reference(case: Case, ref: Reference) -> None:
    """tape through tf.nn.avg_pool2d. TF's CPU AvgPoolGrad is wrong for some SAME windows larger
    than the input (docs/tf-defects.md; TF #48773: along an axis with ``k > in`` and
    ``pad_before > k - in`` it disagrees with finite differences of TF's own forward), so d_input is
    cross-checked against the same pooling built from tf.nn.conv2d; when the two disagree, TF's
    d_input is dropped and the conv formulation's becomes its own path, with a note."""
    _pool_reference(case, ref, tf.nn.avg_pool2d)
    if "tape" not in ref.paths or case.dy is None:
        return
    p = case.params
    fmt = p.get("data_format", "NHWC")
    ksize = P.spatial_pair(p["ksize"], "ksize", fmt)
    strides = P.spatial_pair(p.get("strides", 1), "strides", fmt)
    pad = tf_pad(P.normalize_padding(p.get("padding", "VALID"), fmt))
    alt = tape(lambda input: from_nhwc(avg_pool_as_conv(to_nhwc(input, fmt), ksize, strides, pad), fmt),
               case, ("input",))
    tf_dx, alt_dx = ref.paths["tape"]["d_input"], alt["d_input"]
    tol = tolerance(case.dtype, int(np.prod(ksize)), alt_dx)
    if np.any(np.abs(tf_dx - alt_dx) > tol.atol + tol.rtol * np.abs(alt_dx)):
        del ref.paths["tape"]["d_input"]
        ref.paths[AVG_POOL_AS_CONV] = {"d_input": alt_dx}
        ref.notes.append(f"tf.nn.avg_pool2d's gradient disagrees with the same pooling built from tf.nn.conv2d "
                         f"(TF's CPU AvgPoolGrad defect for SAME windows larger than the input, TF #48773, "
                         f"docs/tf-defects.md); d_input is compared on path {AVG_POOL_AS_CONV} only")


@reference("global_avg_pool2d")
def global_avg_pool2d_reference(case: Case, ref: Reference) -> None:
    p = case.params
    axes = [1, 2] if p.get("data_format", "NHWC") == "NHWC" else [2, 3]
    run_path(ref, "tape", lambda: tape(
        lambda input: tf.reduce_mean(input, axis=axes, keepdims=bool(p.get("keepdims", False))), case, ("input",)))


# ------------------------------------------------------------------------------ elementwise, dense

def _unary(op: str, fn):
    @reference(op)
    def unary_reference(case: Case, ref: Reference) -> None:
        (name,) = case.arrays
        run_path(ref, "tape", lambda: tape(lambda **t: fn(t[name], **case.params), case, (name,)))
    unary_reference.__name__ = f"{op}_reference"
    return unary_reference


_unary("relu", lambda x: tf.nn.relu(x))
_unary("leaky_relu", lambda x, alpha=0.2: tf.nn.leaky_relu(x, alpha=alpha))
_unary("elu", lambda x: tf.nn.elu(x))
_unary("sigmoid", lambda x: tf.math.sigmoid(x))
_unary("tanh", lambda x: tf.math.tanh(x))
_unary("softmax", lambda x, axis=-1: tf.nn.softmax(x, axis=axis))
_unary("log_softmax", lambda x, axis=-1: tf.nn.log_softmax(x, axis=axis))


@reference("dense")
def dense_reference(case: Case, ref: Reference) -> None:
    def forward(x, kernel, bias=None):
        y = tf.tensordot(x, kernel, axes=1)
        return y if bias is None else y + bias
    run_path(ref, "tape", lambda: tape(forward, case, _differentiable("dense")))


@reference("dropout")
def dropout_reference(case: Case, ref: Reference) -> None:
    """TF's RNG is not NumPy's, so the keep mask is npcnn's documented one,
    ``np.random.default_rng(seed).random(shape) >= rate``; TF applies it and the 1/(1-rate) scale."""
    rate, seed = float(case.params["rate"]), case.params["seed"]
    x = case.arrays["x"]
    keep = (np.random.default_rng(seed).random(x.shape) >= rate).astype(x.dtype)
    ref.notes.append("dropout keep mask from np.random.default_rng(seed).random(shape) >= rate "
                     "(TensorFlow's RNG differs); TF applies the mask and the 1/(1-rate) scale")

    def forward(x):
        return x * tf.constant(1.0 / (1.0 - rate), dtype=x.dtype) * tf.constant(keep)
    run_path(ref, "tape", lambda: tape(forward, case, ("x",)))


@reference("flatten")
def flatten_reference(case: Case, ref: Reference) -> None:
    fmt = case.params.get("data_format", "NHWC")

    def forward(x):
        x = x if fmt == "NHWC" else tf.transpose(x, [0, 2, 3, 1])
        return tf.reshape(x, [int(x.shape[0]), -1])
    run_path(ref, "tape", lambda: tape(forward, case, ("x",)))


# ---------------------------------------------------------------------------------------- losses

@reference("softmax_cross_entropy_with_logits")
def softmax_cross_entropy_reference(case: Case, ref: Reference) -> None:
    ax = int(case.params.get("axis", -1))
    rank = case.arrays["logits"].ndim
    if ax < 0 and ax != -1:
        # TF 2.21 fails on negative axes other than -1 (a Range op with limit < 0); same axis, positive
        ref.notes.append("negative axis other than -1 passed to TF as its non-negative equivalent "
                         "(TF rejects negative axes other than -1)")
        ax %= rank
    run_path(ref, "tape", lambda: tape(
        lambda labels, logits: tf.nn.softmax_cross_entropy_with_logits(labels, logits, axis=ax),
        case, ("labels", "logits")))


@reference("sparse_softmax_cross_entropy_with_logits")
def sparse_softmax_cross_entropy_reference(case: Case, ref: Reference) -> None:
    run_path(ref, "tape", lambda: tape(
        lambda labels, logits: tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits),
        case, ("logits",)))


@reference("mean_squared_error")
def mean_squared_error_reference(case: Case, ref: Reference) -> None:
    import keras
    run_path(ref, "tape", lambda: tape(
        lambda y_true, y_pred: keras.losses.mean_squared_error(y_true, y_pred), case, ("y_true", "y_pred")))


# --------------------------------------------------------------------------------- normalization

def _axis_list(axis, ndim: int) -> list[int]:
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return sorted(int(a) % ndim for a in axes)


def _bshape(ndim: int, ax: int, c: int) -> list[int]:
    shape = [1] * ndim
    shape[ax] = c
    return shape


@reference("batch_normalization")
def batch_normalization_reference(case: Case, ref: Reference) -> None:
    """tf.nn.moments (biased variance) + tf.nn.batch_normalization, taped through the statistics in
    training; the moving statistics (not differentiated) in inference."""
    p = case.params
    x = case.arrays["x"]
    ax = int(p.get("axis", -1)) % x.ndim
    eps = float(p.get("epsilon", 1e-3))
    training = bool(p.get("training", True))
    reduce_axes = [i for i in range(x.ndim) if i != ax]
    bshape = _bshape(x.ndim, ax, x.shape[ax])
    vjp_arrays = {k: case.arrays[k] for k in ("x", "gamma", "beta")}

    def forward(x, gamma, beta):
        if training:
            mean, var = tf.nn.moments(x, reduce_axes, keepdims=True)
        else:
            mean = tf.reshape(tf.constant(case.arrays["moving_mean"]), bshape)
            var = tf.reshape(tf.constant(case.arrays["moving_variance"]), bshape)
        return tf.nn.batch_normalization(x, mean, var, tf.reshape(beta, bshape), tf.reshape(gamma, bshape), eps)
    run_path(ref, "tape", lambda: tape(forward, case, ("x", "gamma", "beta"), vjp_arrays))


@reference("layer_normalization")
def layer_normalization_reference(case: Case, ref: Reference) -> None:
    """Keras LayerNormalization's formula: moments over ``axis``, (x - mean) * rsqrt(var + eps)."""
    p = case.params
    x = case.arrays["x"]
    axes = _axis_list(p.get("axis", -1), x.ndim)
    eps = float(p.get("epsilon", 1e-3))
    bshape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]

    def forward(x, gamma, beta):
        mean, var = tf.nn.moments(x, axes, keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + eps) * tf.reshape(gamma, bshape) + tf.reshape(beta, bshape)
    run_path(ref, "tape", lambda: tape(forward, case, ("x", "gamma", "beta")))


@reference("group_normalization")
def group_normalization_reference(case: Case, ref: Reference) -> None:
    """Keras GroupNormalization's formula: channels split into ``groups``; per example and group,
    moments over the spatial axes and the group's channels."""
    p = case.params
    x = case.arrays["x"]
    groups = int(p["groups"])
    ax = int(p.get("axis", -1)) % x.ndim
    eps = float(p.get("epsilon", 1e-3))
    c = x.shape[ax]

    def forward(x, gamma, beta):
        moved = tf.experimental.numpy.moveaxis(x, ax, -1)
        shape = [int(v) for v in moved.shape]
        grouped = tf.reshape(moved, [*shape[:-1], groups, c // groups])
        axes = [i for i in range(1, len(shape) + 1) if i != len(shape) - 1]
        mean, var = tf.nn.moments(grouped, axes, keepdims=True)
        normed = tf.reshape((grouped - mean) * tf.math.rsqrt(var + eps), shape) * gamma + beta
        return tf.experimental.numpy.moveaxis(normed, -1, ax)
    run_path(ref, "tape", lambda: tape(forward, case, ("x", "gamma", "beta")))


@reference("moments")
def moments_reference(case: Case, ref: Reference) -> None:
    p = case.params

    def compute():
        x = tf.constant(case.arrays["x"])
        mean, var = tf.nn.moments(x, list(p["axes"]), keepdims=bool(p.get("keepdims", False)))
        return {"mean": mean.numpy(), "variance": var.numpy()}
    run_path(ref, "tape", compute)
