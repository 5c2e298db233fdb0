"""Every op crosscheck checks, collected from :mod:`crosscheck.ops` (one OpInfo per op).

Tests, the CLI, snippets, diagnosis, docs and reports iterate :data:`OPS`. Adding an op means:
the function and its backward rule in the implementation (npcnn), and one OpInfo entry in the
``crosscheck/ops`` module of its family. Importing this module does not import TensorFlow.
"""
from __future__ import annotations

from hypothesis import strategies as st

from .case import Case
from .opinfo import OpInfo
from .ops import activations, conv, core, losses, normalization, pooling

_FAMILIES = (conv, pooling, activations, core, losses, normalization)
OPS: dict[str, OpInfo] = {info.name: info for family in _FAMILIES for info in family.OPS}
#: op name -> its family, the module of crosscheck/ops that describes it ("conv", "activations", ...)
FAMILY: dict[str, str] = {info.name: family.__name__.rsplit(".", 1)[-1] for family in _FAMILIES for info in family.OPS}

# Public names of npcnn.functional that are not ops compared against TensorFlow, and why.
NOT_OPS = {
    "vjp": "the gradient entry point, used by every op's check",
    "dropout_mask": "dropout's mask from NumPy's RNG, which TensorFlow cannot reproduce; checked through dropout",
}

#: how often a generated case comes from an op's extreme strategy: 1 in EXTREME_EVERY
EXTREME_EVERY = 4


def get_op(name: str) -> OpInfo:
    try:
        return OPS[name]
    except KeyError:
        raise ValueError(f"unknown op {name!r}; known ops: {', '.join(sorted(OPS))}") from None


def case_strategy(op: str, dtype: str, spellings: bool = True) -> st.SearchStrategy[Case]:
    """The hypothesis strategy of an op's cases: its strategy, and 1 in EXTREME_EVERY from its
    extreme strategy (values at the edges of its branches) where it has one.

    ``spellings=False`` writes every parameter explicitly in its canonical form (for code that
    follows another convention than the API's, through crosscheck.api); extreme cases included."""
    info = get_op(op)
    normal = info.strategy(dtype, spellings)
    if not info.extreme:
        return normal
    return st.one_of(*([normal] * (EXTREME_EVERY - 1)), info.extreme(dtype, spellings))
