"""The outcomes of one run (:class:`ReportSession`): it counts every outcome in the summary, keeps
every non-pass outcome in full and writes a replay file for each failure the moment it is added; a
session :meth:`~ReportSession.start`-ed on a report directory also marks it in progress and journals
every outcome (:mod:`.journal`), so nothing is lost if the run dies later. :meth:`ReportSession.write`
then writes ``report.json`` and ``report.html`` (atomically). Every file it writes into the report
directory is first recorded in the directory's manifest (:mod:`.ownership`); a write that fails is
a :class:`~crosscheck.files.ReportWriteError`, after which the final :meth:`~ReportSession.write`
is still tried (what was found may yet fit) but its own failure does not hide the first."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

from ..case import FAILING, PASS, Outcome
from ..files import ReportWriteError, atomic_write_text, writing
from ..replay import case_id, replay_filename, save_case, tensorflow_snippet
from ..report_names import CASES_DIR, HTML_NAME, JSON_NAME, MANIFEST_NAME
from .html_report import render_html
from .json_report import add_parity, add_to_summary, build_document, empty_summary, ok, outcome_to_dict, problems
from .ownership import Manifest
from .report_dir import ReportDir

REPLAYED = FAILING   # statuses that get a replay file


class ReportSession:
    """The outcomes of one run. ``cases_dir`` is where replay files go (None: none are written)."""

    def __init__(self, cases_dir=None):
        self.cases_dir = None if cases_dir is None else Path(cases_dir)
        self.summary = empty_summary()
        self.outcomes: list[dict] = []   # non-pass outcomes, serialised
        self.error_parity: list[dict] = []
        self.require_compared = True
        self.journal = None
        self.owner: ReportDir | None = None   # the report directory this session owns (locked, its manifest)
        self._joined: Manifest | None | bool = None   # the manifest of a report directory it writes cases into, unowned
        self.write_failed = False
        self.tensorflow = None   # what computed the reference (crosscheck.oracle.backend.describe)
        #: why the run fails beyond its outcomes: a process that crashed or did not finish its journal
        #: (crosscheck.report.pytest_journals)
        self.run_problems: list[str] = []

    def start(self, report_dir, replace: bool = False, **meta) -> None:
        """Check and lock ``report_dir`` (ReportDirError if it cannot hold a report or another run
        holds it), clear the previous run's files (``replace``: also files of crosscheck's names
        that no manifest lists), mark it in progress and journal every outcome from now on."""
        self.own(ReportDir.start(report_dir, {**meta, "require_compared": self.require_compared}, replace=replace))

    def own(self, owner: ReportDir) -> None:
        """Write into the report directory ``owner`` (its replay files, journal and reports, each
        recorded in its manifest); :meth:`write` releases it."""
        self.owner, self.journal, self.cases_dir = owner, owner.journal, owner.path / CASES_DIR

    def _record(self, path) -> None:
        """``path`` listed in the manifest of the report directory it goes into: the one this session
        owns, or, for replay files written into a report directory another process owns (a
        pytest-xdist worker's, into its controller's), that directory's manifest if it has one."""
        if self.owner is not None:
            self.owner.record(path)
        elif self.cases_dir is not None and Path(path).parent == self.cases_dir:
            if self._joined is None:
                report_dir = self.cases_dir.parent
                self._joined = Manifest(report_dir, fresh=False) if (report_dir / MANIFEST_NAME).is_file() else False
            if self._joined:
                self._joined.record(path)

    @contextlib.contextmanager
    def _writing(self, path):
        """Writing ``path``: recorded in the manifest first; a failure remembered (see :meth:`write`)."""
        try:
            self._record(path)
            with writing(path):
                yield
        except ReportWriteError:
            self.write_failed = True
            raise

    def _append(self, entry: dict) -> None:
        if self.journal is not None:
            try:
                self.journal.append(entry)
            except ReportWriteError:
                self.write_failed = True
                raise

    def _journal(self, outcome: Outcome, d: dict | None) -> None:
        if self.journal is not None:
            one = empty_summary()
            add_to_summary(one, outcome)
            self._append({"kind": "outcome", "summary": one, "outcome": d})

    def _replay_file(self, outcome: Outcome, check: dict | None = None):
        """The replay file written for a failing ``outcome`` (None for others, or with no report directory)."""
        if outcome.status in REPLAYED and self.cases_dir is not None:
            path = self.cases_dir / replay_filename(outcome)
            with self._writing(path):
                return save_case(path, outcome.case, outcome, check=check)
        return None

    def add(self, outcome: Outcome, check: dict | None = None, test: str | None = None) -> dict:
        """Count ``outcome``; keep it (and write its replay file) unless it passed. Returns its dict.
        ``check``: for ``crosscheck check``, the target, convention and function the case belongs to;
        ``test``: under pytest, the node id of the test that recorded it."""
        add_to_summary(self.summary, outcome)
        replay_file = self._replay_file(outcome, check)
        d = outcome_to_dict(outcome, replay_file, check)
        if test:
            d["test"] = test
        if outcome.status != PASS:
            self.outcomes.append(d)
        self._journal(outcome, d if outcome.status != PASS else None)
        return d

    def add_minimal(self, outcome: Outcome, first: dict, tried: int) -> dict:
        """Keep the shrunk, minimal failing case of an (op, dtype) beside ``first`` (the dict of the
        first failing case): marked ``"minimal": true`` with the first one's shapes, its own replay
        file; not counted again in the summary (it is an extra case, not one of the run's draws)."""
        d = {**outcome_to_dict(outcome, self._replay_file(outcome)), "minimal": True, "first_failing_shapes": first["shapes"],
             "shrink_cases_tried": tried}
        self.outcomes.append(d)
        self._append({"kind": "minimal", "outcome": d})
        return d

    def accept(self, outcome: Outcome, d: dict | None = None) -> None:
        """An outcome counted as failing that its row accepts under a documented convention (a tie
        rule, gradients averaged over the batch; ``crosscheck check``): counted as a pass and in the
        summary's ``passed_with_note`` instead; ``d`` (its dict from :meth:`add`) no longer listed
        and its replay file removed."""
        status, op = outcome.status, outcome.case.op
        delta = {"counts": {status: -1, PASS: 1}, "ops": {op: {status: -1, PASS: 1}}, "passed_with_note": 1}
        self.summary["counts"][status] -= 1
        self.summary["counts"][PASS] += 1
        entry = self.summary["ops"].get(op)
        if entry is not None:
            entry[status] -= 1
            entry[PASS] += 1
        self.summary["passed_with_note"] = self.summary.get("passed_with_note", 0) + 1
        if d is not None:
            self.outcomes = [o for o in self.outcomes if o is not d]
            replay = (d.get("replay") or {}).get("file")
            if replay:
                with contextlib.suppress(OSError):
                    Path(replay).unlink()
        self._append({"kind": "outcome", "summary": delta, "outcome": None})

    def count(self, outcome: Outcome) -> None:
        """Count ``outcome`` in the summary only."""
        add_to_summary(self.summary, outcome)
        self._journal(outcome, None)

    def add_crash(self, where: str, crash: dict) -> None:
        """A TensorFlow crash in work that is not one case (shrinking, an optimizer's networks): a
        problem of the run (crash: how the process died and TensorFlow's last line)."""
        text = f"{where}: {crash.get('how', 'killed')}: {crash.get('line') or 'no message'}"
        self._add_to_list("crashes", text)

    def add_backend_disagreement(self, found: dict, case) -> dict:
        """A case on which TensorFlow's Eigen and oneDNN kernels disagree (crosscheck.backend_differ):
        kept in the summary apart from the code under test's verdict, with a replay file and a
        snippet to run under TF_ENABLE_ONEDNN_OPTS=0 and =1."""
        found = dict(found)
        if self.cases_dir is not None:
            path = self.cases_dir / f"backends-{case.op}-{case.dtype}-{case_id(case)}.json"
            with self._writing(path):
                save_case(path, case)
            found["replay"] = str(path)
            found["snippet"] = tensorflow_snippet(case, path)
        self._add_to_list("backend_disagreements", found)
        return found

    def _add_to_list(self, key: str, item) -> None:
        """``item`` appended to the summary's list ``key``, journaled as a summary of its own."""
        self.summary.setdefault(key, []).append(item)
        if self.journal is not None:
            one = empty_summary()
            one[key] = [item]
            self._append({"kind": "outcome", "summary": one, "outcome": None})

    def add_parity(self, parity) -> dict:
        """Count and keep one error-parity outcome (crosscheck.error_parity)."""
        add_parity(self.summary, parity)
        d = parity.to_dict()
        self.error_parity.append(d)
        self._append({"kind": "parity", "parity": d})
        return d

    @property
    def ok(self) -> bool:
        return not self.run_problems and ok(self.summary, self.require_compared)

    @property
    def problems(self) -> list[str]:
        return self.run_problems + problems(self.summary, self.require_compared)

    def document(self, **meta) -> dict:
        return build_document(self.summary, self.outcomes, error_parity=self.error_parity,
                              require_compared=self.require_compared, **meta)

    def write(self, report_dir, complete: bool = True, more_problems=(), **meta) -> tuple[Path, Path]:
        """Write ``report.json`` and ``report.html`` into ``report_dir``; return their paths; then end
        the journal (``complete``) and release the report directory this session owns.
        ``complete`` False: the run was interrupted (the report says so and cannot pass);
        ``more_problems``: reasons the run fails that the outcomes do not show (a file that does not load).
        ReportWriteError when a file cannot be written, unless an earlier write of this session
        failed (that error is the one on its way up)."""
        report_dir = Path(report_dir)
        doc = self.document(**meta)
        extra = ([] if complete else ["the run was interrupted: the report holds what was found until then"])
        extra += self.run_problems + list(more_problems)
        if not complete:
            doc["interrupted"] = True
        if extra:
            doc["ok"] = False
            doc["problems"] = extra + doc["problems"]
        html_path, json_path = report_dir / HTML_NAME, report_dir / JSON_NAME
        already_failed = self.write_failed or (self.journal is not None and self.journal.failed)
        try:
            with self._writing(html_path):
                atomic_write_text(html_path, render_html(doc))
            with self._writing(json_path):
                atomic_write_text(json_path, json.dumps(doc, indent=1, allow_nan=False))
            if complete:
                self._append({"kind": "end"})
        except ReportWriteError:
            if not already_failed:
                raise
        finally:
            if self.owner is not None:
                self.owner.close()
            elif self.journal is not None:
                self.journal.close()
            self.owner = self.journal = None
        return json_path, html_path
