"""Several symbols in one cockpit (issue 18, item 4), against ``FakePortfolio`` (tests/tui/fakes.py):
the overview (one row per symbol) at 80x24, 120x36 and 160x48 with five symbols, moving between
symbols, header badges, the proposal queue labelled with its symbol, per-symbol kill / pause,
the overview rendered only when its rows changed -- and one symbol exactly as before."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.command import CommandList, CommandPalette

from core.model import Mode, Side, TradingState
from core.state import Proposal
from tui.app import CockpitApp
from tui.panes.overview import OverviewPane, layout, overview_text, window
from tui.screens.main import CockpitScreen

SIZES = [(80, 24), (120, 36), (160, 48)]
SIZE_IDS = ["80x24", "120x36", "160x48"]


def eth_proposal(fakes, pid: int = 3, *, age_s: float = 7.0) -> Proposal:
    return replace(fakes.make_proposal(pid), qty="0.250000", price_limit="3001.10",
                   created_ms=fakes.NOW - int(age_s * 1000))


def five(fakes, **per_symbol) -> "fakes.FakePortfolio":
    """BTC (selected), ETH with proposal #3 waiting, SOL halted, XRP in auto, DOGE; ``per_symbol``
    replaces a symbol's snapshot fields (``ETHUSDT={"proposal": None}``)."""
    states = {s: fakes.make_symbol_state(s) for s in fakes.SYMBOLS5}
    changes = {
        "ETHUSDT": {"proposal": eth_proposal(fakes)},
        "SOLUSDT": {"trading_state": TradingState.HALTED, "halt_reason": "kill switch"},
        "XRPUSDT": {"mode": Mode.AUTO, "orders": ()},
    }
    for sym, more in per_symbol.items():
        changes[sym] = {**changes.get(sym, {}), **more}
    for sym, c in changes.items():
        states[sym] = replace(states[sym], **c)
    return fakes.FakePortfolio(states)


def ten_symbols(fakes):
    """A fake portfolio of ten symbols, each in its default state."""
    syms = fakes.SYMBOLS5 + ("ADAUSDT", "LINKUSDT", "AVAXUSDT", "DOTUSDT", "LTCUSDT")
    return fakes.FakePortfolio({s: fakes.make_symbol_state(s) for s in syms})


async def _started(app, pilot) -> None:
    await pilot.pause()
    app.poll()
    await pilot.pause()


def toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


# ---------------------------------------------------------------------------- the pure parts


def test_columns_are_dropped_least_important_first_and_80_columns_keep_what_matters():
    narrow = [c[0] for c in layout(8, 76)]
    assert narrow[:3] == ["sel", "symbol", "price"]
    for kept in ("bar", "state", "ask", "net", "mode", "cost"):
        assert kept in narrow, narrow
    assert "last" not in narrow and "gap" not in narrow
    wide = [c[0] for c in layout(8, 150)]
    assert wide[-2:] == ["order", "last"] and "gap" in wide
    assert sum(w for *_, w, _ in layout(8, 76)) + len(layout(8, 76)) - 1 <= 76


def test_a_window_keeps_the_selected_row_in_view():
    assert window(5, 4, 7) == (0, 5)
    assert window(10, 0, 7) == (0, 7)
    assert window(10, 9, 7) == (3, 7)
    first, count = window(10, 5, 3)
    assert first <= 5 < first + count


def test_every_row_shows_its_symbol_state_and_waiting_proposal(fakes):
    rows = five(fakes).latest().overview
    text = overview_text(rows, 76).plain.splitlines()
    assert len(text) == 6
    assert text[1].startswith("▸ BTCUSDT")  # the selected one is marked
    assert "▶#3" in text[2] and "ETHUSDT" in text[2]
    assert "HALTED" in text[3] and "SOLUSDT" in text[3]
    assert all(len(line) <= 76 for line in text)


# ---------------------------------------------------------------------------- on screen


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_five_symbols_fit_with_their_rows_badges_and_the_labelled_proposal(fakes, size):
    engine = five(fakes)
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=size) as pilot:
        await _started(app, pilot)
        text = fakes.screen_text(app)
        lines = text.splitlines()
        assert len(lines) == size[1]
        for sym in fakes.SYMBOLS5:
            assert sum(sym in line and ("ACTIVE" in line or "HALTED" in line) for line in lines[2:]) == 1, (sym, text)
        assert "HALTED 1/5" in lines[0]  # the worst state across symbols, and how many
        assert ("▶ PROPOSAL ETHUSDT #3" if size[0] >= 110 else "▶ ETH #3") in lines[0]
        assert "ETHUSDT #3  a approve · s skip" in text  # the card names whose proposal it is
        assert "SELL  0.250000 ETH" in text  # ... in that symbol's units
        on_top = size != (80, 24)
        assert app.cockpit.query_one("#overview-top").display is on_top
        assert app.cockpit.page == ("orders" if on_top else "overview")  # 80x24: the first page
        assert ("0 Symbols" in text) is not on_top
        assert "] Symbol" in lines[-1]  # the footer shows the key
        assert app.ui_errors == 0


async def test_ten_symbols_at_80x24_show_a_window_that_follows_the_selection(fakes):
    engine = ten_symbols(fakes)
    app = CockpitApp(engine, bell=False, poll_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        pane = app.cockpit.query_one("#overview", OverviewPane)
        assert pane.display and "↓3 more" in pane.border_subtitle
        for _ in range(9):
            await pilot.press("right_square_bracket")
        await pilot.pause()
        text = fakes.screen_text(app)
        assert "▸ LTCUSDT" in text and "BTCUSDT " not in text.split("Symbols")[-1]
        assert "↑3 more" in pane.border_subtitle
        assert app.ui_errors == 0


async def test_brackets_move_between_symbols_and_the_panes_follow_at_once(fakes):
    engine = five(fakes)
    app = CockpitApp(engine, bell=False, poll_interval=60)  # no timer poll: the key's own poll shows it
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(app, pilot)
        assert app.state.symbol == "BTCUSDT" and "GAP BTC" in fakes.screen_text(app)
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert engine.calls == ["select:ETHUSDT"]
        assert app.state.symbol == "ETHUSDT"
        text = fakes.screen_text(app)
        assert text.splitlines()[0].startswith(" ETHUSDT ")
        assert "GAP ETH" in text and "▸ ETHUSDT" in text and "▸ BTCUSDT" not in text
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.pause()
        assert engine.calls[-2:] == ["select:BTCUSDT", "select:DOGEUSDT"]  # wraps around
        assert "GAP DOGE" in fakes.screen_text(app)


async def test_page_keys_with_the_overview_as_page_zero(fakes):
    engine = five(fakes)
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        screen = app.cockpit
        assert screen.page == "overview"
        await pilot.press("1")
        assert screen.page == "orders"
        await pilot.press("left")
        assert screen.page == "overview"
        await pilot.press("left")
        assert screen.page == "feed"
        await pilot.press("0")
        assert screen.page == "overview"


async def test_approve_answers_the_labelled_proposal_of_another_symbol(fakes):
    engine = five(fakes)
    app = CockpitApp(engine, bell=False)
    app.notifications = True
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _started(app, pilot)
        assert app.state.symbol == "BTCUSDT" and app.state.proposal.symbol == "ETHUSDT"
        await pilot.press("a")
        await pilot.pause()
        assert engine.control_calls == ["ETHUSDT:approve"]
        assert engine.engines["ETHUSDT"].calls == ["approve"] and engine.engines["BTCUSDT"].calls == []
        assert engine.engines["ETHUSDT"].control.args == [("approve", (app.state.proposal.proposal_id,))]
        assert toasts(app)[-1].startswith("ETHUSDT")


async def test_approve_sends_nothing_when_the_queue_moved_past_the_card(fakes):
    """The card shows ETHUSDT #3; before the next poll #3 is gone and SOLUSDT #8 heads the queue:
    ``a`` must not approve a proposal the trader never saw."""
    engine = five(fakes, SOLUSDT={"trading_state": TradingState.ACTIVE})
    app = CockpitApp(engine, bell=False, poll_interval=60)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _started(app, pilot)
        assert app.state.proposal.symbol == "ETHUSDT"
        engine.push_symbol("ETHUSDT", proposal=None)
        sol = replace(fakes.make_proposal(8), side=Side.BUY, qty="40.0", price_limit="150.10")
        engine.push_symbol("SOLUSDT", proposal=sol)
        await pilot.press("a")
        await pilot.pause()
        assert not [c for c in engine.control_calls if c.endswith("approve")]
        assert "SOLUSDT #8" in toasts(app)[-1] and "not sent" in toasts(app)[-1]
        assert app.state.proposal.symbol == "SOLUSDT"  # redrawn: the card shows what the queue holds
        assert "SOLUSDT #8" in fakes.screen_text(app)
        await pilot.press("a")  # now it is the one shown
        await pilot.pause()
        assert engine.control_calls == ["SOLUSDT:approve"]


async def test_x_kills_the_selected_symbol_only_and_k_kills_every_symbol(fakes):
    engine = five(fakes)
    app = CockpitApp(engine, bell=False, poll_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press("right_square_bracket", "right_square_bracket", "x")
        await pilot.pause()
        assert engine.control_calls == ["select:ETHUSDT", "select:SOLUSDT", "SOLUSDT:kill"]
        assert engine.engines["BTCUSDT"].calls == [] and engine.engines["SOLUSDT"].calls == ["kill"]
        await pilot.press("k")
        await pilot.pause()
        assert engine.control_calls[-1] == "kill"
        assert all(e.calls[-1] == "kill" for e in engine.engines.values())


async def test_the_palette_kills_and_pauses_one_symbol_by_name(fakes):
    engine = five(fakes)
    app = CockpitApp(engine, bell=False, poll_interval=60)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(app, pilot)
        for typed, title, call in ((("k", "i", "l", "l", " ", "d", "o", "g", "e"), "Kill DOGEUSDT", "DOGEUSDT:kill"),
                                   (("p", "a", "u", "s", "e", " ", "x", "r", "p"), "Pause / resume XRPUSDT",
                                    "XRPUSDT:toggle_pause"),
                                   (("s", "h", "o", "w", " ", "s", "o", "l"), "Show SOLUSDT", "select:SOLUSDT")):
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*typed)
            await fakes.workers_done(app, node=app.screen)
            await pilot.pause()
            listed = app.screen.query_one(CommandList)
            first = str(listed.get_option_at_index(0).prompt).split("\n")[0]
            assert first.startswith(title), first
            await pilot.press("enter")
            await fakes.until(pilot, lambda: engine.control_calls and engine.control_calls[-1] == call)
            await pilot.pause()
            assert not CommandPalette.is_open(app)
        assert app.state.symbol == "SOLUSDT"


async def test_help_lists_the_symbol_keys_only_with_several_symbols(fakes):
    for engine, shown in ((five(fakes), True), (fakes.FakeEngine(), False)):
        app = CockpitApp(engine, bell=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await _started(app, pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            assert ("kill the selected symbol only" in fakes.screen_text(app)) is shown


# ---------------------------------------------------------------------------- one symbol: as before


async def test_one_symbol_shows_no_overview_and_ignores_the_symbol_keys(fakes):
    engine = fakes.FakeEngine(fakes.make_state(mode=Mode.SEMI, proposal=fakes.make_proposal()))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(app, pilot)
        before = fakes.screen_text(app)
        await pilot.press("right_square_bracket", "left_square_bracket", "x", "0")
        await pilot.pause()
        assert engine.calls == [] and app.cockpit.page == "orders"
        assert fakes.screen_text(app) == before
        assert "Symbols" not in before and "] Symbol" not in before
        assert not app.cockpit.query_one("#overview-top").display
        assert not app.cockpit.query_one("#overview").display


# ---------------------------------------------------------------------------- rendering cost


async def test_the_overview_renders_only_when_its_rows_change_with_ten_symbols(fakes):
    engine = ten_symbols(fakes)
    app = CockpitApp(engine, bell=False, poll_interval=60)
    async with app.run_test(size=(160, 48)) as pilot:
        await _started(app, pilot)
        pane = app.cockpit.query_one("#overview-top", OverviewPane)
        assert pane.display and pane.renders == 1
        pane.numbers_every_s = 0  # every change drawn at once here (the hold-back has its own test)

        def step(symbol: str, **changes) -> None:
            engine.push_symbol(symbol, **changes)
            app.poll()

        s = engine.engines["BTCUSDT"].state
        step("BTCUSDT", feed=replace(s.feed, events_total=s.feed.events_total + 500), hysteresis_note="x")
        step("ETHUSDT", price=engine.engines["ETHUSDT"].state.price + 0.000001)  # below the shown precision
        step("ETHUSDT", spot_free=9.0)  # not on the overview
        assert pane.renders == 1
        step("LTCUSDT", price=123.45)
        assert pane.renders == 2
        step("LTCUSDT", trading_state=TradingState.PAUSED)
        assert pane.renders == 3
        assert "PAUSED" in fakes.screen_text(app)


async def test_the_force_dialog_names_the_selected_symbol(fakes):
    engine = five(fakes)
    app = CockpitApp(engine, bell=False, poll_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        await pilot.press("right_square_bracket", "f")
        await pilot.pause()
        text = fakes.screen_text(app)
        assert "symbol       ETHUSDT" in text and "0.015000 ETH" in text, text
        assert engine.calls == ["select:ETHUSDT", "ETHUSDT:preview_force"]


async def test_the_bell_rings_for_another_symbols_proposal_with_the_same_number(fakes):
    engine = five(fakes)
    app = CockpitApp(engine, bell=True, poll_interval=60)
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(app, pilot)
        assert len(rings) == 1  # ETHUSDT #3
        engine.push_symbol("ETHUSDT", proposal=None)
        engine.push_symbol("SOLUSDT", proposal=replace(fakes.make_proposal(3), created_ms=fakes.NOW))
        app.poll()
        await pilot.pause()
        assert app.state.proposal.symbol == "SOLUSDT" and len(rings) == 2


async def test_a_click_on_a_row_selects_its_symbol(fakes):
    engine = five(fakes)
    app = CockpitApp(engine, bell=False, poll_interval=60)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(app, pilot)
        rows = app.cockpit.query_one("#overview-top .overview-rows")
        await pilot.click(rows, offset=(12, 3))  # the header, BTC, ETH, then SOLUSDT's line
        await pilot.pause()
        assert engine.calls == ["select:SOLUSDT"] and app.state.symbol == "SOLUSDT"
        await pilot.click(rows, offset=(12, 0))  # the header: nothing
        await pilot.pause()
        assert engine.calls == ["select:SOLUSDT"]


async def test_the_header_and_card_say_how_many_proposals_queue_behind_the_shown_one(fakes):
    sol = replace(fakes.make_proposal(8), created_ms=fakes.NOW - 1_000)  # newer than ETHUSDT #3
    engine = five(fakes, SOLUSDT={"trading_state": TradingState.ACTIVE, "proposal": sol})
    app = CockpitApp(engine, bell=False, poll_interval=60)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(app, pilot)
        assert app.state.proposals_queued == 2 and app.state.proposal.symbol == "ETHUSDT"
        text = fakes.screen_text(app)
        assert "▶ PROPOSAL ETHUSDT #3 +1" in text.splitlines()[0]
        assert "+1 waiting · expires in" in text
        assert "▶#3" in row_of(text, "ETHUSDT") and "▶#8" in row_of(text, "SOLUSDT")


def row_of(text: str, symbol: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("│") and f" {symbol} " in line)


async def test_numbers_alone_redraw_the_overview_at_most_twice_a_second_but_a_state_at_once(fakes):
    """A busy feed moves every symbol's price at every poll: those redraws are held back to the
    next half second (and then drawn, the newest values); a halt shows at once."""
    engine = fakes.FakePortfolio({s: fakes.make_symbol_state(s) for s in fakes.SYMBOLS5})
    app = CockpitApp(engine, bell=False, poll_interval=60)
    async with app.run_test(size=(160, 48)) as pilot:
        await _started(app, pilot)
        pane = app.cockpit.query_one("#overview-top", OverviewPane)
        now = [1000.0]
        pane.clock = lambda: now[0]
        engine.push_symbol("ETHUSDT", price=2_999.5)
        app.poll()
        drawn = pane.renders
        engine.push_symbol("ETHUSDT", price=2_998.25)  # numbers only, 0 s after the last draw: held back
        app.poll()
        assert pane.renders == drawn and pane._flush is not None
        engine.push_symbol("SOLUSDT", trading_state=TradingState.HALTED)  # a state: at once
        app.poll()
        await pilot.pause()
        assert pane.renders == drawn + 1 and "2,998.25" in fakes.screen_text(app)
        engine.push_symbol("ETHUSDT", price=2_997.75)
        app.poll()
        assert pane.renders == drawn + 1
        now[0] += 0.5
        pane.draw_held_back()  # what the timer does when the half second is up: the newest price
        await pilot.pause()
        assert pane.renders == drawn + 2 and "2,997.75" in fakes.screen_text(app)


async def test_the_overview_is_the_first_page_also_when_the_first_layout_had_room_on_top(fakes):
    """Under load the first snapshot can be placed before the screen has its final size: the
    overview went on top, then the real 80x24 made it page 0, but the first page stayed Orders
    (seen as a flaky snapshot). The first time it becomes page 0, it is the page shown."""
    engine = five(fakes)
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(80, 40)) as pilot:
        await _started(app, pilot)
        screen = app.cockpit
        assert not screen.overview_paged and screen.page == "orders"  # room on top at 80x40
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        assert screen.overview_paged and screen.page == "overview"
