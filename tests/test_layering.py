"""The pure core never imports the UI: no ``textual`` and no ``tui`` anywhere under core/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FORBIDDEN = ("textual", "tui")


def forbidden_imports(source: str, module: str = "core.x") -> list[str]:
    """The forbidden imports in ``source`` (a module named ``module``), as 'line: name'.

    Catches ``import textual``, ``import tui.app as a``, ``from textual.app import App``,
    relative imports that climb out of ``core`` into ``tui`` (``from ..tui import app``), and
    ``importlib.import_module("textual")`` / ``__import__("tui")`` with a literal name.
    """
    tree = ast.parse(source)
    package = module.split(".")[:-1]
    hits: list[str] = []

    def check(name: str, lineno: int) -> None:
        if name.split(".")[0] in FORBIDDEN:
            hits.append(f"{lineno}: {name}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                check(node.module or "", node.lineno)
            else:
                base = package[: len(package) - (node.level - 1)] if node.level - 1 <= len(package) else []
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # "from .. import tui" at the top: the names are modules
                    for alias in node.names:
                        check(alias.name, node.lineno)
                else:
                    check(".".join(parts), node.lineno)
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                check(node.args[0].value, node.lineno)
    return hits


def core_modules(repo_root: Path) -> list[tuple[str, Path]]:
    out = []
    for path in sorted((repo_root / "core").rglob("*.py")):
        rel = path.relative_to(repo_root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1] + ["__init__"]
        out.append((".".join(parts), path))
    return out


def test_core_never_imports_the_ui(repo_root):
    modules = core_modules(repo_root)
    assert len(modules) >= 5, "found the core package"
    problems = []
    for module, path in modules:
        for hit in forbidden_imports(path.read_text(encoding="utf-8"), module):
            problems.append(f"{path.relative_to(repo_root)}:{hit}")
    assert problems == []


@pytest.mark.parametrize(
    "source, module",
    [
        ("import textual\n", "core.policy"),
        ("import textual.app as app\n", "core.policy"),
        ("from textual.widgets import Static\n", "core.policy"),
        ("import os, tui.cli\n", "core.policy"),
        ("from tui import cli\n", "core.policy"),
        ("def f():\n    from textual import on\n", "core.policy"),  # lazy import inside a function
        ("from ..tui import app\n", "core.policy"),  # climbs out of core
        ("from ...tui.panes import x\n", "core.venues.base"),
        ("from .. import tui\n", "core.policy"),
        ("import importlib\nimportlib.import_module('textual.app')\n", "core.policy"),
        ("__import__('tui')\n", "core.policy"),
    ],
)
def test_checker_catches_ui_imports(source, module):
    assert forbidden_imports(source, module) != []


@pytest.mark.parametrize(
    "source, module",
    [
        ("import os\nfrom dataclasses import dataclass\n", "core.policy"),
        ("from core.model import Side\n", "core.policy"),
        ("from .model import Side\n", "core.policy"),
        ("from . import model\n", "core.policy"),
        ("from ..model import Side\n", "core.venues.base"),
        ("import textualize_other\n", "core.policy"),  # only the exact package names
        ("x = 'import textual'\n", "core.policy"),  # a string is not an import
    ],
)
def test_checker_allows_core_imports(source, module):
    assert forbidden_imports(source, module) == []


def test_checker_reports_line_numbers():
    assert forbidden_imports("import os\n\nfrom textual.app import App\n") == ["3: textual.app"]
