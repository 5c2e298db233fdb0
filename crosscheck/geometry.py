"""TensorFlow's sliding-window rules, crosscheck's own copy (it shares no code with what it checks).

Written from TensorFlow's documentation (``tf.nn.convolution``, ``tf.nn.conv2d_transpose``,
``tf.nn.max_pool2d``) and tested against TensorFlow itself (tests/crosscheck/test_geometry.py).
Every function is rank-generic, in the style of JAX's ``lax.padtype_to_pads``: sizes, windows,
strides and dilations are tuples with one entry per spatial axis.

* ``k_eff = (k - 1) * d + 1`` is a dilated window's extent.
* SAME: ``out = ceil(in / s)``; total pad ``max((out - 1) * s + k_eff - in, 0)``, of which
  ``pad // 2`` goes before and the rest (the odd cell) after.
* VALID: no padding; ``out = (in - k_eff) // s + 1``, which must be at least 1.
* explicit ``(before, after)`` pads: ``out = (in + before + after - k_eff) // s + 1``.
* conv2d_transpose onto size ``n`` is valid when a conv over ``n`` gives the transpose's input
  size ``m``: SAME ``n in [(m - 1) s + 1, m s]``; otherwise
  ``n in [(m - 1) s + k_eff - before - after, ... + s - 1]``.

Spellings (what a call may pass; TF's forms plus the ones npcnn's API documents):
a stride, dilation or window size is an int, a list of 1, of ``rank`` or of ``rank + 2`` values
(TF's full form, whose batch and channel entries must be 1); padding is "SAME" / "VALID" in any
ASCII case, ``rank`` pairs, or TF's ``rank + 2`` pairs whose batch and channel pairs are ``[0, 0]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

PADDING_NAMES = ("SAME", "VALID")
DATA_FORMATS = ("NHWC", "NCHW")


class GeometryError(ValueError):
    """A window configuration that TensorFlow's rules reject (the message says which rule)."""


# ----------------------------------------------------------------------------------- spellings

def padding_name(padding) -> str | None:
    """"SAME" or "VALID" for a padding string in any ASCII case; None for anything else
    (non-ASCII look-alikes such as "ſame", whose ``upper()`` is "SAME", are not padding names)."""
    if isinstance(padding, str) and padding.isascii() and padding.upper() in PADDING_NAMES:
        return padding.upper()
    return None


def _is_int(v) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (
        getattr(v, "shape", None) == () and getattr(getattr(v, "dtype", None), "kind", "") in "iu")


def channels_last(data_format: str) -> bool:
    return data_format.endswith("C")


def spatial_values(value, name: str, rank: int = 2, data_format: str = "NHWC") -> tuple[int, ...]:
    """One int per spatial axis from an int, a list of 1, ``rank`` or ``rank + 2`` ints.

    Values are returned as given (0 and negatives included): TensorFlow decides whether they are
    allowed (:func:`check_positive`)."""
    if _is_int(value):
        return (int(value),) * rank
    try:
        items = list(value)
    except TypeError:
        raise GeometryError(f"{name} must be an int or a list of ints, got {value!r}") from None
    if not items or not all(_is_int(v) for v in items):
        raise GeometryError(f"{name} must be an int or a list of ints, got {value!r}")
    items = [int(v) for v in items]
    if len(items) == 1:
        return (items[0],) * rank
    if len(items) == rank:
        return tuple(items)
    if len(items) == rank + 2:
        outer = (items[0], items[-1]) if channels_last(data_format) else tuple(items[:2])
        if outer != (1, 1):
            raise GeometryError(f"{name}={items} ({data_format}): the batch and channel entries must be 1")
        return tuple(items[1:-1]) if channels_last(data_format) else tuple(items[2:])
    raise GeometryError(f"{name} must have 1, {rank} or {rank + 2} entries, got {len(items)}: {value!r}")


def normalize_padding(padding, rank: int = 2, data_format: str = "NHWC"):
    """"SAME", "VALID" or a tuple of ``rank`` ``(before, after)`` pairs (values as given)."""
    name = padding_name(padding)
    if name is not None:
        return name
    if isinstance(padding, str):
        raise GeometryError(f"padding must be 'SAME', 'VALID' or explicit pairs, got {padding!r}")
    try:
        pairs = [list(p) for p in padding]
    except TypeError:
        raise GeometryError(f"padding must be a string or a list of [before, after] pairs, got {padding!r}") from None
    if len(pairs) not in (rank, rank + 2) or any(len(p) != 2 for p in pairs):
        raise GeometryError(f"explicit padding must be {rank} or {rank + 2} [before, after] pairs, got {padding!r}")
    if not all(_is_int(v) for p in pairs for v in p):
        raise GeometryError(f"explicit padding entries must be ints, got {padding!r}")
    if len(pairs) == rank + 2:
        outer = [pairs[0], pairs[-1]] if channels_last(data_format) else pairs[:2]
        if any(v != 0 for p in outer for v in p):
            raise GeometryError(f"padding={padding!r} ({data_format}): the batch and channel pairs must be [0, 0]")
        pairs = pairs[1:-1] if channels_last(data_format) else pairs[2:]
    return tuple((int(a), int(b)) for a, b in pairs)


def full_padding(pads, data_format: str = "NHWC") -> list[list[int]]:
    """Explicit pairs in TensorFlow's ``rank + 2`` form for ``data_format``."""
    spatial = [[int(a), int(b)] for a, b in pads]
    return [[0, 0], *spatial, [0, 0]] if channels_last(data_format) else [[0, 0], [0, 0], *spatial]


def full_values(values, data_format: str = "NHWC") -> list[int]:
    """Per-axis values in TensorFlow's ``rank + 2`` form (``[1, h, w, 1]`` for NHWC)."""
    v = [int(x) for x in values]
    return [1, *v, 1] if channels_last(data_format) else [1, 1, *v]


def check_positive(values: Sequence[int], name: str) -> None:
    if min(values) < 1:
        raise GeometryError(f"{name} must be positive in every spatial axis, got {tuple(values)}")


# ------------------------------------------------------------------------------------ the rules

def effective_window(window: Sequence[int], dilations: Sequence[int]) -> tuple[int, ...]:
    return tuple((k - 1) * d + 1 for k, d in zip(window, dilations))


def padtype_to_pads(in_sizes, window, strides, dilations, padding) -> tuple[tuple[int, int], ...]:
    """The ``(before, after)`` pads TensorFlow uses for each spatial axis."""
    if padding == "VALID":
        return tuple((0, 0) for _ in in_sizes)
    if padding == "SAME":
        pads = []
        for n, k, s in zip(in_sizes, effective_window(window, dilations), strides):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    return tuple((int(a), int(b)) for a, b in padding)


def output_sizes(in_sizes, window, strides, dilations, pads) -> tuple[int, ...]:
    """``(in + before + after - k_eff) // s + 1`` per axis (may be < 1: the caller decides)."""
    return tuple((n + a + b - k) // s + 1
                 for n, k, s, (a, b) in zip(in_sizes, effective_window(window, dilations), strides, pads))


@dataclass(frozen=True)
class Window:
    """A sliding window resolved against an input: everything per spatial axis."""
    in_sizes: tuple[int, ...]
    window: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    padding: object                      # "SAME", "VALID" or the explicit pairs
    pads: tuple[tuple[int, int], ...]
    out: tuple[int, ...]

    @property
    def effective(self) -> tuple[int, ...]:
        return effective_window(self.window, self.dilations)


@dataclass(frozen=True)
class WindowArgs:
    """What a call says about its window, unchecked: per-axis input sizes, window, strides,
    dilations, the canonical padding, and whether explicit pads must be smaller than the window."""
    in_sizes: tuple
    window: tuple
    strides: tuple
    dilations: tuple
    padding: object
    pads_below_window: bool = False

    def resolve(self) -> Window:
        return resolve(self.in_sizes, self.window, self.strides, self.dilations, self.padding,
                       pads_below_window=self.pads_below_window)

    def fits(self) -> bool:
        """Whether the (padded) input holds at least one window: always with SAME; the output-size
        rule gives at least 1 per axis otherwise. Meaningful only for positive window and strides."""
        if self.padding == "SAME":
            return True
        pads = padtype_to_pads(self.in_sizes, self.window, self.strides, self.dilations, self.padding)
        return min(output_sizes(self.in_sizes, self.window, self.strides, self.dilations, pads)) >= 1


def resolve(in_sizes, window, strides, dilations, padding, *, pads_below_window: bool = False) -> Window:
    """The window of a valid configuration; GeometryError names the rule a bad one breaks.

    ``pads_below_window``: max-pool's rule that each explicit pad is smaller than the window."""
    in_sizes, window = tuple(int(v) for v in in_sizes), tuple(int(v) for v in window)
    strides, dilations = tuple(int(v) for v in strides), tuple(int(v) for v in dilations)
    for values, name in ((window, "window"), (strides, "strides"), (dilations, "dilations")):
        check_positive(values, name)
    pads = padtype_to_pads(in_sizes, window, strides, dilations, padding)
    if any(v < 0 for p in pads for v in p):
        raise GeometryError(f"explicit padding must be non-negative, got {pads}")
    if pads_below_window and padding not in PADDING_NAMES:
        for (a, b), k in zip(pads, window):
            if max(a, b) >= k:
                raise GeometryError(f"each explicit pad must be smaller than the window: pads {pads}, window {window}")
    out = output_sizes(in_sizes, window, strides, dilations, pads)
    if padding != "SAME" and min(out) < 1:
        k_eff = effective_window(window, dilations)
        raise GeometryError(f"window larger than the padded input: input {in_sizes} + pads {pads} < dilated window "
                            f"{k_eff}")
    return Window(in_sizes, window, strides, dilations, padding, pads, out)


def transpose_sizes(in_size: int, k: int, s: int, d: int, padding) -> range:
    """The sizes ``n`` conv2d_transpose may produce from ``in_size``: those a conv over ``n`` maps
    back to ``in_size`` (``padding``: "SAME", "VALID" or this axis's ``(before, after)``)."""
    if padding == "SAME":
        return range((in_size - 1) * s + 1, in_size * s + 1)
    before, after = (0, 0) if padding == "VALID" else padding
    low = (in_size - 1) * s + (k - 1) * d + 1 - before - after
    return range(max(low, 1), max(low + s, 1))


# ---------------------------------------------------------------------------------- layouts

def spatial_axes(data_format: str, rank: int = 2) -> tuple[int, ...]:
    return tuple(range(1, rank + 1)) if channels_last(data_format) else tuple(range(2, rank + 2))


def channel_axis(data_format: str, rank: int = 2) -> int:
    return rank + 1 if channels_last(data_format) else 1


def spatial_shape(shape, data_format: str) -> tuple[int, ...]:
    return tuple(shape[a] for a in spatial_axes(data_format, len(shape) - 2))


def channels(shape, data_format: str) -> int:
    return shape[channel_axis(data_format, len(shape) - 2)]


def to_layout(nhwc_shape, data_format: str) -> list[int]:
    """A channels-last shape ``(N, *spatial, C)`` in ``data_format``."""
    s = [int(v) for v in nhwc_shape]
    return s if channels_last(data_format) else [s[0], s[-1], *s[1:-1]]


# --------------------------------------------------------------- a resolved call's window operands
# ``call`` is a crosscheck.opinfo.Call of a window op: its OpInfo's ``window_operands`` name the
# argument giving the input and the one giving the HWIO filters (an array or a shape parameter).

def shape_of(call, name: str) -> tuple:
    """The shape named by an array argument or a shape parameter (input_sizes, filter_sizes, ...)."""
    return tuple(call.arrays[name].shape) if name in call.arrays else tuple(int(v) for v in call.params[name])


def window_input_shape(call) -> tuple:
    """The shape of a window op's input (an array or a shape parameter), in the case's layout."""
    return shape_of(call, call.info.window_operands[0])


def conv_groups(call) -> int:
    """A convolution's groups: in_channels / filter in-channels (depthwise: the channel count)."""
    x_name, w_name = call.info.window_operands
    if call.op == "depthwise_conv2d":
        return int(shape_of(call, w_name)[2])
    return channels(shape_of(call, x_name), call.data_format) // int(shape_of(call, w_name)[2])
