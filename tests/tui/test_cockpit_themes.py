"""Every theme renders the cockpit (issue 16): the built-in Textual themes lack the cockpit's own
style variables (``$pane-border`` ...), which used to fail app.tcss and end the app. The main
screen is rendered in each, picked at start (``ui.theme``) and switched at run time (ctrl+p →
Theme), and the config's list of names is Textual's list."""

from __future__ import annotations

import typing

import pytest
from textual.theme import BUILTIN_THEMES

from core.config.blocks import ThemeName
from tui.app import CockpitApp
from tui.theme import THEME

ALL_THEMES = [THEME.name, *BUILTIN_THEMES]


def test_config_choices_are_the_themes_the_cockpit_has():
    assert list(typing.get_args(ThemeName)) == ALL_THEMES


@pytest.mark.parametrize("name", ALL_THEMES)
async def test_the_main_screen_renders_in_each_theme_picked_at_start(fakes, name):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False, theme_name=name)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.poll()
        await pilot.pause()
        assert app.theme == name and app.is_running
        text = fakes.screen_text(app)
        assert "KILL" in text and "+0.015300" in text
        assert app.export_screenshot()  # every pane painted in this theme
    assert app.return_code in (None, 0) and app._exception is None


async def test_switching_through_every_theme_while_running_keeps_the_app_up(fakes):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        for name in ALL_THEMES:
            app.theme = name  # what ctrl+p → Theme does
            await pilot.pause()
            app.poll()
            assert app.is_running and app.screen.query_one("#gap-digits")
        assert "KILL" in fakes.screen_text(app)
    assert app._exception is None
