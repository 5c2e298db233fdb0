"""README.md and docs/*.md speak to users: a short README, no work history, and only commands and
options that exist. No TensorFlow import: the command line's parser is built, nothing is run."""
import argparse
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))

#: references to TensorFlow's own issue tracker ("TF #48773, #111453"), which are facts for users
TF_ISSUES = re.compile(r"TF #\d+(?:,\s*#\d+)*|github\.com/tensorflow/tensorflow/(?:issues|pull)/\d+")
#: the project's own history: "issue 13", "issues 6 and 13", "#42"
HISTORY = re.compile(r"\bissues?\s+#?\d+|(?<![\w&#])#\d+\b", re.IGNORECASE)


def crosscheck_parser() -> argparse.ArgumentParser:
    """The ``crosscheck`` command's parser, from ``crosscheck/cli.py`` or a ``crosscheck/cli/``
    package (its ``__init__`` or its ``parser`` module)."""
    for module_name in ("crosscheck.cli", "crosscheck.cli.parser"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        for name in ("_parser", "parser", "build_parser", "make_parser"):
            build = getattr(module, name, None)
            if callable(build):
                parser = build()
                if isinstance(parser, argparse.ArgumentParser):
                    return parser
    raise AssertionError("no argparse parser in crosscheck.cli or crosscheck.cli.parser")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


def code_of(markdown: str) -> list[str]:
    """The lines of fenced code blocks and the inline code spans."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, re.S | re.M)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.S | re.M)
    spans = re.findall(r"`([^`\n]+)`", prose.replace("\n", " "))
    return [line for block in blocks for line in block.splitlines()] + spans


def crosscheck_commands(markdown: str) -> list[tuple[str, list[str]]]:
    """``(subcommand, its option tokens)`` of every ``crosscheck <subcommand> ...`` in the code of ``markdown``
    (at the start of a line or span, after ``$ ``, ``; ``, ``&& `` or ``do ``)."""
    found = []
    for code in code_of(markdown):
        for m in re.finditer(r"(?:^|\$\s+|[;&|]\s*|\bdo\s+)crosscheck\s+([a-z][\w-]*)([^;&|#]*)", code.strip()):
            options = [t.split("=")[0] for t in m.group(2).split() if re.fullmatch(r"--?[a-zA-Z][\w-]*(=.*)?", t)]
            found.append((m.group(1), options))
    return found


def test_readme_is_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_no_work_history_by_issue_number(path):
    text = TF_ISSUES.sub("", path.read_text())
    assert [m.group(0) for m in HISTORY.finditer(text)] == []


def test_the_history_pattern_tells_the_projects_issues_from_tensorflows():
    assert HISTORY.search(TF_ISSUES.sub("", "what misses issue 13's targets"))
    assert HISTORY.search(TF_ISSUES.sub("", "fixed in #42"))
    assert not HISTORY.search(TF_ISSUES.sub("", "TF #112555, #111453 | ## 1. conv | &#8212;"))


def test_every_crosscheck_command_and_option_in_the_readme_exists():
    commands = subcommands(crosscheck_parser())
    found = crosscheck_commands(README.read_text())
    assert {"run", "check"} <= {name for name, _ in found}, "the README's commands were not found"
    for name, options in found:
        assert name in commands, f"`crosscheck {name}` is not a subcommand"
        if name != "train-digits":   # its options belong to npcnn's example script
            assert set(options) <= option_strings(commands[name]), (name, options)


def test_every_option_the_readme_names_exists():
    """Every ``--option`` anywhere in README.md is one of crosscheck's, ``python -m bench``'s (with
    ``--mutation``'s), or the pytest plugin's ``--crosscheck-report``."""
    import bench.__main__ as bench_main
    import bench.mutation
    known = set().union(*(option_strings(p) for p in subcommands(crosscheck_parser()).values()))
    known |= option_strings(bench_main.parser()) | option_strings(bench.mutation.parser())
    if '"--mutation"' in Path(bench_main.__file__).read_text():
        known.add("--mutation")
    if 'addoption("--crosscheck-report"' in (ROOT / "crosscheck" / "pytest_plugin.py").read_text():
        known.add("--crosscheck-report")
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", README.read_text()))
    assert named - known == set()


def test_the_command_finder_reads_code_only():
    text = ("crosscheck shares no code\n```bash\nfor k in 1 2; do crosscheck run --shard $k/2 & done\n"
            "crosscheck merge a b --report=c\n```\nthen `crosscheck check f.py --ties tf` and `$ crosscheck ops`\n")
    assert crosscheck_commands(text) == [("run", ["--shard"]), ("merge", ["--report"]),
                                         ("check", ["--ties"]), ("ops", [])]


def test_the_performance_doc_exists_and_names_the_command_that_wrote_it():
    doc = (ROOT / "docs" / "performance.md").read_text()
    assert re.search(r"Written by `python -m bench[^`]*` on \d{4}-\d{2}-\d{2}", doc)
