"""JUnit XML for CI systems (``--junit-xml FILE`` of ``crosscheck run`` and ``crosscheck check``).

Written from the run's report document (what ``report.json`` holds, after a ``-j``/``--shard`` run's
merge), so the XML and the report always tell the same verdict:

    run_testsuite(doc)          ``crosscheck run``: a testcase per (op, dtype) ("crosscheck.<op>", the
                                dtype), one per op's error-parity checks ("crosscheck.<op>", "error-parity")
    check_testsuite(doc, rows)  ``crosscheck check``: a testcase per function or layer class checked
    write_junit(suite, path)    the ``<testsuites>`` document, written atomically

A testcase fails when one of its outcomes has a failing status (its message: the count per status and
the first failing case's headline) and names the replay command of its smallest failing case in a
``<property name="replay">``. What fails the run outside any testcase (an op compared with TensorFlow
too rarely, a TensorFlow crash outside a case, an interrupted run, a file that cannot be loaded) is
one more failing testcase, "crosscheck" / "run" (or "check").
"""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..case import FAILING
from ..files import atomic_write_text
from .json_report import problems
from .terminal import headline

#: verdicts of ``crosscheck check`` that pass (crosscheck/check/run.py, ``rows_ok``)
PASSING_VERDICTS = ("passed", "passed-with-note")
#: characters XML 1.0 cannot hold (a message of the code under test may contain them)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text) -> str:
    return NOT_XML.sub("?", str(text))


def _size(outcome: dict) -> int:
    """The number of elements of an outcome's arrays (its shapes)."""
    return sum(math.prod(shape) for shape in outcome.get("shapes", {}).values())


def smallest_failing(outcomes: list[dict]) -> dict | None:
    """The case to replay first: a shrunk minimal case, else the failing case with the fewest elements."""
    failing = [o for o in outcomes if o["status"] in FAILING]
    return min(failing, key=lambda o: (not o.get("minimal"), _size(o))) if failing else None


def _replay_command(outcome: dict | None) -> str | None:
    return ((outcome or {}).get("replay") or {}).get("command")


def _status_counts(outcomes: list[dict]) -> str:
    """``"3 mismatch, 1 reference-unsupported"``: the outcomes per status (a shrunk case not counted again)."""
    counts: dict[str, int] = {}
    for o in outcomes:
        if not o.get("minimal"):
            counts[o["status"]] = counts.get(o["status"], 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def _testcase(classname: str, name: str, failure: tuple[str, str, str] | None = None,
              replay: str | None = None) -> ET.Element:
    """A ``<testcase>``; ``failure``: (type, message, text); ``replay``: the command as a property."""
    case = ET.Element("testcase", classname=classname, name=name)
    if replay:
        properties = ET.SubElement(case, "properties")
        ET.SubElement(properties, "property", name="replay", value=_xml(replay))
    if failure is not None:
        kind, message, text = failure
        element = ET.SubElement(case, "failure", type=kind, message=_xml(message))
        element.text = _xml(text)
    return case


def _outcome_failure(outcomes: list[dict]) -> tuple[str, str, str] | None:
    """The failure of a testcase holding ``outcomes`` (None when none of them fails)."""
    first = next((o for o in outcomes if o["status"] in FAILING), None)
    if first is None:
        return None
    lines = headline(first)
    replay = _replay_command(smallest_failing(outcomes))
    text = "\n".join(lines + ([f"replay: {replay}"] if replay else []))
    return first["status"], f"{_status_counts(outcomes)}: {lines[0]}", text


def run_units(doc: dict) -> list[tuple[str, str]]:
    """The (op, dtype) pairs a run checked: a shard's own units, else its ops in its dtypes, and the
    ops it found outside them (the networks of ``--networks``) in the dtypes they ran in."""
    if doc.get("units"):
        units = [tuple(u) for u in doc["units"]]
    else:
        units = [(op, dtype) for op in doc.get("ops") or [] for dtype in doc.get("dtypes") or []]
    selected = {op for op, _ in units}
    units += [(op, dtype) for op, entry in doc["summary"]["ops"].items() if op not in selected
              for dtype in entry.get("dtypes", [])]
    return units


def _parity_testcases(parity: list[dict]) -> list[ET.Element]:
    """One testcase per op's error-parity checks, failing when one of them does."""
    by_op: dict[str, list[dict]] = {}
    for p in parity:
        by_op.setdefault(p["op"], []).append(p)
    cases = []
    for op, checks in by_op.items():
        failed = [p for p in checks if not p["passed"]]
        failure = None
        if failed:
            first = failed[0]
            message = (f"{len(failed)} of {len(checks)} error-parity checks fail: {first['label']}: "
                       f"{first.get('problem') or first['actual']}")
            text = "\n".join(f"{p['label']} ({p['argument']}): expected {p['expected']} ({p['why']}), got "
                             f"{p['actual']}: {p['detail']}" for p in failed)
            failure = ("error-parity", message, text)
        cases.append(_testcase(f"crosscheck.{op}", "error-parity", failure))
    return cases


def _run_problems_testcase(doc: dict, explained: set[str], name: str, detail: str = "") -> list[ET.Element]:
    """The testcase "crosscheck" / ``name`` of the reasons the run fails that no other testcase shows
    (``detail``: more text for its failure)."""
    left = [p for p in doc.get("problems", []) if p not in explained]
    if not left:
        return []
    return [_testcase("crosscheck", name, (name, left[0], "\n".join(left + [detail] * bool(detail))))]


def _suite(name: str, cases: list[ET.Element], doc: dict, properties: dict) -> ET.Element:
    failures = sum(case.find("failure") is not None for case in cases)
    suite = ET.Element("testsuite", name=name, tests=str(len(cases)), failures=str(failures), errors="0",
                       skipped="0")
    if doc.get("elapsed_s") is not None:
        suite.set("time", f"{doc['elapsed_s']:.3f}")
    if doc.get("created"):
        suite.set("timestamp", doc["created"])
    tensorflow = doc.get("tensorflow") or {}
    properties = {**properties, "command": doc.get("command"), "tensorflow": tensorflow.get("tensorflow"),
                  "tf_backend": tensorflow.get("backend")}
    element = ET.SubElement(suite, "properties")
    for key, value in properties.items():
        if value is not None:
            ET.SubElement(element, "property", name=key, value=_xml(value))
    suite.extend(cases)
    return suite


def run_testsuite(doc: dict) -> ET.Element:
    """The ``<testsuite>`` of a ``crosscheck run`` report document."""
    cases = []
    for op, dtype in run_units(doc):
        mine = [o for o in doc["outcomes"] if o["op"] == op and o["dtype"] == dtype]
        cases.append(_testcase(f"crosscheck.{op}", dtype, _outcome_failure(mine),
                               _replay_command(smallest_failing(mine))))
    cases += _parity_testcases(doc.get("error_parity") or [])
    explained = set(problems({**doc["summary"], "crashes": []}, require_compared=False))
    cases += _run_problems_testcase(doc, explained, "run")
    return _suite("crosscheck run", cases, doc, {"impl": doc.get("impl"), "seed": doc.get("seed")})


def check_testsuite(doc: dict, rows) -> ET.Element:
    """The ``<testsuite>`` of a ``crosscheck check`` report document and its rows (crosscheck.check's
    Row: function, verdict, tried, failing, causes, message)."""
    cases = []
    for row in rows:
        mine = [o for o in doc["outcomes"] if (o.get("check") or {}).get("function") == row.function]
        failure = None
        if row.verdict not in PASSING_VERDICTS:
            causes = ", ".join(f"{n}x {cause}" for cause, n in sorted(row.causes.items(), key=lambda kv: -kv[1]))
            message = f"{row.verdict}: {row.failing} of {row.tried} examples fail" + (f" ({causes})" if causes else "")
            first = next((o for o in mine if o["status"] in FAILING), None)
            text = "\n".join(([row.message] if row.message else []) + (headline(first) if first else []))
            failure = (row.verdict, message, text or message)
        cases.append(_testcase(f"crosscheck.check.{doc.get('convention', 'check')}", row.function, failure,
                               _replay_command(smallest_failing(mine))))
    explained = set(problems({**doc["summary"], "crashes": []}, require_compared=False))
    explained |= {f"{row.function}: {row.verdict}" for row in rows}
    cases += _run_problems_testcase(doc, explained, "check", doc.get("load_error") or "")
    return _suite("crosscheck check", cases, doc, {"target": doc.get("impl"), "seed": doc.get("seed")})


def write_junit(suite: ET.Element, path) -> Path:
    """``<testsuites>`` holding ``suite``, written to ``path`` (atomically)."""
    root = ET.Element("testsuites", tests=suite.get("tests"), failures=suite.get("failures"), errors="0")
    root.append(suite)
    ET.indent(root)
    return atomic_write_text(Path(path), ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")
