"""Boundaries as classes, not cases: every window op's zero-size axes are tried, explicit pads are
drawn in every boundary combination, and the sizes conv2d_transpose and conv2d_backprop_input may
produce are tried on both sides of both bounds."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crosscheck import geometry as G
from crosscheck.oracle.quirks import WINDOW_OPS
from crosscheck.registry import OPS
from crosscheck.strategy_blocks import PAD_PATTERNS, explicit_pads


def _shape(e, name):
    return tuple(np.shape(e.arrays[name])) if name in e.arrays else tuple(int(v) for v in e.params.get(name, ()))


def _zero_axes(op) -> set:
    """Which axes some error input of ``op`` makes empty: the window input's batch / H or W / channels,
    the filter's in and out channels."""
    found = set()
    for e in OPS[op].error_inputs():
        x = _shape(e, OPS[op].window_operands[0])
        if len(x) == 4:
            fmt = e.params.get("data_format", "NHWC")
            spatial = G.spatial_shape(x, fmt) if fmt in ("NHWC", "NCHW") else ()
            found |= {name for name, n in (("batch", x[0]), ("H or W", min(spatial, default=1)),
                                           ("channels", G.channels(x, fmt) if fmt in ("NHWC", "NCHW") else 1))
                      if n == 0}
        f = _shape(e, OPS[op].window_operands[1] or "")
        if len(f) == 4:
            found |= {name for name, n in (("filter in", f[2]), ("filter out", f[3])) if n == 0}
            if len(x) == 4 and f[2] == 0 and x[-1] > 0:   # the filter's channel axis empty, the activation's not
                found.add("filter channels only")
    return found


@pytest.mark.parametrize("op", sorted(WINDOW_OPS))
def test_every_zero_size_axis_of_a_window_op_is_tried(op):
    wanted = {"batch", "H or W", "channels"} | ({"filter in", "filter out"} if OPS[op].window_operands[1] else set())
    wanted |= {"filter channels only"} if OPS[op].window_operands[1] and op != "depthwise_conv2d" else set()
    assert wanted <= _zero_axes(op), f"{op}: no error input with an empty {sorted(wanted - _zero_axes(op))}"


@pytest.mark.parametrize("op,param", [("conv2d_transpose", "output_shape"), ("conv2d_backprop_input", "input_sizes")])
def test_both_sides_of_every_size_bound_are_tried(op, param):
    labels = [e.label for e in OPS[op].error_inputs() if e.argument == param and "range" in e.label]
    for kind in ("SAME", "VALID", "explicit"):
        for axis in "HW":
            mine = [label for label in labels if f"({kind}," in label and f" the {axis} range" in label]
            assert {w for w in ("below", "at the bottom of", "at the top of", "above") if any(w in m for m in mine)} \
                == {"below", "at the bottom of", "at the top of", "above"}, (kind, axis, mine)


def _pattern(p) -> str:
    top, bottom, left, right = p
    if p == [0, 0, 0, 0]:
        return "all zero"
    if len(set(p)) == 1:
        return "all equal"
    if sum(v != 0 for v in p) == 1:
        return "one side"
    if sorted(p)[0] == 0 and len(set(v for v in p if v)) == 1 and sum(v == 0 for v in p) == 1:
        return "all equal but one zero"
    if top == bottom and left == right:
        return "symmetric per axis"
    return "free"


def test_explicit_pads_are_drawn_in_every_boundary_combination():
    seen = {}

    @settings(max_examples=400, database=None, derandomize=True)
    @given(st.data())
    def draw(data):
        tops = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
        p = data.draw(explicit_pads(tops))
        assert 0 <= p[0] <= tops[0] and 0 <= p[1] <= tops[0] and 0 <= p[2] <= tops[1] and 0 <= p[3] <= tops[1]
        seen[_pattern(p)] = seen.get(_pattern(p), 0) + 1

    draw()
    assert set(seen) == set(PAD_PATTERNS), seen
    assert min(seen.values()) >= 20, seen   # each combination drawn often, not once by luck
