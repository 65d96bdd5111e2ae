"""Pilot tests of what the cockpit shows: re-rendering pushed snapshots, engine errors, hostile
log text, the MAINNET badge, the footer in watch mode, the bell, hidden panes, the order diff."""

from __future__ import annotations

from core.state import FeedHealth

import logging

import pytest
from textual.widgets import DataTable, Digits, Footer, RichLog
from textual.widgets._footer import FooterKey

from core.model import Mode, Side, TradingState
from core.state import LogLine, OrderView
from tui.app import CockpitApp
from tui.panes.orders import OrdersPane, order_row
from tui.panes.status import StatusBar
from tui.screens.main import CockpitScreen


async def _started(app, pilot):
    await pilot.pause()
    app.poll()
    await pilot.pause()


def _footer_keys(app) -> dict[str, FooterKey]:
    return {k.action: k for k in app.screen.query_one(Footer).query(FooterKey)}


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
async def test_pushed_state_is_rendered(fakes, size):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=size) as pilot:
        await _started(app, pilot)
        digits = app.screen.query_one("#gap-digits", Digits)
        assert digits.value == "+0.015300"
        assert "+0.015300" in fakes.screen_text(app)
        engine.push(gap_in_unit=-0.0271, gap_base=-0.0271)
        app.poll()
        await pilot.pause()
        assert digits.value == "-0.027100"
        assert digits.has_class("-hard") and not digits.has_class("-soft")
        assert "past HARD" in fakes.screen_text(app)


async def test_poll_timer_picks_up_new_snapshots(fakes):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False, poll_interval=0.1)
    async with app.run_test(size=(80, 24)):
        await engine.polls(2)  # the timer's own polls, not the test's
        renders = app.renders
        assert renders >= 1
        # same snapshot object: polled, not re-rendered
        await engine.polls(2)
        assert app.renders == renders
        engine.push(gap_in_unit=0.001)
        await engine.polls(1)
        assert app.renders == renders + 1
        assert app.screen.query_one("#gap-digits", Digits).value == "+0.001000"


async def test_poll_interval_is_capped_at_10_hz(fakes):
    app = CockpitApp(fakes.FakeEngine(), poll_interval=0.001)
    assert app.poll_interval == pytest.approx(0.1)
    assert CockpitApp(fakes.FakeEngine()).poll_interval == pytest.approx(0.2)


async def test_engine_error_is_shown_and_the_app_stays_up(fakes):
    engine = fakes.FakeEngine(run_error=RuntimeError("venue said [/] nope [bold"))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _started(app, pilot)
        await fakes.workers_done(app, group="engine")
        await fakes.until(pilot, lambda: bool(engine.engine_errors))
        assert app.is_running
        assert engine.engine_errors == ["RuntimeError: venue said [/] nope [bold"]
        banner = app.screen.query_one("#engine-error")
        assert banner.display
        text = fakes.screen_text(app)
        assert "ENGINE STOPPED" in text and "venue said [/] nope [bold" in text
        assert app.engine_error == "RuntimeError: venue said [/] nope [bold"
        # the engine dropped to watch in on_engine_error; the UI shows and obeys it
        assert app.screen.mode is Mode.WATCH
        await pilot.press("p")
        await pilot.pause()
        assert engine.calls == ["toggle_pause"]


async def test_hostile_log_text_renders_literally(fakes):
    lines = (
        LogLine(fakes.NOW, "error", "[/] bad"),
        LogLine(fakes.NOW, "warning", "[bold unclosed"),
        LogLine(fakes.NOW, "info", "[link=http://x]click[/link] [red]not red[/]"),
        LogLine(fakes.NOW, "weird-level", "[/"),
    )
    engine = fakes.FakeEngine(fakes.make_state(log=lines, halt_reason="[/] halt", trading_state=TradingState.HALTED))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await _started(app, pilot)
        await pilot.pause()
        text = fakes.screen_text(app)
        for expected in ("[/] bad", "[bold unclosed", "[red]not red[/]", "[/] halt"):
            assert expected in text
        log_view = app.screen.query_one(RichLog)
        assert len(log_view.lines) >= 4
        assert app.ui_errors == 0 and app.is_running


async def test_log_appends_only_new_lines(fakes):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await _started(app, pilot)
        view = app.screen.query_one(RichLog)
        n = len(view.lines)
        state = engine.state
        engine.push(log=state.log + (LogLine(fakes.NOW + 1, "trade", "new fill"),))
        app.poll()
        await pilot.pause()
        assert len(view.lines) == n + 1
        assert "new fill" in fakes.screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
async def test_header_shows_mainnet_loudly(fakes, size):
    engine = fakes.FakeEngine(fakes.make_state(venue="mainnet"))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=size) as pilot:
        await _started(app, pilot)
        status = app.screen.query_one(StatusBar)
        assert status.has_class("-mainnet")
        first_line = fakes.screen_text(app).splitlines()[0]
        assert "MAINNET" in first_line and "BTCUSDT" in first_line and "SEMI" in first_line
        engine.push(venue="paper")
        app.poll()
        await pilot.pause()
        assert not status.has_class("-mainnet")
        assert "PAPER" in fakes.screen_text(app).splitlines()[0]


async def test_header_shows_state_halt_reason_and_snapshot_clock(fakes):
    engine = fakes.FakeEngine(fakes.make_state(trading_state=TradingState.HALTED, halt_reason="kill switch", connected=False))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await _started(app, pilot)
        first = fakes.screen_text(app).splitlines()[0]
        assert "HALTED" in first and "kill switch" in first
        assert "disconnected" in first
        assert "2024-06-01 13:02:03 UTC" in first  # the snapshot's ts_ms, not the wall clock


async def test_footer_greys_approve_and_force_in_watch(fakes):
    engine = fakes.FakeEngine(fakes.make_state(mode=Mode.WATCH))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await _started(app, pilot)
        keys = _footer_keys(app)
        assert keys["approve"].has_class("-disabled")
        assert keys["force"].has_class("-disabled")
        assert not keys["toggle_pause" if "toggle_pause" in keys else "pause"].has_class("-disabled")
        assert not keys["kill"].has_class("-disabled")
        # the mode changes in the snapshot: the footer follows
        engine.push(mode=Mode.SEMI)
        app.poll()
        await pilot.pause()
        keys = _footer_keys(app)
        assert not keys["approve"].has_class("-disabled")
        assert not keys["force"].has_class("-disabled")
        engine.push(mode=Mode.AUTO)
        app.poll()
        await pilot.pause()
        keys = _footer_keys(app)
        assert keys["approve"].has_class("-disabled")
        assert not keys["force"].has_class("-disabled")


async def test_footer_shows_kill_first_and_fits_80_columns(fakes):
    engine = fakes.FakeEngine(fakes.make_state(trading_state=TradingState.HALTED))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        footer_line = fakes.screen_text(app).splitlines()[-1]
        assert footer_line.lstrip().startswith("k KILL")
        for label in ("Approve", "Force", "Pause", "Mode", "Re-arm", "Quit"):
            assert label in footer_line


async def test_bell_rings_once_per_new_proposal(fakes):
    engine = fakes.FakeEngine(fakes.make_state(proposal=fakes.make_proposal(1)))
    app = CockpitApp(engine, bell=True)
    rings = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        assert len(rings) == 1
        engine.push(ts_ms=engine.state.ts_ms + 500)  # same proposal, newer snapshot
        app.poll()
        assert len(rings) == 1
        engine.push(proposal=fakes.make_proposal(2))
        app.poll()
        assert len(rings) == 2
        engine.push(proposal=fakes.make_proposal(3, forced=True))
        app.poll()
        assert len(rings) == 2  # the trader's own force does not ring


async def test_bell_can_be_turned_off(fakes):
    engine = fakes.FakeEngine(fakes.make_state(proposal=fakes.make_proposal(1)))
    app = CockpitApp(engine, bell=False)
    rings = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        assert rings == []


async def test_proposal_countdown_is_in_wall_seconds_at_paper_speed_10(fakes):
    # 230 s of market time left at speed 10: the trader has 23 wall seconds, card and header
    engine = fakes.FakeEngine(fakes.make_state(proposal=fakes.make_proposal(7, expires_in_s=230), feed=FeedHealth(speed=10.0)))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        card = app.screen.query_one("#decision")
        assert "23s" in str(card.border_subtitle)
        assert "#7 23s" in fakes.screen_text(app)
        engine.push(ts_ms=engine.state.ts_ms + 200_000)  # 20 wall seconds later
        app.poll()
        await pilot.pause()
        assert "3.0s" in str(card.border_subtitle)


async def test_proposal_card_countdown_uses_snapshot_time(fakes):
    engine = fakes.FakeEngine(fakes.make_state(proposal=fakes.make_proposal(7, expires_in_s=23)))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        card = app.screen.query_one("#decision")
        assert card.has_class("-proposal")
        assert "PROPOSAL #7" in str(card.border_title)
        assert "23s" in str(card.border_subtitle)
        engine.push(ts_ms=engine.state.ts_ms + 20_000)
        app.poll()
        await pilot.pause()
        assert "3.0s" in str(card.border_subtitle)
        engine.push(proposal=None)
        app.poll()
        await pilot.pause()
        assert not card.has_class("-proposal")


async def test_hidden_pages_render_when_shown(fakes):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        log_pane = app.screen.query_one("#log")
        assert not log_pane.display
        assert log_pane._stale  # kept, not rendered
        assert len(app.screen.query_one(RichLog).lines) == 0
        await pilot.press("5")
        await pilot.pause()
        await pilot.pause()
        assert not log_pane._stale
        assert "weird exchange text" in fakes.screen_text(app)


async def test_orders_table_is_diffed_with_stable_keys(fakes):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await _started(app, pilot)
        pane = app.screen.query_one(OrdersPane)
        table = pane.query_one(DataTable)
        assert [k.value for k in table.rows] == ["rb-0007", "rb-0008"]
        assert pane.last_diff == (0, 0, 2)
        o7, o8 = engine.state.orders
        # only rb-0008's age changes: one cell updated, nothing added or removed
        engine.push(orders=(o7, OrderView(**{**{f: getattr(o8, f) for f in o8.__slots__}, "age_s": 2.5})))
        app.poll()
        await pilot.pause()
        assert pane.last_diff == (0, 1, 0)
        # rb-0007 filled and gone, a new chase order appears
        new = OrderView("rb-0009", Side.SELL, "PostOnly", "60011.00", "0.008000", "0", "New", 0.1, 2)
        engine.push(orders=(engine.state.orders[1], new))
        app.poll()
        await pilot.pause()
        assert pane.last_diff == (1, 0, 1)
        assert [k.value for k in table.rows] == ["rb-0008", "rb-0009"]
        engine.push(orders=(), escalation_progress=None)
        app.poll()
        await pilot.pause()
        assert table.row_count == 0
        assert "no open orders" in fakes.screen_text(app)
        assert not pane.query_one("#escalation").display


async def test_a_failing_engine_latest_is_logged_not_fatal(fakes, tmp_path):
    engine = fakes.FakeEngine()
    log_file = tmp_path / "cockpit.log"
    app = CockpitApp(engine, bell=False, log_path=log_file, poll_interval=0.1)

    def broken():
        raise ValueError("snapshot [/] broke")

    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        engine.latest = broken
        await fakes.until(pilot, lambda: app.ui_errors >= 1)  # the poll timer met the broken host
        assert app.is_running
        assert app.ui_errors >= 1
        assert "snapshot [/] broke" not in fakes.screen_text(app)  # never on the screen
    assert "snapshot [/] broke" in log_file.read_text()


async def test_tui_logger_never_propagates_to_root(fakes, tmp_path):
    CockpitApp(fakes.FakeEngine(), log_path=tmp_path / "x.log")
    assert logging.getLogger("tui").propagate is False


@pytest.mark.parametrize("size, wide", [((80, 24), False), ((120, 30), False), ((160, 48), True), ((200, 60), True)])
async def test_layout_reflows_by_size(fakes, size, wide):
    app = CockpitApp(fakes.FakeEngine(), bell=False)
    async with app.run_test(size=size) as pilot:
        await _started(app, pilot)
        screen = app.screen
        assert isinstance(screen, CockpitScreen)
        assert screen.is_wide is wide
        shown = {p.id for p in screen.panes if p.display}
        if wide:
            assert shown == {"delta", "decision", "positions", "orders", "trend", "log", "anchor", "feed"}
            assert not screen.query_one("#pages").display
        else:
            assert shown == {"delta", "decision", "orders"}
            assert screen.query_one("#pages").display
        await pilot.resize_terminal(*((160, 48) if not wide else (80, 24)))
        await pilot.pause()
        await pilot.pause()
        assert screen.is_wide is (not wide)


async def test_engine_gets_only_control_calls_and_host_calls(fakes):
    """Mash every key in every mode: the engine sees latest/run and control calls, nothing else.

    The page keys 1-6 go in the first mode only: a page switch involves no engine call in any
    mode, and each costs ~0.4 s at 80x24 (they had made this the slowest test of the suite)."""
    seen: list[str] = []

    class Spy:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            seen.append(name)
            return getattr(self._inner, name)

    engine = fakes.FakeEngine()
    spy = Spy(engine)
    app = CockpitApp(spy, bell=False)  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        for i, mode in enumerate(Mode):
            engine.push(mode=mode)
            app.poll()
            await pilot.pause()
            pages = ("1", "2", "3", "4", "5", "6") if i == 0 else ()
            for key in ("a", "s", "p", "c", "escape", "f", "escape", "m", "escape", *pages, "k"):
                await pilot.press(key)
            await pilot.pause()
    assert set(seen) <= {"run", "latest", "control", "on_engine_error", "shutdown"}
    allowed = {"approve", "skip", "preview_force", "force", "toggle_pause", "set_mode", "kill", "rearm", "cancel_pending"}
    assert set(engine.calls) <= allowed


def test_an_order_resting_at_the_anchor_gate_says_so_where_a_chase_count_would_be():
    chased = OrderView("rb-0009", Side.SELL, "PostOnly", "60011.00", "0.008000", "0", "New", 0.1, 2)
    at_gate = OrderView("rb-0010", Side.SELL, "PostOnly", "60030.00", "0.003000", "0", "New", 0.1, 0, at_gate=True)
    assert order_row(chased)[-1][0] == "2"
    assert order_row(at_gate)[-1][0] == "gate"
