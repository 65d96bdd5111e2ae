"""The command palette (issue 16): it lists KILL (which reaches as far as ``k``: over a dialog too)
and exactly one Quit (ours, which asks about our orders), and its Screenshot saves under the data
dir (not ``~/Downloads``, which need not exist) with the path in the toast."""

from __future__ import annotations

import pytest
from textual.command import CommandList, CommandPalette

from core.model import Mode
from tui.app import CockpitApp
from tui.screens.confirm import ForceScreen, QuitScreen
from tui.screens.main import CockpitScreen


async def _open_palette(app, pilot, fakes, *typed: str) -> list[str]:
    """Open the palette over whatever is on screen, type, and return the titles it lists."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert CommandPalette.is_open(app)
    if typed:
        await pilot.press(*typed)
    await fakes.workers_done(app, node=app.screen)  # the palette's search
    await pilot.pause()
    listed = app.screen.query_one(CommandList)
    return [str(listed.get_option_at_index(i).prompt).split("\n")[0] for i in range(listed.option_count)]


async def _started(app, pilot, engine) -> None:
    await pilot.pause()
    app.poll()
    await pilot.pause()


@pytest.mark.parametrize("mode", [Mode.SEMI, Mode.WATCH])
async def test_the_palette_lists_kill_and_one_quit(fakes, mode):
    engine = fakes.FakeEngine(fakes.make_state(mode=mode))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _started(app, pilot, engine)
        titles = await _open_palette(app, pilot, fakes)
        assert any(t.startswith("KILL") for t in titles), titles
        assert [t for t in titles if "quit" in t.lower()] == ["Quit  q"], titles
        assert sum(t.startswith("Screenshot") for t in titles) == 1, titles


async def test_kill_from_the_palette_over_a_dialog_closes_it_and_kills(fakes):
    engine = fakes.FakeEngine(fakes.make_state(mode=Mode.SEMI))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _started(app, pilot, engine)
        await pilot.press("f")
        assert isinstance(app.screen, ForceScreen)
        titles = await _open_palette(app, pilot, fakes, "k", "i", "l", "l")
        assert titles and titles[0].startswith("KILL"), titles
        assert not any(t.startswith("Force") for t in titles)  # over a dialog: only what works there
        await pilot.press("enter")
        await fakes.until(pilot, lambda: engine.control_calls == ["kill"])
        await pilot.pause()
        assert isinstance(app.screen, CockpitScreen) and len(app.screen_stack) == 1


async def test_the_palette_quit_is_ours_and_asks(fakes):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _started(app, pilot, engine)
        await _open_palette(app, pilot, fakes, "q", "u", "i", "t")
        await pilot.press("enter")
        await fakes.until(pilot, lambda: isinstance(app.screen, QuitScreen))
        assert engine.shutdown_calls == []


async def test_screenshot_from_the_palette_saves_under_the_data_dir(fakes, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Downloads here
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False, data_dir=tmp_path / "data")
    notes: list[str] = []
    real_notify = app.notify
    monkeypatch.setattr(app, "notify", lambda message, *a, **k: (notes.append(str(message)), real_notify(message, *a, **k)))
    async with app.run_test(size=(120, 40)) as pilot:
        await _started(app, pilot, engine)
        await _open_palette(app, pilot, fakes, *"screenshot")
        await pilot.press("enter")
        await fakes.until(pilot, lambda: list((tmp_path / "data" / "screenshots").glob("*.svg")))
        (shot,) = (tmp_path / "data" / "screenshots").glob("*.svg")
        assert "<svg" in shot.read_text()
        await fakes.until(pilot, lambda: any(str(shot) in n for n in notes))
    assert not (tmp_path / "home" / "Downloads").exists()


async def test_ctrl_p_under_a_dialog_over_the_palette_opens_no_second_palette(fakes):
    """Found by the key storm: palette, ctrl+q (the quit dialog over it), ctrl+p: a second
    palette with the same id ended the app (``DuplicateIds``)."""
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _started(app, pilot, engine)
        await pilot.press("ctrl+p")
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.is_running and app._exception is None
        assert sum(isinstance(s, CommandPalette) for s in app.screen_stack) == 1
