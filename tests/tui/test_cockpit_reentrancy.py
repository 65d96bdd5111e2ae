"""Dialogs are re-entrancy safe (issue 16): keys queued faster than screens change — ``m`` Enter
Enter, ``f`` → Enter Enter, ``m m``, ``f f`` — never raise (it was ``ScreenStackError``: the app
died), never stack a second dialog, and a confirmed force is sent once. On the real app over a
real paper session."""

from __future__ import annotations

from core.model import Mode
from tui.screens.confirm import ConfirmScreen, ForceScreen, QuitScreen
from tui.screens.main import CockpitScreen
from tui.screens.mode import ModeScreen


async def _settle(pilot, app, predicate=lambda: True, seconds: float = 10.0, what=None) -> None:
    loop = __import__("asyncio").get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        await pilot.pause(0.05)
        if predicate():
            return
    raise AssertionError(f"{what}: not reached in {seconds}s; stack {app.screen_stack}")


def _count_calls(monkeypatch, control, name: str) -> list:
    calls: list = []
    real = getattr(control, name)

    def counted(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(control, name, counted)
    return calls


async def test_mode_then_enter_enter_quickly(paper_cockpit, press_fast):
    app, session = paper_cockpit()
    async with app.run_test(size=(80, 24)) as pilot:
        await session.engine.started.wait()
        press_fast(app, "m", "enter", "enter")  # select the current mode (semi), twice
        await pilot.pause(0.5)
        # Both Enters may land before the dialog has its focus (a loaded machine): then the dialog
        # stays open, alone. Never two dialogs, never a dead app.
        assert app.is_running
        assert [type(s) for s in app.screen_stack[1:]] in ([], [ModeScreen])
        if isinstance(app.screen, ModeScreen):
            await pilot.press("escape")
        await _settle(pilot, app, lambda: len(app.screen_stack) == 1, what="mode dialog closed")
        assert isinstance(app.screen, CockpitScreen)
        assert session.rebalancer.mode is Mode.SEMI
        await pilot.press("m")
        press_fast(app, "down", "enter", "enter")  # AUTO: its confirmation opens; the 2nd Enter is Cancel's
        await pilot.pause(0.5)                       # (or lands before it opens, and does nothing;
        assert app.is_running                        # or all three beat the dialog's focus, as above)
        assert [type(s) for s in app.screen_stack[1:]] in ([], [ConfirmScreen], [ModeScreen])
        assert session.rebalancer.mode is Mode.SEMI  # AUTO only through its confirmation
    assert app._exception is None


async def test_force_right_enter_twice_quickly_sends_one_force(paper_cockpit, press_fast, monkeypatch):
    app, session = paper_cockpit()
    forces = _count_calls(monkeypatch, session.engine.control, "force")
    async with app.run_test(size=(80, 24)) as pilot:
        await session.engine.started.wait()
        await _settle(pilot, app, lambda: session.engine.control.preview_force() is not None)
        # at the limit: both presses reach the dialog before it has handled the first
        await pilot.press("f")
        cancel = app.screen.query_one("#cancel")
        cancel.press()
        cancel.press()
        await _settle(pilot, app, lambda: len(app.screen_stack) == 1)
        await pilot.pause(0.3)
        assert app.is_running and isinstance(app.screen, CockpitScreen) and not forces
        # f, →, Enter Enter: one force
        await pilot.press("f")
        assert isinstance(app.screen, ForceScreen)
        await pilot.press("right")  # Send has the focus
        press_fast(app, "enter", "enter")  # then Enter twice, the second before the dialog is gone
        await _settle(pilot, app, lambda: len(app.screen_stack) == 1 and forces)
        await pilot.pause(0.3)
        assert app.is_running and isinstance(app.screen, CockpitScreen)
        assert len(forces) == 1
    assert app._exception is None


async def test_a_key_queued_before_its_dialog_opened_opens_no_second_one(paper_cockpit, press_fast):
    app, session = paper_cockpit()
    async with app.run_test(size=(80, 24)) as pilot:
        await session.engine.started.wait()
        await _settle(pilot, app, lambda: session.engine.control.preview_force() is not None)
        for keys, dialog in ((("m", "m", "m"), ModeScreen), (("f", "f"), ForceScreen),
                             (("q", "q"), QuitScreen), (("r", "r"), ConfirmScreen)):
            if keys[0] == "r":
                await pilot.press("k")  # halted: r opens the re-arm confirmation
                await _settle(pilot, app, lambda: app.cockpit.check_action("rearm", ()) is True)
            press_fast(app, *keys)
            await _settle(pilot, app, lambda: len(app.screen_stack) > 1, what=keys)
            await pilot.pause(0.3)
            assert len(app.screen_stack) == 2, (keys, app.screen_stack)
            if dialog is not None:
                assert isinstance(app.screen, dialog)
            await pilot.press("escape")
            await _settle(pilot, app, lambda: len(app.screen_stack) == 1)
    assert app._exception is None


async def test_page_keys_queued_quickly_land_on_the_right_page_and_stay(fakes, press_fast, monkeypatch):
    """Found by the key storm: the tab strip echoed each page change back as a "tab activated",
    and quick page keys set pages and echoes ping-ponging for ever (the page flickered, the
    restyling slowed every key after)."""
    app = __import__("tui.app", fromlist=["CockpitApp"]).CockpitApp(fakes.FakeEngine(), bell=False)
    applied: list[str] = []
    real = CockpitScreen._apply_page
    monkeypatch.setattr(CockpitScreen, "_apply_page", lambda self, page: (applied.append(page), real(self, page)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        press_fast(app, "right", "right", "right", "3", "right", "left", "right", "right")
        await pilot.pause(0.5)
        assert app.cockpit.page == "log"
        assert app.cockpit.query_one("#pages").active == "tab-log"
        settled = len(applied)
        await pilot.pause(0.5)
        assert len(applied) == settled, applied[settled:]  # nothing keeps switching
