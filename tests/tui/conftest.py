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


# ---------------------------------------------------------------- the real app on a paper session
# thresholds far out of reach: the engine never trades on its own, so every order at the paper
# venue must come from something the user confirmed (force); a 0.003 BTC gap for force to close
QUIET_PAPER = {"rebalancer__thresholds__soft": 5.0, "rebalancer__thresholds__hard": 10.0,
               "paper__base_balance": 0.503, "paper__speed": 1.0}


@pytest.fixture
def paper_cockpit(tmp_path):
    """``paper_cockpit(**config_overrides) -> (app, session)``: the real ``CockpitApp`` over a real
    paper session (journal and log under ``tmp_path``); ``QUIET_PAPER`` by default."""
    from core.session import Environment, build_session
    from tests.builders import build_config
    from tui.app import CockpitApp

    def make(app_class=CockpitApp, **overrides):
        session = build_session(build_config(**{"mode": "semi", **QUIET_PAPER, **overrides}),
                                Environment(data_dir=tmp_path))
        app = app_class(session.engine, log_path=tmp_path / "logs" / "rebalancer.log", bell=False,
                        data_dir=tmp_path)  # a palette Screenshot (the key storm picks it) lands there
        return app, session

    return make


def burst(app, *keys: str) -> None:
    """Queue ``keys`` at once, as a fast typist or a key-repeat does (``pilot.press`` waits for
    each key to be handled; this does not): the next screen may not be up yet."""
    from textual import events

    chars = {"enter": "\r", "escape": "\x1b", "tab": "\t", "space": " ", "question_mark": "?",
             "left_square_bracket": "[", "right_square_bracket": "]"}
    for key in keys:
        event = events.Key(key, chars.get(key, key if len(key) == 1 else None))
        event.set_sender(app)
        app._driver.send_message(event)


@pytest.fixture
def press_fast():
    return burst
