"""crosscheck's own geometry (crosscheck/geometry.py) against TensorFlow itself: output sizes and
pads for SAME / VALID / explicit padding with strides and dilations, conv2d_transpose's output
range, max-pool's pad rule, and the accepted spellings."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crosscheck import geometry as G

tf = pytest.importorskip("tensorflow")


@st.composite
def axis_configs(draw):
    size, k, s, d = draw(st.integers(1, 20)), draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["SAME", "VALID", "EXPLICIT"]))
    padding = ((draw(st.integers(0, 6)), draw(st.integers(0, 6))),) if mode == "EXPLICIT" else mode
    return size, k, s, d, padding


def _tf_width(size, k, s, d, padding):
    x = np.ones((1, 1, size, 1), np.float32)
    w = np.ones((1, k, 1, 1), np.float32)
    pad = padding if isinstance(padding, str) else [[0, 0], [0, 0], list(padding[0]), [0, 0]]
    return tf.nn.conv2d(x, w, [1, 1, s, 1], pad, dilations=[1, 1, d, 1]).shape[2]


@given(axis_configs())
def test_output_size_and_pads_equal_tensorflows(config):
    size, k, s, d, padding = config
    args = G.WindowArgs((size,), (k,), (s,), (d,), padding)
    if not args.fits():
        with pytest.raises(G.GeometryError, match="window larger"):
            args.resolve()
        return
    win = args.resolve()
    assert win.out == (_tf_width(size, k, s, d, padding),)
    if padding == "SAME":   # TF's SAME is exactly these explicit pads
        x = np.random.default_rng(size).standard_normal((1, 1, size, 1)).astype(np.float32)
        w = np.random.default_rng(k).standard_normal((1, k, 1, 1)).astype(np.float32)
        same = tf.nn.conv2d(x, w, [1, 1, s, 1], "SAME", dilations=[1, 1, d, 1])
        explicit = tf.nn.conv2d(x, w, [1, 1, s, 1], [[0, 0], [0, 0], list(win.pads[0]), [0, 0]], dilations=[1, 1, d, 1])
        np.testing.assert_array_equal(same.numpy(), explicit.numpy())


@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 3), st.integers(1, 2),
       st.sampled_from(["SAME", "VALID", (0, 0), (1, 2), (2, 0)]))
def test_conv2d_transpose_accepts_exactly_the_sizes_of_the_range(m, k, s, d, padding):
    sizes = G.transpose_sizes(m, k, s, d, padding)
    pad = padding if isinstance(padding, str) else [[0, 0], [0, 0], list(padding), [0, 0]]
    w = np.ones((1, (k - 1) * d + 1, 1, 1), np.float32)
    dy = np.ones((1, 1, m, 1), np.float32)

    def tf_accepts(n):
        try:
            tf.nn.conv2d_transpose(dy, w, [1, 1, n, 1], [1, 1, s, 1], pad)
        except (tf.errors.OpError, ValueError):
            return False
        return True
    for n in range(max(1, sizes.start - 2), sizes.stop + 2):
        assert tf_accepts(n) == (n in sizes), (n, list(sizes))


def test_max_pool_explicit_pads_must_be_smaller_than_the_window():
    x = np.ones((1, 4, 4, 1), np.float32)
    with pytest.raises(tf.errors.OpError):
        tf.nn.max_pool2d(x, 2, 1, [[0, 0], [2, 0], [0, 0], [0, 0]])
    with pytest.raises(G.GeometryError, match="smaller than the window"):
        G.resolve((4, 4), (2, 2), (1, 1), (1, 1), ((2, 0), (0, 0)), pads_below_window=True)
    assert G.resolve((4, 4), (2, 2), (1, 1), (1, 1), ((1, 0), (0, 1)), pads_below_window=True).out == (4, 4)


@pytest.mark.parametrize("value, fmt, expected", [
    (2, "NHWC", (2, 2)), ([3], "NHWC", (3, 3)), ([2, 3], "NCHW", (2, 3)),
    ([1, 2, 3, 1], "NHWC", (2, 3)), ([1, 1, 2, 3], "NCHW", (2, 3)), (0, "NHWC", (0, 0)),
])
def test_spatial_spellings(value, fmt, expected):
    assert G.spatial_values(value, "strides", 2, fmt) == expected


@pytest.mark.parametrize("value", [[2, 2, 2, 1], [1, 2, 3], "2", [1.5, 2], True])
def test_unreadable_spatial_spellings(value):
    with pytest.raises(G.GeometryError):
        G.spatial_values(value, "strides", 2, "NHWC")


@pytest.mark.parametrize("value, fmt, expected", [
    ("same", "NHWC", "SAME"), ("Valid", "NHWC", "VALID"), ([[1, 2], [3, 4]], "NHWC", ((1, 2), (3, 4))),
    ([[0, 0], [1, 2], [3, 4], [0, 0]], "NHWC", ((1, 2), (3, 4))), ([[0, 0], [0, 0], [1, 2], [3, 4]], "NCHW", ((1, 2), (3, 4))),
])
def test_padding_spellings(value, fmt, expected):
    assert G.normalize_padding(value, 2, fmt) == expected


@pytest.mark.parametrize("value", ["\u017fame", "FULL", [[1, 0], [1, 1], [1, 1], [0, 0]], [[1, 1]], [[1, 1, 1], [0, 0]]])
def test_unreadable_padding_spellings(value):
    with pytest.raises(G.GeometryError):
        G.normalize_padding(value, 2, "NHWC")


def test_tensorflow_refuses_lower_case_padding_so_crosscheck_passes_it_upper_case():
    # the lower- and mixed-case spellings are the checked API's; TF's ops take only the upper case
    with pytest.raises(tf.errors.OpError):
        tf.nn.conv2d(np.ones((1, 3, 3, 1), np.float32), np.ones((2, 2, 1, 1), np.float32), 1, "same")
