"""Run the fault-injection probes against this checkout's crosscheck and npcnn.

    python tests/faults/probe_all.py [--class CLASS ...] [--name SUBSTRING ...] [--jobs 2] [--out results.json]

One line per probe (name, class, verdict, reason), then the count of each verdict per class, and a
JSON file of every probe's verdict, reason, expected behaviour and exit statuses. Verdicts: ``lose``
(work lost: a hang, a process left behind, an unfinished or wrong report, a user's file deleted),
``confuse`` (works, but the message or exit status misleads), ``ok``; ``skipped`` (what the probe
needs is not installed) and ``error`` (the probe itself failed) are not counted as either.
Exit status: 0 when no probe loses work, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog import all_probes  # noqa: E402
from harness import ROOT, execute, python_env  # noqa: E402

VERDICTS = ("lose", "confuse", "ok", "skipped", "error")


def select(probes, classes, names):
    if classes:
        probes = [p for p in probes if p.klass in classes]
    if names:
        probes = [p for p in probes if any(n in p.name for n in names)]
    return probes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--class", dest="classes", nargs="+", default=[], help="only these probe classes")
    parser.add_argument("--name", nargs="+", default=[], help="only probes whose name contains one of these")
    parser.add_argument("--jobs", type=int, default=2, help="probes run at the same time (default 2)")
    parser.add_argument("--out", default="fault-probes.json", help="JSON results file")
    parser.add_argument("--keep", action="store_true", help="keep the probes' directories (printed)")
    parser.add_argument("--list", action="store_true", help="list the probes and exit")
    args = parser.parse_args(argv)
    probes = select(all_probes(), args.classes, args.name)
    if args.list:
        for p in probes:
            print(f"{p.klass:14} {p.name}")
        print(f"{len(probes)} probes")
        return 0
    preflight = subprocess.run([sys.executable, "-m", "crosscheck", "--version"], capture_output=True, text=True,
                               env=python_env(ROOT, "preflight", {}), timeout=120)
    if preflight.returncode != 0:
        print(f"crosscheck does not start with {sys.executable} (use the environment crosscheck is installed in):\n"
              f"{preflight.stdout}{preflight.stderr}", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="fault-probes-"))
    print(f"{len(probes)} probes of {ROOT} in {base}, {args.jobs} at a time", flush=True)
    lock, results, started = threading.Lock(), [], time.monotonic()

    def one(probe):
        t0 = time.monotonic()
        verdict, reason, run = execute(probe, base)
        row = {"name": probe.name, "class": probe.klass, "verdict": verdict, "reason": reason,
               "expect": probe.expect, "seconds": round(time.monotonic() - t0, 1),
               "exits": [r.rc for r in (run.results if run else [])],
               "dir": str(run.tmp) if run else ""}
        with lock:
            results.append(row)
            print(f"{verdict.upper():8} {probe.klass:14} {probe.name:55} {row['seconds']:5.1f}s  {reason[:300]}",
                  flush=True)
        if run and not args.keep:
            shutil.rmtree(run.tmp, ignore_errors=True)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, probes))
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    per_class = defaultdict(Counter)
    for row in results:
        per_class[row["class"]][row["verdict"]] += 1
    print(f"\n{'class':14} " + " ".join(f"{v:>8}" for v in VERDICTS))
    for klass in sorted(per_class):
        print(f"{klass:14} " + " ".join(f"{per_class[klass][v]:8d}" for v in VERDICTS))
    totals = Counter(row["verdict"] for row in results)
    print(f"{'total':14} " + " ".join(f"{totals[v]:8d}" for v in VERDICTS))
    print(f"{len(results)} probes in {time.monotonic() - started:.0f} s; still lose work: {totals['lose']}, "
          f"still confuse: {totals['confuse']}")
    order = {v: i for i, v in enumerate(VERDICTS)}
    results.sort(key=lambda row: (order[row["verdict"]], row["class"], row["name"]))
    Path(args.out).write_text(json.dumps({"root": str(ROOT), "totals": dict(totals),
                                          "per_class": {k: dict(v) for k, v in per_class.items()},
                                          "probes": results}, indent=1))
    print(f"results: {args.out}")
    return 1 if totals["lose"] else 0


if __name__ == "__main__":
    sys.exit(main())
