"""A convolution with an *untied* bias: one value per output position, ``(F, OH, OW)`` (or
``(OH, OW, F)`` for a channels-last layer), where TensorFlow's conv2d has one per filter, ``(F,)``.

It is checked two ways, both on every case:

* against TensorFlow: the untied bias is set to the case's per-filter bias broadcast over the
  output positions (``b[f]`` at every position), so the forward, ``d_input`` and ``d_filters`` must
  be TensorFlow's conv2d with that bias, and the layer's ``d_bias`` summed over the positions must
  be TensorFlow's ``d_bias``;
* against its own forward: the layer's ``d_bias``, position by position, against float64 central
  finite differences of the layer's forward in its bias (crosscheck.check.self_consistency), the
  tensor ``d_bias per position``.

The adapter of crosscheck.check.layers calls :func:`untied_order`, :func:`to_untied` and
:func:`from_untied` when it meets such a bias; :func:`per_position_diffs` adds the second check.
"""
from __future__ import annotations

import numpy as np

from ..case import Case, TensorDiff
from .layer_access import get_path
from .layer_probe import probes
from .self_consistency import judge_gradients

PER_POSITION = "d_bias per position"   # the tensor judged against the layer's own forward
CHANNELS_LAST = ("NHWC", "HWC", "HW")   # layouts whose conv output (and so an untied bias) ends with F


def note(order: str) -> str:
    """The row's note for an untied bias stored as ``order`` ("FHW" or "HWF")."""
    shape = "(F, OH, OW)" if order == "FHW" else "(OH, OW, F)"
    return (f"untied bias {shape}: TensorFlow's conv2d checked the forward and d_input/d_filters (the bias set to "
            "one value per filter at every position, d_bias summed over positions); d_bias judged against your own "
            "forward")


def untied_order(like_shape, n_filters: int, layout: str) -> str | None:
    """"FHW" or "HWF" when a bias of ``like_shape`` (leading axes of 1 allowed) holds one value per
    output position of ``n_filters`` filters in a layer of ``layout``; None for a per-filter bias or
    any other shape."""
    shape = _squeezed(like_shape)
    if len(shape) != 3 or int(np.prod(shape)) == n_filters:
        return None
    if layout in CHANNELS_LAST:
        return "HWF" if shape[2] == n_filters else None
    return "FHW" if shape[0] == n_filters else None


def _squeezed(shape) -> tuple:
    shape = tuple(int(s) for s in shape)
    while len(shape) > 3 and shape[0] == 1:
        shape = shape[1:]
    return shape


def to_untied(bias: np.ndarray, like_shape, order: str) -> np.ndarray:
    """The per-filter ``bias`` (F,) as an untied bias of ``like_shape``: ``b[f]`` at every position
    (a new array: layers update theirs in place)."""
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    shape = _squeezed(like_shape)
    column = b[:, None, None] if order == "FHW" else b[None, None, :]
    return np.array(np.broadcast_to(column, shape).reshape(tuple(like_shape)), copy=True, order="C")


def from_untied(grad, order: str):
    """An untied bias's gradient summed over the output positions: (F,); anything that is not a
    3-D array (after leading axes of 1) is returned as it is, to be judged as it is."""
    if grad is None:
        return None
    g = np.asarray(grad, dtype=np.float64)
    if len(_squeezed(g.shape)) != 3:
        return g
    g = g.reshape(_squeezed(g.shape))
    return g.sum(axis=(1, 2)) if order == "FHW" else g.sum(axis=(0, 1))


def per_position_diffs(impl, case: Case, layer_name: str) -> list[TensorDiff]:
    """``d_bias per position``: the layer's untied bias gradient on ``case`` (through ``impl``, the
    adapter of crosscheck.check.layers, whose ``untied`` record holds the bias it set and the
    gradient its backward gave) against finite differences of its own forward in that bias."""
    names = [n for n in ("input", "filters", "bias") if n in case.arrays]
    arrays = [np.array(case.arrays[n], dtype=np.float64, copy=True) for n in names]
    _, pullback = impl.vjp(case.op, *arrays, **case.params)
    pullback(np.array(case.dy, copy=True))
    record = impl.untied
    bias, grad = record["bias"], record.get("grad")
    fixed = {n: np.array(case.arrays[n], dtype=np.float64, copy=True) for n in names if n != "bias"}

    def forward(bias):   # an array of the layer's own bias shape is set as it is
        return impl.conv2d(**{k: v.copy() for k, v in fixed.items()}, bias=bias, **case.params)
    diffs = judge_gradients(forward, {"bias": bias}, {"bias": grad}, case.dy, seed=case.seed, case=case,
                            missing_notes={"bias": f"{layer_name} does not compute d_bias"})
    for d in diffs:
        d.tensor = PER_POSITION
    return diffs


def order_of(layer) -> str | None:
    """The untied bias order ("FHW" / "HWF") of a conv2d ``layer`` (crosscheck.Layer, its weights
    found or declared), told by building it once with the probe sizes of its layout and running its
    forward; None for a per-filter bias, no bias, or a layer that cannot be built that way (its run
    says why)."""
    path = layer.weights.get("bias") if isinstance(layer.weights, dict) else None
    if layer.op != "conv2d" or not isinstance(path, str):
        return None
    for layout, config, x, _ in probes("conv2d"):
        if layout != layer.layout:
            continue
        try:
            obj = layer.make(config)
            getattr(obj, layer.forward)(np.array(x, copy=True))
            return untied_order(np.shape(get_path(obj, path)), config.out_channels, layer.layout)
        except Exception:   # noqa: BLE001 - the run reports what fails
            return None
    return None
