"""Adding an op is the implementation's function, its backward rule and one registry entry: every
part of crosscheck that iterates ops reads the registry when it runs, so a new op reaches all of
them. A synthetic op (a copy of an element-wise activation under a new name) is added to a copy of
the registry, and the test names each consumer that did not pick it up."""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from rich.console import Console

from crosscheck import coverage, registry
from crosscheck.check import cases as check_cases
from crosscheck.check import discovery as layer_convention
from crosscheck.cli import cmd_ops, shard_units
from crosscheck.cli.run import select_ops
from crosscheck.networks import activation_names
from crosscheck.oracle import quirk_docs, quirks
from crosscheck.report.json_report import in_path_order

NEW = "synthetic_softsign"


@pytest.fixture
def with_a_new_op(monkeypatch):
    """The registry with one more element-wise activation (elu's description under a new name)."""
    info = dataclasses.replace(registry.OPS["elu"], name=NEW)
    monkeypatch.setitem(registry.OPS, NEW, info)
    monkeypatch.setitem(registry.FAMILY, NEW, "activations")
    return info


def _drawn_case(op: str):
    found = []

    @settings(max_examples=1, database=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(check_cases.elementwise_cases(op=op))
    def draw(case):
        found.append(case)
    draw()
    return found[0]


def _ops_listing() -> str:
    out = io.StringIO()
    cmd_ops(None, Console(file=out, width=300))
    return out.getvalue()


CONSUMERS = {
    "the quirks that concern every op (integer-inputs, mixed-float-dtypes, ...)":
        lambda: all(NEW in list(q.ops) for q in quirks.QUIRKS if q.ops is quirks.EVERY_OP),
    "`crosscheck ops`, with the quirks that concern the new op":
        lambda: "integer-inputs" in _ops_listing().partition(f"\n{NEW} ")[2].partition("\n\n")[0],
    "`crosscheck run`'s ops (no --ops) and its shards": lambda: NEW in select_ops(None)
        and any(op == NEW for op, _ in shard_units(select_ops(None), ("float32", "float64"), (1, 1))),
    "the exercised-forms summary (coverage.expected_forms)":
        lambda: coverage.expected_forms(registry.OPS[NEW]) == coverage.expected_forms(registry.OPS["elu"]),
    "the report's path order": lambda: in_path_order(NEW, ["tape"]) == ["tape"],
    "the layers convention's classes (check/discovery.py)": lambda: NEW in layer_convention.layer_ops()
        and layer_convention._op_of(type("SyntheticSoftsign", (), {})) == NEW,
    "the check conventions' element-wise cases (check/cases.py)": lambda: _drawn_case(NEW).op == NEW,
    "network parity's activations (networks.py)": lambda: NEW in activation_names(),
    "the registry's strategies": lambda: registry.case_strategy(NEW, "float32") is not None,
}


def test_a_new_op_reaches_every_consumer(with_a_new_op):
    missed = [name for name, picked_up in CONSUMERS.items() if not picked_up()]
    assert not missed, f"consumers that did not pick up the new op {NEW}: {missed}"


#: consumers that answer from registry membership (the others compare the new op with elu's entry)
MEMBERSHIP = [name for name in CONSUMERS if "path order" not in name and "strategies" not in name
              and "exercised-forms" not in name]


def test_the_quirks_document_does_not_change_with_a_new_op(with_a_new_op):
    """docs/tf-defects.md names a quirk's ops as the quirk describes them (every op, every window
    op, ...), so adding an op needs no regenerated document."""
    assert quirk_docs.markdown() == (Path(__file__).resolve().parents[2] / "docs" / "tf-defects.md").read_text()


def test_without_the_new_op_no_consumer_lists_it():
    """The test above can fail: before the op is added, each of these consumers misses it."""
    assert NEW not in registry.OPS
    assert [name for name in MEMBERSHIP if _answers_yes(CONSUMERS[name])] == []


def _answers_yes(consumer) -> bool:
    try:
        return bool(consumer())
    except (KeyError, ValueError):
        return False
