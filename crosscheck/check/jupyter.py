"""``crosscheck.check(...)``: check functions where they live, in the running Python process (a
Jupyter kernel), and show the verdict table.

    crosscheck.check(conv_forward)                          # one function; convention from its name
    crosscheck.check(globals(), convention="deeplearning-ai")   # every convention function defined
    crosscheck.check(MyConv)                                # one layer class
    crosscheck.check("my_notebook.ipynb")                   # a file, loaded here

The result's ``_repr_html_`` is the verdict table (crosscheck/check/result_html.py); ``.ok``,
``.rows`` (crosscheck.check.run.Row) and ``.convention`` are there for code. The cases run in this
process (no worker): a crash of the code under test takes the kernel down with it, and a call that
does not return within ``timeout`` seconds is a timeout.
"""
from __future__ import annotations

import inspect
import sys
import types
from dataclasses import dataclass, field

from ..isolation import CALL_TIMEOUT
from . import cs231n
from .auto_convention import AUTO, FUNCTION_CONVENTIONS, convention_of_name
from .loading import load_user_code
from .result_html import html_table, text_table
from .run import Row, check_module, rows_ok
from .target import CONVENTIONS, examine


@dataclass
class CheckResult:
    """The verdicts of one :func:`check`: ``rows`` (one crosscheck.check.run.Row per function),
    the ``convention`` they were checked in, notes on the load (a notebook's skipped cells)."""
    rows: list[Row]
    convention: str
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every function passes (notes allowed), and there was at least one."""
        return bool(self.rows) and rows_ok(self.rows)

    def __repr__(self) -> str:
        return text_table(self.rows, self.convention, self.notes)

    def _repr_html_(self) -> str:
        return html_table(self.rows, self.convention, self.notes)


def check(code, convention: str | None = None, examples: int = 10, seed: int = 0, functions=None,
          ties: str = "note", timeout: float | None = CALL_TIMEOUT) -> CheckResult:
    """Check ``code`` against TensorFlow: a function or a layer class (itself only), a namespace
    (``globals()``: every function of the convention it defines), a module, or a file's path.
    ``convention``: cs231n, deeplearning-ai, layers or auto (None: from the function's name, or auto).
    ``functions``: only these names. ValueError for a convention or a function crosscheck does not know;
    TypeError for ``code`` of another kind."""
    if convention is not None and convention not in (*CONVENTIONS, AUTO):
        raise ValueError(f"convention={convention!r} is not one of {', '.join((AUTO, *CONVENTIONS))}")
    if not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples={examples!r} must be a positive int")
    module, only, convention = _what_to_check(code, convention, functions)
    target, specs = examine(module, convention)
    pinned = cs231n.pins_for_year(None) if target.convention == "cs231n" else {}
    rows = check_module(module, specs, examples=examples, seed=seed, only=only, ties=ties, pinned=pinned,
                        timeout=timeout, defined=target.defined if target.convention != "layers" else None)
    if only and not rows:
        raise ValueError(f"{', '.join(only)}: nothing to check in the {target.convention} convention (a backward "
                         "needs its forward defined too)")
    notes = list(target.load_notes) + ([f"convention picked automatically: {target.picked}"] if target.picked else [])
    return CheckResult(rows, target.convention, notes)


def _what_to_check(code, convention, functions):
    """(module, the names to check or None for all, convention)."""
    only = list(functions) if functions else None
    if isinstance(code, str):
        return load_user_code(code), only, convention or AUTO
    if isinstance(code, types.ModuleType):
        return code, only, convention or AUTO
    if isinstance(code, dict):
        return _as_module(code), only, convention or AUTO
    name = getattr(code, "__name__", None)
    if not callable(code) or not isinstance(name, str):
        raise TypeError(f"crosscheck.check: give a function, a layer class, globals(), a module or a path; got "
                         f"{type(code).__name__}")
    if inspect.isclass(code):
        namespace = vars(sys.modules[code.__module__]) if code.__module__ in sys.modules else {name: code}
        return _as_module(namespace, code.__module__), [name], convention or "layers"
    picked = convention or convention_of_name(name)
    if picked is None:
        known = "; ".join(f"{conv}: {', '.join(s.name for s in specs)}" for conv, specs in FUNCTION_CONVENTIONS.items())
        raise ValueError(f"crosscheck.check: {name} is not a function name of any convention ({known}); name it as "
                         "its convention does, or give convention=")
    return _as_module(getattr(code, "__globals__", {name: code})), [name], picked


def _as_module(namespace: dict, name: str | None = None) -> types.ModuleType:
    """The module whose dict ``namespace`` is, or a module holding the same objects (the functions
    keep their own globals: what crosscheck swaps while a function is checked on its own is there)."""
    name = name or namespace.get("__name__", "__main__")
    module = sys.modules.get(name)
    if isinstance(module, types.ModuleType) and module.__dict__ is namespace:
        return module
    view = types.ModuleType(name if isinstance(name, str) else "__main__")
    view.__dict__.update(namespace)
    return view
