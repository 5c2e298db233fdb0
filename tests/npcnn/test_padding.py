"""Output sizes and padding forms (npcnn/padding.py) against TensorFlow's documented rules."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from npcnn import padding as P

sizes = st.integers(1, 40)
kernels = st.integers(1, 7)
strides = st.integers(1, 5)
dilations = st.integers(1, 4)
pads = st.integers(0, 6)


def k_eff(k, d):
    return (k - 1) * d + 1


@given(sizes, kernels, strides, dilations)
def test_same_output_is_ceil_and_extra_pixel_goes_after(n, k, s, d):
    out, before, after = P.axis_output_size(n, k, s, d, "SAME")
    assert out == math.ceil(n / s)
    total = max((out - 1) * s + k_eff(k, d) - n, 0)
    assert (before, after) == (total // 2, total - total // 2)


@given(sizes, kernels, strides, dilations)
def test_valid_output_or_value_error(n, k, s, d):
    expected = (n - k_eff(k, d) + s) // s
    if expected <= 0:
        with pytest.raises(ValueError, match="window larger than the padded input"):
            P.axis_output_size(n, k, s, d, "VALID")
    else:
        assert P.axis_output_size(n, k, s, d, "VALID") == (expected, 0, 0)


@given(sizes, kernels, strides, dilations, pads, pads)
def test_explicit_output_size(n, k, s, d, before, after):
    padded = n + before + after
    if padded < k_eff(k, d):
        with pytest.raises(ValueError, match=rf"{padded} < dilated window {k_eff(k, d)}"):
            P.axis_output_size(n, k, s, d, (before, after))
    else:
        assert P.axis_output_size(n, k, s, d, (before, after)) == (
            math.floor((padded - k_eff(k, d)) / s) + 1, before, after)


@given(sizes, sizes, kernels, kernels, strides, strides, dilations, dilations)
def test_window_geometry_is_per_axis(h, w, kh, kw, sh, sw, dh, dw):
    geom = P.window_geometry((h, w), (kh, kw), (sh, sw), (dh, dw), "SAME")
    oh, th, bh = P.axis_output_size(h, kh, sh, dh, "SAME")
    ow, lw, rw = P.axis_output_size(w, kw, sw, dw, "SAME")
    assert geom.out == (oh, ow) and geom.pads == ((th, bh), (lw, rw))
    # the last window must fit inside the padded input
    for o, n, k, s, d, (a, b) in ((oh, h, kh, sh, dh, (th, bh)), (ow, w, kw, sw, dw, (lw, rw))):
        assert (o - 1) * s + (k - 1) * d + 1 <= n + a + b


def test_window_geometry_names_the_axis():
    with pytest.raises(ValueError, match="along W"):
        P.window_geometry((9, 2), (3, 3), (1, 1), (1, 1), "VALID")


@given(st.integers(1, 12), kernels, strides, dilations,
       st.one_of(st.just("SAME"), st.just("VALID"), st.tuples(pads, pads)))
def test_transpose_output_range_is_exactly_the_preimage(m, k, s, d, padding):
    r = P.transpose_output_range(m, k, s, d, padding)
    assert r.step == 1 and r.start >= 0    # 0: an empty axis whose windows read only padding
    if isinstance(padding, str):
        assert len(r) == s and r.start >= 1
    for n in range(0, (m + 1) * s + k_eff(k, d) + 14):
        try:
            out = P.axis_output_size(n, k, s, d, padding)[0]
        except ValueError:
            out = None  # window larger than the padded input: not reachable
        assert (out == m) == (n in r), (n, out, r)


def test_transpose_output_range_formulas():
    # conv2d_transpose's rule: VALID [(in-1)s+k_eff, ... + s-1], SAME [(in-1)s+1, in*s]
    assert P.transpose_output_range(4, 3, 2, 2, "VALID") == range(3 * 2 + 5, 3 * 2 + 5 + 2)
    assert P.transpose_output_range(4, 3, 2, 1, "SAME") == range(7, 9)


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
@pytest.mark.parametrize("value, expected", [
    (3, (3, 3)), ((2, 5), (2, 5)), ([4], (4, 4)), (np.int64(2), (2, 2)), (np.array([2, 3]), (2, 3))])
def test_spatial_pair_int_and_pair(fmt, value, expected):
    assert P.spatial_pair(value, "strides", fmt) == expected


def test_spatial_pair_four_element_forms():
    assert P.spatial_pair([1, 2, 3, 1], "strides", "NHWC") == (2, 3)
    assert P.spatial_pair([1, 1, 2, 3], "strides", "NCHW") == (2, 3)
    with pytest.raises(ValueError, match=r"strides=\[1, 1, 2, 3\] in NHWC: the batch and channel"):
        P.spatial_pair([1, 1, 2, 3], "strides", "NHWC")
    with pytest.raises(ValueError, match=r"dilations=\[1, 2, 3, 1\] in NCHW"):
        P.spatial_pair([1, 2, 3, 1], "dilations", "NCHW")


@pytest.mark.parametrize("value, error, pattern", [
    (0, ValueError, r"strides must be >= 1 .* got \(0, 0\)"),
    ((2, -1), ValueError, r"strides must be >= 1 .* got \(2, -1\)"),
    ([1, 0, 2, 1], ValueError, r"strides must be >= 1"),
    ((1, 2, 3), ValueError, r"strides must have 1, 2 or 4 entries, got 3"),
    ([], ValueError, r"strides must have 1, 2 or 4 entries, got 0"),
    (2.0, TypeError, r"strides must be an int"),
    ((2, 1.5), TypeError, r"strides must contain ints"),
    (True, TypeError, r"strides"),
    ("2", TypeError, r"strides must contain ints"),
    (None, TypeError, r"strides must be an int"),
])
def test_spatial_pair_rejects(value, error, pattern):
    with pytest.raises(error, match=pattern):
        P.spatial_pair(value, "strides", "NHWC")


@pytest.mark.parametrize("text", ["same", "Same", "SAME", "valid", "VaLiD"])
def test_padding_strings_case_insensitive(text):
    assert P.normalize_padding(text) == text.upper()
    assert P.normalize_padding(text, "NCHW") == text.upper()


def test_padding_explicit_forms():
    assert P.normalize_padding([[1, 2], [3, 4]]) == ((1, 2), (3, 4))
    assert P.normalize_padding(np.array([[1, 2], [3, 4]]), "NCHW") == ((1, 2), (3, 4))
    assert P.normalize_padding([[0, 0], [1, 2], [3, 4], [0, 0]], "NHWC") == ((1, 2), (3, 4))
    assert P.normalize_padding([[0, 0], [0, 0], [1, 2], [3, 4]], "NCHW") == ((1, 2), (3, 4))
    assert P.normalize_padding(((0, 6), (6, 0))) == ((0, 6), (6, 0))


@pytest.mark.parametrize("padding, fmt, error, pattern", [
    ("FULL", "NHWC", ValueError, r"padding must be 'SAME', 'VALID' or explicit pairs, got 'FULL'"),
    ("EXPLICIT", "NHWC", ValueError, r"got 'EXPLICIT'"),
    ([[1, 1]], "NHWC", ValueError, r"explicit padding must be \[\[top, bottom\], \[left, right\]\]"),
    ([[1, 1], [1, 1], [1, 1]], "NHWC", ValueError, r"explicit padding must be"),
    ([[1, 1, 1], [1, 1]], "NHWC", ValueError, r"explicit padding must be"),
    ([[0, 0], [1, 1, 1], [1, 1], [0, 0]], "NHWC", ValueError, r"explicit padding must be"),
    ([[1, -1], [0, 0]], "NHWC", ValueError, r"padding must be non-negative"),
    ([[0, 0], [1, 1], [1, 1], [0, 1]], "NHWC", ValueError, r"in NHWC: the batch and channel pairs must be \[0, 0\]"),
    ([[1, 0], [1, 1], [1, 1], [0, 0]], "NHWC", ValueError, r"the batch and channel pairs"),
    ([[0, 0], [1, 1], [1, 1], [0, 0]], "NCHW", ValueError, r"in NCHW: the batch and channel pairs"),
    ([[1.5, 1], [1, 1]], "NHWC", TypeError, r"padding entries must be ints"),
    ([1, 2], "NHWC", TypeError, r"padding must be a string or a list of \[before, after\] pairs"),
    (3, "NHWC", TypeError, r"padding must be a string"),
    (None, "NHWC", TypeError, r"padding must be a string"),
])
def test_padding_rejects(padding, fmt, error, pattern):
    with pytest.raises(error, match=pattern):
        P.normalize_padding(padding, fmt)


@pytest.mark.parametrize("fmt", ["nhwc", "NHCW", "channels_last", None])
def test_data_format_rejected(fmt):
    with pytest.raises(ValueError, match="data_format must be 'NHWC' or 'NCHW'"):
        P.check_data_format(fmt)
    with pytest.raises(ValueError, match="data_format"):
        P.normalize_padding("SAME", fmt)
    with pytest.raises(ValueError, match="data_format"):
        P.spatial_pair(1, "strides", fmt)


@given(sizes, sizes, kernels, kernels, strides, dilations, pads, pads, pads, pads)
def test_clipped_window_slices_are_the_unpadded_taps_of_the_padded_window(h, w, kh, kw, s, d, t, b, l, r):
    """Each kernel offset's taps inside the input, as the pad-free pooling and scatters use them,
    are exactly the padded window's taps that do not land on padding."""
    from npcnn.functional.im2col import clipped_window_slices, window_slices
    try:
        geom = P.window_geometry((h, w), (kh, kw), (s, s), (d, d), ((t, b), (l, r)))
    except ValueError:
        return
    for i in range(kh):
        for j in range(kw):
            rows, cols = window_slices(geom, i, j)
            taps_h = np.arange(h + t + b)[rows] - t       # input row read by each output row
            taps_w = np.arange(w + l + r)[cols] - l
            inside_h, inside_w = (taps_h >= 0) & (taps_h < h), (taps_w >= 0) & (taps_w < w)
            clipped = clipped_window_slices(geom, (h, w), i, j)
            if clipped is None:
                assert not (inside_h.any() and inside_w.any())
                continue
            (out_rows, out_cols), (in_rows, in_cols) = clipped
            assert np.arange(geom.out[0])[out_rows].tolist() == np.flatnonzero(inside_h).tolist()
            assert np.arange(geom.out[1])[out_cols].tolist() == np.flatnonzero(inside_w).tolist()
            assert np.arange(h)[in_rows].tolist() == taps_h[inside_h].tolist()
            assert np.arange(w)[in_cols].tolist() == taps_w[inside_w].tolist()


@given(sizes, sizes, kernels, kernels, strides, strides, dilations, pads, pads, pads, pads)
def test_accumulation_order_writes_every_cell_once_before_adding(h, w, kh, kw, sh, sw, d, t, b, l, r):
    """The offsets a window sum or a scatter assigns (instead of adding) come first and write every
    cell of their target exactly once; the scatter built on them equals adding every offset's block
    onto zeros of the padded input."""
    from npcnn.functional.im2col import accumulation_order, scatter_windows, window_slices
    try:
        geom = P.window_geometry((h, w), (kh, kw), (sh, sw), (d, d), ((t, b), (l, r)))
    except ValueError:
        return
    for onto, target in (("output", geom.out), ("input", (h, w))):
        order = accumulation_order(geom, (h, w), onto)
        marked = [assign for _, _, assign in order]
        assert marked == sorted(marked, reverse=True)
        if not any(marked):
            continue
        writes = np.zeros(target, int)
        for _, slices, assign in order:
            if assign:
                writes[slices[0] if onto == "output" else slices[1]] += 1
        assert (writes == 1).all(), (onto, geom)
    rng = np.random.default_rng(h * 1000 + w)
    blocks = rng.standard_normal((kh, kw, 2, *geom.out, 3))
    expected = np.zeros((2, h + t + b, w + l + r, 3))
    for i in range(kh):
        for j in range(kw):
            rows, cols = window_slices(geom, i, j)
            expected[:, rows, cols] += blocks[i, j]
    scattered = scatter_windows(lambda i, j: blocks[i, j], geom, (2, h, w, 3), blocks.dtype,
                                out=np.full((2, h, w, 3), np.nan))
    np.testing.assert_allclose(scattered, expected[:, t:t + h, l:l + w], rtol=1e-12, atol=1e-12)
