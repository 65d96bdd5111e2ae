"""Which records become alerts and what each says (``core.alerts.rules``): each event once,
with its documented fields."""

from __future__ import annotations

from decimal import Decimal

from core.alerts.rules import EVENTS, AlertRules, DailySummary, FeedWatch
from core.model import Action, Decision, Fill, Order, OrderStatus, Side, TimeInForce
from core.state import Proposal

T0 = 1_765_000_000_000
D = Decimal


def rules(events=EVENTS, streak=3):
    got = []
    return AlertRules(got.append, symbol="BTCUSDT", events=tuple(events), rejected_streak=streak), got


def proposal(n=7):
    d = Decision(ts_ms=T0, policy="anchor", action=Action.PARTIAL, side=Side.SELL, qty_base=0.01, gap_base=0.02,
                 net_base=0.02, target_base=0.0, price=60_000.0, reason="|gap| 0.02 ≥ soft")
    return Proposal(proposal_id=n, side=Side.SELL, qty="0.010000", price_limit="59940.00", decision=d,
                    created_ms=T0, expires_ms=T0 + 30_000, expected_fee_quote=0.6, net_after_base=0.01)


def order(status, reason=""):
    return Order(client_id="rb1-0", order_id="x", symbol="BTCUSDT", side=Side.SELL, qty=D("0.01"), price=D("60000"),
                 tif=TimeInForce.IOC, status=status, reject_reason=reason)


def test_a_shown_proposal_is_an_alert_with_symbol_side_size_limit_reason_expiry():
    r, got = rules()
    r.proposal(T0, proposal(), "shown")
    r.proposal(T0 + 1, proposal(), "approved")  # the answer is the journal's, not an alert
    assert len(got) == 1
    a = got[0]
    assert a.event == "proposal" and a.title.startswith("[BTCUSDT] proposal #7")
    f = a.fields
    assert (f["symbol"], f["side"], f["qty"], f["limit"], f["expires_ms"]) == (
        "BTCUSDT", "Sell", "0.010000", "59940.00", T0 + 30_000)
    assert f["reason"] == "|gap| 0.02 ≥ soft" and "expires" in a.body


def test_a_kill_a_halt_and_the_rearm_each_once():
    r, got = rules()
    r.state(T0, "trading_state", "HALTED", "kill switch pressed by the user")
    r.state(T0 + 1, "trading_state", "HALTED", "kill switch pressed by the user")  # said once
    r.state(T0 + 2, "trading_state", "ACTIVE", "re-armed by the user")
    r.state(T0 + 3, "trading_state", "HALTED", "drawdown 5.2% ≥ 5%")
    assert [a.event for a in got] == ["kill", "rearm", "halt"]
    assert got[2].fields["reason"] == "drawdown 5.2% ≥ 5%"


def test_mode_changes_and_only_the_chosen_events():
    r, got = rules(events=("halt",))
    r.state(T0, "mode", "watch", "from auto")
    r.state(T0, "trading_state", "HALTED", "stale data")
    assert [a.event for a in got] == ["halt"]
    r2, got2 = rules()
    r2.state(T0, "mode", "watch", "from auto")
    assert got2[0].event == "mode" and got2[0].fields["mode"] == "watch"


def test_a_streak_of_rejections_is_one_alert_and_a_fill_resets_it():
    r, got = rules(streak=2)
    r.order(T0, order(OrderStatus.REJECTED, "170131 insufficient balance"), "Rejected")
    r.order(T0, order(OrderStatus.REJECTED, "170131 insufficient balance"), "Rejected")
    r.order(T0, order(OrderStatus.REJECTED, "170131 insufficient balance"), "Rejected")
    assert [a.event for a in got] == ["order_rejected_streak"] and got[0].fields["count"] == 2
    r.order(T0, order(OrderStatus.FILLED), "Filled")
    r.order(T0, order(OrderStatus.REJECTED), "Rejected")
    r.order(T0, order(OrderStatus.REJECTED), "Rejected")
    assert len(got) == 2


def test_fills_only_ours_and_only_when_chosen():
    ours = Fill(ts_ms=T0, exec_id="e", symbol="BTCUSDT", side=Side.SELL, price=D("60000"), qty=D("0.01"), fee=D("0.6"),
                fee_coin="USDT", is_maker=True, client_id="rb1-0", source="rebalancer")
    grid = Fill(ts_ms=T0, exec_id="g", symbol="BTCUSDT", side=Side.BUY, price=D("60000"), qty=D("0.01"), fee=D("0"),
                fee_coin="USDT", is_maker=True, source="grid")
    r, got = rules()
    r.fill(ours)
    r.fill(grid)
    assert [a.fields["qty"] for a in got] == ["0.01"]
    r2, got2 = rules(events=("halt",))
    r2.fill(ours)
    assert got2 == []


def test_the_feed_down_after_n_silent_seconds_and_up_again():
    got = []
    w = FeedWatch(got.append, symbol="BTCUSDT", after_s=30, events=frozenset(EVENTS))
    w.check(T0, T0, True)
    w.check(T0 + 29_000, T0, True)
    assert got == []
    w.check(T0 + 30_000, T0, True)
    w.check(T0 + 31_000, T0, True)  # said once
    assert [a.event for a in got] == ["feed_down"] and "no market data for 30 s" in got[0].title
    w.check(T0 + 40_000, T0 + 40_000, True)
    assert [a.event for a in got] == ["feed_down", "feed_up"]


def test_a_disconnect_counts_once_it_lasts():
    got = []
    w = FeedWatch(got.append, symbol="BTCUSDT", after_s=10, events=frozenset(EVENTS))
    w.check(T0, T0, False)
    w.check(T0 + 5_000, T0 + 5_000, False)
    assert got == []
    w.check(T0 + 10_000, T0 + 10_000, False)
    assert got[0].event == "feed_down" and "disconnected" in got[0].fields["why"]


def test_the_daily_summary_once_a_utc_day_with_the_day_s_pnl():
    got = []
    s = DailySummary(got.append, symbol="BTCUSDT", events=frozenset(EVENTS))
    day = 86_400_000
    start = T0 - T0 % day + 3_600_000  # 01:00 UTC
    s.check(start, lambda: {"fills": 1, "equity_quote": 100.0})
    s.check(start + 3_600_000, lambda: {"fills": 2, "equity_quote": 110.0})
    assert got == []
    s.check(start + day, lambda: {"fills": 9, "equity_quote": 125.5})
    assert len(got) == 1 and got[0].fields["day_pnl_quote"] == 25.5 and got[0].fields["fills"] == 9
