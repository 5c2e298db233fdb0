"""Count false alarms: run correct npcnn on N examples spread over every registered op and both
dtypes, and report every mismatch (each one is a false alarm of the tolerance policy or a real
npcnn bug to investigate), plus how much of the tolerance the worst correct case used.

    python bench/false_alarms.py --examples 10000 [--seed 0] [--ops conv2d,...] [--tf-backend eigen|onednn]

"headroom" per op is max over cases of ``abs_err / (atol + rtol |expected|)`` at the worst element:
1.0 would be a false alarm; the policy's SAFETY factor could be divided by 1/headroom before any
correct case fails.
"""
from __future__ import annotations

import argparse
import time

from crosscheck.case import FAILING
from crosscheck.fuzz import fuzz_op
from crosscheck.oracle import backend
from crosscheck.registry import OPS
from crosscheck.runner import summarize


def headroom(outcome) -> float:
    worst = 0.0
    for d in outcome.diffs:
        for w in d.worst[:1]:
            bound = d.atol + d.rtol * abs(w["expected"])
            if bound > 0:
                worst = max(worst, w["abs_err"] / bound)
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ops", default="")
    parser.add_argument("--tf-backend", choices=backend.BACKENDS, default=None,
                        help="TensorFlow's CPU kernels (default: TF_ENABLE_ONEDNN_OPTS if set, else eigen)")
    args = parser.parse_args(argv)
    backend.choose(args.tf_backend, **({"chosen_by": f"--tf-backend {args.tf_backend}"} if args.tf_backend else {}))
    ops = args.ops.split(",") if args.ops else list(OPS)
    per = max(1, args.examples // (2 * len(ops)))
    start = time.time()
    total = {}
    alarms = []
    print(f"{'op':42s} {'dtype':8s} {'pass':>5s} {'mism':>5s} {'unsup':>5s} {'err':>4s} {'ref-err':>7s} {'headroom':>9s} {'s':>6s}")
    for op in ops:
        for dtype in ("float32", "float64"):
            t = time.time()
            outs = fuzz_op(op, examples=per, dtype=dtype, seed=args.seed)
            c = summarize(outs)
            for k, v in c.items():
                total[k] = total.get(k, 0) + v
            alarms += [o for o in outs if o.status != "pass"]
            room = max((headroom(o) for o in outs), default=0.0)
            print(f"{op:42s} {dtype:8s} {c['pass']:5d} {c['mismatch']:5d} {c['reference-unsupported']:5d} "
                  f"{c['implementation-error']:4d} {c['reference-error']:7d} {room:9.4f} {time.time() - t:6.1f}", flush=True)
    print(f"\n{sum(total.values())} examples in {time.time() - start:.0f} s: {total}")
    print(f"reference: {backend.one_line(backend.describe())}")
    print(f"false alarms (mismatch on correct npcnn): {total.get('mismatch', 0)}")
    for o in alarms[:20]:
        print("-", o.status, o.case.op, o.case.dtype, o.case.params, o.case.shapes(), o.message[-300:])
        for d in o.failures[:2]:
            print("    ", d.path, d.tensor, d.max_abs_err, d.atol, d.rtol, d.mismatched, d.total, d.note)
    return 1 if any(total.get(status, 0) for status in FAILING) else 0


if __name__ == "__main__":
    raise SystemExit(main())
