"""The UI does no trading logic: it imports nothing from core but the shared types.

Every module under tui/ (except cli.py, run.py and sweep_cli.py, the entry points that build the
real engine or run replays) may import from ``core`` only ``core.state``, ``core.model`` and
``core.outcome`` (what a command did, toasted as the engine said it), plus what ``report``'s and
``sweep``'s charts draw: the report's time series (``core.report_series``), the sweep's axes and
figures (``core.sweep.frontier``) and people's number formats (``core.figures``). A pane that
reached for ``core.policy`` or ``core.risk`` to compute something itself fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TUI = Path(__file__).resolve().parents[2] / "tui"
ENTRY_POINTS = {"cli.py", "run.py", "logfile.py", "sweep_cli.py"}  # build the real engine (and its log), run
                                                                 # replays; not the rendering UI
ALLOWED_CORE = {"core.state", "core.model", "core.outcome", "core.report_series", "core.figures", "core.sweep.frontier"}


def _ui_modules() -> list[Path]:
    return sorted(p for p in TUI.rglob("*.py") if p.name not in ENTRY_POINTS or p.parent != TUI)


def _core_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name == "core" or a.name.startswith("core."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "core":
                found.update(f"core.{a.name}" for a in node.names)
            elif node.module.startswith("core."):
                found.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module", "__import__"
        ):
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("core"):
                    found.add(arg.value)
    return found


def test_there_are_ui_modules_to_check():
    names = {p.relative_to(TUI).as_posix() for p in _ui_modules()}
    assert {"app.py", "panes/delta.py", "panes/orders.py", "screens/main.py"} <= names


@pytest.mark.parametrize("path", _ui_modules(), ids=lambda p: p.relative_to(TUI).as_posix())
def test_ui_module_imports_only_shared_core_types(path):
    bad = _core_imports(path) - ALLOWED_CORE
    assert not bad, f"{path.relative_to(TUI)} imports trading code: {sorted(bad)}"


def test_the_checker_catches_a_forbidden_import(tmp_path):
    p = tmp_path / "pane.py"
    p.write_text("from core.policy import AnchorPolicy\nimport core.risk\nfrom core import execution\n")
    assert _core_imports(p) == {"core.policy", "core.risk", "core.execution"}


def test_core_never_imports_the_ui():
    core = TUI.parent / "core"
    for path in core.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                assert not node.module.startswith(("tui", "textual")), f"{path} imports {node.module}"
            if isinstance(node, ast.Import):
                for a in node.names:
                    assert not a.name.startswith(("tui", "textual")), f"{path} imports {a.name}"
