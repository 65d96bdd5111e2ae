"""The synchronous Rebalancer on a PaperExchange, pumped as ``core/replay/run.py`` does.

Account: 0.5 BTC futures short (-0.5) against a spot wallet; the spot balance sets the gap
(gap = spot - 0.5 with target 0). Anchor thresholds soft 0.004 / hard 0.012, no bias
scaling and no anchor edges (``QUIET_ANCHOR`` in helpers_engine), partial ratio 0.5,
cooldown 10 s, hard cooldown 2 s, hysteresis +20 % for 300 s, slippage cap 10 bps.
Touch used throughout: bid 59999.99 / ask 60000.01 (trade prints at the mid 60000.00).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.events import CancelAllOurs, CancelOrder, FillEvent, OrderUpdate, PlaceOrder
from core.model import Mode, OrderStatus, Quote, Side, TimeInForce, Trade, TradingState
from core.venues.grid import GridBot
from core.venues.market import SyntheticMarket
from tests.core.helpers_engine import T0, Harness, SpyRecorder, rcfg

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
BID, ASK = 59_999.99, 60_000.01
S = 1_000


@pytest.fixture
def spy() -> SpyRecorder:
    return SpyRecorder()


@pytest.fixture
def make_h(spy):
    """``make_h(spot="0.51", mode=Mode.SEMI, risk__cooldown_s=5)`` -> a Harness (spy attached)."""

    def make(spot: str = "0.51", mode: Mode = Mode.AUTO, **cfg_overrides) -> Harness:
        return Harness(rcfg(**cfg_overrides), spot=spot, mode=mode, recorder=spy)

    return make


def outcomes(spy: SpyRecorder) -> list[str]:
    return [o for _, _, o in spy.decisions]


def log_texts(h: Harness) -> list[str]:
    return [line.text for line in h.reb.log]


def exact_gap(h: Harness) -> float:
    return h.net_from_exchange() - 0.0  # target 0


# ------------------------------------------------------------------------------- AUTO


def test_auto_executes_a_soft_rebalance_maker_first(make_h, spy):
    h = make_h("0.51")  # gap +0.010: soft <= 0.010 < hard -> partial sell 50 % = 0.005
    h.market(T0, BID, ASK)
    assert len(h.places) == 1
    r = h.places[0]
    assert (r.side, r.qty, r.price, r.tif) == (SELL, D("0.005000"), D("60000.01"), TimeInForce.POST_ONLY)
    assert outcomes(spy) == ["executed"]
    # a print above our ask fills us as maker
    h.trade(T0 + S, 60_000.02, 0.01)
    st = h.reb.stats
    assert (st.orders, st.fills, st.maker_fills, st.taker_fills, st.rebalances) == (1, 1, 1, 0, 1)
    assert h.reb.exec is None
    # 0.51 - 0.005 = 0.505 BTC; gap 0.005 both from the exchange and in the rebalancer's estimate
    assert exact_gap(h) == pytest.approx(0.005, abs=1e-12)
    assert h.reb.gap_base() == pytest.approx(0.005, abs=1e-9)
    assert st.volume_quote == pytest.approx(0.005 * 60_000.01)
    assert st.wrong_direction_orders == 0


def test_auto_hard_gap_takes_at_once_with_a_capped_ioc(make_h):
    h = make_h("0.52")  # gap +0.020 >= hard -> full sell, gate passes (no recent fills) -> taker
    h.market(T0, BID, ASK)
    assert len(h.places) == 1
    r = h.places[0]
    # IOC limit = bid x (1 - 10 bps) rounded up: 59999.99 x 0.999 = 59939.99001 -> 59940.00
    assert (r.side, r.qty, r.tif, r.price) == (SELL, D("0.020000"), TimeInForce.IOC, D("59940.00"))
    # the paper exchange fills a taker sell at the bid
    fills = h.ex.fills()
    assert [(f.price, f.qty, f.is_maker) for f in fills] == [(D("59999.99"), D("0.020000"), False)]
    assert exact_gap(h) == pytest.approx(0.0, abs=1e-12)
    assert h.reb.stats.taker_fills == 1


def test_no_order_inside_the_soft_threshold(make_h, spy):
    h = make_h("0.5035")  # gap 0.0035 < soft 0.004
    for i in range(5):
        h.market(T0 + i * S, BID, ASK)
    assert h.places == []
    assert set(outcomes(spy)) == {"held"}


# ------------------------------------------------------------------------------- SEMI


def test_semi_proposes_and_sends_nothing_until_approved(make_h, spy):
    h = make_h("0.51", mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    for i in range(1, 5):
        h.market(T0 + i * S, BID, ASK)
    assert h.places == []
    p = h.reb.proposal
    assert p is not None and p.proposal_id == 1
    # qty 0.005; limit = bid x 0.999 rounded up = 59940.00; a soft proposal expires after 30 s
    assert (p.side, p.qty, p.price_limit, p.expires_ms) == (SELL, "0.005000", "59940.00", T0 + 30 * S)
    assert outcomes(spy) == ["proposed"]
    cmds = h.do(h.reb.approve())
    assert [type(c) for c in cmds] == [PlaceOrder]
    assert len(h.places) == 1 and h.places[0].qty == D("0.005000")
    assert h.reb.proposal is None
    assert spy.proposal_answers() == ["approved"]
    # approving again does nothing: no proposal left
    assert h.do(h.reb.approve()) == []
    assert len(h.places) == 1


def test_semi_skip_sends_nothing_and_waits_a_cooldown(make_h, spy):
    h = make_h("0.51", mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    assert h.do(h.reb.skip()) == []
    assert h.reb.proposal is None
    assert spy.proposal_answers() == ["skipped"]
    # the gap is still there, but the skip suppresses new proposals for cooldown_s = 10 s
    for i in range(1, 10):
        h.market(T0 + i * S, BID, ASK)
        assert h.reb.proposal is None
    h.market(T0 + 10 * S, BID, ASK)
    assert h.reb.proposal is not None and h.reb.proposal.proposal_id == 2
    assert h.places == []


def test_semi_soft_proposal_expires_by_tick_time(make_h, spy):
    h = make_h("0.51", mode=Mode.SEMI, risk__stale_after_s=120)  # quiet market stays fresh
    h.market(T0, BID, ASK)
    assert h.reb.proposal.expires_ms == T0 + 30 * S
    for t in range(1, 30):
        h.tick(T0 + t * S)
        assert h.reb.proposal is not None and h.reb.proposal.proposal_id == 1, t
    h.tick(T0 + 30 * S)
    assert h.reb.proposal is None
    assert spy.proposal_answers() == ["expired"]
    assert any("proposal #1 expired" in t for t in log_texts(h))
    assert h.places == []
    # approving now has nothing to approve
    assert h.do(h.reb.approve()) == []


def test_semi_hard_proposal_does_not_expire(make_h):
    h = make_h("0.52", mode=Mode.SEMI, risk__stale_after_s=600)
    h.market(T0, BID, ASK)
    assert h.reb.proposal.expires_ms is None
    h.tick(T0 + 300 * S)
    assert h.reb.proposal is not None


def test_semi_approval_rechecks_the_price_and_refuses_a_stale_limit(make_h, spy):
    h = make_h("0.51", mode=Mode.SEMI, proposals__price_tolerance_bps=50)
    h.market(T0, BID, ASK)
    assert h.reb.proposal.price_limit == "59940.00"
    # the market falls through the limit: bid 59930.37 < 59940.00 (11.6 bps: within the 50 allowed)
    h.market(T0 + S, 59_930.37, 59_930.39)
    assert h.reb.proposal.proposal_id == 1  # the card stands as shown, limit included
    assert h.do(h.reb.approve()) == []
    assert h.places == []
    assert spy.proposal_answers() == ["stale: price moved past its limit"]
    # re-computed: a new proposal at the fresh touch, 59930.37 x 0.999 = 59870.43963 -> 59870.44
    p = h.reb.proposal
    assert p is not None and p.proposal_id == 2 and p.price_limit == "59870.44"
    # approving the fresh one sends exactly one order
    h.do(h.reb.approve())
    assert len(h.places) == 1 and h.places[0].side is SELL


def test_semi_approval_when_the_need_is_gone_sends_nothing(make_h, spy):
    h = make_h("0.51", mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    # the grid sells 0.008 on the futures leg in the same millisecond: gap 0.010 - 0.008 = 0.002
    h.grid_fill(T0, SELL, "0.008", "60000")
    assert h.do(h.reb.approve()) == []
    assert h.places == []
    assert spy.proposal_answers() == ["stale: no longer needed"]


# ------------------------------------------------------------------------------- FORCE


def test_a_confirmed_force_never_exceeds_the_size_and_limit_it_showed(make_h, spy):
    h = make_h("0.505", mode=Mode.SEMI)  # gap +0.005: under hard, a soft proposal waits
    h.market(T0, BID, ASK)
    shown = h.reb.preview_force()
    assert (shown.side, shown.qty, shown.price_limit) == (SELL, "0.005000", "59940.00")
    # while the dialog is open the grid buys 0.003 on futures (gap +0.008) and the bid falls
    h.grid_fill(T0 + 100, BUY, "0.003", "60000")
    h.market(T0 + 200, 59_950.00, 59_950.02)
    assert h.reb.preview_force().qty == "0.008000"  # a fresh preview would sell more, lower
    h.do(h.reb.force(shown))
    assert [(r.side, r.qty, r.tif) for r in h.places] == [(SELL, D("0.005000"), TimeInForce.IOC)]
    # the fresh cap would be 59950.00 x 0.999 = 59890.05; the shown limit 59940.00 is tighter
    assert h.places[0].price == D("59940.00")


def test_a_confirmed_force_sends_nothing_when_the_gap_changed_side(make_h, spy):
    h = make_h("0.505", mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    shown = h.reb.preview_force()
    assert shown.side is SELL
    h.grid_fill(T0 + 100, SELL, "0.012", "60000")  # gap +0.005 - 0.012 = -0.007: now a buy
    h.market(T0 + 200, BID, ASK)
    assert h.do(h.reb.force(shown)) == []
    assert h.places == []
    assert any("changed side" in t for t in log_texts(h))


# ------------------------------------------------------------------------------- WATCH


def test_watch_never_places_even_on_force_or_approve(make_h, spy):
    h = make_h("0.52", mode=Mode.WATCH)
    for i in range(20):
        h.market(T0 + i * S, BID, ASK)
        h.tick(T0 + i * S + 500)
    assert h.do(h.reb.force()) == []
    assert h.do(h.reb.approve()) == []
    assert h.reb.proposal is None
    assert h.places == []
    assert h.reb.stats.orders == 0
    assert "watch: shown only" in outcomes(spy)
    assert any("force refused: watch mode never trades" in t for t in log_texts(h))
    assert h.reb.preview_force() is not None  # shown, never sent


def test_switching_to_watch_cancels_the_working_order(make_h):
    h = make_h("0.51")
    h.market(T0, BID, ASK)
    assert len(h.ex.open_orders()) == 1
    cmds = h.do(h.reb.set_mode(Mode.WATCH))
    assert [type(c) for c in cmds] == [CancelOrder]
    assert h.ex.open_orders() == ()
    assert h.reb.exec is None
    for i in range(1, 20):
        h.market(T0 + i * S, BID, ASK)
    assert len(h.places) == 1


# ------------------------------------------------------------------------------- kill / pause / skip


def test_kill_cancels_all_halts_and_nothing_is_sent_until_rearm(make_h, spy):
    h = make_h("0.51")
    h.market(T0, BID, ASK)
    assert len(h.ex.open_orders()) == 1
    cmds = h.do(h.reb.kill())
    assert [type(c) for c in cmds] == [CancelAllOurs]
    assert h.ex.open_orders() == ()
    assert h.reb.risk.state is TradingState.HALTED
    assert h.reb.exec is None
    assert ("trading_state", "HALTED") in [(k, v) for _, k, v, _ in spy.states]
    for i in range(1, 40):
        h.market(T0 + i * S, BID, ASK)
    assert h.do(h.reb.force()) == []
    assert h.do(h.reb.toggle_pause()) == []  # a halt is not a pause
    assert h.reb.risk.state is TradingState.HALTED
    assert len(h.places) == 1
    assert any(o.startswith("refused: HALTED: kill switch pressed by the user") for o in outcomes(spy))
    # re-armed: the next evaluation trades again
    h.do(h.reb.rearm())
    assert h.reb.risk.state is TradingState.ACTIVE
    h.market(T0 + 40 * S, BID, ASK)
    assert len(h.places) == 2


def test_pause_cancels_the_working_order_and_blocks_new_ones(make_h, spy):
    h = make_h("0.51")
    h.market(T0, BID, ASK)
    cid = h.places[0].client_id
    cmds = h.do(h.reb.toggle_pause())
    assert [(type(c), c.client_id) for c in cmds] == [(CancelOrder, cid)]
    assert h.ex.open_orders() == ()
    assert h.reb.exec is None
    assert h.reb.risk.state is TradingState.PAUSED
    for i in range(1, 30):
        h.market(T0 + i * S, BID, ASK)
    assert len(h.places) == 1
    assert "refused: PAUSED by the user" in outcomes(spy)
    h.do(h.reb.toggle_pause())
    assert h.reb.risk.state is TradingState.ACTIVE
    h.market(T0 + 30 * S, BID, ASK)
    assert len(h.places) == 2


def test_skip_next_in_auto_skips_one_decision(make_h, spy):
    h = make_h("0.51")
    h.do(h.reb.skip())
    assert h.reb.operator.skip_next
    h.market(T0, BID, ASK)
    assert h.places == []
    assert outcomes(spy) == ["skipped by the user"]
    assert not h.reb.operator.skip_next
    # suppressed for cooldown_s (10 s), then the next decision executes
    for i in range(1, 10):
        h.market(T0 + i * S, BID, ASK)
    assert h.places == []
    h.market(T0 + 10 * S, BID, ASK)
    assert len(h.places) == 1


def test_kill_drops_a_pending_proposal(make_h, spy):
    h = make_h("0.51", mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    assert h.reb.proposal is not None
    h.do(h.reb.kill())
    assert h.reb.proposal is None
    assert spy.proposal_answers() == ["dropped: halted"]
    assert h.do(h.reb.approve()) == []
    assert h.places == []


def test_leaving_semi_drops_the_proposal(make_h, spy):
    h = make_h("0.51", mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    h.do(h.reb.set_mode(Mode.AUTO))
    assert spy.proposal_answers() == ["dropped: mode auto"]
    assert h.places == []
    h.market(T0 + S, BID, ASK)  # in AUTO the next evaluation executes
    assert len(h.places) == 1


def test_drawdown_kill_switch_halts_from_the_tick(spy):
    """Unhedged: target +0.5 BTC held as 0.5 spot, no futures. Equity = 0.5 x price + 50,000:
    80,000 at 60,000; at 57,000 it is 78,500, a 1.875 % drawdown >= the 1.5 % limit."""
    h = Harness(rcfg(desired_net_delta_base=0.5, risk__max_drawdown_pct=1.5), spot="0.5", futures="0",
                mode=Mode.AUTO, recorder=spy)
    h.market(T0, BID, ASK)
    h.tick(T0 + S)  # the peak: 80,000
    assert h.reb.risk.peak_equity == pytest.approx(80_000.0)
    h.market(T0 + 2 * S, 58_999.99, 59_000.01)  # 79,500: 0.625 %
    h.tick(T0 + 3 * S)
    assert h.reb.risk.state is TradingState.ACTIVE
    h.market(T0 + 4 * S, 56_999.99, 57_000.01)
    h.tick(T0 + 5 * S)
    assert h.reb.risk.state is TradingState.HALTED
    assert h.reb.risk.halt_reason == ("kill switch: drawdown 1.88% ≥ 1.5% "
                                      "(equity 78,500.00 from peak 80,000.00)")
    assert [type(c) for c in h.sent] == [CancelAllOurs]
    assert [(k, v) for _, k, v, _ in spy.states] == [("trading_state", "HALTED")]
    assert h.reb.snapshot().drawdown_pct == pytest.approx(1.875)


def test_stale_market_data_refuses_new_rebalances(make_h, spy):
    h = make_h("0.5")
    h.market(T0, BID, ASK)
    h.grid_fill(T0, BUY, "0.02", "60000")  # gap +0.02, but no market event after it
    h.tick(T0 + 11 * S)  # last market data 11 s old > stale_after_s 10
    assert h.places == []
    assert outcomes(spy)[-1] == "refused: market data stale (11.0s > 10s)"
    h.market(T0 + 12 * S, BID, ASK)  # fresh data: the hard sell goes out
    assert [(r.side, r.qty) for r in h.places] == [(SELL, D("0.020000"))]


# ------------------------------------------------------------------------------- cooldown / hysteresis


def _fill_resting_sell(h: Harness, ts: int) -> None:
    """A quote at ``ts`` first (so the rebalancer's clock is at ``ts`` when the fill lands; see
    the xfail below), then a print through our ask 60000.01: maker fill."""
    h.quote(ts, BID, ASK)
    h.trade(ts, 60_000.02, 0.05)


def test_a_rebalance_is_stamped_with_its_fill_time(make_h, spy):
    h = make_h("0.51")
    h.market(T0, BID, ASK)  # maker sell 0.005 rests at 60000.01
    # 5 s of silence, then a print fills it: the exchange stamps order update and fill T0 + 5 s
    h.trade(T0 + 5 * S, 60_000.02, 0.05)
    assert h.ex.fills()[0].ts_ms == T0 + 5 * S
    assert [ts for ts, *_ in spy.done] == [T0 + 5 * S]  # actual: [T0]
    # so the 10 s cooldown runs until T0 + 15 s (actual: until T0 + 10 s)
    assert h.reb.memory.last_trade_ms == T0 + 5 * S


def test_cooldown_between_consecutive_rebalances(make_h, spy):
    h = make_h("0.51")
    h.market(T0, BID, ASK)
    _fill_resting_sell(h, T0 + S)  # sold 0.005, done at T0 + 1 s; gap 0.005
    assert h.reb.stats.rebalances == 1
    # the grid buys 0.003 on the futures leg: net 0.505 - 0.497 = +0.008 (soft again)
    h.grid_fill(T0 + 2 * S, BUY, "0.003", "60000")
    assert exact_gap(h) == pytest.approx(0.008, abs=1e-12)
    for t in range(2, 11):  # up to T0 + 10 s: 9 s after the trade, still cooling down
        h.market(T0 + t * S, BID, ASK)
    assert len(h.places) == 1
    assert "cooling down" in h.reb.decision.reason
    h.market(T0 + 11 * S, BID, ASK)  # 10 s after the rebalance finished
    assert len(h.places) == 2
    assert h.places[1].side is SELL and h.places[1].qty == D("0.004000")  # 50 % of 0.008


def test_hysteresis_widens_the_soft_threshold_for_the_opposite_side(make_h):
    h = make_h("0.51")
    h.market(T0, BID, ASK)
    _fill_resting_sell(h, T0 + S)  # SELL done at T0 + 1 s, gap +0.005
    # the grid sells 0.0095 -> gap 0.005 - 0.0095 = -0.0045: past soft 0.004 but under the
    # opposite-side soft 0.004 x 1.2 = 0.0048 within 300 s
    h.grid_fill(T0 + 2 * S, SELL, "0.0095", "60000")
    assert exact_gap(h) == pytest.approx(-0.0045, abs=1e-12)
    for t in range(12, 30):
        h.market(T0 + t * S, BID, ASK)
    assert len(h.places) == 1
    d = h.reb.decision
    assert d.effective_soft == pytest.approx(0.0048)
    assert "< soft 0.004800" in d.reason
    # one more grid sell of 0.0005: gap -0.005 >= 0.0048 -> buy 50 % = 0.0025
    h.grid_fill(T0 + 30 * S, SELL, "0.0005", "60000")
    h.market(T0 + 31 * S, BID, ASK)
    assert len(h.places) == 2
    assert (h.places[1].side, h.places[1].qty) == (BUY, D("0.002500"))
    # the buy rests at the bid 59999.99; a print below it fills us -> a flip-flop within 300 s
    h.trade(T0 + 32 * S, 59_999.98, 0.05)
    assert h.reb.stats.flip_flops == 1


def test_hysteresis_expires_after_its_window(make_h):
    h = make_h("0.51")
    h.market(T0, BID, ASK)
    _fill_resting_sell(h, T0 + S)
    # gap 0.005 - 0.0096 = -0.0046: between soft 0.004 and the widened 0.0048
    # (0.0096 rather than 0.0095: in floats -0.0045 is -0.00449999..., whose half rounds down to 0.002249)
    h.grid_fill(T0 + 2 * S, SELL, "0.0096", "60000")
    h.market(T0 + 300 * S, BID, ASK)  # 299 s after the sell: still widened
    assert len(h.places) == 1
    h.market(T0 + 301 * S, BID, ASK)  # 300 s after: plain soft 0.004 -> buy 50 % = 0.0023
    assert len(h.places) == 2
    assert (h.places[1].side, h.places[1].qty) == (BUY, D("0.002300"))


# ------------------------------------------------------------------------------- idempotence


def test_a_fill_pushed_twice_is_counted_once(make_h, spy):
    h = make_h("0.52")
    h.market(T0, BID, ASK)  # taker sell 0.02 fills at once
    fill = h.ex.fills()[0]
    st = h.reb.stats
    before = (st.fills, st.volume_base, st.volume_quote, st.fees_quote, len(spy.fills), h.reb.book.spot_total)
    h.pump([FillEvent(fill)], T0)
    assert (st.fills, st.volume_base, st.volume_quote, st.fees_quote, len(spy.fills), h.reb.book.spot_total) == before
    assert st.fills == 1 and st.volume_base == pytest.approx(0.02)


def test_a_terminal_order_update_pushed_twice_is_applied_once(make_h):
    h = make_h("0.52")
    h.market(T0, BID, ASK)  # taker sell 0.02, filled; the balance push made spot 0.5 exactly
    assert h.reb.book.spot_total == pytest.approx(0.5)
    order = h.ex.order(h.places[0].client_id)
    assert order.status is OrderStatus.FILLED
    # the same final state again (a WS re-send, or the engine's copy of the place reply)
    h.pump([OrderUpdate(T0, order)], T0)
    assert h.reb.book.spot_total == pytest.approx(0.5)  # actual: 0.48, the sell counted twice
    assert h.reb.gap_base() == pytest.approx(0.0, abs=1e-9)


def test_recorder_sees_decisions_orders_and_fills(make_h, spy):
    h = make_h("0.52")
    h.market(T0, BID, ASK)  # hard: taker sell 0.02, filled at once
    assert [(d.action.value, d.side, o) for d, _, o in spy.decisions] == [("full", SELL, "executed")]
    assert [(o.client_id, e) for _, o, e in spy.orders] == [("rb1-1", "Filled")]
    assert [(f.client_id, f.qty, f.is_maker) for f in spy.fills] == [("rb1-1", D("0.020000"), False)]
    assert [(side, qty, path) for _, side, qty, path in spy.done] == [(SELL, pytest.approx(0.02), "hard")]


def test_recorder_sees_a_resting_order_when_it_is_placed(make_h, spy):
    h = make_h("0.51")
    h.market(T0, BID, ASK)  # maker sell rests at 60000.01
    assert h.ex.order("rb1-1").status is OrderStatus.NEW
    assert [(o.client_id, e) for _, o, e in spy.orders] == [("rb1-1", "New")]  # actual: []


# ------------------------------------------------------------------------------- restore


def test_restore_brings_back_the_cooldown(make_h):
    h = make_h("0.51")
    h.reb.restore(last_rebalance=(T0 - 4 * S, SELL))  # sold 4 s before "now"
    h.market(T0, BID, ASK)
    assert h.places == []
    assert "cooling down 6.0s" in h.reb.decision.reason  # 10 - 4
    snap = h.reb.snapshot()
    assert snap.cooldown_left_s == pytest.approx(6.0)
    assert snap.hysteresis_note == "Buy needs soft×1.20 for 296s"
    h.market(T0 + 6 * S, BID, ASK)
    assert len(h.places) == 1


def test_restore_brings_back_a_halt(make_h, spy):
    h = make_h("0.52")
    h.reb.restore(trading_state=("HALTED", "kill switch: drawdown 12.00%"))
    for i in range(5):
        h.market(T0 + i * S, BID, ASK)
    assert h.places == []
    snap = h.reb.snapshot()
    assert snap.trading_state is TradingState.HALTED
    assert snap.halt_reason == "kill switch: drawdown 12.00%"
    assert outcomes(spy)[-1] == "refused: HALTED: kill switch: drawdown 12.00%"
    h.do(h.reb.rearm())
    h.market(T0 + 5 * S, BID, ASK)
    assert len(h.places) == 1


def test_restore_paused(make_h):
    h = make_h("0.52")
    h.reb.restore(trading_state=("PAUSED", ""))
    h.market(T0, BID, ASK)
    assert h.places == []
    assert h.reb.risk.state is TradingState.PAUSED


# ------------------------------------------------------------------------------- snapshot


def test_snapshot_matches_the_engine_state_while_an_order_works(make_h):
    h = make_h("0.51")
    h.market(T0, BID, ASK)
    h.tick(T0 + 3 * S)
    snap = h.reb.snapshot()
    assert snap.mode is Mode.AUTO and snap.trading_state is TradingState.ACTIVE
    assert snap.price == 60_000.00 and (snap.bid, snap.ask) == (BID, ASK)
    # wallet: 0.51 BTC, 0.005 of it locked by our resting sell
    assert snap.spot_free == pytest.approx(0.505) and snap.spot_locked == pytest.approx(0.005)
    assert snap.futures_size == -0.5
    assert snap.net_base == pytest.approx(0.01) and snap.gap_base == pytest.approx(0.01)
    assert snap.gap_base == pytest.approx(exact_gap(h))
    assert (snap.effective_soft, snap.effective_hard, snap.threshold_unit) == (0.004, 0.012, "base")
    assert snap.decision is h.reb.decision
    assert len(snap.orders) == 1
    o = snap.orders[0]
    assert (o.client_id, o.side, o.tif, o.price, o.qty, o.filled, o.status) == (
        "rb1-1", SELL, "PostOnly", "60000.01", "0.005000", "0", "New")
    assert o.age_s == pytest.approx(3.0)
    # 3 s of the 30 s soft maker wait used
    assert snap.escalation_progress == pytest.approx(0.1) and snap.escalation_left_s == pytest.approx(27.0)
    assert snap.proposal is None
    assert snap.net_quote == pytest.approx(0.01 * 60_000.0)


def test_snapshot_shows_the_proposal_in_semi(make_h):
    h = make_h("0.51", mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    snap = h.reb.snapshot()
    assert snap.proposal is h.reb.proposal
    assert snap.orders == ()
    assert snap.mode is Mode.SEMI


# ------------------------------------------------------------------------------- escalation from the rebalancer


def test_soft_maker_escalates_when_the_gap_worsens_past_hard(make_h):
    h = make_h("0.51")
    h.market(T0, BID, ASK)  # resting maker sell 0.005
    h.grid_fill(T0 + S, BUY, "0.004", "60000")  # gap 0.014 >= hard
    h.market(T0 + 2 * S, BID, ASK)
    kinds = [type(c).__name__ for c in h.sent]
    assert kinds == ["PlaceOrder", "CancelOrder", "PlaceOrder"]
    r = h.places[1]
    # taker for what is left of the plan (0.005), bounded by the gap
    assert (r.tif, r.side, r.qty) == (TimeInForce.IOC, SELL, D("0.005000"))


# ------------------------------------------------------------------------------- synthetic run with a grid


def test_synthetic_market_with_a_grid_never_grows_the_gap(spy):
    """Two hours of a seeded synthetic market with a grid bot on the futures leg. Checked on
    every PlaceOrder against the exchange's exact state (not the rebalancer's estimate): the
    side shrinks |gap| and the size never passes the target by more than one qty step."""
    cfg = rcfg(risk__stale_after_s=60)
    h = Harness(cfg, spot="0.5", mode=Mode.AUTO, recorder=spy)
    grid = GridBot(lower=59_700, upper=60_300, levels=41, qty_per_level="0.002")  # 15 USDT apart
    for f in grid.start(60_000.0, T0):
        h.pump(h.ex.apply_grid_fill(f), T0)
    h.ex.grid = grid
    bad: list[str] = []
    submit_one = h._submit_one

    def checked(c, ts):
        if type(c) is PlaceOrder:
            r = c.request
            g = exact_gap(h)
            if (r.side is SELL and g <= 0) or (r.side is BUY and g >= 0):
                bad.append(f"{r.client_id} {r.side.value} with exact gap {g}")
            elif float(r.qty) > abs(g) + 0.000001 + 1e-12:
                bad.append(f"{r.client_id} {r.qty} overshoots exact gap {g}")
        return submit_one(c, ts)

    h._submit_one = checked
    market = SyntheticMarket(seed=11, start_ms=T0, start_price=60_000.0)
    next_tick = T0
    for ev in market.events(until_ms=T0 + 2 * 3_600_000):
        if type(ev) is Quote:
            h.quote(ev.ts_ms, ev.bid, ev.ask, ev.bid_qty, ev.ask_qty)
        else:
            assert type(ev) is Trade
            h.trade(ev.ts_ms, ev.price, ev.qty, ev.taker_side is BUY)
        if ev.ts_ms >= next_tick:
            next_tick = ev.ts_ms + S
            h.tick(ev.ts_ms)
    st = h.reb.stats
    assert grid.fill_count > 20, "the grid must have moved the delta for this test to mean anything"
    assert st.orders > 5 and st.fills > 0
    assert st.wrong_direction_orders == 0
    assert bad == []
    assert h.max_open <= 1
    # the rebalancer's running estimate agrees with the exchange's exact state
    assert h.reb.book.net_base == pytest.approx(h.net_from_exchange(), abs=1e-9)
    # the recorder saw the same story the stats tell
    ours = [f for f in spy.fills if f.client_id.startswith("rb")]
    assert len(ours) == st.fills
    assert sum(1 for f in spy.fills if f.source == "grid") == st.grid_fills == grid.fill_count
    assert len({f.exec_id for f in spy.fills}) == len(spy.fills)
    placed = {o.client_id for _, o, e in spy.orders}
    assert placed == {r.client_id for r in h.places if h.ex.order(r.client_id) is not None}
    assert {e for _, _, e in spy.orders} >= {"Filled", "Cancelled"}
    assert len(spy.done) == st.rebalances
    assert sum(1 for o in outcomes(spy) if o == "executed") >= st.rebalances
    assert spy.snapshots, "a snapshot every 10 s of tick time"
