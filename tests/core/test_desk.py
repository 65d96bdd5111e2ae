"""The desk (``core.desk``): one rebalance at a time, every order screened before it leaves,
and how a rebalance ended booked (statistics, cooldown, the policy's memory)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.events import ConnectionChanged, OrderUpdate, PlaceOrder
from core.model import Mode, Order, OrderRequest, OrderStatus, Side, TimeInForce, TradingState
from tests.core.helpers_engine import T0, Harness, SpyRecorder, rcfg

D = Decimal
BID, ASK = 59_999.99, 60_000.01
S = 1_000


def place(side: Side, qty: str, cid: str = "rbx-1") -> PlaceOrder:
    return PlaceOrder(OrderRequest(client_id=cid, symbol="BTCUSDT", side=side, qty=D(qty), price=D("60000"),
                                   tif=TimeInForce.IOC))


@pytest.fixture
def h() -> Harness:
    h = Harness(rcfg(), spot="0.5035", mode=Mode.AUTO)  # gap +0.0035: under soft, nothing working
    h.market(T0, BID, ASK)
    return h


@pytest.mark.parametrize("cmd, why", [
    (place(Side.BUY, "0.001"), "would grow the gap"),  # a buy on a long drift
    (place(Side.SELL, "0.008"), "would grow the gap"),  # past the mirror of the gap
])
def test_an_order_that_would_grow_the_gap_never_leaves(h, cmd, why):
    assert h.reb.desk._screen([cmd]) == []
    assert h.reb.stats.wrong_direction_orders == 1
    assert h.reb.log[-1].text == f"order rbx-1 not sent: {why}"
    assert h.reb.orders.working == {}


def test_a_good_order_leaves_and_is_tracked_as_ours(h):
    cmd = place(Side.SELL, "0.0035")
    assert h.reb.desk._screen([cmd]) == [cmd]
    assert h.reb.stats.orders == 1
    live = h.reb.orders.working["rbx-1"]
    assert (live.status, live.qty, live.order_id) == (OrderStatus.NEW, D("0.0035"), "")


@pytest.mark.parametrize("setup, why", [
    (lambda r: setattr(r, "mode", Mode.WATCH), "watch mode"),
    (lambda r: r.risk.pause(), "trading PAUSED"),
    (lambda r: r.risk.halt("test"), "trading HALTED"),
])
def test_no_order_leaves_in_watch_or_while_not_active(h, setup, why):
    setup(h.reb)
    assert h.reb.desk._screen([place(Side.SELL, "0.001")]) == []
    assert h.reb.log[-1].text == f"order rbx-1 not sent: {why}"


def test_after_a_disconnect_no_order_until_fresh_market_data(h):
    h.pump([ConnectionChanged(T0 + S, False, "test"), ConnectionChanged(T0 + 2 * S, True, "test")], T0 + 2 * S)
    assert h.reb.desk.gate(T0 + 2 * S) == "waiting for fresh market data after the disconnect"
    assert h.reb.desk._screen([place(Side.SELL, "0.001")]) == []
    h.quote(T0 + 3 * S, BID, ASK)
    assert h.reb.desk.gate(T0 + 3 * S) is None


def test_one_rebalance_order_at_a_time(h):
    spy = SpyRecorder()
    h.reb.rec = spy
    other = Order(client_id="rbold1-1", order_id="v1", symbol="BTCUSDT", side=Side.SELL, qty=D("0.001"),
                  price=D("61000"), tif=TimeInForce.POST_ONLY, status=OrderStatus.NEW)
    h.pump([OrderUpdate(T0 + S, other)], T0 + S)  # adopted: ours, still working
    h.grid_fill(T0 + S, Side.BUY, "0.02", "60000")  # gap past hard
    h.market(T0 + 2 * S, BID, ASK)
    assert h.places == [] and h.reb.exec is None
    assert spy.decisions[-1][2] == "refused: an earlier order of ours is still working"


def test_a_rebalance_that_filled_nothing_waits_a_cooldown():
    h = Harness(rcfg(execution__soft_taker_after_wait=False), spot="0.51")  # soft: maker only
    h.market(T0, BID, ASK)
    assert h.reb.exec is not None and h.reb.exec.plan.path == "soft"
    h.tick(T0 + 31 * S)  # the 30 s chase times out, no taker allowed: done, nothing filled
    assert h.reb.exec is None
    assert h.reb.desk.suppress_until_ms == T0 + 41 * S
    assert h.reb.stats.rebalances == 0 and h.reb.memory.last_trade_ms is None


def test_a_filled_rebalance_moves_the_policy_memory_and_a_quick_reversal_is_a_flip_flop():
    h = Harness(rcfg(), spot="0.52")  # hard: a taker sell fills at once
    h.market(T0, BID, ASK)
    assert h.reb.desk.last_side_trade == (T0, Side.SELL)
    assert (h.reb.memory.last_trade_ms, h.reb.memory.last_trade_side) == (T0, Side.SELL)
    h.grid_fill(T0 + 5 * S, Side.SELL, "0.03", "60000")  # gap -0.03: a hard buy back, within 300 s
    h.market(T0 + 5 * S, BID, ASK)  # the anchor gate (we just sold at the bid) rests it as maker first ...
    h.tick(T0 + 11 * S)  # ... for 5 s, then it takes
    assert [r.side for r in h.places] == [Side.SELL, Side.BUY, Side.BUY]
    assert h.reb.stats.rebalances == 2 and h.reb.stats.flip_flops == 1
    assert h.reb.risk.state is TradingState.ACTIVE


def test_while_the_venue_refuses_order_calls_the_gate_holds_and_it_trades_once_that_clears():
    """A read-only key or a bad host clock: nothing is decided that cannot be sent, and when the
    refusal clears the next decision trades (no cooldown of an attempt that never left)."""
    h = Harness(rcfg(), spot="0.52")  # past hard: a taker sell
    h.reb.venue_refusal = "clock off by +9000 ms"
    h.market(T0, BID, ASK)
    assert h.reb.exec is None and not [c for c in h.sent if isinstance(c, PlaceOrder)]
    assert h.reb.desk.gate(T0) == "the venue refuses order calls: clock off by +9000 ms"
    h.reb.venue_refusal = None
    h.market(T0 + S, BID, ASK)
    assert [c for c in h.sent if isinstance(c, PlaceOrder)], "traded at the next decision"


@pytest.mark.parametrize("reason, cooldown", [
    ("not sent: clock off by +9000 ms", False),  # the engine never sent it (TradingDisabled)
    ("insufficient balance", True),  # the venue refused it: don't hammer
])
def test_an_order_the_engine_never_sent_starts_no_cooldown(reason, cooldown):
    h = Harness(rcfg(), spot="0.52")
    h.quote(T0, BID, ASK)
    cmds = h.reb.on_trade(T0, 60_000.0, 0.001, True)  # the decision's order, held back from the exchange
    req = next(c.request for c in cmds if isinstance(c, PlaceOrder))
    h.pump([OrderUpdate(T0, Order(client_id=req.client_id, order_id="", symbol="BTCUSDT", side=req.side,
                                  qty=req.qty, price=req.price, tif=req.tif, status=OrderStatus.REJECTED,
                                  created_ms=T0, updated_ms=T0, reject_reason=reason))], T0)
    assert h.reb.exec is None
    assert (h.reb.desk.suppress_until_ms > T0) is cooldown


def _sent(h: Harness) -> list[tuple[str, Decimal]]:
    for t in range(1, 30):
        h.market(T0 + t * 1000, 59_999.99, 60_000.01)
    return [(p.side.value, p.qty) for p in h.places]


def test_a_sell_never_dips_into_the_reserve():
    """0.5 BTC of which 0.45 is a reserve kept outside the hedge, futures +0.2: the gap says sell
    0.25, but only 0.05 may be sold. The whole 0.25 went out, selling 0.2 of the reserve."""
    h = Harness(rcfg(spot_reserve_base=0.45), mode=Mode.AUTO, spot="0.5", usdt="50000", futures="0.2")
    sent = _sent(h)
    assert sent and all(side == "Sell" for side, _ in sent)
    wallet = h.ex.balance("BTC")
    assert wallet.free + wallet.locked >= Decimal("0.45")
    assert sum(q for _, q in sent) <= Decimal("0.05")
    assert any("clipped to the wallet" in line.text for line in h.reb.log)


def test_a_buy_is_sized_to_the_free_quote():
    """1,000 USDT free and a 0.2 BTC gap (12,000 USDT): the buy was sent whole and refused by the
    venue every cooldown, forever; it is sized to what 1,000 USDT buys at its limit price."""
    h = Harness(rcfg(), mode=Mode.AUTO, spot="0.3", usdt="1000", futures="-0.5")
    sent = _sent(h)
    assert sent and all(side == "Buy" for side, _ in sent)
    assert all(q * Decimal("60060.01") <= Decimal("1000") for _, q in sent)
    assert not any("nsufficient" in line.text for line in h.reb.log)


def test_with_nothing_outside_the_reserve_nothing_is_sent_and_it_says_why_once_a_cooldown():
    h = Harness(rcfg(spot_reserve_base=0.5), mode=Mode.AUTO, spot="0.5", usdt="50000", futures="0.2")
    assert _sent(h) == []  # 29 s of market
    said = [line for line in h.reb.log if "the wallet allows no sell" in line.text]
    assert 1 <= len(said) <= 3, len(said)  # once a cooldown (10 s), not once an evaluation


@pytest.mark.parametrize("grid_sells, left_open", [("0.006", None), ("0.005", "0.001000"), ("0.0045", "0.001500")])
def test_a_resting_order_the_gap_shrank_under_is_re_sized_or_cancelled(grid_sells, left_open):
    """A maker sell of 0.003 rests for a gap of +0.006 (soft, half of it). The grid then sells
    futures: at a gap of 0 the order, filled, would leave the account 0.003 short (it stayed
    open and filled); at +0.0015, 0.0015 short. It is cancelled, or placed again at the gap's
    size, before a buyer lifts the offer: it never trades past the target."""
    h = Harness(rcfg(), mode=Mode.AUTO, spot="0.506", futures="-0.5")
    h.market(T0 + 1000, 59_999.99, 60_000.01)
    assert [(o.side, o.qty) for o in h.ex.open_orders()] == [(Side.SELL, Decimal("0.003000"))]
    h.grid_fill(T0 + 2000, Side.SELL, grid_sells, "60000")
    h.market(T0 + 2500, 59_999.99, 60_000.01)
    assert [str(o.qty) for o in h.ex.open_orders()] == ([left_open] if left_open else [])
    for i in range(3):
        h.trade(T0 + 3000 + i * 100, 60_000.02, 1.0, buy=True)
    assert h.reb.gap_base() >= -1e-6  # never past the target (by more than a step)


@pytest.mark.parametrize("kw, spot, usdt, futures", [
    ({"spot_reserve_base": 0.45}, "0.5", "50000", "0.2"),  # a sell: 0.05 outside the reserve, the gap says 0.25
    ({}, "0.3", "1000", "-0.5"),  # a buy: 1,000 USDT, the gap says 0.2 BTC
])
def test_a_semi_mode_card_shows_the_size_the_wallet_allows_and_that_is_what_is_sent(kw, spot, usdt, futures):
    """The card said sell 0.25 (net after 0) and approving sent 0.049999: approve sends exactly
    what the card shows, so the card is sized to the wallet too."""
    h = Harness(rcfg(**kw), mode=Mode.SEMI, spot=spot, usdt=usdt, futures=futures)
    for t in range(1, 4):
        h.market(T0 + t * 1000, 59_999.99, 60_000.01)
    card = h.reb.operator.proposal
    assert card is not None and Decimal(card.qty) < Decimal("0.2")
    h.do(h.reb.operator.approve(card.proposal_id).commands)
    assert [p.qty for p in h.places] == [Decimal(card.qty)]
