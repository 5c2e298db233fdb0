"""Regenerate docs/bug-gallery.md from the bugs in cs231n_bugs.py, pasting the real output of
`crosscheck check` for each: python tests/crosscheck/cs231n_gallery.py (from the repository root)."""
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from cs231n_bugs import BUGS, write_bug  # noqa: E402

HEADER = """# Bug gallery: from-scratch CNN bugs and what crosscheck says about them

Each bug below is one small change to a correct CS231n-convention implementation
(`tests/crosscheck/cs231n_reference.py`); `tests/crosscheck/cs231n_bugs.py` holds the changes and
`tests/crosscheck/test_gallery.py` checks that each is caught with the diagnosis listed here. The
reports are the real output of `crosscheck check layers.py --functions <function> --examples 6`
(regenerate with `python tests/crosscheck/cs231n_gallery.py`). Labels are explained in
[diagnosis.md](diagnosis.md); "arbiter" lines are the finite-difference verdict. More realistic
student files (each named bug, tie rules, year conventions, layer classes, the deeplearning.ai
assignment) are in `tests/crosscheck/student_files/`, with the verdicts their `manifest.py` expects.

"""


def main() -> None:
    parts = [HEADER]
    with tempfile.TemporaryDirectory() as tmp:
        for n, bug in enumerate(BUGS, 1):
            path = write_bug(bug, tmp)
            run = subprocess.run([sys.executable, "-m", "crosscheck", "check", str(path), "--functions",
                                  bug.function, "--examples", "6"], capture_output=True, text=True)
            out = run.stdout.replace(str(path), "layers.py").replace(tmp, ".")
            diag = ", ".join(f"`{label}`" for label in bug.labels) or (
                "a note: " + "; ".join(bug.notes) if bug.notes else "none of the hypotheses (`unexplained`)")
            parts.append(f"## {n}. {bug.title}\n\nFunction: `{bug.function}`. Verdict: {bug.verdict}. "
                         f"Likely cause: {diag}.\n\nThe change:\n\n```diff\n"
                         + "".join(f"- {line}\n" for line in bug.old.strip("\n").splitlines())
                         + "".join(f"+ {line}\n" for line in bug.new.strip("\n").splitlines())
                         + f"```\n\n`crosscheck check` (exit status {run.returncode}):\n\n```text\n"
                         + out.rstrip() + "\n```\n\n")
    Path("docs/bug-gallery.md").write_text("".join(parts))


if __name__ == "__main__":
    main()
