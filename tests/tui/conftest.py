"""Fixtures for the cockpit tests.

``fakes.py`` is loaded under the unique module name ``cockpit_fakes`` (tests/ has no
``__init__.py`` and ``tests/fakes`` is already a top-level package on sys.path, so a plain
``import fakes`` would be ambiguous).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_FAKES = "cockpit_fakes"
if _FAKES not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_FAKES, Path(__file__).with_name("fakes.py"))
    assert _spec is not None and _spec.loader is not None
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules[_FAKES] = _mod
    _spec.loader.exec_module(_mod)

import cockpit_fakes  # noqa: E402


@pytest.fixture
def fakes():
    """The fakes module: FakeEngine, make_state, make_proposal, make_decision, NOW."""
    return cockpit_fakes


@pytest.fixture
def engine():
    return cockpit_fakes.FakeEngine()


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch):
    # deterministic rendering regardless of the developer's terminal
    monkeypatch.delenv("TEXTUAL_COLOR_SYSTEM", raising=False)
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
