"""The cockpit's view (``core.view``): drawn from the rebalancer's parts, with the feed health
the host measured handed in as data (``FeedInputs``), never written into the rebalancer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.engine import Engine
from core.model import Mode
from core.view import NO_FEED, FeedInputs
from tests.core.helpers_engine import T0, Harness, rcfg

BID, ASK = 59_999.99, 60_000.01


@pytest.fixture
def h() -> Harness:
    h = Harness(rcfg(), spot="0.51", mode=Mode.SEMI)  # gap +0.01: a soft proposal
    h.market(T0, BID, ASK)
    return h


def test_feed_health_is_what_the_host_hands_in(h):
    h.reb.bad("a broken frame")  # the rebalancer's own count: 1
    snap = h.reb.snapshot(T0 + 2_500, feed=FeedInputs(rtt_p50_ms=12.5, rtt_p99_ms=80.0, rate_budget_left=97,
                                                       bad_messages=4))
    f = snap.feed
    assert (f.rtt_p50_ms, f.rtt_p99_ms, f.rate_budget_left) == (12.5, 80.0, 97)
    assert f.bad_messages == 1 + 4
    assert f.data_age_ms == 2_500
    assert f.events_total == h.reb.stats.events


def test_without_feed_inputs_the_feed_figures_are_unknown(h):
    f = h.reb.snapshot().feed
    assert (f.rtt_p50_ms, f.rtt_p99_ms, f.rate_budget_left, f.bad_messages) == (None, None, None, 0)
    assert h.reb.snapshot(feed=NO_FEED) == h.reb.snapshot()


def test_the_view_reads_the_account_book_and_the_parts(h):
    reb = h.reb
    snap = reb.snapshot()
    book = reb.book
    assert (snap.spot_free, snap.spot_locked, snap.futures_size) == (book.spot_free, book.spot_locked,
                                                                      book.futures_size)
    assert snap.gap_base == pytest.approx(book.gap_base(reb.price)) and snap.gap_base == pytest.approx(0.01)
    assert snap.equity_quote == pytest.approx(book.equity_quote(reb.price))
    assert snap.proposal is reb.operator.proposal is not None
    d = snap.decision
    assert snap.decision_net_after_base == pytest.approx(book.net_base - d.qty_base)  # a sell
    assert snap.anchor_window_s == reb.policy.fills_window_s


class _Venue:
    """Just what the engine reads of a venue outside start-up: a bad-message count and a budget."""

    can_trade = True
    read_only = False

    def __init__(self) -> None:
        self.bad_messages = 0

    def rate_budget_left(self) -> int:
        return 42


def test_the_engine_hands_its_feed_figures_in_and_writes_none_into_the_rebalancer(h):
    venue = _Venue()
    t = [0.0]
    engine = Engine(h.reb, venue, clock=SimpleNamespace(now_ms=lambda: T0), perf_counter=lambda: t[0])
    before = dict(vars(h.reb))
    for ms in (10.0, 30.0, 20.0):  # three order round trips
        t[0] = 100.0
        started = t[0]
        t[0] = started + ms / 1000.0
        engine._rtt(started)
    venue.bad_messages = 3
    engine._failed_events = 2  # events that raised in the rebalancer
    feed = engine.feed_inputs()
    assert feed.rtt_p50_ms == pytest.approx(10.0)  # refreshed on the 1st, 6th ... round trip
    assert (feed.rate_budget_left, feed.bad_messages) == (42, 5)
    shown = engine.latest().feed
    assert (shown.rtt_p50_ms, shown.rate_budget_left, shown.bad_messages) == (pytest.approx(10.0), 42,
                                                                              h.reb.bad_messages + 5)
    assert dict(vars(h.reb)).keys() == before.keys()  # no attribute added to the rebalancer
    assert h.reb.bad_messages == before["bad_messages"]


def test_stream_stalls_and_reconnects_reach_the_feed_pane(h):
    from rich.console import Console

    from tui.panes.feed import feed_table

    venue = _Venue()
    engine = Engine(h.reb, venue, clock=SimpleNamespace(now_ms=lambda: T0))
    assert engine.latest().feed.stalls is None  # a venue without streams: no row
    venue.stalls, venue.reconciles = 2, 3  # what the Bybit venue counts
    feed = engine.feed_inputs()
    assert (feed.stalls, feed.reconnects) == (2, 3)
    engine.invalidate()
    shown = engine.latest()
    assert (shown.feed.stalls, shown.feed.reconnects) == (2, 3)
    console = Console(width=40, record=True)
    console.print(feed_table(shown))
    text = console.export_text()  # (exporting clears the record)
    assert "stalls / reconn" in text and "2 / 3" in text


def test_dropped_alerts_reach_the_feed_pane(h):
    from rich.console import Console

    from tui.panes.feed import feed_table

    engine = Engine(h.reb, _Venue(), clock=SimpleNamespace(now_ms=lambda: T0))
    assert engine.latest().feed.alerts_dropped is None  # no alerts configured: no row
    engine.attach_alerts(SimpleNamespace(dropped=4))
    engine.invalidate()
    shown = engine.latest()
    assert shown.feed.alerts_dropped == 4
    console = Console(width=40, record=True)
    console.print(feed_table(shown))
    assert "alerts dropped" in console.export_text()
