"""``--convention auto`` (the default of ``crosscheck check``): the convention a file is written in,
told from what it defines. The function convention with the most of its names defined wins
(cs231n's ``conv_forward_naive``, ``affine_backward``, ...; deeplearning.ai's ``zero_pad``,
``conv_forward``, ...); a file defining none of them but layer classes (``forward`` and
``backward``), forward/backward function pairs (``swish`` and ``swish_backward``) or a ``LAYERS``
list is checked as ``layers``."""
from __future__ import annotations

import types

from . import cs231n, deeplearning_ai
from .discovery import layer_classes
from .self_examine import function_pairs

AUTO = "auto"
FUNCTION_CONVENTIONS = {"cs231n": cs231n.SPECS, "deeplearning-ai": deeplearning_ai.SPECS}


def defines(module, name: str) -> bool:
    """Whether ``module.name`` is a callable (a module ``__getattr__`` that raises: it is not)."""
    try:
        return callable(getattr(module, name))
    except Exception:   # noqa: BLE001 - a module __getattr__ that raises: not defined
        return False


def convention_of_name(name: str) -> str | None:
    """The function convention that has a function ``name``, or None."""
    return next((conv for conv, specs in FUNCTION_CONVENTIONS.items() if any(s.name == name for s in specs)), None)


def pick_convention(module: types.ModuleType) -> tuple[str, str]:
    """(the convention, why: "it defines conv_forward, zero_pad, ..."); ("cs231n", "") when the module
    defines nothing any convention knows."""
    found = {}
    for convention, specs in FUNCTION_CONVENTIONS.items():
        names = dict.fromkeys(name for spec in specs for name in (spec.name, *spec.requires))
        found[convention] = [name for name in names if defines(module, name)]
    best = max(found, key=lambda c: len(found[c]))   # a tie: the first (cs231n)
    if found[best]:
        shown = ", ".join(found[best][:4]) + (f" and {len(found[best]) - 4} more" if len(found[best]) > 4 else "")
        return best, f"it defines {shown}"
    if getattr(module, "LAYERS", None) is not None:
        return "layers", "it declares LAYERS"
    try:
        classes = layer_classes(module)
    except Exception:   # noqa: BLE001 - a module whose attributes cannot be listed has no layer classes
        classes = []
    if classes:
        return "layers", f"it defines layer classes ({', '.join(c.__name__ for c in classes[:4])})"
    try:
        pairs = function_pairs(module)
    except Exception:   # noqa: BLE001 - the user's functions raised while probed: nothing found this way
        pairs = []
    if pairs:
        names = [getattr(p, "name", "") or getattr(getattr(p, "subject", None), "name", "") for p in pairs]
        return "layers", f"it defines forward/backward function pairs ({', '.join(n for n in names[:4] if n)})"
    return "cs231n", ""
