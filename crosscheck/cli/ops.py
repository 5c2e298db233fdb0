"""``crosscheck ops``: the registered ops, their arrays, parameters, TensorFlow paths, quirks and tolerance."""
from __future__ import annotations

from rich.console import Console

from ..oracle.quirks import QUIRKS
from ..params import REQUIRED
from ..registry import OPS
from .common import EXIT_OK


def cmd_ops(args, console: Console) -> int:
    console.print(f"{len(OPS)} ops (arrays marked * are differentiated; tensors are y and d_<array>)", style="bold",
                  markup=False)
    for name in sorted(OPS):
        print_op(console, name, OPS[name])
    return EXIT_OK


def print_op(console: Console, name: str, info) -> None:
    console.print(f"\n{name} — {info.description}", markup=False, style="bold")
    arrays = ", ".join(a + ("*" if a in info.differentiable else "") + (" (optional)" if a in info.optional_arrays
                                                                         else "") for a in info.arrays)
    console.print(f"  arrays      {arrays}", markup=False)
    for i, (k, p) in enumerate(info.params.items()):
        default = "required" if p.default is REQUIRED else f"default {p.default!r}"
        forms = f"; forms: {', '.join(p.forms)}" if p.forms else ""
        console.print(f"  {'parameters' if i == 0 else '':<10}  {k}: {p.doc} ({default}{forms})", markup=False)
    console.print(f"  TF paths    {', '.join(info.path_names)}", markup=False)
    quirks = [q.id for q in QUIRKS if name in q.ops]
    if quirks:
        console.print(f"  TF quirks   {', '.join(quirks)}", markup=False)
    console.print(f"  tolerance   {info.tolerance_class}", markup=False)
