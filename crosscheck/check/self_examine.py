"""Which layer classes and function pairs of a ``layers`` module are judged against their own forward,
told by behaviour (crosscheck.check.identify), and their Specs (crosscheck.check.self_checked runs them).

    examine_class   a layer class after discovery: kept as discovered (its name and behaviour agree,
                    or behaviour tells nothing), re-targeted (a ReLU class computing leaky_relu), or
                    a self-consistency entry (no TensorFlow op matches: a custom activation, a scaled
                    tanh, a whole network); a Softmax class becomes a softmax layer, a class computing
                    ``x @ W + b`` with its own 2-D weight a dense layer
    function_pairs  module functions ``f`` with a backward partner (``f_backward``, ``f_grad``,
                    ``f_derivative``, ``d_f``, ... or ``f_forward``/``f_backward``, ``forward``/``backward``)
    plan_spec       the Spec of a self-consistency plan; ``with_self_check`` adds the self-consistency
                    verdict beside TensorFlow's to a layer's Spec

Runs in the check worker (the user's code is called); the plans carry plain values only.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import types
from dataclasses import dataclass

import numpy as np

from ..case import IMPLEMENTATION_ERROR, Case, Outcome
from ..registry import OPS as REGISTRY
from ..tracebacks import user_traceback
from .discovery import _op_of
from .identify import OTHER_CANDIDATES, SCALABLE, Identity, identify, outputs
from .layer_declaration import Config, Layer, activations
from .layers import layer_cases, layer_impl
from .run import Spec, runs_in_worker
from .self_checked import (
    FORWARD_NAMES,
    FunctionPair,
    Subject,
    constructible,
    get,
    method,
    parameters,
    probe_shapes,
    put,
    run_subject,
    subject_cases,
)
from .self_consistency import NO_OP_NOTE, SELF_OP, judge_gradients, self_outcome

ALSO_MAX_ELEMENTS = 16     # elements per array it perturbs
BACKWARD_SUFFIXES = ("_backward", "_grad", "_gradient", "_derivative", "_deriv", "_prime", "_backprop", "_bwd")
BACKWARD_PREFIXES = ("d_", "grad_", "d")
OUTPUT_NAMES = ("out", "y", "a", "s", "output", "activation", "act", "fx")


@dataclass
class Problem:
    """Why a class or function pair cannot be checked (its row's error message)."""
    name: str
    why: str


@dataclass
class SelfEntry:
    """A class or function pair judged against its own forward: its Subject and the probed shapes."""
    subject: Subject
    shapes: tuple


# -------------------------------------------------------------------------------- layer classes

# (the op a name says, an op its forward may compute instead as the same function with another
# parameter): a class named ReLU computing a leaky relu is checked as one, with a note
VARIANTS = {("relu", "leaky_relu"), ("relu", "relu6"), ("elu", "selu")}


def examine_class(cls, discovered) -> object | None:
    """What to check of ``cls`` instead of ``discovered`` (discovery's Layer, or its problem), or None
    to keep ``discovered``."""
    if isinstance(discovered, Layer):
        if discovered.op not in activations():
            return None

        def forward(x):
            return method(discovered.make(Config(discovered.op, input_shape=x.shape[1:])), FORWARD_NAMES)(x)
        if outputs(forward) is not None:   # it is element-wise: is it what its name says?
            ident = identify(forward)
            if not ident.found or (ident.op == discovered.op and ident.tf_judged):
                return None
            note = (f"its forward computes {ident.name}" if ident.named_by(cls.__name__) else
                    f"{cls.__name__}'s name says {discovered.op}, but its forward computes {ident.name}")
            if not (ident.named_by(cls.__name__) or ident.op == discovered.op or (discovered.op, ident.op) in VARIANTS
                    or ident.name.startswith(f"scaled {discovered.op}:")):
                return dataclasses.replace(discovered, note=note)   # another op: judged as named, a bug (or a misnomer)
            if ident.tf_judged and ident.op in activations():
                return dataclasses.replace(discovered, op=ident.op, note=note)
            return _entry(Subject(cls.__name__, lambda: discovered.make(Config(discovered.op)), (note,)), ident)
        try:   # not element-wise at all: a layer with weights (a "HiddenTanh") is not what its name says
            if constructible(cls) or not parameters(cls()):
                return None   # a forward that raises is judged against the named op (the raise is its verdict)
        except Exception:   # noqa: BLE001
            return None
    elif _op_of(cls) is not None and not _holds_layers(cls):
        return None
    elif getattr(discovered, "verdict", "") == "cannot-check":   # told a dense layer, not comparable as written
        return None
    why = constructible(cls)
    if why:
        return None if _op_of(cls) is not None else _problem(cls.__name__, why)
    try:
        ident = identify(lambda x: method(cls(), FORWARD_NAMES)(x))
    except Exception:   # noqa: BLE001 - the constructor raised: probed below, where the message is made
        ident = Identity()
    dense = _dense_by_weights(cls)
    if dense is not None:
        return dense
    if ident.tf_judged and ident.op in (*activations(), "softmax", "log_softmax"):
        return Layer(make=lambda config: cls(), op=ident.op, layout="NCHW", name=cls.__name__,
                     note="" if ident.named_by(cls.__name__) else
                     f"{cls.__name__}'s forward computes {ident.name} (told by its behaviour)")
    return _entry(Subject(cls.__name__, cls), ident)


def _dense_by_weights(cls) -> Layer | None:
    """A dense Layer for a class whose forward is ``x @ W (+ b)`` with its own 2-D weight, (in, out)
    or (out, in), told by probing it (and again with weights of other sizes, which the cases draw);
    None for anything else."""
    try:
        obj = cls()
        paths = parameters(obj)
    except Exception:   # noqa: BLE001 - not buildable with no argument: not this
        return None
    if any("." in p for p in paths):   # a network's parameters
        return None
    shapes = {p: np.shape(get(obj, p)) for p in paths}
    kernels = [p for p, s in shapes.items() if len(s) == 2 and min(s) > 1]
    biases = [p for p, s in shapes.items() if p not in kernels]
    if len(kernels) != 1 or len(biases) > 1:
        return None
    kernel, bias = kernels[0], (biases[0] if biases else None)
    for layout in ("IO", "OI"):
        if all(_acts_as_dense(cls, kernel, bias, layout, sizes) for sizes in (None, (3, 2), (2, 4))):
            return Layer(make=lambda config: cls(), op="dense", layout="NCHW", filter_layout=layout, name=cls.__name__,
                         weights={"kernel": kernel, **({"bias": bias} if bias else {})},
                         supports={} if bias else {"bias": False},
                         note=f"{cls.__name__}'s forward computes a dense layer x @ W{' + b' if bias else ''} "
                              "(told by its weights and its behaviour)")
    return None


def _acts_as_dense(cls, kernel: str, bias: str | None, layout: str, sizes) -> bool:
    """Whether a fresh ``cls()`` (its weights replaced by random ones of ``sizes`` = (in, out), when
    given) computes ``x @ W + b`` with ``W`` stored as ``layout``."""
    rng = np.random.default_rng(7)
    try:
        obj = cls()
        w = np.asarray(get(obj, kernel), dtype=np.float64)
        n_in, n_out = w.shape if layout == "IO" else w.shape[::-1]
        if sizes is not None:
            n_in, n_out = sizes
            w = rng.standard_normal((n_in, n_out) if layout == "IO" else (n_out, n_in))
            put(obj, kernel, w)
            if bias:
                like = np.shape(get(obj, bias))
                put(obj, bias, rng.standard_normal(like[:-1] + (n_out,) if len(like) == 2 and like[0] == 1 else
                                                   (n_out, 1) if len(like) == 2 else (n_out,)))
        x = rng.standard_normal((3, n_in))
        y = np.asarray(method(obj, FORWARD_NAMES)(x), dtype=np.float64)
        expected = x @ (w if layout == "IO" else w.T)
        if bias:
            expected = expected + np.asarray(get(obj, bias), dtype=np.float64).reshape(-1)
        return y.shape == expected.shape and bool(np.allclose(y, expected, rtol=1e-9, atol=1e-9))
    except Exception:   # noqa: BLE001 - not a dense layer it can be checked as
        return False


def _holds_layers(cls) -> bool:
    """Whether ``cls()`` builds an object holding other layers (a network)."""
    if constructible(cls):
        return False
    try:
        return any("." in p for p in parameters(cls()))
    except Exception:   # noqa: BLE001
        return False


def _problem(name: str, why: str) -> Problem:
    return Problem(name, why)


def _reference(ident: Identity):
    """(x -> y, its name): the identified formula the forward is compared with, or (None, "")."""
    params = dict(ident.params)
    if ident.op == "leaky_relu":
        alpha = params["alpha"]
        return (lambda x: np.where(x > 0, x, alpha * x)), ident.name
    if "a" in params:
        base = ident.name.split(":")[0].split()[-1]
        fn, a, b = SCALABLE[base], params["a"], params["b"]
        return (lambda x: a * fn(b * x)), ident.name
    if ident.name in OTHER_CANDIDATES:
        return OTHER_CANDIDATES[ident.name], ident.name
    return None, ""


def _entry(subject: Subject, ident: Identity):
    """A SelfEntry for ``subject`` with the identity's note and formula, or a problem LayerPlan."""
    if ident.found:
        reference, name = _reference(ident)
        subject.reference, subject.reference_name = reference, name
        what = f"its forward computes {ident.name}"
        hint = ()
        if "a" in dict(ident.params):   # a scaled activation: TensorFlow judges it once the scale is declared
            base = ident.name.split(":")[0].split()[-1]
            hint = (f"crosscheck.Layer(..., op={base!r}, scale=(a, b)) has TensorFlow's {base} judge it",)
        subject.notes = (*subject.notes, *(() if subject.notes else (what,)), *hint, NO_OP_NOTE)
    else:
        subject.notes = (NO_OP_NOTE,)
    shapes = probe_shapes(subject, elementwise=True)
    if isinstance(shapes, str) or any(x != y for x, y in shapes):   # not element-wise: a network's shapes
        shapes = probe_shapes(subject, elementwise=False)
    if isinstance(shapes, str):
        return _problem(subject.name, shapes)
    return SelfEntry(subject, shapes)


# -------------------------------------------------------------------------------- function pairs

def function_pairs(module: types.ModuleType) -> list:
    """A SelfEntry, a Layer (a pair TensorFlow's op matches) or a problem LayerPlan per forward
    function of ``module`` that has a backward partner."""
    functions = {name: obj for name, obj in vars(module).items()
                 if inspect.isfunction(obj) and obj.__module__ == module.__name__}
    found = []
    for name, forward in functions.items():
        partner = _partner(name, functions)
        if partner is None or _required(forward) != 1:
            continue
        style = _style(name, forward, partner)
        if style is None:
            continue
        if style == "derivative":
            style = _derivative_style(forward, partner)
        pair = functools.partial(FunctionPair, forward, partner, style)
        note = (f"{partner.__name__} takes the forward's output (its derivative written in terms of it)"
                if style == "derivative_y" else "")
        try:
            ident = identify(lambda x, pair=pair: pair().forward(x))
        except Exception:   # noqa: BLE001
            ident = Identity()
        if ident.tf_judged:
            layer = Layer(make=lambda config, pair=pair: pair(), op=ident.op, layout="NCHW", name=name, note=note)
            found.append(layer)
            continue
        found.append(_entry(Subject(name, pair, (note,) if note else ()), ident))
    return found


def _required(fn) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return -1
    return sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _partner(name: str, functions: dict):
    if name == "forward":
        return functions.get("backward")
    if name.endswith("_forward"):
        return functions.get(name[:-len("_forward")] + "_backward")
    if name.endswith(BACKWARD_SUFFIXES) or name == "backward":
        return None
    for candidate in (*(name + s for s in BACKWARD_SUFFIXES), *(p + name for p in BACKWARD_PREFIXES)):
        if candidate in functions:
            return functions[candidate]
    return None


def _style(name: str, forward, backward) -> str | None:
    n = _required(backward)
    if n == 1:
        return "derivative"
    if n != 2:
        return None
    second = list(inspect.signature(backward).parameters)[1].lower()
    if "cache" in second or name.endswith("_forward") or name == "forward":
        try:
            returned = forward(np.random.default_rng(0).standard_normal((2, 3)))
        except Exception:   # noqa: BLE001
            returned = None
        if isinstance(returned, tuple) and len(returned) == 2:
            return "dout_cache"
    return "dout_y" if second in OUTPUT_NAMES else "dout_x"


def _derivative_style(forward, derivative) -> str:
    """"derivative_y" when ``derivative(f(x))`` and not ``derivative(x)`` is f'(x) (by central
    differences on a probe; an element-wise forward), else "derivative_x"."""
    x = np.random.default_rng(1).standard_normal((3, 4))
    h = 1e-6
    try:
        slope = (np.asarray(forward(x + h), np.float64) - np.asarray(forward(x - h), np.float64)) / (2 * h)
        on_x = np.asarray(derivative(x.copy()), np.float64)
        on_y = np.asarray(derivative(np.asarray(forward(x.copy()))), np.float64)
    except Exception:   # noqa: BLE001
        return "derivative_x"
    def close(g):
        return g.shape == slope.shape and np.allclose(g, slope, rtol=1e-5, atol=1e-6)
    return "derivative_y" if close(on_y) and not close(on_x) else "derivative_x"


# ------------------------------------------------------------------------------------- specs

def plan_fields(entry: SelfEntry) -> dict:
    """The plain values of a self-consistency entry's plan (crosscheck.check.target.LayerPlan fields)."""
    return {"name": entry.subject.name, "op": SELF_OP, "layout": "NCHW",
            "self_check": {"shapes": entry.shapes, "notes": tuple(n for n in entry.subject.notes if n)}}


def plan_spec(plan, run=None):
    """The Spec of a self-consistency plan (its row: passed-with-note, the notes saying what judged it)."""
    return Spec(plan.name, (), lambda o: subject_cases(plan.self_check["shapes"]), run or runs_in_worker,
                ("d_input",), note="; ".join(plan.self_check.get("notes", ())), self_check="self")


def entry_run(entry: SelfEntry):
    def run(module, case: Case, options: dict) -> Outcome:
        return run_subject(entry.subject, case, options)
    return run


def with_self_check(plan, spec, layer: Layer | None = None):
    """``spec`` of a TensorFlow-judged layer with the self-consistency verdict beside it (its cases
    are the layer's, tie-free; run through the same adapter); the layer's note in ``spec.note``."""
    splits = {"max_pool2d": ({"op": "max_pool2d", "tied": False},),
              "pool": ({"op": "max_pool2d", "tied": False}, {"op": "avg_pool2d", "tied": False})}.get(plan.op, ())
    own = dataclasses.replace(spec, name=f"{plan.name} (self-consistency)", run=also_run(layer) if layer else
                              runs_in_worker, cases=lambda o: layer_cases(plan, o), splits=splits, ties=False,
                              variants=())
    return dataclasses.replace(spec, note=plan.self_check.get("note", ""), self_check=own)


def also_run(layer: Layer):
    """One case of a TensorFlow-judged layer judged against its own forward (the adapter of
    crosscheck.check.layers, so the same object, layouts and gradients)."""

    def run(module, case: Case, options: dict) -> Outcome:
        impl = layer_impl(layer, case.params.get("data_format", "NHWC"), [])
        names = [n for n in REGISTRY[case.op].arrays if n in case.arrays]
        arrays = {n: np.array(case.arrays[n], dtype=np.float64) for n in names}
        try:
            _, pullback = impl.vjp(case.op, *[a.copy() for a in arrays.values()], **case.params)
            grads = dict(zip(names, pullback(np.array(case.dy, copy=True))))
            diffs = judge_gradients(lambda **a: getattr(impl, case.op)(**a, **case.params), arrays, grads, case.dy,
                                    seed=case.seed, case=case, max_elements=ALSO_MAX_ELEMENTS,
                                    missing_notes={names[0]: f"{layer.row_name()} does not compute d_{names[0]}"})
        except Exception as exc:   # noqa: BLE001 - the user's code raised
            return Outcome(case, IMPLEMENTATION_ERROR, message=user_traceback(exc), impl=layer.row_name())
        return self_outcome(case, diffs, layer.row_name())
    return run
