"""Probes of report directories (two runs sharing one, foreign files of crosscheck's names in it,
its files being directories or symlinks, a full disk: RLIMIT_FSIZE makes writes fail with EFBIG)
and of the journals and shard reports ``crosscheck report`` and ``crosscheck merge`` read (a corrupt
middle line, a half line, a shard without its journal, a malformed ``shard`` field, shards run under
other report paths). A read-only directory is not probed: these probes run as root, which writes anyway.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from catalog_impl import run_cmd
from harness import (CONFUSE, FAILING, LOSE, PY, Cmd, Probe, kill_marked, last_line, load_json, python_env,
                     report_findings)

BAD = ('"""relu off by a factor 1.5 (a mismatch on every positive input)."""\nimport time\nimport numpy as np\n'
       'from npcnn.functional import *  # noqa: F401,F403\nfrom npcnn.functional import vjp as _npcnn_vjp\n'
       'DELAY = {delay}\n\ndef relu(features):\n    time.sleep(DELAY)\n    return np.maximum(features, 0) * 1.5\n\n'
       'def vjp(op, *arrays, **params):\n    if op == "relu":\n        x = arrays[0]\n'
       '        return relu(x), lambda dy: (np.where(x > 0, dy, 0),)\n    return _npcnn_vjp(op, *arrays, **params)\n')
IMPLS = {"bad_ops.py": BAD.format(delay=0), "slow_bad_ops.py": BAD.format(delay=0.4)}


def bad_run(report: str = "R", *extra, mod: str = "bad_ops", **kw) -> Cmd:
    cmd = run_cmd(mod, *extra, **kw)
    cmd.argv[cmd.argv.index("R")] = report
    return cmd


# --- report directories -----------------------------------------------------------------------------------
def _intact(rel: str, content: str, named: str = ""):
    def judge(run):
        path = run.tmp / rel
        if not path.is_file() or path.read_text() != content:
            return [(LOSE, f"the user's {rel} was deleted or overwritten")]
        r = run.last()
        if r.rc == 2 and (named or rel.split("/")[-1]) not in r.output:
            return [(CONFUSE, f"refused without naming {rel}: {last_line(r.output)}")]
        if r.rc not in (0, 1, 2):
            return [(CONFUSE, f"exit {r.rc}: {last_line(r.output)}")]
        return []
    return judge


def _refused(word: str, allow_codes=(2,)):
    def judge(run):
        r = run.last()
        if r.timed_out or r.pipe_held:
            return []
        findings = []
        if r.rc == 0:
            findings.append((LOSE, "exit 0 although the report could not be written"))
        elif r.rc not in allow_codes:
            findings.append((CONFUSE, f"exit {r.rc}, expected {list(allow_codes)}: {last_line(r.output)}"))
        if word and word not in r.output:
            findings.append((CONFUSE, f"the message does not name {word!r}: {last_line(r.output)}"))
        return findings
    return judge


def _cases_to_dirs(tmp, run):
    for f in (tmp / "R" / "cases").glob("*.json"):
        f.unlink()
        f.mkdir()


def _mode_0644(run):
    findings = report_findings(run)
    for rel in ("R/report.json", "R/report.html"):
        path = run.tmp / rel
        if path.exists() and (path.stat().st_mode & 0o044) != 0o044:
            findings.append((CONFUSE, f"{rel} is created {oct(path.stat().st_mode & 0o777)}, not 0644"))
    return findings


def _disk_full(run):
    first, again = run.results[0], run.results[1]
    findings = []
    hit = any(w in first.output for w in ("File too large", "Errno 27", "EFBIG", "No space", "write", "disk"))
    if not (first.timed_out or first.pipe_held):
        if first.rc == 0:
            findings.append((LOSE, "exit 0 although writing the report failed"))
        elif first.rc == 1 and not hit:
            findings += report_findings(run, result=first)    # the limit was not reached: a normal run
        elif first.rc not in (2, 4):
            findings.append((CONFUSE, f"exit {first.rc} for a write failure (4: a report file could not be "
                                      f"written): {last_line(first.output)}"))
        if "Traceback" in first.output:
            findings.append((CONFUSE, "a write failure printed a traceback"))
    if again.rc not in (0, 1, 2):
        findings.append((CONFUSE, f"`crosscheck report R` afterwards: exit {again.rc}: {last_line(again.output)}"))
    return findings


def report_dir_probes() -> list:
    probes = []
    user_json = '{"my": "notes from last week"}'
    for rel, content in (("R/report.json", user_json), ("R/report.html", "<p>my slides</p>"),
                         ("R/cases/test_fixture.json", '{"fixture": [1, 2, 3]}'),
                         ("R/journal.jsonl", "my own log line\n"), ("R/notes.txt", "keep me")):
        probes.append(Probe(f"dirs/foreign-{rel.split('/')[-1]}", "report-dirs",
                            "a foreign file of crosscheck's names is never deleted: refused (exit 2 naming it) "
                            "unless told to replace it; unrelated files kept and the run goes on",
                            [bad_run()], _intact(rel, content), {**IMPLS, rel: content}))
    probes.append(Probe("dirs/report-dot-with-user-files", "report-dirs",
                        "--report . keeps the user's own files",
                        [bad_run(".")], _intact("main.py", "print('hello')\n"),
                        {**IMPLS, "main.py": "print('hello')\n"}))
    probes.append(Probe("dirs/two-runs-share-one-directory", "report-dirs",
                        "the second run gets exit 2 naming the first's pid; the first run's report is whole",
                        [_background(bad_run(mod="slow_bad_ops", limit=150)), _sleep(7), bad_run()],
                        _two_runs_bg, IMPLS))
    probes.append(Probe("dirs/own-previous-run-replaced", "report-dirs",
                        "a second run replaces the first's files (its own) without complaint",
                        [bad_run(), bad_run()], lambda run: report_findings(run), IMPLS))
    for rel in ("report.json", "journal.jsonl", "report.html", "cases"):
        probes.append(Probe(f"dirs/{rel}-is-a-directory" if rel != "cases" else "dirs/cases-is-a-file",
                            "report-dirs", "exit 2 (or a distinct write-failure status) naming the path, no traceback",
                            [lambda tmp, run, rel=rel: _make_blocker(tmp / "R" / rel), bad_run()],
                            _refused(rel, (2, 4)), IMPLS))
    probes.append(Probe("dirs/replay-files-are-directories", "report-dirs",
                        "a second run whose replay file names are directories: one line naming it, no traceback",
                        [bad_run(), _cases_to_dirs, bad_run()], _refused("cases", (2, 4)), IMPLS))
    probes.append(Probe("dirs/report-is-a-file", "report-dirs", "exit 2 naming R",
                        [bad_run()], _refused("R"), {**IMPLS, "R": "a file"}))
    probes.append(Probe("dirs/report-parent-is-a-file", "report-dirs", "exit 2 naming the path",
                        [bad_run("F/R")], _refused("F"), {**IMPLS, "F": "a file"}))
    probes.append(Probe("dirs/report-json-symlink-to-user-file", "report-dirs",
                        "a symlink planted as report.json never gets the user's file overwritten",
                        [lambda tmp, run: (tmp / "R").mkdir() or (tmp / "R" / "report.json").symlink_to(
                            tmp / "thesis.txt"), bad_run()], _intact("thesis.txt", "chapter 1", "report.json"),
                        {**IMPLS, "thesis.txt": "chapter 1"}))
    probes.append(Probe("dirs/journal-symlink-to-dev-full", "report-dirs",
                        "a journal that cannot be written (ENOSPC): one clear line, a distinct exit status",
                        [lambda tmp, run: (tmp / "R").mkdir() or (tmp / "R" / "journal.jsonl").symlink_to(
                            "/dev/full"), bad_run()], _refused("journal", (2, 4)), IMPLS))
    replace = bad_run()
    replace.argv.append("--replace-report")
    probes.append(Probe("dirs/replace-report-given", "report-dirs",
                        "with --replace-report, a foreign report.json is replaced and the run goes on",
                        [replace], lambda run: report_findings(run), {**IMPLS, "R/report.json": user_json}))
    probes.append(Probe("dirs/stale-lock-of-a-dead-process", "report-dirs",
                        "a lock file left by a process that died locks nothing: the run goes on",
                        [bad_run()], lambda run: report_findings(run),
                        {**IMPLS, "R/.crosscheck-lock": "pid 999999 crosscheck run (killed)\n"}))
    probes.append(Probe("dirs/report-files-mode-0644", "report-dirs", "report.json and report.html are 0644",
                        [bad_run()], _mode_0644, IMPLS))
    for size in (3000, 8000, 20000, 50000):
        first = bad_run()
        first.fsize = size
        probes.append(Probe(f"dirs/disk-full-after-{size // 1000}kB", "report-dirs",
                            "a write that fails (disk full) is one clear line and a distinct exit status; "
                            "`crosscheck report` afterwards reads a consistent journal",
                            [first, Cmd([PY, "-m", "crosscheck", "report", "R"], limit=60)], _disk_full, IMPLS))
    return probes


def _make_blocker(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name == "cases":
        path.write_text("not a directory")
    else:
        path.mkdir()


def _background(cmd: Cmd) -> Cmd:
    cmd.background = True
    return cmd


def _sleep(seconds: float):
    return lambda tmp, run: time.sleep(seconds)


def _two_runs_bg(run):
    a, b = run.results
    findings = []
    if b.rc != 2:
        findings.append((LOSE, f"a second run into the same directory was not refused (exit {b.rc})"))
    elif "pid" not in b.output.lower() and str(a.pid) not in b.output:
        findings.append((CONFUSE, f"refused without naming the holder: {last_line(b.output)}"))
    findings += report_findings(run, result=a)
    return findings


# --- journals: crosscheck report ---------------------------------------------------------------------------
def killed_run(jobs: int = 2, min_failing: int = 3):
    """Start a failing run, SIGKILL it (and everything it started) once its shards' journals hold
    ``min_failing`` failing outcomes: what a power cut leaves."""
    def step(tmp, run):
        argv = [PY, "-m", "crosscheck", "run", "--impl", "slow_bad_ops", "--ops", "relu", "sigmoid",
                "--examples", "8", "--report", "R", "-j", str(jobs), "--shrink-time", "1", "-q"]
        proc = subprocess.Popen(argv, cwd=tmp, env=python_env(tmp, run.token, {}), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if sum(failing_lines(j) for j in (tmp / "R").rglob("journal.jsonl")) >= min_failing:
                break
            time.sleep(0.3)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        kill_marked(run.token)
        proc.wait()
    return step


def failing_lines(journal: Path) -> int:
    count = 0
    try:
        lines = journal.read_bytes().split(b"\n")
    except OSError:
        return 0
    for line in lines:
        try:
            doc = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(doc, dict) and doc.get("kind") == "outcome" and isinstance(doc.get("outcome"), dict) \
                and doc["outcome"].get("status") in FAILING:
            count += 1
    return count


def remember_expected(tmp, run):
    run.expected = sum(failing_lines(j) for j in (tmp / "R").rglob("journal.jsonl"))


def _rebuilt(min_rc=(1,), finished=False):
    def judge(run):
        r = run.last()
        findings = []
        if r.timed_out or r.pipe_held:
            return findings
        doc = load_json(run.tmp / "R" / "report.json")
        if doc is None or doc.get("in_progress"):
            return [(LOSE, f"no rebuilt report (exit {r.rc}): {last_line(r.output)}")]
        counts = (doc.get("summary") or {}).get("counts") or {}
        kept = sum(v for k, v in counts.items() if k in FAILING and isinstance(v, int))
        expected = getattr(run, "expected", 0)
        if kept < expected:
            findings.append((LOSE, f"{kept} failing outcomes rebuilt of {expected} whole journal lines"))
        if doc.get("ok") or r.rc == 0:
            findings.append((LOSE, "the rebuilt report says ok / exit 0"))
        if r.rc not in min_rc:
            findings.append((CONFUSE, f"exit {r.rc}: {last_line(r.output)}"))
        if finished and doc.get("interrupted"):
            findings.append((CONFUSE, "a finished run is called interrupted"))
        return findings
    return judge


def _mutate(fn, which: str = "shard1"):
    def step(tmp, run):
        journals = sorted((tmp / "R").rglob("journal.jsonl"))
        journal = next((j for j in journals if which in str(j)), journals[0] if journals else None)
        if journal is not None:
            fn(journal)
        remember_expected(tmp, run)
    return step


def _lines_op(edit):
    def fn(journal: Path):
        lines = journal.read_bytes().split(b"\n")
        journal.write_bytes(b"\n".join(edit(lines)))
    return fn


def _replace_middle(new: bytes):
    def edit(lines):
        middle = len(lines) // 2
        lines[middle] = new
        return lines
    return _lines_op(edit)


def _insert_middle(new: bytes):
    def edit(lines):
        middle = len(lines) // 2
        return lines[:middle] + [new] + lines[middle:]
    return _lines_op(edit)


JOURNAL_EDITS = {
    "untouched": lambda j: None,
    "corrupt-middle-line": _replace_middle(b'{"kind": "outcome", "summ'),
    "garbage-inserted": _insert_middle(b"\x00\x00\x00garbage"),
    "half-last-line": lambda j: j.write_bytes(j.read_bytes() + b'{"kind": "outcome", "summary": {"op": "re'),
    "non-utf8-line": _insert_middle(b'{"kind": "outcome", "outcome": "\xff\xfe\xc3"}'),
    "nan-literal-line": _insert_middle(b'{"kind": "outcome", "summary": NaN, "outcome": null}'),
    "unknown-kind-line": _insert_middle(b'{"kind": "zzz", "x": 1}'),
    "outcome-is-a-string": _insert_middle(b'{"kind": "outcome", "summary": {}, "outcome": "mismatch"}'),
    "deeply-nested-line": _insert_middle(b'{"kind": "outcome", "outcome": ' + b"[" * 100000 + b"]" * 100000 + b"}"),
    "huge-int-line": _insert_middle(b'{"kind": "outcome", "summary": {"op": "relu", "pass": 1' + b"0" * 5000
                                    + b'}, "outcome": null}'),
    "meta-line-removed": _lines_op(lambda lines: lines[1:]),
    "escape-codes-in-command": _lines_op(lambda lines: [lines[0].replace(b'"command": "', b'"command": "\\u001b]0;'
                                                                       b'owned\\u0007\\u001b[2J')] + lines[1:]),
    "empty-journal": lambda j: j.write_bytes(b""),
    "shard-journal-missing": lambda j: j.unlink(),
    "shard-journal-is-a-directory": lambda j: (j.unlink(), j.mkdir()),
    "shard-directory-missing": lambda j: shutil.rmtree(j.parent),
}


def journal_probes() -> list:
    probes = []
    for name, edit in JOURNAL_EDITS.items():
        probes.append(Probe(f"journal/{name}", "journals",
                            "`crosscheck report` keeps every whole journal line of every shard (a corrupt one "
                            "skipped and counted), exit 1 for the failing, interrupted run, no traceback",
                            [killed_run(), _mutate(edit), Cmd([PY, "-m", "crosscheck", "report", "R"], limit=60)],
                            _rebuilt(), IMPLS))
    check_file = ("import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"
                  "def relu_backward(dout, cache):\n    return dout * (cache > 0) * 2\n")
    check = Cmd([PY, "-m", "crosscheck", "check", "layers.py", "--examples", "4", "--report", "R", "-q"], limit=90)
    for name, edit in (("finished-check-corrupt-middle-line", JOURNAL_EDITS["corrupt-middle-line"]),
                       ("finished-check-half-last-line", JOURNAL_EDITS["half-last-line"])):
        probes.append(Probe(f"journal/{name}", "journals",
                            "a finished run's journal with a bad line: every other outcome kept, not 'interrupted'",
                            [check, _mutate(edit, "R"), Cmd([PY, "-m", "crosscheck", "report", "R"], limit=60)],
                            _rebuilt(finished=True), {"layers.py": check_file}))
    probes.append(Probe("journal/report-of-missing-directory", "journals", "exit 2 naming the directory",
                        [Cmd([PY, "-m", "crosscheck", "report", "nowhere"], limit=60)], _refused("nowhere")))
    probes.append(Probe("journal/report-of-empty-directory", "journals", "exit 2 saying there is no journal",
                        [lambda tmp, run: (tmp / "E").mkdir(), Cmd([PY, "-m", "crosscheck", "report", "E"], limit=60)],
                        _refused("journal")))
    return probes


# --- shard reports: crosscheck merge ----------------------------------------------------------------------
def shard_runs(dirs=("s1", "s2")) -> list:
    return [bad_run(d, "--shard", f"{i}/2", limit=120) for i, d in enumerate(dirs, 1)]


def _merged(run):
    findings = report_findings(run, report="M")
    doc = load_json(run.tmp / "M" / "report.json") or {}
    for outcome in doc.get("outcomes") or []:
        replay = (outcome.get("replay") or {}).get("file") or ""
        if replay and not (run.tmp / replay).resolve().is_relative_to((run.tmp / "M").resolve()):
            findings.append((LOSE, f"merged report references {replay}, outside the merged report's cases/"))
            break
    return findings


def _merged_or_refused(word: str):
    """Merged from the journals (which hold everything) or refused with exit 2 naming ``word``."""
    def judge(run):
        return _merged(run) if run.last().rc == 1 else _refused(word)(run)
    return judge


def _edit_shard(field, value, shard="s1"):
    def step(tmp, run):
        path = tmp / shard / "report.json"
        doc = json.loads(path.read_text())
        doc[field] = value
        path.write_text(json.dumps(doc))
        journal = tmp / shard / "journal.jsonl"
        lines = journal.read_text().split("\n")
        meta = json.loads(lines[0])
        meta[field] = value
        journal.write_text("\n".join([json.dumps(meta)] + lines[1:]))
    return step


def _move_shards(tmp, run):
    for i in (1, 2):
        shutil.move(str(tmp / "machine" / f"s{i}"), str(tmp / f"s{i}"))


MERGE = Cmd([PY, "-m", "crosscheck", "merge", "s1", "s2", "--report", "M"], limit=60)


def merge_probes() -> list:
    probes = [Probe("merge/baseline", "journals", "merged report: every replay reference exists under M/cases",
                    shard_runs() + [MERGE], _merged, IMPLS),
              Probe("merge/shards-run-under-other-paths", "journals",
                    "shards written elsewhere (other machines) and copied here: the merged report references "
                    "its own cases/", shard_runs(("machine/s1", "machine/s2")) + [_move_shards, MERGE], _merged,
                    IMPLS)]
    for label, value in (("string", "x"), ("3-of-2", "3/2"), ("int", 5), ("divide-by-zero", "1/0"),
                         ("nested", {"k": [1, 2]})):
        probes.append(Probe(f"merge/shard-field-{label}", "journals", "exit 2 naming the shard field",
                            shard_runs() + [_edit_shard("shard", value), MERGE], _refused("shard"), IMPLS))
    probes.append(Probe("merge/missing-shard", "journals", "exit 2 saying shard 2 of 2 is missing",
                        shard_runs()[:1] + [Cmd([PY, "-m", "crosscheck", "merge", "s1", "--report", "M"], limit=60)],
                        _refused("shard"), IMPLS))
    probes.append(Probe("merge/shard-report-json-is-a-directory", "journals", "exit 2 naming the file",
                        shard_runs() + [lambda tmp, run: ((tmp / "s1" / "report.json").unlink(),
                                                          (tmp / "s1" / "report.json").mkdir()), MERGE],
                        _merged_or_refused("report.json"), IMPLS))
    return probes


def probes() -> list:
    return report_dir_probes() + journal_probes() + merge_probes()
