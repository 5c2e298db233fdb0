"""Every output-size and padding rule of npcnn, in one place.

TensorFlow's rules (its documentation of tf.nn.convolution and tf.nn.max_pool2d):

* SAME:  ``out = ceil(in / s)``; ``pad = max((out - 1) * s + k_eff - in, 0)``;
  ``before = pad // 2``, ``after = pad - before`` (the odd pixel goes bottom/right).
* VALID: ``out = (in - k_eff + s) // s`` with ``k_eff = (k - 1) * d + 1``; ``out <= 0`` is an error.
* explicit ``(before, after)``: ``out = (in + before + after - k_eff) // s + 1``.

Nothing else in npcnn re-derives these; ops ask :func:`window_geometry`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ._checks import INT32_MAX, INT64_MAX, shown
from ._typing import PaddingArg, SpatialArg

#: Normalised padding: "SAME", "VALID" or ``((top, bottom), (left, right))``.
Padding = str | tuple[tuple[int, int], tuple[int, int]]
DATA_FORMATS = ("NHWC", "NCHW")


def check_data_format(data_format: str) -> str:
    """Return ``data_format`` if it is "NHWC" or "NCHW", else raise ValueError."""
    if not isinstance(data_format, str) or data_format not in DATA_FORMATS:
        raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {shown(data_format)}")
    return data_format


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) or (
        hasattr(v, "dtype") and getattr(v, "shape", None) == () and v.dtype.kind in "iu")


def spatial_pair(value: SpatialArg, name: str, data_format: str = "NHWC", *, minimum: int = 1) -> tuple[int, int]:
    """Normalise a stride, dilation or window size to ``(h, w)``.

    Accepts an int, a pair ``(h, w)``, or TensorFlow's 4-element form (``[1, h, w, 1]`` for NHWC,
    ``[1, 1, h, w]`` for NCHW; the batch and channel entries must be 1). Each value lies in
    ``[minimum, 2**31 - 1]``: TensorFlow keeps these in int32 attributes.
    """
    check_data_format(data_format)
    if _is_int(value):
        pair = (int(value), int(value))
    else:
        try:
            items = list(value)
        except TypeError:
            raise TypeError(f"{name} must be an int, a pair or a 4-element list, got {shown(value)}") from None
        if not all(_is_int(v) for v in items):
            raise TypeError(f"{name} must contain ints, got {shown(value)}")
        items = [int(v) for v in items]
        if len(items) == 1:
            pair = (items[0], items[0])
        elif len(items) == 2:
            pair = (items[0], items[1])
        elif len(items) == 4:
            outer = (items[0], items[3]) if data_format == "NHWC" else (items[0], items[1])
            if outer != (1, 1):
                raise ValueError(
                    f"{name}={items} in {data_format}: the batch and channel entries must be 1")
            pair = (items[1], items[2]) if data_format == "NHWC" else (items[2], items[3])
        else:
            raise ValueError(f"{name} must have 1, 2 or 4 entries, got {len(items)}: {shown(value)}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum} in every spatial axis, got {pair}")
    if max(pair) > INT32_MAX:
        raise ValueError(f"{name} must be at most {INT32_MAX} (TensorFlow's int32 range) in every spatial axis, "
                         f"got {pair}")
    return pair


def normalize_padding(padding: PaddingArg, data_format: str = "NHWC") -> Padding:
    """Return "SAME", "VALID" or explicit ``((top, bottom), (left, right))``.

    Strings are case-insensitive. Explicit padding is ``[[top, bottom], [left, right]]`` or
    TensorFlow's 4-pair form (``[[0, 0], [t, b], [l, r], [0, 0]]`` for NHWC,
    ``[[0, 0], [0, 0], [t, b], [l, r]]`` for NCHW) whose batch and channel pairs must be zero;
    each pad lies in ``[0, 2**63 - 1]`` (TensorFlow's int64 range).
    """
    check_data_format(data_format)
    if isinstance(padding, str):
        upper = padding.upper() if padding.isascii() else padding   # "ſame".upper() is "SAME": not a name
        if upper not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME', 'VALID' or explicit pairs, got {shown(padding)}")
        return upper
    try:
        pairs = [list(p) for p in padding]
    except TypeError:
        raise TypeError(f"padding must be a string or a list of [before, after] pairs, got {shown(padding)}") from None
    if len(pairs) not in (2, 4) or any(len(p) != 2 for p in pairs):
        raise ValueError(
            f"explicit padding must be [[top, bottom], [left, right]] or the 4-pair form, got {shown(padding)}")
    if not all(_is_int(v) for p in pairs for v in p):
        raise TypeError(f"padding entries must be ints, got {shown(padding)}")
    if len(pairs) == 4:
        outer = (pairs[0], pairs[3]) if data_format == "NHWC" else (pairs[0], pairs[1])
        if any(v != 0 for p in outer for v in p):
            raise ValueError(
                f"padding={shown(padding)} in {data_format}: the batch and channel pairs must be [0, 0]")
        pairs = pairs[1:3] if data_format == "NHWC" else pairs[2:4]
    result = tuple((int(p[0]), int(p[1])) for p in pairs)
    if min(v for p in result for v in p) < 0:
        raise ValueError(f"padding must be non-negative, got {shown(padding)}")
    if max(v for p in result for v in p) > INT64_MAX:
        raise ValueError(f"padding must be at most {INT64_MAX} (TensorFlow's int64 range), got {shown(padding)}")
    return result


def effective_kernel(k: int, d: int) -> int:
    """Extent of a kernel of size ``k`` dilated by ``d``: ``(k - 1) * d + 1``."""
    return (k - 1) * d + 1


def axis_output_size(size: int, k: int, s: int, d: int, padding, *, axis: str = "H") -> tuple[int, int, int]:
    """Output size and ``(before, after)`` pads of one spatial axis.

    ``padding`` is "SAME", "VALID" or a ``(before, after)`` pair. Raises ValueError when the
    (padded) input is smaller than the dilated kernel.
    """
    k_eff = effective_kernel(k, d)
    if padding == "SAME":
        out = -(-size // s)
        total = max((out - 1) * s + k_eff - size, 0)
        return out, total // 2, total - total // 2
    before, after = (0, 0) if padding == "VALID" else padding
    padded = size + before + after
    if padded < k_eff:
        raise ValueError(
            f"window larger than the padded input along {axis}: input {size} + padding "
            f"({before}, {after}) = {padded} < dilated window {k_eff} (size {k}, dilation {d})")
    return (padded - k_eff) // s + 1, before, after


@dataclass(frozen=True)
class WindowGeometry:
    """Where a sliding window visits a padded NHWC input.

    ``out`` is the output (h, w); ``pads`` is ((top, bottom), (left, right)).
    """
    out: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]


def window_geometry(in_hw, kernel, strides, dilations, padding) -> WindowGeometry:
    """Resolve a normalised padding for an ``(h, w)`` input, kernel, strides and dilations."""
    if padding in ("SAME", "VALID"):
        per_axis = (padding, padding)
    else:
        per_axis = padding
    results = [axis_output_size(n, k, s, d, p, axis=a)
               for n, k, s, d, p, a in zip(in_hw, kernel, strides, dilations, per_axis, "HW")]
    return WindowGeometry(
        out=(results[0][0], results[1][0]),
        pads=((results[0][1], results[0][2]), (results[1][1], results[1][2])),
        kernel=tuple(kernel), strides=tuple(strides), dilations=tuple(dilations))


def transpose_output_range(in_size: int, k: int, s: int, d: int, padding) -> range:
    """Sizes ``n`` for which a conv over ``n`` gives ``in_size`` outputs (conv2d_transpose's choice).

    VALID: ``[(in-1)s + k_eff, (in-1)s + k_eff + s - 1]``; SAME: ``[(in-1)s + 1, in*s]``;
    explicit: ``[(in-1)s + k_eff - before - after, ... + s - 1]`` clipped to sizes >= 0 (an empty
    axis is reachable when the pads cover a window: TensorFlow computes it).
    """
    k_eff = effective_kernel(k, d)
    if padding == "SAME":
        return range((in_size - 1) * s + 1, in_size * s + 1)
    before, after = (0, 0) if padding == "VALID" else padding
    low = (in_size - 1) * s + k_eff - before - after
    return range(max(low, 0), max(low + s, 0))


def live_taps(geom: WindowGeometry, in_hw) -> tuple[WindowGeometry, tuple[slice, slice]]:
    """The same window restricted to the kernel taps that ever read the unpadded ``(h, w)`` input:
    ``(geometry, (rows, cols))`` where ``rows`` / ``cols`` slice the kernel. A tap whose every
    output position falls in padding contributes nothing (zeros for conv, -inf for max pool), so
    dropping the leading and trailing ones changes no result but bounds the cost by the input: a
    SAME window of 3000 on a 7x7 input works on about 13 taps per axis, not 3000. The pads shrink
    with the kernel so that the output size stays the same."""
    axes = []
    for n, o, k, s, d, (top, _) in zip(in_hw, geom.out, geom.kernel, geom.strides, geom.dilations, geom.pads):
        # tap t reads rows t*d - top + i*s, i < o: some of them lie in [0, n) only if
        # t*d - top <= n - 1 and t*d - top + (o - 1)*s >= 0 (no arrays of k taps: k may be huge)
        first_tap = max(0, -((top - (o - 1) * s) // -d) if o else 0)
        last_tap = min(k - 1, (n - 1 + top) // d)
        if n == 0 or o == 0 or first_tap > last_tap:
            return geom, (slice(None), slice(None))
        # the pads stay >= 0: keep taps from top // d on; rows past the last read may stay unpadded
        lo, hi = min(first_tap, top // d), last_tap + 1
        new_top = top - lo * d
        new_bottom = max(0, (o - 1) * s + (hi - lo - 1) * d + 1 - n - new_top)
        axes.append((slice(lo, hi), (new_top, new_bottom), hi - lo))
    (rows, pads_h, kh), (cols, pads_w, kw) = axes
    if (kh, kw) == geom.kernel:
        return geom, (rows, cols)
    return replace(geom, pads=(pads_h, pads_w), kernel=(kh, kw)), (rows, cols)
