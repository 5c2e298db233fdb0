"""docs/tf-defects.md, generated from the quirk registry:
``python -m crosscheck.oracle.quirk_docs > docs/tf-defects.md`` (a test keeps the two equal)."""
from __future__ import annotations

import sys

from .quirks import QUIRKS, TEST_FILE


def markdown() -> str:
    """docs/tf-defects.md, generated from :data:`QUIRKS`."""
    lines = ["# TensorFlow quirks crosscheck knows",
             "",
             "Generated from `crosscheck/oracle/quirks.py` by `python -m crosscheck.oracle.quirk_docs > docs/tf-defects.md`"
             " (a test keeps this file equal to the registry). Measured on tensorflow-cpu 2.21 / Keras 3.15, CPU.",
             "",
             "TensorFlow has two CPU backends: its Eigen kernels, and its oneDNN kernels, which it runs by default on "
             "Linux x86 CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX (`TF_ENABLE_ONEDNN_OPTS=0` or `1` chooses). "
             "crosscheck's reference is Eigen unless told otherwise (`--tf-backend`). The *backends* column says where "
             "each quirk holds; its demonstration is run on both, and must show on those and only those. TensorFlow's "
             "float64 kernels are Eigen's on both backends (oneDNN computes float32), so a oneDNN defect is worked "
             "around by computing the float32 case in float64.",
             "",
             "These are the only reasons a case may be *reference-unsupported*. Any other error TensorFlow raises "
             "on a generated case is a *reference-error*, which fails the run. Every entry has a demonstration "
             f"that TensorFlow still behaves so: `{TEST_FILE}::test_quirk_still_holds[<id>]`.",
             "",
             "Kinds: **defect** (TensorFlow gives a wrong answer), **limitation** (it refuses on CPU), **crash** "
             "(it kills the process), **spec** (what it does is not what the checked API means; crosscheck follows "
             "the documented rule), **precision** (a rounding detail).",
             "",
             "| id | kind | backends | ops | what TensorFlow does | crosscheck's answer | TF issue |",
             "|---|---|---|---|---|---|---|"]
    for q in QUIRKS:
        lines.append(f"| `{q.id}` | {q.kind} | {', '.join(q.backends)} | {q.ops.label} | {q.what} | "
                     f"{q.workaround} | {q.tf_issue or '-'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
