"""The house: imports point one way, no module imports itself in a circle, modules stay short.

Read from the source with :mod:`ast` (nothing is imported), so a violation is found even in a
module no other test loads. The allowed graph below is the one written in each package's
``__init__`` docstring; change both together.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

ENGINES = {"reelwatch.integrity", "reelwatch.naming", "reelwatch.spec", "reelwatch.timeline", "reelwatch.forecast"}
BELOW_CHECKING = {"reelwatch.core", *ENGINES, "reelwatch.probe", "reelwatch.state", "reelwatch.watch",
                  "reelwatch.notify", "reelwatch.builtin"}
ALLOWED: dict[str, set[str]] = {
    # package -> what it may import besides itself (a package, or one module of it). As written in
    # each package's __init__ docstring.
    "reelwatch.core": set(),  # the standard library, pydantic, pluggy, fileseq; nothing else of reelwatch
    "reelwatch.timeline": {"reelwatch.core.model"},  # the engine: the frozen values only (wired in by checking, service, cli)
    "reelwatch.forecast": {"reelwatch.core.model"},
    "reelwatch.integrity": {"reelwatch.core"},
    "reelwatch.naming": {"reelwatch.core"},
    "reelwatch.spec": {"reelwatch.core"},
    "reelwatch.probe": {"reelwatch.core", "reelwatch.integrity"},  # a checksum list is a sidecar, not media
    "reelwatch.state": {"reelwatch.core", "reelwatch.integrity"},  # hashing a file for the cache
    "reelwatch.watch": {"reelwatch.core", "reelwatch.state"},
    "reelwatch.notify": {"reelwatch.core", "reelwatch.state"},
    "reelwatch.builtin": {"reelwatch.core", "reelwatch.probe", "reelwatch.integrity", "reelwatch.notify"},
    "reelwatch.demo": {"reelwatch.core", "reelwatch.notify"},
    "reelwatch.checking": BELOW_CHECKING,
    "reelwatch.service": BELOW_CHECKING | {"reelwatch.checking"},
    "reelwatch.cli": BELOW_CHECKING | {"reelwatch.checking", "reelwatch.service", "reelwatch.demo", "reelwatch"},
    # the package itself: the plugin author's public names, re-exported from below
    "reelwatch": BELOW_CHECKING,
    # the public plugin API (reelwatch.api): the core and the engines the shipped rules use
    "reelwatch.api": {"reelwatch.core", "reelwatch.integrity", "reelwatch.naming", "reelwatch.spec",
                      "reelwatch.state"},
}

MAX_LINES = 450
LONG_MODULES = {
    # module -> why it may be longer than MAX_LINES for now. Every entry is a debt, not a licence.
    "reelwatch.state.store": "the tables and every query over them; being split with the migrations work (state/)",
}


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (or package)
    line: int
    deferred: bool  # inside a function: runs when called, not when the module loads


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of src/reelwatch: dotted name -> (file, is a package)."""
    out = {}
    for path in sorted((SRC / "reelwatch").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


MODULES = _modules()


def _targets(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    # ``from . import x``: x may be a module of the package or a name in its __init__
    return [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix for a in node.names]


def imports_of(module: str, path: Path, is_pkg: bool) -> list[Import]:
    """Every reelwatch import of a module, marked deferred when it is inside a function.
    Imports under ``if TYPE_CHECKING:`` count as module level: a type cycle is still a cycle for
    whoever reads the code."""
    found: list[Import] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend(Import(module, t, child.lineno, deferred) for t in _targets(module, is_pkg, child)
                             if t == "reelwatch" or t.startswith("reelwatch."))
            visit(child, deferred or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return found


def all_imports() -> list[Import]:
    return [i for mod, (path, is_pkg) in MODULES.items() for i in imports_of(mod, path, is_pkg)]


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def _within(target: str, allowed: str) -> bool:
    return target == allowed or target.startswith(allowed + ".")


def direction_violations(imports: list[Import]) -> list[str]:
    """Imports a package's docstring does not allow; function-level imports count too (they are
    dependencies all the same, only later)."""
    out = []
    for i in imports:
        source, target = package_of(i.source), package_of(i.target)
        if source == target:
            continue
        if not any(_within(i.target, a) for a in ALLOWED[source]):
            out.append(f"{i.source}:{i.line} imports {i.target}{' (in a function)' if i.deferred else ''}")
    return sorted(out)


def cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected groups of modules over module-level imports (Tarjan). Function-level
    imports are left out: they run only once both modules are loaded, and are how an optional or
    heavy dependency (PyAV, the daemon from the command line) is reached on demand; the direction
    rules above still hold for them."""
    graph: dict[str, set[str]] = defaultdict(set)
    for i in imports:
        if not i.deferred and i.target in MODULES and i.target != i.source:
            graph[i.source].add(i.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
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
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(MODULES):
        if v not in index:
            connect(v)
    return sorted(found)


def test_every_package_is_in_the_allowed_graph():
    packages = {package_of(m) for m in MODULES}
    assert packages == set(ALLOWED), "a new package needs its line in ALLOWED and its __init__ docstring"


def test_imports_point_one_way():
    assert direction_violations(all_imports()) == []


def test_nothing_imports_the_command_line_and_only_it_imports_the_service():
    """The command line is the top; the daemon is below only the command line (and the demo, which
    runs it in a child process through the command line)."""
    bad = [f"{i.source}:{i.line} -> {i.target}" for i in all_imports()
           if package_of(i.source) not in ("reelwatch.cli",)
           and (_within(i.target, "reelwatch.cli")
                or (_within(i.target, "reelwatch.service") and package_of(i.source) != "reelwatch.service"))]
    assert bad == []


def test_no_import_cycles_between_modules():
    assert cycles(all_imports()) == []


def test_modules_stay_short():
    long = {m: n for m, (path, _) in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES and m not in LONG_MODULES}
    assert long == {}, f"split these, or list them in LONG_MODULES with a reason: {long}"


def test_the_allowlist_of_long_modules_holds_no_stale_entry():
    short = [m for m in LONG_MODULES
             if m not in MODULES or len(MODULES[m][0].read_text(encoding="utf-8").splitlines()) <= MAX_LINES]
    assert short == [], "no longer long (or gone): remove from LONG_MODULES"


@pytest.mark.parametrize("case", ["upward", "cycle"])
def test_the_checks_can_fail(case):
    """The checks above find what they are for, on made-up imports."""
    if case == "upward":
        assert direction_violations([Import("reelwatch.core.config", "reelwatch.service.metrics", 1, True)])
        assert direction_violations([Import("reelwatch.forecast.space", "reelwatch.core.config", 1, False)])
        assert not direction_violations([Import("reelwatch.forecast.space", "reelwatch.core.model", 1, False)])
    elif case == "cycle":
        a, b = "reelwatch.watch.settle", "reelwatch.checking.pipeline"
        assert cycles([Import(a, b, 1, False), Import(b, a, 1, False)]) == [sorted([a, b])]
        assert cycles([Import(a, b, 1, False), Import(b, a, 1, True)]) == []
