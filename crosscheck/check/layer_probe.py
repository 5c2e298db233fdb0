"""Discovering a layer class by running it: built with distinct probe sizes and run once on a probe
input per candidate layout, the sizes and layout of what comes out tell which constructor parameter
means what (names first, then small sizes tried in turn for the parameters whose names say nothing),
whether sizes are ints or tuples (``kernel_size=(3, 3)``), the layout of the activations (a batch
NCHW / NHWC, one example (C, H, W) / (H, W, C) / (H, W), for dense rows, columns or a vector) and,
from the weights it then holds, their layout."""
from __future__ import annotations

import dataclasses
import inspect
import itertools
from dataclasses import dataclass, field

import numpy as np

from .layer_access import returning_output
from .layer_declaration import CONSTRUCTOR, LEARNING_RATE_NAMES, Config

#: probe sizes, all distinct: batch N, channels C, filters F, kernel k, conv input H x W, pool input
N, C, F, K, H, W = 3, 2, 4, 3, 7, 8
POOL_H, POOL_W, POOL_K = 8, 10, 2
MAX_TRIES = 240   # builds tried before giving up (five unknown conv parameters are 120 orders, twice)
D_IN, D_OUT, D_N = 4, 3, 2
SIZE_FIELDS = ("kernel", "stride", "pad")
CANDIDATES = {"conv2d": ("in_channels", "out_channels", "kernel", "stride", "pad"),
              "dense": ("in_features", "out_features"),
              "max_pool2d": ("kernel", "stride"), "avg_pool2d": ("kernel", "stride")}
INPUT_SHAPE_NAMES = ("x_dim", "input_shape", "input_dim", "in_shape", "input_size", "image_shape", "in_dims")
#: parameters that take the kernel as one int even where the size is a pair (hipsternet's h_filter, ...)
INT_KERNEL_NAMES = ("h_filter", "w_filter", "k", "size", "f", "field")


@dataclass
class Fit:
    """What probing found: ``plan`` [(parameter, Config field)], ``tuples`` (sizes given as pairs),
    ``layout`` of the activations, ``probe`` (the built layer after one forward), ``config`` it was
    built from, ``output`` shape, ``supports`` it implies (no pad parameter: no padding, ...)."""
    plan: list
    tuples: bool
    layout: str
    probe: object
    config: Config
    output: tuple
    supports: dict = field(default_factory=dict)


def parameters(cls) -> list:
    return [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def named_plan(cls, op: str) -> tuple[list, list]:
    """([(parameter, field)] for the parameters whose names say what they are, [required parameters
    whose names say nothing])."""
    plan, unknown = [], []
    order = (["in_features", "out_features"] if op == "dense" else []) + list(CONSTRUCTOR)
    for p in parameters(cls):
        name = p.name.lower()
        field_ = next((f for f in order if name in CONSTRUCTOR[f]), None)
        if name in INPUT_SHAPE_NAMES and op != "dense":
            field_ = "input_shape"
        if field_ in ("in_features", "out_features") and op != "dense" or (field_ == "mode" and "pool" not in op):
            field_ = None
        if field_ is None:
            if p.default is p.empty:
                if name in LEARNING_RATE_NAMES:
                    plan.append((p.name, "learning_rate"))
                else:
                    unknown.append(p.name)
            continue
        if field_ in SIZE_FIELDS and isinstance(p.default, str):   # padding="same": the layer's own mode
            continue
        plan.append((p.name, field_))
    return plan, unknown


def maker(cls, plan: list, tuples: bool):
    """``make(config)``: the class built with the plan's parameters (sizes as pairs with ``tuples``)."""
    def make(config: Config):
        kwargs = {}
        for pname, f in plan:
            if f == "kernel":
                square = config.kernel_size[0] == config.kernel_size[1]
                value = (config.kernel if pname.lower() in INT_KERNEL_NAMES or (square and not tuples)
                         else tuple(config.kernel_size))
            elif f in ("stride", "pad"):
                value = getattr(config, f)
                value = (value, value) if tuples else value
            elif f == "input_shape":
                value = tuple(config.input_shape)
            elif f == "learning_rate":
                value = 1.0
            else:
                value = getattr(config, f)
            kwargs[pname] = value
        return cls(**kwargs)
    make.__name__ = cls.__name__
    return make


def probes(op: str):
    """(layout, Config, input, accepted output shapes -> supports they imply) per candidate layout."""
    if op == "dense":
        config = Config(op, in_features=D_IN, out_features=D_OUT)
        yield "NCHW", config, np.ones((D_N, D_IN)), {(D_N, D_OUT): {}}
        yield "DN", config, np.ones((D_IN, D_N)), {(D_OUT, D_N): {}}
        yield "DN", config, np.ones((D_IN, 1)), {(D_OUT, 1): {"batch": (1,)}}
        yield "D", config, np.ones(D_IN), {(D_OUT,): {}}
        return
    conv = op == "conv2d"
    c, h, w = (C, H, W) if conv else (C, POOL_H, POOL_W)
    if conv:
        outs = {(h, w): {"padding": "same"}, (h - K + 1, w - K + 1): {"pads": (0,)}}
    else:
        outs = {(h // 2, w // 2): {"strides": (POOL_K,), "pool_sizes": (POOL_K,)},
                (h - 1, w - 1): {"strides": (1,), "pool_sizes": (POOL_K,)}}
    f = F if conv else c
    shapes = {"NCHW": ((N, c, h, w), lambda o: (N, f, *o)), "NHWC": ((N, h, w, c), lambda o: (N, *o, f)),
              "CHW": ((c, h, w), lambda o: (f, *o)), "HWC": ((h, w, c), lambda o: (*o, f)),
              "HW": ((h, w), lambda o: (*o, F) if conv else o)}
    for layout, (x_shape, y_of) in shapes.items():
        channels = 1 if layout == "HW" else c
        one = {"NCHW": (channels, h, w), "NHWC": (h, w, channels)}.get(layout, x_shape)
        config = Config(op, in_channels=channels, out_channels=F, kernel_size=(K, K) if conv else (POOL_K, POOL_K),
                        stride=1 if conv else POOL_K, pad=1 if conv else 0, input_shape=one,
                        pads=(1, 1, 1, 1) if conv else (0, 0, 0, 0))
        x = np.random.default_rng(0).standard_normal(x_shape)
        yield layout, config, x, {y_of(o): s for o, s in outs.items()}


def fit(cls, op: str, forward: str, first_layout: str = "NCHW", backward=None) -> Fit | str:
    """A Fit, or why none was found (naming the parameter that could not be matched). ``backward(obj,
    dy)``: a guess whose backward also runs is preferred (a layer on column vectors whose backward
    takes (D, 1) only), else the first whose forward gives the expected shape."""
    named, unknown = named_plan(cls, op)
    taken = {f for _, f in named}
    free = [f for f in CANDIDATES.get(op, ()) if f not in taken]
    if len(unknown) > len(free):
        return f"its constructor's parameter{'s' if len(unknown) > 1 else ''} " \
               f"{', '.join(unknown[len(free):])} cannot be matched (no size of a {op} is left for it)"
    pair_default = any(isinstance(p.default, tuple) for p in parameters(cls)
                       if p.name in {n for n, f in named if f in SIZE_FIELDS})
    errors, forward_only, untold = [], None, None
    ordered = sorted(probes(op), key=lambda probe: probe[0] != first_layout)
    tries = 0
    for assignment in itertools.permutations(free, len(unknown)):
        plan = named + list(zip(unknown, assignment))
        ambiguous = "stride" in assignment and {"pad" if op == "conv2d" else "kernel"} <= set(assignment)
        for tuples in ((True,) if pair_default else (False, True)):
            make = maker(cls, plan, tuples)
            for layout, config, x, accepted in ordered:
                tries += 1
                if tries > MAX_TRIES:
                    break
                try:
                    obj = make(config)
                    y = returning_output(obj, getattr(obj, forward))(np.array(x, copy=True))
                except Exception as exc:   # the user's code refused this guess: try the next one
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                shape = tuple(np.shape(y))
                if shape not in accepted:
                    continue
                found = Fit(plan, tuples, layout, obj, config, shape, _implied(accepted[shape], plan))
                if ambiguous and not _holds_with_another_stride(make, found, x, forward):
                    untold = untold or found
                    continue
                try:
                    if backward is not None:
                        backward(obj, np.ones(shape))
                except Exception:
                    forward_only = forward_only or found
                    continue
                return found
    if forward_only is not None or untold is not None:   # a stride bug: the run shows it
        return forward_only or untold
    what = f"its constructor's parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}" if unknown \
        else "its constructor"
    return (f"{what} could not be matched to a {op}'s sizes (tried "
            f"{', '.join(CANDIDATES.get(op, ())) or 'no arguments'}, as ints and as pairs, on every layout; "
            f"the first error: {errors[0] if errors else 'the output had none of the expected shapes'})")


SPATIAL_AXES = {"NCHW": (2, 3), "NHWC": (1, 2), "CHW": (1, 2), "HWC": (0, 1), "HW": (0, 1)}


def _holds_with_another_stride(make, found: Fit, x, forward: str) -> bool:
    """Whether a guess holds when the stride differs from the size the probe gave it the same value
    as (a conv's stride and pad are both 1 there, a pool's stride and window both 2): a guess that
    swapped the two builds the same layer on the probe, and another one on the cases."""
    conv = found.config.op == "conv2d"
    config = dataclasses.replace(found.config, stride=2 if conv else 1)
    axes = SPATIAL_AXES[found.layout]
    try:
        obj = make(config)
        y = returning_output(obj, getattr(obj, forward))(np.array(x, copy=True))
    except Exception:   # noqa: BLE001 - the user's code refused this guess
        return False
    got = tuple(np.shape(y)[a] for a in axes) if np.ndim(y) == len(found.output) else ()
    expected = []
    for a, k in zip(axes, config.kernel_size):
        total_pad = found.output[a] - 1 - x.shape[a] + k if conv else 0   # the probe's stride is 1 for a conv
        expected.append((x.shape[a] + total_pad - k) // config.stride + 1)
    return got == tuple(expected)


def _implied(supports: dict, plan: list) -> dict:
    """What an accepted output shape implies, for the sizes the constructor does not take: no pad
    parameter and a smaller output, no padding; a pool without a stride parameter, a fixed window."""
    given = {f for _, f in plan}
    out = {}
    for key, value in supports.items():
        if key in ("pads", "padding") and "pad" in given:
            continue
        if key == "strides" and "stride" in given or key == "pool_sizes" and {"stride", "kernel"} <= given:
            continue
        out[key] = value
    return out


def filter_layout(shape: tuple, op: str, config: Config) -> str | None:
    """The weights' layout, told by the probe's distinct sizes; None for a shape of no known layout."""
    if op == "dense":
        return {(D_IN, D_OUT): "IO", (D_OUT, D_IN): "OI"}.get(tuple(shape))
    c, (kh, kw) = config.in_channels, config.kernel_size
    return {(F, c, kh, kw): "FCHW", (kh, kw, c, F): "HWIO", (F, kh, kw, c): "FHWC", (F, kh, kw): "FHW"}.get(tuple(shape))
