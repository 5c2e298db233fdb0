"""The outcomes of one run (:class:`ReportSession`): it counts every outcome in the summary, keeps
every non-pass outcome in full and writes a replay file for each failure the moment it is added; a
session :meth:`~ReportSession.start`-ed on a report directory also marks it in progress and journals
every outcome (:mod:`.journal`), so nothing is lost if the run dies later. :meth:`ReportSession.write`
then writes ``report.json`` and ``report.html`` (atomically)."""
from __future__ import annotations

from pathlib import Path

from ..case import FAILING, PASS, Outcome
from ..replay import case_id, replay_filename, save_case, tensorflow_snippet
from ..report_names import CASES_DIR, HTML_NAME, JSON_NAME
from .html_report import write_html
from .json_report import (add_parity, add_to_summary, build_document, empty_summary, ok,
                          outcome_to_dict, problems, write_json)
from .report_dir import open_report_dir

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
        self.tensorflow = None   # what computed the reference (crosscheck.oracle.backend.describe)
        #: why the run fails beyond its outcomes: a process that crashed or did not finish its journal
        #: (crosscheck.report.pytest_journals)
        self.run_problems: list[str] = []

    def start(self, report_dir, **meta) -> None:
        """Check ``report_dir`` (ReportDirError if it cannot hold a report), clear the previous run's
        files, mark it in progress and journal every outcome from now on."""
        self.cases_dir = Path(report_dir) / CASES_DIR
        self.journal = open_report_dir(report_dir, {**meta, "require_compared": self.require_compared})

    def _journal(self, outcome: Outcome, d: dict | None) -> None:
        if self.journal is not None:
            one = empty_summary()
            add_to_summary(one, outcome)
            self.journal.append({"kind": "outcome", "summary": one, "outcome": d})

    def clear_cases(self) -> None:
        """Remove replay files left in ``cases_dir`` by an earlier run, so the directory holds
        exactly this run's cases."""
        if self.cases_dir is not None and self.cases_dir.is_dir():
            for old in self.cases_dir.glob("*.json"):
                old.unlink()

    def _replay_file(self, outcome: Outcome, check: dict | None = None):
        """The replay file written for a failing ``outcome`` (None for others, or with no report directory)."""
        if outcome.status in REPLAYED and self.cases_dir is not None:
            return save_case(self.cases_dir / replay_filename(outcome), outcome.case, outcome, check=check)
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
        if self.journal is not None:
            self.journal.append({"kind": "minimal", "outcome": d})
        return d

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
            path = save_case(self.cases_dir / f"backends-{case.op}-{case.dtype}-{case_id(case)}.json", case)
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
            self.journal.append({"kind": "outcome", "summary": one, "outcome": None})

    def add_parity(self, parity) -> dict:
        """Count and keep one error-parity outcome (crosscheck.error_parity)."""
        add_parity(self.summary, parity)
        d = parity.to_dict()
        self.error_parity.append(d)
        if self.journal is not None:
            self.journal.append({"kind": "parity", "parity": d})
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
        """Write ``report.json`` and ``report.html`` into ``report_dir``; return their paths.
        ``complete`` False: the run was interrupted (the report says so and cannot pass);
        ``more_problems``: reasons the run fails that the outcomes do not show (a file that does not load)."""
        report_dir = Path(report_dir)
        doc = self.document(**meta)
        extra = ([] if complete else ["the run was interrupted: the report holds what was found until then"])
        extra += self.run_problems + list(more_problems)
        if not complete:
            doc["interrupted"] = True
        if extra:
            doc["ok"] = False
            doc["problems"] = extra + doc["problems"]
        paths = write_html(doc, report_dir / HTML_NAME), write_json(doc, report_dir / JSON_NAME)
        if self.journal is not None:
            if complete:
                self.journal.append({"kind": "end"})
            self.journal.close()
        return paths[1], paths[0]
