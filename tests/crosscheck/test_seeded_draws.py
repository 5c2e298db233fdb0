"""A run's cases depend on the op, the dtype and the seed only: not on which local source code is
loaded (hypothesis mixes constants it finds in local modules into its draws; crosscheck's fuzz
driver turns that off)."""
import importlib
import sys

import numpy as np

from crosscheck.case import PASS, Outcome
from crosscheck.fuzz import fuzz_outcomes, op_seed_key
from crosscheck.registry import case_strategy


def _draws(op: str) -> list:
    drawn = []
    fuzz_outcomes(case_strategy(op, "float32"), lambda case: (drawn.append(case), Outcome(case, PASS))[1], examples=25,
                  seed_key=op_seed_key(op, "float32", 7))
    return [(repr(sorted(c.params.items())), [(k, np.asarray(a).shape, np.asarray(a).tobytes()) for k, a in
                                               sorted(c.arrays.items())]) for c in drawn]


def test_loading_a_local_module_full_of_constants_does_not_change_the_draws(tmp_path, monkeypatch):
    before = {op: _draws(op) for op in ("conv2d", "dense", "softmax")}
    constants = ", ".join([str(v) for v in range(200)] + ["123456789", "4000000000", "2147483647", "0.5", "1e30"])
    (tmp_path / "user_constants_module.py").write_text(f"VALUES = [{constants}]\nNAMES = ['SAME', 'VALID', 'NCHW']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("user_constants_module")
    try:
        after = {op: _draws(op) for op in before}
    finally:
        sys.modules.pop("user_constants_module", None)
    assert after == before
