"""Checks of a ``crosscheck.Layer`` declaration beyond each option's own values (those are in
crosscheck.check.target.plan_of): options that only some ops take, and method names the class must
have. Each problem is one line naming the option, the value and what it takes.

    option_problem   the first option that does not fit the declared op ("" when all do)
    declared_methods the declared forward/backward names kept where discovery would guess others
    missing_method   a declared method the built layer does not have ("" when it has both)
"""
from __future__ import annotations

from .discovery import probe_config
from .layer_declaration import FILTER_LAYOUTS, Layer
from .layer_probe import CANDIDATES, probes

DEFAULT_METHODS = ("forward", "backward")
#: op -> the arrays a declaration's ``weights`` (and ``grads``) name for it, and its filter layouts
OP_WEIGHTS = {"conv2d": ("filters", "bias"), "dense": ("kernel", "bias")}
OP_FILTER_LAYOUTS = {"conv2d": ("FCHW", "HWIO", "FHWC", "FHW"), "dense": ("IO", "OI")}
#: op -> the ``supports`` keys its cases (crosscheck.check.cases) and its run honour; an activation takes none
_POOL_SUPPORTS = ("batch", "in_channels", "pool_sizes", "square", "strides", "gradients")
OP_SUPPORTS = {"conv2d": ("batch", "in_channels", "out_channels", "kernel_sizes", "square", "strides", "pads",
                          "padding", "stride_divides", "bias", "gradients"),
               "max_pool2d": _POOL_SUPPORTS, "avg_pool2d": _POOL_SUPPORTS,
               "dense": ("batch", "features", "bias", "gradients")}


def option_problem(layer: Layer) -> str:
    """What does not fit ``layer.op`` among make, name, weights, grads, filter_layout, supports keys,
    activation and learning_rate_arg, or ""."""
    if not callable(layer.make):
        return f"make={layer.make!r}: give a callable make(config) -> layer (e.g. lambda c: Conv(c.in_channels, ...))"
    if not isinstance(layer.name, str):
        return f"name={layer.name!r}: give the row's name as a string"
    if layer.learning_rate_arg is not None and not (isinstance(layer.learning_rate_arg, str)
                                                    and layer.learning_rate_arg.isidentifier()):
        return (f"learning_rate_arg={layer.learning_rate_arg!r}: give the backward's parameter name (e.g. "
                "'learning_rate'), or None (the rate passed positionally)")
    op = "max_pool2d" if layer.op == "pool" else layer.op
    takes = OP_WEIGHTS.get(op, ())
    wrong = [k for k in layer.weights if k not in takes]
    if wrong:
        return (f"weights={layer.weights!r}: op={layer.op!r} has " + (f"the arrays {', '.join(takes)}" if takes else
                                                                      "no weights"))
    if isinstance(layer.grads, dict):
        wrong = [k for k in layer.grads if k != "input" and k not in takes]
        if wrong:
            return f"grads={layer.grads!r}: op={layer.op!r} has the gradients {', '.join(('input', *takes))}"
    layouts = OP_FILTER_LAYOUTS.get(op, ())
    if layer.filter_layout and layer.filter_layout not in layouts:
        return (f"filter_layout={layer.filter_layout!r}: op={layer.op!r} takes " +
                (", ".join(layouts) if layouts else "none (it has no weights)") +
                f" (of {', '.join(FILTER_LAYOUTS)})")
    takes_supports = OP_SUPPORTS.get(op, ())
    for key in layer.supports if isinstance(layer.supports, dict) else ():
        if isinstance(key, str) and key in SUPPORTS_KEYS and key not in takes_supports:
            return (f"supports[{key!r}] does not apply to op={layer.op!r}: it takes "
                    + (", ".join(takes_supports) if takes_supports else "none (its cases are fixed)"))
    if layer.activation is not None and op != "dense":
        return f"activation={layer.activation!r}: an activation follows a dense layer (op='dense'), not op={layer.op!r}"
    return ""


SUPPORTS_KEYS = tuple(dict.fromkeys(k for keys in OP_SUPPORTS.values() for k in keys))


def declared_methods(layer: Layer, declared: tuple) -> tuple:
    """(forward, backward) after discovery filled in what the class has: a name the user declared
    (not the default) is kept, so that a misspelt one is reported rather than replaced."""
    return tuple(mine if mine != default and isinstance(mine, str) and mine else found
                 for mine, default, found in zip(declared, DEFAULT_METHODS, (layer.forward, layer.backward)))


def missing_method(layer: Layer) -> str:
    """"" when the layer built once has its forward and backward methods; else which it lacks and
    the method names it has. A layer that cannot be built here is left to its run (which says why)."""
    op = "max_pool2d" if layer.op == "pool" else layer.op
    configs = [p[1] for p in probes(op) if p[0] == layer.layout] if op in CANDIDATES else []
    try:
        obj = layer.make(configs[0] if configs else probe_config(op))
    except Exception:   # noqa: BLE001 - the run reports it
        return ""
    for option in ("forward", "backward"):
        method = getattr(layer, option)
        if not callable(getattr(obj, method, None)):
            has = sorted(n for n in dir(type(obj)) if not n.startswith("_") and callable(getattr(obj, n, None)))
            return (f"{option}={method!r}: {type(obj).__name__} has no method {method!r} (its methods: "
                    f"{', '.join(has) or 'none'})")
    return ""
