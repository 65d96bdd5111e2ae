"""The cockpit's toasts tell the truth (issue 16): a key press is toasted with the engine's
outcome of the command — the very text of the Log line and of the journal's ``operator`` row —
never "sent" when nothing happened. The real Engine and Rebalancer on a PaperVenue moved by
hand, with a real (in-memory) journal; only the market and the grid are scripted.

Account: futures -0.5 BTC; the spot balance sets the gap (anchor soft 0.004 / hard 0.012).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.engine import Engine
from core.journal import Journal
from core.journal.recorder import JournalRecorder
from core.model import BTCUSDT_SPOT, Fill, Leg, Mode, Quote, Side, Trade
from core.rebalancer import Rebalancer
from core.venues.paper import PaperVenue
from core.venues.paper_exchange import PaperExchange
from tests.core.helpers_engine import T0, initial_position_fill, rcfg
from tui.app import CockpitApp
from tui.screens.confirm import ForceScreen
from tui.screens.main import CockpitScreen

D = Decimal
BID, ASK = 59_999.99, 60_000.01


class MarketClock:
    def __init__(self, ex: PaperExchange) -> None:
        self.ex = ex

    def now_ms(self) -> int:
        return self.ex.now_ms


class Desk:
    """The engine on a hand-moved paper venue, journaling to memory, in a cockpit."""

    def __init__(self, *, spot: str, mode: Mode) -> None:
        self.ex = PaperExchange(balances={"BTC": D(spot), "USDT": D("50000")})
        self.ex.apply_grid_fill(initial_position_fill(T0, D("-0.5"), D("60000")))
        self.journal = Journal()
        self.reb = Rebalancer(rcfg(), BTCUSDT_SPOT, mode=mode, recorder=JournalRecorder(self.journal))
        self.venue = PaperVenue(self.ex, speed=0, tick_ms=None)
        self.engine = Engine(self.reb, self.venue, clock=MarketClock(self.ex), tick_s=3600, journal=self.journal)
        self.app = CockpitApp(self.engine, bell=False)
        self.t = T0
        self._grid = 0

    def market(self, bid: float = BID, ask: float = ASK) -> None:
        self.t += 1_000
        self.venue.feed(Quote(self.t, bid, 1.0, ask, 1.0))
        self.venue.feed(Trade(self.t, round((bid + ask) / 2, 2), 0.001, Side.BUY))

    def grid_fill(self, side: Side, qty: str) -> None:
        """The grid bot trades the futures leg: the net delta moves."""
        self._grid += 1
        f = Fill(ts_ms=self.t, exec_id=f"g-{self._grid}", symbol="BTCUSDT", side=side, price=D("60000"), qty=D(qty),
                 fee=D(0), fee_coin="USDT", is_maker=True, leg=Leg.LINEAR, source="grid")
        for ev in self.ex.apply_grid_fill(f):
            self.engine._accept(ev)

    def operator_rows(self) -> list[str]:
        return [reason for _, _, _, reason in self.journal.states("operator")]

    def toasts(self) -> list[str]:
        return [n.message for n in self.app._notifications]


async def _started(d: Desk, pilot) -> None:
    await asyncio.wait_for(d.engine.started.wait(), 10)
    await pilot.pause()


async def _redraw(d: Desk, pilot) -> None:
    """Redraw from the engine's state now (``latest()`` caches a snapshot up to 0.1 s old)."""
    d.engine.invalidate()
    d.app.poll()
    await pilot.pause()


async def _press(d: Desk, pilot, *keys: str) -> None:
    """Press ``keys``, then redraw."""
    await pilot.press(*keys)
    await pilot.pause()
    await _redraw(d, pilot)


def assert_toast_is_the_journal_row_and_the_log_line(d: Desk, text: str) -> None:
    assert d.toasts()[-1] == text
    assert d.operator_rows()[-1] == text
    assert d.reb.log[-1].text == text
    assert "sent" not in text.split(":")[0]


async def test_approve_after_the_proposal_was_withdrawn_says_nothing_to_approve():
    d = Desk(spot="0.51", mode=Mode.SEMI)  # gap +0.010: a soft proposal
    async with d.app.run_test(size=(80, 24)) as pilot:
        await _started(d, pilot)
        d.market()
        await _redraw(d, pilot)
        assert d.app.state.proposal is not None and d.app.state.proposal.proposal_id == 1
        d.grid_fill(Side.SELL, "0.008")  # gap 0.002: the need is gone ...
        d.market()  # ... and the engine withdraws #1 before the cockpit redraws
        await _press(d, pilot, "a")
        assert_toast_is_the_journal_row_and_the_log_line(d, "nothing to approve (proposal #1 withdrawn: no longer needed)")
        assert not d.ex.open_orders() and d.engine.order_calls == 0


async def test_force_confirmed_after_the_gap_closed_says_already_at_target():
    d = Desk(spot="0.51", mode=Mode.SEMI)
    async with d.app.run_test(size=(80, 24)) as pilot:
        await _started(d, pilot)
        d.market()
        await _press(d, pilot, "f")
        assert isinstance(d.app.screen, ForceScreen)
        d.grid_fill(Side.SELL, "0.010")  # the gap goes to 0 while the dialog is up
        await _press(d, pilot, "right", "enter")  # Send
        assert isinstance(d.app.screen, CockpitScreen)
        assert_toast_is_the_journal_row_and_the_log_line(d, "nothing to force: already at target")
        assert d.engine.order_calls == 0


async def test_cancel_after_the_order_filled_says_no_pending_order():
    d = Desk(spot="0.51", mode=Mode.SEMI)
    async with d.app.run_test(size=(80, 24)) as pilot:
        await _started(d, pilot)
        d.market()
        await _redraw(d, pilot)  # the card shows #1: ``a`` approves what it shows
        await _press(d, pilot, "a")  # approved: a maker sell rests at the ask
        assert d.toasts()[-1].startswith("approved #1: sell 0.005000 BTC, limit ≥ 59,940.00 → order ")
        assert d.app.state.orders  # the cockpit shows it ...
        d.t += 1_000
        d.venue.feed(Trade(d.t, 60_001.0, 0.01, Side.BUY))  # ... and it fills before the next redraw
        assert not d.ex.open_orders()
        await _press(d, pilot, "c")
        assert_toast_is_the_journal_row_and_the_log_line(d, "no pending order")


@pytest.mark.parametrize("key, text", [("a", "approve refused: watch mode never trades"),
                                       ("f", "force refused: watch mode never trades")])
async def test_watch_mode_refusals_are_said(key, text):
    d = Desk(spot="0.52", mode=Mode.WATCH)  # a hard gap the engine would trade in another mode
    async with d.app.run_test(size=(80, 24)) as pilot:
        await _started(d, pilot)
        d.market()
        await _press(d, pilot, key)
        assert isinstance(d.app.screen, CockpitScreen)  # no dialog to confirm
        assert_toast_is_the_journal_row_and_the_log_line(d, text)
        assert d.engine.order_calls == 0


async def test_a_moved_proposal_is_shown_under_a_new_number_and_approval_sends_what_the_card_shows():
    d = Desk(spot="0.51", mode=Mode.SEMI)  # gap +0.010: proposal #1, sell 0.005
    rings: list[int] = []
    d.app.bell_enabled = True
    d.app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with d.app.run_test(size=(80, 24)) as pilot:
        await _started(d, pilot)
        d.market()
        await _press(d, pilot)
        assert (d.app.state.proposal.proposal_id, d.app.state.proposal.qty) == (1, "0.005000") and rings == [1]
        d.grid_fill(Side.BUY, "0.0015")  # gap 0.0115: the engine now wants 0.00575 (+15 % > 10 %)
        d.market()
        await _press(d, pilot)
        card = d.app.screen.query_one("#decision")
        assert "PROPOSAL #2" in str(card.border_title) and "0.005750 BTC" in fakes_text(d)
        assert rings == [1, 1]  # the bell rings again for the new number
        # the Log and the journal say the same number and size as the card
        assert any(line.text.startswith("PROPOSAL #2: sell 0.005750 BTC") for line in d.app.state.log)
        shown = [(p["proposal_id"], p["qty"], p["answer"]) for p in d.journal.proposals()]
        assert (1, "0.005000", "shown") in shown and (2, "0.005750", "shown") in shown
        assert (1, "0.005000", "withdrawn: the size moved 0.005000 → 0.005750 (+15%), past ±10%") in shown
        await _press(d, pilot, "a")
        assert d.toasts()[-1].startswith("approved #2: sell 0.005750 BTC, limit ≥ 59,940.00 → order ")
        assert [str(o.qty) for o in d.ex.open_orders()] == ["0.005750"]


def fakes_text(d: Desk) -> str:
    import cockpit_fakes

    return cockpit_fakes.screen_text(d.app)
