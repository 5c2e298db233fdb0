"""Rules of the code's shape, read from the source with ``ast`` (nothing is imported):

* no import cycle among the modules of npcnn, crosscheck and bench, counting imports inside
  functions (an import of ``a.b.c`` also runs the packages ``a.b`` it passes through);
* an import inside a function only defers a heavy import, and says so: ``# deferred: <reason>``
  on its line;
* no Python file of the repository over 500 lines;
* every test module with a module-scoped fixture runs whole in one xdist worker (conftest.py's
  ``SHARED_STATE_MODULES``), so that the fixture is built once.
"""
from __future__ import annotations

import ast
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("npcnn", "crosscheck", "bench")
MAX_LINES = 500


def _module_files() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _module_files()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every import node that runs (those under ``if TYPE_CHECKING:`` do not), with whether it is
    at module level."""
    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    yield from visit(other, in_function)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function
            yield from visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                          ast.Lambda)))
    yield from visit(tree, False)


def _targets(module: str, node) -> list[str]:
    """The modules of this repository an import node runs."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
            base = package[:len(package) - node.level + 1]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module
        names = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in MODULES else prefix for alias in node.names]
    # the packages an import passes through run too, except those this module is part of (they are
    # running already); a name taken from one of those is a dependency on it
    own_packages = {".".join(module.split(".")[:i]) for i in range(1, len(module.split(".")))}
    found = set()
    for name in names:
        parts = name.split(".")
        passed = [".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in MODULES]
        found.update(p for p in passed[:-1] if p not in own_packages)
        found.update(passed[-1:])
    return sorted(found - {module})


def import_graph() -> dict[str, set[str]]:
    graph = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for node, _ in _imports(ast.parse(path.read_text(), str(path))):
            graph[module].update(_targets(module, node))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))
    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_no_import_cycles():
    graph = import_graph()
    found = cycles(graph)
    detail = "\n".join(f"{m} -> {sorted(graph[m] & set(c))}" for c in found for m in c)
    assert not found, f"import cycles among {found}:\n{detail}"


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_inside_functions_defer_a_heavy_import_and_say_why():
    undeclared = []
    for module, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node, in_function in _imports(ast.parse("\n".join(lines), str(path))):
            if in_function and "# deferred:" not in lines[node.lineno - 1]:
                undeclared.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not undeclared, ("imports inside functions without '# deferred: <reason>' (move them to the top "
                            "of the module unless they defer a heavy import):\n" + "\n".join(undeclared))


def test_no_file_over_500_lines():
    files = [p for p in ROOT.rglob("*.py") if not any(part.startswith(".") or part == "build"
                                                      for part in p.relative_to(ROOT).parts)]
    assert len(files) > 100
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines (split them by job): {long}"


def _shared_state_modules() -> list:
    tree = ast.parse((ROOT / "conftest.py").read_text())
    return next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "SHARED_STATE_MODULES" for t in node.targets))


def _has_module_fixture(path: Path) -> bool:
    """Whether the module passes ``scope="module"`` (or a wider scope) to anything: its fixtures."""
    return any(isinstance(node, ast.keyword) and node.arg == "scope" and isinstance(node.value, ast.Constant)
               and node.value.value in ("module", "package", "session")
               for node in ast.walk(ast.parse(path.read_text())))


def test_every_test_module_with_a_module_fixture_runs_whole_in_one_worker():
    listed = _shared_state_modules()
    assert [m for m in listed if not (ROOT / m).is_file()] == []
    found = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "tests").rglob("test_*.py")) if _has_module_fixture(p)]
    assert found and [m for m in found if m not in listed] == [], "add them to conftest.py's SHARED_STATE_MODULES"
