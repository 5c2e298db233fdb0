"""What a run exercised, per op: every parameter form (including ``default``: left out of the call),
optional arrays given or omitted, and the op's features ("batch 0", "grouped", "logits span > 100", ...).

The counts go into the run summary (``summary.ops.<op>.forms`` / ``features`` in report.json);
:func:`missing_forms` names the forms an op documents that no case used.
"""
from __future__ import annotations

from .params import DEFAULT, classify

GIVEN, OMITTED = "given", "omitted"


def case_forms(info, case) -> dict[str, str]:
    """{parameter or optional array: the form this case used}."""
    forms = {}
    for name, spec in info.params.items():
        if spec.expected_forms():
            forms[name] = classify(spec.kind, case.params[name]) if name in case.params else DEFAULT
    for name in info.optional_arrays:
        forms[name] = GIVEN if name in case.arrays else OMITTED
    return forms


def expected_forms(info) -> dict[str, tuple]:
    out = {name: spec.expected_forms() for name, spec in info.params.items() if spec.expected_forms()}
    out.update({name: (GIVEN, OMITTED) for name in info.optional_arrays})
    return out


def record(entry: dict, info, case) -> None:
    """Count the case's forms and features into a summary entry (``entry["forms"]``, ``["features"]``)."""
    forms = entry.setdefault("forms", {})
    for name, form in case_forms(info, case).items():
        counts = forms.setdefault(name, {})
        counts[form] = counts.get(form, 0) + 1
    features = entry.setdefault("features", {})
    try:
        found = info.case_features(case)
    except Exception:   # a case the op's feature function cannot read (e.g. from user code): nothing to count
        found = []
    for feature in found:
        features[feature] = features.get(feature, 0) + 1


def missing_forms(entry: dict, info) -> dict[str, list]:
    """{parameter: forms documented but not used by any case}, for the parameters that miss some."""
    seen = entry.get("forms", {})
    out = {}
    for name, forms in expected_forms(info).items():
        missing = [f for f in forms if not seen.get(name, {}).get(f)]
        if missing:
            out[name] = missing
    return out
