"""Pilot tests: every key in every mode reaches the right EngineControl call.

The FakeEngine only records calls. A trading key greyed out in the footer (approve in watch,
cancel with no order shown) still asks the engine, which refuses and says why: the toast
shows its outcome (issue 16: watch-mode refusals used to say nothing at all).
"""

from __future__ import annotations

import pytest
from textual.command import CommandPalette
from textual.widgets import Button, Input

from core.model import Mode, TradingState
from core.outcome import Outcome
from core.state import NOTHING_SHOWN
from tui.app import CockpitApp
from tui.screens.confirm import ConfirmScreen, ForceScreen, QuitScreen
from tui.screens.help import HelpScreen
from tui.screens.main import CockpitScreen
from tui.screens.mode import ModeScreen

SIZES = [(80, 24), (160, 48)]

# key -> expected control calls (preview_force excluded) in each mode, for the keys that act
# at once: the engine decides (and says) what each does in that mode. "f", "m", "r", "q" open
# dialogs and are tested below.
ANSWERED = {"a": ["approve"], "s": ["skip"], "p": ["toggle_pause"], "c": ["cancel_pending"], "k": ["kill"]}
DIRECT = {mode: ANSWERED for mode in Mode}


async def _started(app: CockpitApp, pilot) -> None:
    await pilot.pause()
    app.poll()
    await pilot.pause()


async def _type_in_palette(app: CockpitApp, pilot, *keys: str) -> None:
    """Open the command palette over the started cockpit and type ``keys`` into it."""
    await _started(app, pilot)
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert CommandPalette.is_open(app)
    await pilot.press(*keys)


async def _quit_with(fakes, app: CockpitApp, pilot, button: str) -> None:
    """Press a button of the open quit dialog and await the shutdown it starts."""
    await pilot.click(f"#{button}")
    await pilot.pause()
    await fakes.workers_done(app, group="quit")


def _app(fakes, **state) -> tuple[CockpitApp, object]:
    engine = fakes.FakeEngine(fakes.make_state(**state))
    return CockpitApp(engine, bell=False), engine


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", list(Mode), ids=lambda m: m.value)
async def test_direct_keys_in_every_mode(fakes, mode, size):
    app, engine = _app(fakes, mode=mode)
    async with app.run_test(size=size) as pilot:
        await _started(app, pilot)
        for key, expected in DIRECT[mode].items():
            engine.calls.clear()
            await pilot.press(key)
            await pilot.pause()
            assert engine.control_calls == expected, f"key {key!r} in {mode.value}"
            assert isinstance(app.screen, CockpitScreen)  # no dialog for these keys


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_watch_greys_approve_and_force_yet_says_why_they_do_nothing(fakes, size):
    app, engine = _app(fakes, mode=Mode.WATCH)
    refused = {"approve": Outcome("approve", "approve refused: watch mode never trades", False, "warning")}
    engine.control.outcomes = refused
    engine.control.preview = Outcome("force", "force refused: watch mode never trades", False, "warning")
    async with app.run_test(size=size) as pilot:
        await _started(app, pilot)
        assert app.screen.check_action("approve", ()) is None and app.screen.check_action("force", ()) is None
        await pilot.press("a", "f")
        await pilot.pause()
        assert engine.calls == ["approve", "preview_force"]  # no dialog: the engine refused the preview
        assert isinstance(app.screen, CockpitScreen)
        assert [n.message for n in app._notifications] == [
            "approve refused: watch mode never trades", "force refused: watch mode never trades"]


async def test_semi_approve_and_skip_call_once_each(fakes):
    app, engine = _app(fakes, mode=Mode.SEMI, proposal=fakes.make_proposal())
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        assert engine.calls == ["approve"]
        assert engine.control.args[0] == ("approve", (42,))  # the card's proposal, by its id
        await pilot.press("s")
        await pilot.pause()
        assert engine.calls == ["approve", "skip"]


@pytest.mark.parametrize("card, named", [(42, 42), (None, NOTHING_SHOWN)])
async def test_approve_names_the_proposal_on_the_card_not_one_drawn_after_it(fakes, card, named):
    """The engine drew #43 after the last frame (the card still shows #42, or nothing): ``a``
    (and ``s``) names what the card showed, so the engine sends nothing it did not show."""
    shown = fakes.make_proposal(card) if card is not None else None
    engine = fakes.FakeEngine(fakes.make_state(mode=Mode.SEMI, proposal=shown))
    app = CockpitApp(engine, bell=False, poll_interval=60)  # no frame between the engine's change and the key
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        engine.push(proposal=fakes.make_proposal(43))
        await pilot.press("a")
        await pilot.press("s")
        await pilot.pause()
        assert app.state.proposal == shown and engine.control.args == [("approve", (named,)), ("skip", (named,))]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_force_shows_preview_and_sends_only_after_confirm(fakes, size):
    app, engine = _app(fakes, mode=Mode.SEMI)
    async with app.run_test(size=size) as pilot:
        await _started(app, pilot)
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, ForceScreen)
        text = fakes.screen_text(app)
        assert "SELL" in text and "0.015" in text and "59,987.95" in text  # side, size, limit
        # the safe button has the focus: Enter cancels
        assert isinstance(app.focused, Button) and app.focused.id == "cancel"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CockpitScreen)
        assert engine.control_calls == []

        await pilot.press("f")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert engine.control_calls == []

        await pilot.press("f")
        await pilot.pause()
        await pilot.press("right")  # move to "Send SELL"
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "confirm"
        await pilot.press("enter")
        await pilot.pause()
        assert engine.control_calls == ["force"]
        assert engine.calls.count("preview_force") == 3
        # the order is bounded by the preview the dialog showed
        assert engine.control.args[-1] == ("force", (engine.control.preview,))


async def test_force_with_nothing_to_do_opens_no_dialog(fakes):
    app, engine = _app(fakes, mode=Mode.AUTO)
    engine.control.preview = Outcome("force", "nothing to force: already at target", False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _started(app, pilot)
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, CockpitScreen)
        assert engine.calls == ["preview_force"]
        assert [n.message for n in app._notifications] == ["nothing to force: already at target"]


@pytest.mark.parametrize("opener", ["f", "m", "q", "question_mark"])
async def test_kill_works_while_a_dialog_is_open(fakes, opener):
    app, engine = _app(fakes, mode=Mode.SEMI)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press(opener)
        await pilot.pause()
        assert not isinstance(app.screen, CockpitScreen)
        await pilot.press("k")
        await pilot.pause()
        assert engine.control_calls == ["kill"]
        # the dialog that could have sent something is closed with its safe answer
        assert isinstance(app.screen, CockpitScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert engine.control_calls == ["kill"]
        assert engine.shutdown_calls == []


async def test_k_is_a_letter_in_the_command_palette(fakes):
    app, engine = _app(fakes, mode=Mode.SEMI)
    async with app.run_test(size=(80, 24)) as pilot:
        await _type_in_palette(app, pilot, "k", "i", "l", "l")
        await fakes.workers_done(app, node=app.screen)  # the palette's search
        assert app.screen.query_one(Input).value == "kill"
        assert engine.control_calls == []
        # Close it the way a user does: leaving the app while the palette is still
        # searching tears its list down under Textual's own search worker.
        await pilot.press("escape")
        await pilot.pause()
        assert not CommandPalette.is_open(app)
        assert engine.control_calls == []


async def test_palette_runs_commands_through_the_same_gate(fakes):
    app, engine = _app(fakes, mode=Mode.WATCH)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        from tui.commands import CockpitCommands

        provider = CockpitCommands(app.screen)
        names = [name for name, *_ in provider._available()]
        assert "Approve proposal" not in names and "Force rebalance to target" not in names
        assert "Pause / resume trading" in names
        await app.run_action("approve", app.screen)  # run_action applies check_action too
        assert engine.control_calls == []


@pytest.mark.parametrize("choice, flag", [("keep", False), ("cancel", True)])
async def test_quit_asks_and_shuts_down_with_the_chosen_flag(fakes, choice, flag):
    app, engine = _app(fakes)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        assert app.focused is not None and app.focused.id == "stay"
        await _quit_with(fakes, app, pilot, choice)
    assert engine.shutdown_calls == [flag]
    assert app.shutdown_done
    assert app.return_code == 0


async def test_quit_stay_keeps_running(fakes):
    app, engine = _app(fakes)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("enter")  # Stay has the focus
        await pilot.pause()
        assert isinstance(app.screen, CockpitScreen)
        assert engine.shutdown_calls == []
        await pilot.press("ctrl+q")  # the emergency quit asks too
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert engine.shutdown_calls == []
        assert app.is_running


async def test_quit_with_failing_shutdown_exits_nonzero(fakes):
    app, engine = _app(fakes)

    async def broken(cancel_orders: bool, reason: str = "clean quit", *, crashed: bool = False) -> None:
        engine.shutdown_calls.append(cancel_orders)
        raise RuntimeError("venue [/] unreachable")

    engine.shutdown = broken
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        await _quit_with(fakes, app, pilot, "cancel")
    assert engine.shutdown_calls == [True]
    assert app.return_code == 1
    assert "unreachable" in (app.shutdown_error or "")


@pytest.mark.parametrize("start, key, expected", [
    (Mode.SEMI, "w", [("set_mode", (Mode.WATCH,))]),
    (Mode.WATCH, "s", [("set_mode", (Mode.SEMI,))]),
    (Mode.SEMI, "s", []),  # already semi: nothing to do
])
async def test_mode_chooser(fakes, start, key, expected):
    app, engine = _app(fakes, mode=start)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, ModeScreen)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, CockpitScreen)
        assert engine.control.args == expected


async def test_entering_auto_asks_for_confirmation(fakes):
    app, engine = _app(fakes, mode=Mode.SEMI, venue="mainnet")
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press("m", "a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "MAINNET" in fakes.screen_text(app)
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("enter")
        await pilot.pause()
        assert engine.control.args == []
        await pilot.press("m", "a")
        await pilot.pause()
        await pilot.press("right", "enter")
        await pilot.pause()
        assert engine.control.args == [("set_mode", (Mode.AUTO,))]


async def test_rearm_only_when_halted_and_after_confirmation(fakes):
    app, engine = _app(fakes, mode=Mode.AUTO)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, CockpitScreen) and engine.calls == []
        engine.push(trading_state=TradingState.HALTED, halt_reason="kill switch")
        app.poll()
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "kill switch" in fakes.screen_text(app)
        await pilot.press("enter")  # Cancel is focused
        await pilot.pause()
        assert engine.calls == []
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("right", "enter")
        await pilot.pause()
        assert engine.calls == ["rearm"]


async def test_halted_greys_approve_and_force_and_the_engine_says_why(fakes):
    app, engine = _app(fakes, mode=Mode.SEMI, trading_state=TradingState.HALTED, halt_reason="drawdown 5%")
    engine.control.outcomes = {"approve": Outcome("approve", "nothing to approve (proposal #3 dropped: halted)", False)}
    engine.control.preview = Outcome("force", "force refused: HALTED: drawdown 5%", False, "warning")
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        assert app.screen.check_action("approve", ()) is None and app.screen.check_action("force", ()) is None
        await pilot.press("a", "f")
        await pilot.pause()
        assert engine.calls == ["approve", "preview_force"]
        assert isinstance(app.screen, CockpitScreen)
        assert [n.message for n in app._notifications] == [
            "nothing to approve (proposal #3 dropped: halted)", "force refused: HALTED: drawdown 5%"]


async def test_cancel_key_greyed_without_orders_still_gets_the_engines_answer(fakes):
    app, engine = _app(fakes, mode=Mode.AUTO, orders=())
    engine.control.outcomes = {"cancel_pending": Outcome("cancel", "no pending order", False)}
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        assert app.screen.check_action("cancel_order", ()) is None
        await pilot.press("c")
        await pilot.pause()
        assert engine.calls == ["cancel_pending"]
        assert [n.message for n in app._notifications] == ["no pending order"]


async def test_help_screen_opens_and_closes(fakes):
    app, engine = _app(fakes)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "KILL" in fakes.screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CockpitScreen)
        assert engine.calls == []


async def test_control_exception_is_shown_not_fatal(fakes):
    app, engine = _app(fakes, mode=Mode.SEMI)
    engine.control.raise_on = {"approve"}
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _started(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        assert engine.calls == ["approve"]
        assert app.is_running
        assert any("approve failed" in n.message for n in app._notifications)
        await pilot.press("s")
        await pilot.pause()
        assert engine.calls == ["approve", "skip"]


async def test_pages_switch_with_number_keys_on_narrow_terminal(fakes):
    app, engine = _app(fakes)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        screen = app.screen
        assert screen.query_one("#orders").display and not screen.query_one("#log").display
        await pilot.press("5")
        await pilot.pause()
        assert screen.page == "log"
        assert screen.query_one("#log").display and not screen.query_one("#orders").display
        await pilot.press("right")
        await pilot.pause()
        assert screen.page == "feed"
        assert engine.calls == []


async def test_quitting_while_the_palette_searches_exits_cleanly(fakes):
    app, engine = _app(fakes, mode=Mode.SEMI)
    async with app.run_test(size=(80, 24)) as pilot:
        await _type_in_palette(app, pilot, "k", "i", "l", "l", "ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await _quit_with(fakes, app, pilot, "keep")
    assert engine.shutdown_calls == [False]
    assert app.return_code == 0
    assert engine.control_calls == []
