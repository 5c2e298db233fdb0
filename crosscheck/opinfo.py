"""The description of one op, as data (PyTorch's OpInfo is the model), and the objects it holds.

An :class:`OpInfo` is the only place that knows an op: its arrays and parameters, how to generate
valid cases (and extreme ones, and invalid calls), which TensorFlow paths compute its reference,
its window geometry, how TensorFlow's plain call reads, where it is not differentiable, and how
its tolerance is scaled. Everything else in crosscheck (the oracle, the runner, diagnosis,
replay snippets, reports, the CLI, tests and docs) reads these fields.

The entries live in :mod:`crosscheck.ops` (one module per op family); :mod:`crosscheck.registry`
collects them. Importing either does not import TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from . import geometry as G
from .case import Case
from .params import canonical


@dataclass(frozen=True)
class Call:
    """A case with every parameter resolved: defaults filled in and spellings made canonical
    (spatial values as per-axis tuples, padding as "SAME" / "VALID" / per-axis pairs).

    ``info`` is the op's OpInfo (its geometry, its operands); ``quirks`` the ids of the TensorFlow
    quirks that hold for the call, attached by the oracle (:func:`crosscheck.oracle.quirks.attach`)
    before a reference path or a plain TF call sees it: paths ask :meth:`holds`, they look nothing up."""
    case: Case
    params: dict
    info: "OpInfo | None" = field(default=None, repr=False, compare=False)
    quirks: frozenset | None = None

    def holds(self, quirk_id: str) -> bool:
        """Whether quirk ``quirk_id`` holds for this call (the oracle attached the quirks first)."""
        if self.quirks is None:
            raise RuntimeError(f"{self.op}: a reference path was handed a call without its quirks "
                               "(crosscheck.oracle.quirks.attach)")
        return quirk_id in self.quirks

    @property
    def op(self) -> str:
        return self.case.op

    @property
    def arrays(self) -> dict:
        return self.case.arrays

    @property
    def dy(self):
        return self.case.dy

    @property
    def dtype(self) -> str:
        return self.case.dtype

    @property
    def data_format(self) -> str:
        return self.params.get("data_format", "NHWC")

    def with_case(self, case: Case) -> "Call":
        return replace(self, case=case)


@dataclass(frozen=True)
class RefPath:
    """One TensorFlow computation of the reference.

    ``compute(call) -> {tensor: array}`` returns ``y`` (or the op's outputs) and, when the call has
    ``dy``, gradients ``d_<array>``; ``tensors`` names what it returns ("all", or e.g. ``("d_input",)``);
    ``applies(call)`` is "" when the path can express the call, else why it cannot (not an error:
    e.g. Keras has no explicit padding)."""
    name: str
    compute: Callable[[Call], dict]
    tensors: tuple | str = "all"
    applies: Callable[[Call], str] = lambda call: ""


@dataclass(frozen=True)
class PlainTF:
    """TensorFlow's own one-line call of the op, for the standalone snippet and for error parity.

    ``source``: Python source over the array names with ``{params}`` for the keyword arguments;
    ``params(call)``: the call's parameters in that function's own spelling; ``works(call)``: "" when
    the plain call computes this case's forward and gradients on CPU, else why not."""
    source: str
    params: Callable[[Call], dict]
    works: Callable[[Call], str] = lambda call: ""


@dataclass(frozen=True)
class ErrorInput:
    """A call that may be invalid. TensorFlow's plain call decides whether it is (a documented quirk
    may override it); for an op with no plain TF call, ``rule`` states the documented check (Keras's,
    for the Keras-like ops) under which it must be refused. A refusal must be a ValueError or
    TypeError that names ``argument``."""
    label: str
    arrays: dict
    params: dict
    argument: str
    rule: str = ""


@dataclass(frozen=True)
class OpInfo:
    """One op. The first fields are required; every other one has a default meaning "does not apply"
    and is given only where it says something.

    name: the function's name in the implementation module (and in ``vjp``).
    description: one line.
    arrays: array arguments in vjp order (passed positionally to ``vjp``).
    strategy: ``strategy(dtype, spellings)`` -> hypothesis strategy of Case; ``spellings=False``
        draws every parameter explicitly in its canonical form (for user code with other conventions).
    paths: the TensorFlow reference paths.
    error_inputs: ``error_inputs()`` -> list of :class:`ErrorInput`.
    tolerance_class: "accumulation", "elementwise", "reduction" or "normalization".
    differentiable: the arrays with gradients (tensors ``d_<name>``); default: every array.
    optional_arrays: arrays a call may leave out (a strategy omits them sometimes).
    extra_arrays: array arguments passed by keyword and not differentiated.
    outputs: names of the forward outputs.
    params: keyword parameters (meaning, default, spellings).
    extreme: ``extreme(dtype, spellings=True)`` -> strategy of Cases with values at the edges of the op's branches.
    large: ``large(dtype)`` -> strategy of one realistic-size Case (or a tuple of them, each run
        once), run once per run: sizes past the batch chunking and cache blocking array code does
        (tens to hundreds of MiB of im2col: a code path may differ between the two).
    features: ``features(call)`` -> labels of what the case exercises ("batch 0", "grouped", ...).
    geometry: ``geometry(call)`` -> the case's :class:`crosscheck.geometry.WindowArgs` (unchecked).
    window_operands: a window op's (argument giving its input, argument giving its HWIO filters or
        None): an array or a shape parameter (``input_sizes``, ``filter_sizes``, ``output_shape``).
    filter_arrays: arrays laid out as filters (HWIO-like: kernel rows and columns first).
    filter_tensors: tensors laid out as filters (channel map over their last axis).
    plain_tf: TensorFlow's own call, for snippets and error parity (None: the snippet uses the oracle).
    kinks: ``kinks(call)`` -> "" or why finite differences cannot judge the case (no derivative).
    mistakes: ``mistakes(call)`` -> {diagnosis label: (evidence, {tensor: array})}: what well-known wrong
        formulations of the op give on the case (eps outside the sqrt, statistics over the wrong axes,
        ``=`` instead of ``+=``); diagnosis names a mismatch that equals one of them.
    terms: ``terms(call)`` -> {tensor: accumulated terms per element}.
    scale_floor: ``scale_floor(call)`` -> {tensor: lower bound of the tolerance's scale}.
    """
    name: str
    description: str
    arrays: tuple
    strategy: Callable
    paths: tuple
    error_inputs: Callable
    tolerance_class: str
    differentiable: tuple | None = None
    optional_arrays: tuple = ()
    extra_arrays: tuple = ()
    outputs: tuple = ("y",)
    params: dict = field(default_factory=dict)
    extreme: Callable | None = None
    large: Callable | None = None
    features: Callable = lambda call: []
    geometry: Callable | None = None
    window_operands: tuple = ()
    filter_arrays: tuple = ()
    filter_tensors: tuple = ()
    plain_tf: PlainTF | None = None
    kinks: Callable | None = None
    mistakes: Callable | None = None
    terms: Callable | None = None
    scale_floor: Callable | None = None

    def __post_init__(self):
        if self.differentiable is None:
            object.__setattr__(self, "differentiable", tuple(self.arrays))

    # ------------------------------------------------------------------ derived views
    @property
    def defaults(self) -> dict:
        return {k: p.default for k, p in self.params.items() if p.has_default}

    @property
    def path_names(self) -> tuple:
        return tuple(p.name for p in self.paths)

    def keyword_arrays(self) -> tuple:
        return tuple(self.extra_arrays) if self.extra_arrays else ()

    def resolve(self, case: Case) -> Call:
        """The case with defaults filled in and every parameter in its canonical form."""
        given = dict(case.params)
        fmt = given.get("data_format", self.defaults.get("data_format", "NHWC"))
        params = {}
        for name, spec in self.params.items():
            if name in given:
                params[name] = canonical(spec.kind, given[name], fmt if isinstance(fmt, str) else "NHWC")
            elif spec.has_default:
                params[name] = canonical(spec.kind, spec.default, fmt if isinstance(fmt, str) else "NHWC")
        for name, value in given.items():   # parameters the op does not describe: kept as given
            params.setdefault(name, value)
        return Call(case, params, self)

    def tensor_terms(self, call: Call) -> dict:
        return self.terms(call) if self.terms else {}

    def tensor_scale_floor(self, call: Call) -> dict:
        return self.scale_floor(call) if self.scale_floor else {}

    def window(self, case: Case) -> G.Window | None:
        """The case's resolved window geometry (GeometryError if invalid), or None for ops without one."""
        return self.geometry(self.resolve(case)).resolve() if self.geometry else None

    def kink_reason(self, case: Case) -> str:
        return self.kinks(self.resolve(case)) if self.kinks else ""

    def case_features(self, case: Case) -> list[str]:
        return list(self.features(self.resolve(case)))


# ------------------------------------------------------------------- shared small helpers

def rms(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.mean(np.square(a)))) if a.size else 0.0


def taps(window, strides) -> int:
    """How many outputs (product over axes) read one input cell: at most ceil(k / s) per axis."""
    return int(np.prod([-(-k // s) for k, s in zip(window, strides)]))


def product(values) -> int:
    return int(np.prod([int(v) for v in values])) if len(values) else 1

