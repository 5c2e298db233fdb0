"""What ``crosscheck check``'s own process knows of the user's code: plain values, computed where
the code is imported (the check worker; this process only with ``--in-process``).

    examine      an imported module -> (Target, its runnable Specs); runs the user's code (layer
                 discovery builds the classes), so it runs in the worker
    Target       the convention, which of its function names the module defines, the layer plans
    LayerPlan    one layer class as its cases need it: row name, op, layout, ``supports``
    specs_for    a convention's Specs: runnable ones for a module, case-drawing ones for a Target
                 (their cases run in the worker that sent it)

A Target holds only str, int, float, bool, None, tuples and dicts of them (and crosscheck's own
dataclasses): unpickling it imports nothing of the user's.
"""
from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from ..registry import OPS as REGISTRY
from . import cases as C
from . import cs231n, declared, deeplearning_ai, dropout_class, loss_classes, scaled, self_examine, untied_bias
from .auto_convention import AUTO, defines, pick_convention
from .conventions import BATCH_MEAN, conventions_of
from .discovery import (Undiscovered, assembled_at_run_time, complete, discover, layer_classes, method_names,
                        module_layout, probe_config)
from .layer_declaration import FILTER_LAYOUTS, GRAD_KEYS, LAYOUTS, Layer, layer_ops
from .layers import activation_run, layer_cases, layer_run
from .notebook import skipped_cells
from .run import Spec, runs_in_worker
from .self_consistency import SELF_OP

CONVENTIONS = ("cs231n", "deeplearning-ai", "layers")   # and "auto": told from the module (auto_convention.py)
DENSE_ACTIVATIONS = ("softmax", "relu", "sigmoid", "tanh")
_SUPPORTS_FIELDS = tuple(f.name for f in dataclasses.fields(C.Supports) if f.name != "extra")   # the documented keys


@dataclass(frozen=True)
class LayerPlan:
    """A layer class as the command's process needs it to draw cases: plain values only.
    ``supports``: {field of crosscheck.check.cases.Supports: plain value}; ``problem``: why the
    class cannot be checked (its row's error message), or "". ``self_check``: for op
    "self-consistency", {"shapes": ((input shape, output shape), ...), "notes": (...)}; otherwise
    {"note": what its forward was identified as} (crosscheck.check.self_examine)."""
    name: str
    op: str = ""
    layout: str = "NCHW"
    supports: dict = field(default_factory=dict)
    activation: str | None = None
    problem: str = ""
    verdict: str = "error"   # the row of a plan with a problem: "error", or "cannot-check" (what to declare)
    self_check: dict = field(default_factory=dict)
    conventions: tuple = ()


@dataclass(frozen=True)
class Target:
    """The user's module as the command's process knows it: ``defined``, the names among the
    convention's functions that the module defines as callables; ``layers``, a LayerPlan per layer
    class (``layers`` convention)."""
    convention: str
    defined: frozenset = frozenset()
    layers: tuple = ()
    picked: str = ""          # --convention auto: why this convention ("it defines conv_forward, ..."; "": nothing)
    load_notes: tuple = ()    # notes on the load (a notebook's skipped cells), one line each


def convention_specs(convention: str) -> list[Spec]:
    """The Specs of a function convention (no module needed); [] for ``layers``."""
    if convention == "cs231n":
        return list(cs231n.SPECS)
    if convention == "deeplearning-ai":
        return list(deeplearning_ai.SPECS)
    if convention == "layers":
        return []
    raise ValueError(f"unknown convention {convention!r}; known: {', '.join(CONVENTIONS)}")


def examine(module: types.ModuleType, convention: str) -> tuple[Target, list[Spec]]:
    """(the Target of ``module``, its runnable Specs); ``convention`` "auto": the one its definitions
    say. Runs the user's code: call it where the module was imported."""
    if convention == AUTO:
        picked, why = pick_convention(module)
        target, specs = examine(module, picked)
        return dataclasses.replace(target, picked=why), specs
    target, specs = _examine(module, convention)
    notes = skipped_cells(module)
    return (dataclasses.replace(target, load_notes=notes) if notes else target), specs


def _examine(module: types.ModuleType, convention: str) -> tuple[Target, list[Spec]]:
    if convention != "layers":
        specs = convention_specs(convention)
        names = {name for spec in specs for name in (spec.name, *spec.requires)}
        defined = frozenset(name for name in names if defines(module, name))
        return Target(convention, defined), specs
    pairs = [_plan_and_spec(found, i) for i, found in enumerate(module_layers(module))]
    return Target(convention, layers=tuple(plan for plan, _ in pairs)), [spec for _, spec in pairs]


def specs_for(convention: str, code: types.ModuleType | Target | None = None) -> list[Spec]:
    """The checkable functions (or layer classes) of a convention: runnable for a module (the
    user's code runs here), drawing cases only for a Target (each case runs in its worker).
    ``auto``: those of the convention the module's definitions say (the Target's own)."""
    if convention == AUTO:
        if isinstance(code, Target):
            return specs_for(code.convention, code)
        return examine(code, AUTO)[1] if code is not None else [*cs231n.SPECS, *deeplearning_ai.SPECS]
    if convention != "layers":
        return convention_specs(convention)
    if isinstance(code, Target):
        return [plan_spec(plan) for plan in code.layers]
    return examine(code, convention)[1]


def module_layers(module: types.ModuleType) -> list:
    """The module's ``LAYERS`` declarations, or its discovered layer classes (a Layer each, or a
    LayerPlan with the problem for a class that cannot be discovered)."""
    declared = getattr(module, "LAYERS", None)
    if declared is not None:
        if not isinstance(declared, (list, tuple)):
            return [LayerPlan("LAYERS", problem=f"LAYERS must be a list of crosscheck.Layer, got "
                                                f"{type(declared).__name__}")]
        return list(declared)
    layout = module_layout(module)
    found = []
    for cls in layer_classes(module):
        special = loss_classes.examine_loss(cls, *method_names(cls)) or dropout_class.examine_dropout(
            cls, *method_names(cls))
        if special is not None:   # a loss or a dropout: no layer op
            found.append(special)
            continue
        empty = assembled_at_run_time(cls)
        if empty:
            found.append(LayerPlan(str.__str__(cls.__name__), problem=empty, verdict="cannot-check"))
            continue
        layer = discover(cls, layout)
        layer = self_examine.examine_class(cls, layer) or layer   # told by its behaviour
        found.append(layer if not isinstance(layer, Undiscovered) else LayerPlan(
            str.__str__(cls.__name__), problem=layer.message, verdict=layer.verdict))
    return found + self_examine.function_pairs(module)


def _plan_and_spec(layer, index: int) -> tuple[LayerPlan, Spec]:
    if isinstance(layer, LayerPlan):
        return layer, plan_spec(layer)
    if isinstance(layer, self_examine.Problem):
        plan = LayerPlan(layer.name, problem=layer.why)
        return plan, plan_spec(plan)
    if isinstance(layer, (loss_classes.LossEntry, loss_classes.LossProblem)):
        plan = LayerPlan(**loss_classes.plan_fields(layer))
        if plan.problem:
            return plan, plan_spec(plan)
        return plan, loss_classes.plan_spec(plan, loss_classes.entry_run(layer))
    if isinstance(layer, dropout_class.DropoutEntry):
        plan = LayerPlan(**dropout_class.plan_fields(layer))
        return plan, dropout_class.plan_spec(plan, dropout_class.entry_run(layer))
    if isinstance(layer, self_examine.SelfEntry):
        plan = LayerPlan(**self_examine.plan_fields(layer))
        return plan, plan_spec(plan, self_examine.entry_run(layer))
    if not isinstance(layer, Layer):
        plan = LayerPlan(f"LAYERS[{index}]", problem=f"LAYERS[{index}] must be a crosscheck.Layer, got "
                                                     f"{type(layer).__name__}")
        return plan, plan_spec(plan)
    declared_methods = (layer.forward, layer.backward)
    if layer.op in (*layer_ops(), "pool") and callable(layer.make):   # named after its class, built once
        _name_layer(layer)
        if layer.layout in LAYOUTS:
            complete(layer)
            layer.forward, layer.backward = declared.declared_methods(layer, declared_methods)
    plan = plan_of(layer, f"LAYERS[{index}]")
    if plan.problem:
        return plan, plan_spec(plan)
    order = untied_bias.order_of(layer)
    if order and untied_bias.note(order) not in layer.note:   # one bias per position: TensorFlow and its own forward
        layer.note = "; ".join(n for n in (untied_bias.note(order), layer.note) if n)
    missing = declared.missing_method(layer)
    if missing:
        plan = LayerPlan(plan.name, problem=f"{plan.name}: {missing}")
        return plan, plan_spec(plan)
    if layer.scale is not None:
        layer.note = scaled.scale_note(layer)
    if isinstance(layer.note, str) and layer.note:   # what its forward was identified as
        plan = dataclasses.replace(plan, self_check={"note": str.__str__(layer.note)})
    run = (activation_run(layer) if layer.activation else scaled.scaled_run(layer) if layer.scale is not None
           else layer_run(layer))
    return plan, plan_spec(plan, run, layer)


def _name_layer(layer: Layer) -> None:
    """A declared layer's row is named after its class (built once from a probe configuration)."""
    if layer.name or not getattr(layer.make, "__name__", "").startswith("<"):
        return
    try:
        layer.name = type(layer.make(probe_config(layer.op if layer.op != "pool" else "max_pool2d"))).__name__
    except Exception:
        layer.name = layer.op


def plan_of(layer: Layer, fallback_name: str = "layer") -> LayerPlan:
    """The plain values of ``layer`` that its cases depend on (each the exact built-in type, whatever
    subclass the user's code gave), or a LayerPlan naming the first one crosscheck cannot use."""
    name = layer.name or getattr(layer.make, "__name__", "")
    name = str.__str__(name) if isinstance(name, str) and name and not name.startswith("<") else fallback_name
    ops = (*layer_ops(), "pool", "softmax", "log_softmax")
    op, layout, activation = (_one_of(layer.op, ops), _one_of(layer.layout, LAYOUTS),
                              _one_of(layer.activation, (None, *DENSE_ACTIVATIONS)))
    if op is _NONE:
        return LayerPlan(name, problem=f"{name}: op={layer.op!r} is not one of {', '.join(ops)}")
    if layout is _NONE:
        return LayerPlan(name, problem=f"{name}: layout={layer.layout!r} is not one of {', '.join(LAYOUTS)}")
    if activation is _NONE:
        return LayerPlan(name, problem=f"{name}: activation={layer.activation!r} is not one of "
                                       f"{', '.join(DENSE_ACTIVATIONS)}")
    wrong = _wrong_option(layer)
    if wrong:
        return LayerPlan(name, problem=f"{name}: {wrong}")
    if not isinstance(layer.supports, dict):
        return LayerPlan(name, problem=f"{name}: supports must be a dict, got {type(layer.supports).__name__}")
    supports = {}
    for key, value in layer.supports.items():
        field_name = _one_of(key, _SUPPORTS_FIELDS)
        if field_name is _NONE:
            return LayerPlan(name, problem=f"{name}: supports has no field {key!r}; known: "
                                           f"{', '.join(_SUPPORTS_FIELDS)}")
        try:
            supports[field_name] = supports_value(field_name, _plain(value))
        except TypeError as exc:
            return LayerPlan(name, problem=f"{name}: supports[{key!r}] {exc}")
        except ValueError as exc:
            return LayerPlan(name, problem=f"{name}: supports[{key!r}]={value!r}: {exc}")
    conventions, problem = conventions_of(layer.conventions, f"{name}: conventions")
    if problem:
        return LayerPlan(name, problem=problem)
    return LayerPlan(name, op, layout, supports, activation, conventions=conventions)


def _wrong_option(layer: Layer) -> str:
    """What is wrong with a declared Layer's options other than op, layout, activation and supports, or ""."""
    if _one_of(layer.filter_layout, ("", *FILTER_LAYOUTS)) is _NONE:
        return f"filter_layout={layer.filter_layout!r} is not one of {', '.join(FILTER_LAYOUTS)}"
    if not isinstance(layer.weights, dict) or any(k not in ("filters", "kernel", "bias") or not isinstance(v, str)
                                                  for k, v in layer.weights.items()):
        return (f"weights={layer.weights!r}: give {{array: attribute path}} with arrays among filters, kernel, bias "
                "(e.g. {'filters': 'W', 'bias': 'params.b'})")
    if not (layer.grads == "update" or isinstance(layer.grads, dict) and all(
            k in GRAD_KEYS and isinstance(v, str) for k, v in layer.grads.items())):
        return (f"grads={layer.grads!r}: give \"update\" or {{gradient: attribute path}} with gradients among "
                f"{', '.join(GRAD_KEYS)} (e.g. {{'input': 'dx', 'filters': 'dw'}})")
    for option in ("forward", "backward"):
        if not isinstance(getattr(layer, option), str) or not getattr(layer, option):
            return f"{option}={getattr(layer, option)!r}: give the method's name (e.g. {option}='{option}_pass')"
    if layer.learning_rate is not None and (not isinstance(layer.learning_rate, (int, float))
                                            or isinstance(layer.learning_rate, bool) or layer.learning_rate <= 0):
        return f"learning_rate={layer.learning_rate!r}: give a positive number, or None (no rate)"
    return declared.option_problem(layer) or scaled.scale_problem(layer.scale, layer.op)


_SIZES = ("kernel_sizes", "strides", "in_channels", "out_channels", "pool_sizes", "features")
_FLAGS = ("square", "stride_divides", "bias")


def supports_value(field_name: str, value):
    """A ``supports`` value as crosscheck.check.cases.Supports takes it (an int where sizes go: a
    tuple of one); ValueError naming what the field takes."""
    def sizes(least):
        items = value if isinstance(value, tuple) else (value,)
        if not items or not all(type(v) is int and v >= least for v in items):
            raise ValueError(f"give an int or a tuple of ints >= {least}")
        return items
    if field_name in _SIZES:
        return sizes(1)
    if field_name == "pads":
        return sizes(0)
    if field_name in _FLAGS:
        if type(value) is not bool:
            raise ValueError("give True or False")
        return value
    if field_name == "batch":
        return value if type(value) is bool else sizes(1)
    if field_name == "gradients":
        items = value if isinstance(value, tuple) else (value,)
        if not all(v in GRAD_KEYS for v in items):
            raise ValueError(f"give a tuple of {', '.join(GRAD_KEYS)}")
        return items
    if field_name == "padding":
        if value not in C.PADDINGS:
            raise ValueError(f"give one of {', '.join(C.PADDINGS)}")
        return value
    return value


_NONE = object()


def _one_of(value, allowed: tuple):
    """The entry of ``allowed`` equal to ``value`` (crosscheck's own object, not the user's), or _NONE."""
    return next((a for a in allowed if (value is None and a is None) or (isinstance(value, str) and value == a)),
                _NONE)


def _plain(value):
    """``value`` as exact str, int, float, bool, None, tuples and str-keyed dicts of them (NumPy
    scalars, lists and subclasses converted); TypeError for anything else."""
    if value is None:
        return None
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            plain = kind(value)
            if type(plain) is not kind:
                break
            return plain
    else:
        if isinstance(value, np.generic) and type(value).__module__ == "numpy":
            return _plain(value.item())
        if isinstance(value, (tuple, list)):
            return tuple(_plain(v) for v in value)
        if isinstance(value, dict):
            return {_plain(k): _plain(v) for k, v in value.items()}
    raise TypeError(f"holds a {type(value).__name__}; give numbers, strings, booleans and tuples of them")


def plan_spec(plan: LayerPlan, run=None, layer: Layer | None = None) -> Spec:
    """The Spec of a layer plan: its cases drawn from the plan; ``run`` the runner (None: the cases
    run in the worker that examined the class, :func:`crosscheck.check.run.runs_in_worker`). A plan with a problem is
    an error row (``Spec.run`` None, the problem in ``group``). A plan no TensorFlow op matches is
    judged against its own forward; the others get that verdict beside TensorFlow's (``layer``: the
    adapter it runs through, in the worker)."""
    if plan.problem:
        return Spec(plan.name, (), lambda o: st.nothing(), None, (), group=plan.problem, verdict=plan.verdict)
    if plan.op == SELF_OP:
        return self_examine.plan_spec(plan, run)
    if plan.op in loss_classes.LOSS_OPS:
        return loss_classes.plan_spec(plan, run)
    if plan.op == dropout_class.DROPOUT_OP:
        return dropout_class.plan_spec(plan, run)
    op = "max_pool2d" if plan.op == "pool" else plan.op
    judged = ("y", *("d_" + a for a in REGISTRY[op].arrays))
    splits = {"max_pool2d": C.MAX_POOL_SPLITS, "pool": C.POOL_SPLITS}.get(plan.op, ())
    spec = Spec(plan.name, (), lambda o: layer_cases(plan, o), run or runs_in_worker, judged,
                ties=plan.op in ("max_pool2d", "pool"), splits=splits, conventions=plan.conventions,
                detect=(BATCH_MEAN,))
    return self_examine.with_self_check(plan, spec, layer)
