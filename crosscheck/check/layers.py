"""``--convention layers``: running layer classes (declared, or found by crosscheck.check.discovery)
on cases of their op, against TensorFlow.

Discovery: every class of the module with ``forward`` and ``backward``/``backprop`` whose name says
what it is (``Conv``, ``MaxPool``/``Pool``, ``Linear``/``Dense``/``FullyConnected``/``Affine``,
``ReLU``, ``Sigmoid``, ``Tanh``) is built from the case's configuration by matching its constructor's
parameter names (``in_channels``, ``out_ch``, ``n_filter``, ``kernel_size``, ``stride``,
``padding``, ``X_dim``, ...). Where weights live (``W``/``b``, ``weights``/``filters``/``bias``,
``params``/``parameters`` dicts) and their layout (``(F, C, kh, kw)``, HWIO, ``(F, kh, kw)``) is found
by building the layer once with distinct sizes; gradients are read from ``dW``/``db``,
``grads``/``gradients`` dicts and the like, or, for a ``backprop(d_out, learn_rate)`` that updates
the weights in place, recovered from the update (``dW = (W_before - W_after) / learn_rate``). The
module's layout (NCHW or NHWC) comes from its convolution's weights.

What cannot be discovered is declared in a few lines with :class:`Layer` (``crosscheck.Layer``): a
module (the user's file, or a small file importing it) that defines ``LAYERS = [crosscheck.Layer(...),
...]`` is checked through those declarations only. ``supports`` restricts generation to what the
code handles (see :class:`crosscheck.check.cases.Supports`).
"""
from __future__ import annotations

import types

import numpy as np

from ..case import IMPLEMENTATION_ERROR, Case, Outcome
from ..compare import NONE_NOTE
from ..opinfo import Call
from ..ops._common import tf_lib
from ..registry import OPS as REGISTRY
from ..runner import run_case
from ..tracebacks import INSIDE_CROSSCHECK, user_traceback
from . import cases as C
from . import untied_bias as untied
from .layer_access import GRAD_DICTS, find_path, from_layer, get_path, grad_path, returning_output, set_path, to_layer
from .layer_access import weights_from_layer, weights_to_layer
from .layer_declaration import INPUT_GRAD_NAMES, Config, Layer, layer_ops
from .run import DECLARE, modified_outcome, outcome_of, own_diff


def _config_of(case: Case, layer: Layer) -> Config:
    fmt = case.params.get("data_format", "NHWC")
    if case.op == "dense":
        n_in, n_out = case.arrays["kernel"].shape
        return Config("dense", in_features=n_in, out_features=n_out)
    x = case.arrays[REGISTRY[case.op].arrays[0]]
    if x.ndim != 4:   # an element-wise layer on a matrix
        return Config(case.op, input_shape=tuple(x.shape[1:]))
    nhwc = x.shape if fmt == "NHWC" else (x.shape[0], x.shape[2], x.shape[3], x.shape[1])
    shape = {"NCHW": (nhwc[3], nhwc[1], nhwc[2]), "NHWC": (nhwc[1], nhwc[2], nhwc[3]), "CHW": (nhwc[3], nhwc[1],
             nhwc[2]), "HWC": (nhwc[1], nhwc[2], nhwc[3]), "HW": (nhwc[1], nhwc[2])}.get(layer.layout, ())
    if case.op == "conv2d":
        kh, kw, c, f = case.arrays["filters"].shape
        ph, pw = case.params["padding"][1:3] if fmt == "NHWC" else case.params["padding"][2:4]
        return Config("conv2d", in_channels=c, out_channels=f, kernel_size=(kh, kw), stride=case.params["strides"][0],
                      pad=int(ph[0]), input_shape=shape, pads=(int(ph[0]), int(ph[1]), int(pw[0]), int(pw[1])))
    if case.op in ("max_pool2d", "avg_pool2d"):
        return Config(case.op, in_channels=nhwc[3], kernel_size=tuple(case.params["ksize"]),
                      stride=case.params["strides"][0], input_shape=shape,
                      mode="max" if case.op == "max_pool2d" else "average")
    return Config(case.op, in_channels=nhwc[3], input_shape=shape)


def call_backward(layer: Layer, obj, dy):
    method = getattr(obj, layer.backward)
    if layer.learning_rate is None:
        return method(dy)
    if layer.learning_rate_arg:
        return method(dy, **{layer.learning_rate_arg: layer.learning_rate})
    return method(dy, layer.learning_rate)


def _input_grad_path(layer: Layer, obj) -> str | None:
    """Where a backward that returns None left the input gradient: the declared ``grads["input"]``,
    else a ``dx``-like attribute or ``grads`` dict entry."""
    declared = layer.grads.get("input") if isinstance(layer.grads, dict) else None
    return declared or find_path(obj, INPUT_GRAD_NAMES, dicts=GRAD_DICTS)


def split_backward(result, weight_names: list) -> tuple:
    """(input gradient, {weight name: gradient}) from what a backward returned: an array (the input
    gradient), None, a tuple or list ``(dx, dW, db)`` (the weights' in the order filters/kernel, bias),
    or a dict (``dx``/``dX``/``input`` ..., ``dW``/``W`` ..., ``db``/``b`` ...)."""
    if isinstance(result, (tuple, list)) and not isinstance(result, np.ndarray):
        items = list(result)
        return (items[0] if items else None), dict(zip(weight_names, items[1:]))
    if isinstance(result, dict):
        by_key = {str(k).lower().lstrip("_"): v for k, v in result.items()}
        dx = next((by_key[k] for k in ("dx", "d_x", "x", "input", "dinput", "d_input", "dinputs", "da_prev")
                   if k in by_key), None)
        keys = {"filters": ("dw", "d_w", "w", "dweights", "weights", "dfilters", "filters", "dkernel", "kernel"),
                "kernel": ("dw", "d_w", "w", "dweights", "weights", "dkernel", "kernel"),
                "bias": ("db", "d_b", "b", "dbias", "bias", "dbiases", "biases")}
        return dx, {n: next((by_key[k] for k in keys[n] if k in by_key), None) for n in weight_names}
    return result, {}




def layer_impl(layer: Layer, case_layout: str, modified: list):
    """An implementation module for ``run_case`` whose op functions and ``vjp`` run a fresh ``layer``
    object per call; writes into the input or the upstream gradient are recorded in ``modified``."""
    weight_names = [n for n in ("filters", "kernel", "bias") if n in layer.weights]
    untied_record: dict = {}   # an untied conv bias: its order, the bias set, the gradient the backward gave

    def activation(a):
        if layer.layout == "D":      # one example of a dense layer: a vector
            return np.ascontiguousarray(a[0])
        if layer.layout == "DN":     # examples as columns
            return np.ascontiguousarray(a.T)
        return a if a.ndim != 4 else to_layer(a, case_layout, layer.layout)

    def back(a, op):
        if layer.layout == "D":
            return None if a is None else np.asarray(a)[None]
        if layer.layout == "DN":
            return None if a is None else np.asarray(a).T
        return a if op == "dense" else from_layer(a, case_layout, layer.layout, channels_out=op == "conv2d")

    def build(op, arrays, params):
        case = Case(op, params, arrays, None, "float64", 0)
        obj = layer.make(_config_of(case, layer))
        x = activation(arrays[REGISTRY[op].arrays[0]])
        for name in weight_names:
            path = layer.weights[name]
            if get_path(obj, path) is None:   # created on the first forward (numpy-ml style)
                _forward(obj)(np.zeros_like(x))
            like = get_path(obj, path)
            order = untied.untied_order(np.shape(like), np.size(arrays[name]), layer.layout) if name == "bias" else None
            if order:   # one bias per output position: the case's b[f] at every position
                untied_record.update(order=order, bias=untied.to_untied(arrays[name], np.shape(like), order))
                set_path(obj, path, untied_record["bias"].copy())
                continue
            set_path(obj, path, weights_to_layer(arrays[name], name, layer.filter_layout, like))
        return obj, x

    def _forward(obj):
        return returning_output(obj, getattr(obj, layer.forward))

    def watched(fn, arg, name):
        snapshot = np.array(arg, copy=True)
        result = fn(arg)
        if not np.array_equal(snapshot, arg, equal_nan=True) and name not in modified:
            modified.append(name)
        return result

    def op_function(op):
        def fn(**kwargs):
            arrays = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray)}
            params = {k: v for k, v in kwargs.items() if not isinstance(v, np.ndarray)}
            obj, x = build(op, arrays, params)
            return back(watched(_forward(obj), x, "x"), op)
        return fn

    def vjp(op, *arrays, **params):
        names = REGISTRY[op].arrays
        given = dict(zip(names, arrays))
        obj, x = build(op, given, params)
        before = {n: np.array(get_path(obj, layer.weights[n]), dtype=np.float64, copy=True) for n in weight_names}
        y = back(watched(_forward(obj), x, "x"), op)

        def pullback(dy):
            if layer.layout == "D":
                d_layer = np.ascontiguousarray(dy[0])
            elif layer.layout == "DN":
                d_layer = np.ascontiguousarray(dy.T)
            else:
                d_layer = dy if op == "dense" or dy.ndim != 4 else to_layer(
                    dy, case_layout, "HWC" if layer.layout == "HW" and op == "conv2d" else layer.layout)
            result = watched(lambda d: call_backward(layer, obj, d), d_layer, "dout")
            dx, returned = split_backward(result, weight_names)
            if isinstance(result, dict) and isinstance(layer.grads, dict):   # declared keys of the returned dict
                dx = result.get(layer.grads.get("input"), dx)
                returned.update({n: result[layer.grads[n]] for n in weight_names if layer.grads.get(n) in result})
            if dx is None:
                path = _input_grad_path(layer, obj)
                if path is None and isinstance(result, dict):
                    raise LookupError(f"{layer.backward} returned a dict with keys {', '.join(map(str, result))}: none "
                                      f"is an input gradient crosscheck knows (dx, x, input, d_input, ...); declare "
                                      f"grads={{'input': KEY}}")
                dx = get_path(obj, path) if path else None
            out = [None if dx is None else back(dx, op if op != "conv2d" else "input")]
            for n in names[1:len(arrays)]:
                if n not in weight_names:
                    out.append(None)
                    continue
                if returned.get(n) is not None:
                    g = returned[n]
                elif layer.grads == "update":
                    after = np.asarray(get_path(obj, layer.weights[n]), dtype=np.float64)
                    g = (before[n] - after) / layer.learning_rate
                else:
                    path = (layer.grads or {}).get(n) or grad_path(obj, layer.weights[n])
                    g = get_path(obj, path) if path else None
                if n == "bias" and untied_record.get("order"):   # judged position by position apart
                    untied_record["grad"] = None if g is None else np.array(g, dtype=np.float64, copy=True)
                    g = untied.from_untied(g, untied_record["order"])
                out.append(weights_from_layer(g, n, layer.filter_layout, given[n].shape))
            return tuple(out)
        return y, pullback

    return types.SimpleNamespace(**{op: op_function(op) for op in (*layer_ops(), "softmax", "log_softmax")}, vjp=vjp,
                                 __name__=layer.row_name(), untied=untied_record)


FIRST_LAYER_OPS = ("conv2d", "dense")   # a pool or an activation is never a network's first layer


def layer_run(layer: Layer):
    """Run one case through ``run_case``; gradients the layer does not compute (a first layer's input
    gradient: a conv or dense layer only) are listed as not judged, with a note. A case on which
    crosscheck's own adapter raised says what to declare."""

    def run(module, case: Case, options: dict) -> Outcome:
        modified: list = []
        impl = layer_impl(layer, case.params.get("data_format", "NHWC"), modified)
        outcome = run_case(case, impl)
        outcome.impl = layer.row_name()
        shape_ok = all(d.tensor != "y" or tuple(d.shape) == tuple(d.expected_shape) for d in outcome.diffs)
        if impl.untied and outcome.status != IMPLEMENTATION_ERROR and shape_ok:   # one bias per position: own forward
            try:
                outcome.diffs += untied.per_position_diffs(impl, case, layer.row_name())
            except Exception as exc:   # the user's code raised on the case it ran before
                return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(exc), impl=layer.row_name())
        given = set(layer.supports["gradients"]) if layer.supports.get("gradients") else None
        for d in outcome.diffs:
            if d.tensor.startswith("d_") and d.note == NONE_NOTE and d.tensor in _optional(given, case.op):
                d.judged, d.note = False, f"{layer.row_name()} does not compute {d.tensor} (a first layer)"
        outcome.diffs = [d for d in outcome.diffs if not d.tensor.startswith("input ")]
        if outcome.status != IMPLEMENTATION_ERROR and outcome.diffs:
            outcome.status = "pass" if all(d.passed for d in outcome.diffs if d.judged) else "mismatch"
        if any(not d.judged and "does not compute" in d.note for d in outcome.diffs):
            outcome.notes.append(f"{layer.row_name()} computes no input gradient (a first layer)")
        if outcome.status == IMPLEMENTATION_ERROR and INSIDE_CROSSCHECK in outcome.message:
            outcome.message += f"\n{DECLARE}{declaration_hint(layer)}"
        return modified_outcome(outcome, modified)
    return run


def activation_run(layer: Layer):
    """A dense layer followed by an activation (e.g. softmax): the reference is TensorFlow's
    ``activation(x @ kernel + bias)`` by GradientTape, compared tensor by tensor."""

    def run(module, case: Case, options: dict) -> Outcome:
        T = tf_lib()
        tf = T.tf
        fn = {"softmax": tf.nn.softmax, "relu": tf.nn.relu, "sigmoid": tf.math.sigmoid, "tanh": tf.math.tanh}[
            layer.activation]
        modified: list = []
        impl = layer_impl(layer, "NHWC", modified)
        names = [n for n in ("x", "kernel", "bias") if n in case.arrays]
        try:
            y, pullback = impl.vjp("dense", *[np.array(case.arrays[n], copy=True) for n in names])
            grads = pullback(np.array(case.dy, copy=True))
        except Exception as exc:
            return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(exc), impl=layer.row_name())
        ref = T.tape(lambda x, kernel, bias=None: fn(tf.matmul(x, kernel) + (0 if bias is None else bias)),
                     Call(case, {}), names)
        path = f"tape ({layer.activation} of dense)"
        actual = {"y": y, **{"d_" + n: g for n, g in zip(names, grads)}}
        diffs = [own_diff(case, actual.get(t), e, t, path, case.arrays["kernel"].shape[0]) for t, e in ref.items()]
        for d in diffs:
            if d.tensor == "d_x" and d.note == NONE_NOTE:
                d.judged, d.note = False, f"{layer.row_name()} does not compute d_x (a first layer)"
        return modified_outcome(outcome_of(case, diffs, layer.row_name(), [path]), modified)
    return run


def _optional(given, op: str) -> set:
    """Gradients a layer may leave out: the input gradient (a first layer: conv or dense), and those
    not declared."""
    mapping = {"input": ("d_input", "d_x", "d_features"), "filters": ("d_filters", "d_kernel"),
               "kernel": ("d_kernel",), "bias": ("d_bias",)}
    if given is None:
        return set(mapping["input"]) if op in FIRST_LAYER_OPS else set()
    return {t for k, ts in mapping.items() if k not in given for t in ts}


def layer_cases(layer, options: dict):
    """Cases of a layer's op, in its layout, within its ``supports``; ``layer``: a :class:`Layer`, or
    anything with its ``op``, ``layout`` and ``supports`` (crosscheck.check.target.LayerPlan)."""
    s = C.Supports(**{**_default_supports(layer), **layer.supports})
    layout = "NHWC" if layer.layout in ("NHWC", "HWC", "HW") else "NCHW"
    if layer.op == "conv2d":
        return C.conv_cases(s, layout)
    if layer.op in ("max_pool2d", "avg_pool2d", "pool"):
        return C.pool_split_cases(s, layout, options, op=layer.op)
    if layer.op == "dense":
        return C.affine_cases(s)
    if layer.op in ("softmax", "log_softmax"):   # over the last axis: matrices only (no layout transpose)
        return C.elementwise_cases(((4, 5), (3, 7), (1, 6)), op=layer.op)
    return C.elementwise_cases(((4, 5), (2, 3, 4, 4)) if layer.layout in ("NCHW", "NHWC") else ((1, 4, 5, 1),),
                               op=layer.op)


def _default_supports(layer) -> dict:
    one = layer.layout in ("HW", "HWC", "CHW", "D")
    out = {"square": True, "batch": not one}
    if layer.layout == "HW":
        out["in_channels"] = (1,)
    return out


def declaration_hint(layer: Layer, make: str = "") -> str:
    """The one-line ``crosscheck.Layer(...)`` that tells crosscheck what it guessed for ``layer``,
    to be corrected where the guess is wrong; ``make``: the text of its ``make`` (default
    ``lambda c: Name(...)``)."""
    name = layer.row_name()
    parts = [make or f"lambda c: {name}(...)", f"op={layer.op!r}", f"layout={layer.layout!r}"]
    if layer.weights:
        parts.append(f"weights={layer.weights!r}")
    if layer.filter_layout:
        parts.append(f"filter_layout={layer.filter_layout!r}")
    parts += [f"forward={layer.forward!r}", f"backward={layer.backward!r}", 'grads={"input": "dx", ...}']
    return f"LAYERS = [crosscheck.Layer({', '.join(parts)})]"
