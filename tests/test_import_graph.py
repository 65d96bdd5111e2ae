"""The import graph of core/ and tui/: no cycle, and no module imports a floor above its own.

The graph is static (``ast``): every ``import`` / ``from ... import`` anywhere in a module,
inside functions too, plus ``importlib.import_module("literal")``. Imports under
``if TYPE_CHECKING:`` are left out: they never run (a screen may name the app in a type).

The floors below are the architecture, bottom first: a module may import its own floor and
the floors under it. A new module has to be placed here (the test says which one is not).
Known violations that are another branch's to fix are listed, with the reason, in
``KNOWN_UPWARD`` / ``KNOWN_CYCLES``; the test fails as soon as one is fixed, so the list
never goes stale.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

# A name covers that module only; "pkg.*" covers the package and everything in it.
# Names of modules that do not exist yet are the issue-12 layout (shared/DESIGN.md), placed in
# advance so the branches building them merge green.
FLOORS: tuple[tuple[str, str], ...] = (
    # floor                       modules
    ("foundations",               "core core.values core.figures core.clock core.errors core.bulk core.eager core.handoff "
                                  "core.venues core.venues.bybit_codes core.venues.bybit_settings core.single_instance"),
    ("model",                     "core.model core.instruments core.events core.outcome core.state core.costs "
                                  "core.execution_choice core.recorder "
                                  "core.record_lines core.config.*"),
    ("decision parts",            "core.account core.trend core.fills core.risk core.execution core.policy "
                                  "core.orders core.holds core.bookkeeper core.desk core.operator core.trader_commands core.stats "
                                  "core.view core.whatif"),
    ("rebalancer",                "core.rebalancer"),
    ("exchange side",             "core.venues.base core.venues.market.* core.venues.paper_exchange.* "
                                  "core.venues.grid core.venues.bybit_parse core.venues.bybit_rate core.venues.bybit_fair "
                                  "core.venues.bybit_ws core.venues.bybit_rest core.venues.bybit_reconcile "
                                  "core.venues.bybit_streams core.venues.bybit_stall core.venues.bybit_hosts core.venues.paper_setup"),
    # the engine drives any venue through the protocol (base); an adapter never reaches up to it
    ("venue adapters",            "core.venues.paper core.venues.bybit core.venues.bybit_reads core.venues.bybit_orders "
                                  "core.venues.bybit_hub"),
    ("record, engine",            "core.journal.* core.alerts.* core.report core.report_symbols core.report_series core.recovery core.journal_watch "
                                  "core.engine"),
    ("session",                   "core.session"),
    ("several symbols",           "core.portfolio"),
    # replay and the preflight are entries, like the cockpit: they build through the session
    ("replay, preflight",         "core.replay.* core.preflight core.sweep.* core.threshold_units"),
    ("cockpit basics",            "tui tui.theme tui.fmt tui.braille tui.html_page tui.report_charts tui.report_html "
                                  "tui.progress tui.sweep_chart tui.sweep_html"),
    ("cockpit panes",             "tui.panes.*"),
    ("cockpit screens",           "tui.screens.* tui.commands"),
    ("cockpit app",               "tui.app tui.screenshot"),
    ("entry points",              "tui.logfile tui.run tui.cli tui.sweep_cli tui.output_paths"),
)

KNOWN_UPWARD: dict[tuple[str, str], str] = {}

KNOWN_CYCLES: dict[frozenset[str], str] = {}

PACKAGES = ("core", "tui")


def module_name(repo_root: Path, path: Path) -> str:
    parts = list(path.relative_to(repo_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imported_names(source: str, module: str, package: bool = False) -> list[tuple[str, int]]:
    """(dotted name, line) for each import in ``source``, relative imports resolved.
    ``from a.b import c`` gives ``a.b.c``: a module, or a name the caller traces to ``a.b``."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for inner in node.body:
                skip.update(id(n) for n in ast.walk(inner))
    here = module.split(".") if package else module.split(".")[:-1]
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level - 1 <= len(here) else []
                parent = ".".join(base + ([node.module] if node.module else []))
            else:
                parent = node.module or ""
            out += [(f"{parent}.{a.name}" if parent else a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                out.append((node.args[0].value, node.lineno))
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def build_graph(repo_root: Path) -> dict[str, dict[str, int]]:
    """module -> {imported project module: first line}, for every module of core/ and tui/."""
    paths = {module_name(repo_root, p): p for pkg in PACKAGES for p in sorted((repo_root / pkg).rglob("*.py"))}
    graph: dict[str, dict[str, int]] = {}
    for module, path in paths.items():
        edges: dict[str, int] = {}
        for name, line in imported_names(path.read_text(encoding="utf-8"), module, is_package(path)):
            target = name
            while target and target not in paths:  # a name inside a module -> that module
                target = target.rpartition(".")[0]
            if target and target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def floor_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (specificity, floor)
    for i, (_, names) in enumerate(FLOORS):
        for entry in names.split():
            if entry.endswith(".*"):
                pkg = entry[:-2]
                if module == pkg or module.startswith(pkg + "."):
                    cand = (len(pkg), i)
                else:
                    continue
            elif module == entry:
                cand = (len(entry) + 1, i)
            else:
                continue
            if best is None or cand > best:
                best = cand
    return None if best is None else best[1]


def upward_imports(graph: dict[str, dict[str, int]]) -> dict[tuple[str, str], str]:
    out = {}
    for module, edges in graph.items():
        mine = floor_of(module)
        for target, line in edges.items():
            theirs = floor_of(target)
            if mine is not None and theirs is not None and theirs > mine:
                out[(module, target)] = (f"{module} (floor '{FLOORS[mine][0]}') imports {target} "
                                         f"(floor '{FLOORS[theirs][0]}') at line {line}")
    return out


def cycles(graph: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[frozenset[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.add(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    found.append(frozenset(comp))
    return found


@pytest.fixture(scope="module")
def graph(repo_root) -> dict[str, dict[str, int]]:
    g = build_graph(repo_root)
    assert "core.rebalancer" in g and "tui.app" in g, "found the packages"
    return g


def test_every_module_has_a_floor(graph):
    unplaced = sorted(m for m in graph if floor_of(m) is None)
    assert unplaced == [], f"place these modules in FLOORS (tests/test_import_graph.py): {unplaced}"


def test_no_module_imports_a_floor_above_its_own(graph):
    found = upward_imports(graph)
    new = [text for key, text in sorted(found.items()) if key not in KNOWN_UPWARD]
    stale = sorted(key for key in KNOWN_UPWARD if key not in found)
    assert new == [], "upward imports:\n" + "\n".join(new)
    assert stale == [], f"fixed, so remove from KNOWN_UPWARD: {stale}"


def test_no_import_cycle(graph):
    found = cycles(graph)
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    stale = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert new == [], f"import cycles: {new}"
    assert stale == [], f"fixed, so remove from KNOWN_CYCLES: {stale}"


# ------------------------------------------------------------------ the checker itself


def test_checker_sees_function_level_and_relative_imports():
    src = "def f():\n    from core.engine import Engine\nfrom . import model\nfrom ..events import Tick\n"
    names = {n for n, _ in imported_names(src, "core.venues.x")}
    assert names == {"core.engine.Engine", "core.venues.model", "core.events.Tick"}


def test_checker_skips_type_checking_imports():
    src = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tui.app import CockpitApp\n"
    assert all(not n.startswith("tui.app") for n, _ in imported_names(src, "tui.screens.main"))


def test_checker_finds_an_upward_import_and_a_cycle():
    g = {"core.model": {"core.rebalancer": 1}, "core.rebalancer": {"core.model": 3}}
    assert list(upward_imports(g)) == [("core.model", "core.rebalancer")]
    assert cycles(g) == [frozenset({"core.model", "core.rebalancer"})]
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {}}) == []


def test_floors_place_packages_by_their_most_specific_entry():
    assert FLOORS[floor_of("core.venues.market.tapes")][0] == "exchange side"
    assert FLOORS[floor_of("core.journal.schema")][0] == "record, engine"
    assert FLOORS[floor_of("core.venues")][0] == "foundations"
    assert floor_of("core.something_new") is None
