"""RebalanceExecution: every transition of the maker -> chase -> taker state machine, driven by
hand-made order updates (no exchange), plus a property test over random venue behaviour.

BTCUSDT spot: tick 0.01, qty step 0.000001, min qty 0.000048, min order value 5 USDT.
Config (conftest ANCHOR_BLOCK + ExecutionConfig defaults): chase_ticks 2, chase_interval_s 2,
slippage_cap_bps 10.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import CancelOrder, PlaceOrder
from core.execution import MAX_POST_ONLY_RETRIES, ExecutionPlan, Phase, RebalanceExecution
from core.model import BTCUSDT_SPOT, Action, Decision, Order, OrderStatus, Side, TimeInForce
from core.venues.bybit_codes import POST_ONLY_WOULD_TAKE
from tests.builders import examples
from tests.core.helpers_engine import T0, rcfg

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
PO, IOC = TimeInForce.POST_ONLY, TimeInForce.IOC
BID, ASK = 60_000.00, 60_000.10


class GapBox:
    """A mutable gap for ``gap_fn`` (BUY plans need a negative gap, SELL plans a positive one)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value


def make_exec(side: Side = BUY, qty: str = "0.010000", *, gap: float | None = None, maker_first: bool = True,
              taker_allowed: bool = True, wait_s: float = 30.0, price_limit: str | None = None,
              rebalance_id: int = 7, prefix: str = "rb", path: str = "soft", **cfg_overrides):
    """An execution started at T0 and its gap box (default gap: exactly the plan's size)."""
    q = D(qty)
    if gap is None:
        gap = -float(q) if side is BUY else float(q)
    box = GapBox(gap)
    dec = Decision(ts_ms=T0, policy="anchor", action=Action.PARTIAL, side=side, qty_base=float(q), gap_base=gap,
                   net_base=gap, target_base=0.0, price=BID)
    plan = ExecutionPlan(rebalance_id=rebalance_id, side=side, qty=q, decision=dec, maker_first=maker_first,
                         taker_allowed=taker_allowed, maker_wait_s=wait_s,
                         price_limit=D(price_limit) if price_limit is not None else None, path=path)
    cfg = rcfg(**{f"execution__{k}": v for k, v in cfg_overrides.items()}).execution
    return RebalanceExecution(plan, BTCUSDT_SPOT, cfg, prefix, T0, box), box


def only_place(cmds) -> PlaceOrder:
    assert len(cmds) == 1 and type(cmds[0]) is PlaceOrder, cmds
    return cmds[0]


def only_cancel(cmds) -> CancelOrder:
    assert len(cmds) == 1 and type(cmds[0]) is CancelOrder, cmds
    return cmds[0]


# -- venue replies, built from the execution's own view of its live order


def acked(ex: RebalanceExecution, order_id: str = "X1") -> Order:
    return replace(ex.live, order_id=order_id, status=OrderStatus.NEW)


def part(ex: RebalanceExecution, filled: str) -> Order:
    return replace(ex.live, order_id=ex.live.order_id or "X1", status=OrderStatus.PARTIALLY_FILLED,
                   filled_qty=D(filled))


def full(ex: RebalanceExecution) -> Order:
    return replace(ex.live, order_id=ex.live.order_id or "X1", status=OrderStatus.FILLED, filled_qty=ex.live.qty)


def cancelled(ex: RebalanceExecution, filled: str | None = None, reason: str = "") -> Order:
    f = ex.live.filled_qty if filled is None else D(filled)
    return replace(ex.live, order_id=ex.live.order_id or "X1", status=OrderStatus.CANCELLED, filled_qty=f,
                   reject_reason=reason)


def rejected(ex: RebalanceExecution, reason: str) -> Order:
    return replace(ex.live, status=OrderStatus.REJECTED, reject_reason=reason)


def start_acked(ex: RebalanceExecution, bid: float = BID, ask: float = ASK) -> PlaceOrder:
    p = only_place(ex.start(T0, bid, ask))
    assert ex.on_order(acked(ex), T0, bid, ask) == []
    return p


# ------------------------------------------------------------------------------- maker placement


def test_maker_buy_posts_at_the_bid_rounded_down_to_the_tick():
    ex, _ = make_exec(BUY)
    p = only_place(ex.start(T0, 60_000.004, 60_000.506))
    r = p.request
    # buy at our side of the touch: the bid 60000.004 floored to the 0.01 grid = 60000.00
    assert (r.side, r.price, r.qty, r.tif) == (BUY, D("60000.00"), D("0.010000"), PO)
    assert r.client_id == "rb7-1"
    assert r.reason == "soft maker"
    assert ex.phase is Phase.MAKER and not ex.done
    assert ex.orders_sent == 1


def test_maker_sell_posts_at_the_ask_rounded_up_to_the_tick():
    ex, _ = make_exec(SELL)
    r = only_place(ex.start(T0, 60_000.004, 60_000.506)).request
    # sell at the ask 60000.506 ceiled to 60000.51 (never inside the spread)
    assert (r.side, r.price, r.tif) == (SELL, D("60000.51"), PO)


# ------------------------------------------------------------------------------- chase


def test_chase_buy_when_the_bid_moves_up_two_ticks_after_the_interval():
    ex, _ = make_exec(BUY)
    first = start_acked(ex)  # at 60000.00
    assert first.request.price == D("60000.00")
    # before the 2 s interval: nothing, even 5 ticks away
    assert ex.on_touch(T0 + 1_999, 60_000.05, 60_000.15) == []
    # after it: 1 tick away is not enough (chase_ticks 2)
    assert ex.on_touch(T0 + 2_000, 60_000.01, 60_000.11) == []
    # the touch moving toward us (bid falls below our price) never chases
    assert ex.on_touch(T0 + 2_000, 59_999.00, 59_999.10) == []
    assert ex.chase_count == 0
    # 2 ticks away: cancel first
    c = only_cancel(ex.on_touch(T0 + 2_000, 60_000.02, 60_000.12))
    assert c.client_id == "rb7-1"
    assert ex.chase_count == 1 and ex.cancelling
    # while the cancel is in flight nothing else goes out
    assert ex.on_touch(T0 + 5_000, 60_000.50, 60_000.60) == []
    assert ex.on_time(T0 + 5_000, 60_000.50, 60_000.60) == []
    # cancel confirmed -> re-place at the fresh bid with a new client id
    second = only_place(ex.on_order(cancelled(ex), T0 + 5_000, 60_000.03, 60_000.13))
    assert second.request.client_id == "rb7-2"
    assert second.request.price == D("60000.03")
    assert second.request.qty == D("0.010000")
    assert second.request.tif is PO


def test_chase_sell_when_the_ask_moves_down_two_ticks():
    ex, _ = make_exec(SELL)
    first = start_acked(ex)  # at the ask 60000.10
    assert first.request.price == D("60000.10")
    # ask 60000.09: 1 tick away only; ask 60000.30 moved toward (above) us
    assert ex.on_touch(T0 + 2_000, 59_999.99, 60_000.09) == []
    assert ex.on_touch(T0 + 2_000, 60_000.20, 60_000.30) == []
    only_cancel(ex.on_touch(T0 + 2_000, 59_999.98, 60_000.08))
    again = only_place(ex.on_order(cancelled(ex), T0 + 2_000, 59_999.98, 60_000.08))
    assert again.request.price == D("60000.08")
    assert again.request.client_id == "rb7-2"


def test_chase_interval_is_measured_from_the_last_chase():
    ex, _ = make_exec(BUY)
    start_acked(ex)
    only_cancel(ex.on_touch(T0 + 2_000, 60_000.02, 60_000.12))
    ex.on_order(cancelled(ex), T0 + 2_000, 60_000.02, 60_000.12)
    ex.on_order(acked(ex, "X2"), T0 + 2_000, 60_000.02, 60_000.12)
    # next chase not before T0 + 2,000 + 2,000
    assert ex.on_touch(T0 + 3_999, 60_000.10, 60_000.20) == []
    only_cancel(ex.on_touch(T0 + 4_000, 60_000.10, 60_000.20))
    assert ex.chase_count == 2


def test_no_chase_before_the_order_is_acknowledged():
    ex, _ = make_exec(BUY)
    only_place(ex.start(T0, BID, ASK))  # no ack yet: order_id is empty
    assert ex.on_touch(T0 + 10_000, 60_001.00, 60_001.10) == []


def test_on_time_chases_before_the_deadline():
    ex, _ = make_exec(BUY)
    start_acked(ex)
    only_cancel(ex.on_time(T0 + 2_000, 60_000.02, 60_000.12))
    assert ex.phase is Phase.MAKER


# ------------------------------------------------------------------------------- deadline


def test_maker_deadline_escalates_to_a_capped_taker_ioc():
    ex, _ = make_exec(BUY, wait_s=30)
    start_acked(ex)
    assert ex.escalation_progress(T0 + 15_000) == (0.5, 15.0)
    assert ex.on_time(T0 + 29_999, BID, ASK) == []
    c = only_cancel(ex.on_time(T0 + 30_000, BID, ASK))
    assert c.client_id == "rb7-1"
    assert ex.phase is Phase.TAKER
    assert ex.outcome == "escalated to taker: maker wait over (30s)"
    # cancel confirmed -> IOC at ask x (1 + 10 bps) rounded passively (down for a buy):
    # 60000.50 x 1.001 = 60060.5005 -> 60060.50
    p = only_place(ex.on_order(cancelled(ex), T0 + 30_000, 60_000.00, 60_000.50))
    assert (p.request.tif, p.request.price, p.request.qty) == (IOC, D("60060.50"), D("0.010000"))
    assert p.request.client_id == "rb7-2"
    assert p.request.reason == "soft taker"
    # filled -> done
    assert ex.on_order(full(ex), T0 + 30_000, BID, ASK) == []
    assert ex.done
    assert ex.outcome == "escalated to taker: maker wait over (30s); filled"
    assert ex.filled == D("0.010000")


def test_taker_sell_price_is_the_bid_minus_the_cap_rounded_up():
    ex, _ = make_exec(SELL, maker_first=False)
    # 60000.37 x (1 - 0.001) = 59940.36963 -> ceil to the tick = 59940.37
    p = only_place(ex.start(T0, 60_000.37, 60_000.47))
    assert (p.request.tif, p.request.price) == (IOC, D("59940.37"))
    assert ex.phase is Phase.TAKER


def test_maker_deadline_aborts_when_taker_is_not_allowed():
    ex, _ = make_exec(BUY, taker_allowed=False, wait_s=30)
    start_acked(ex)
    assert ex.escalation_progress(T0 + 1_000) is None  # no escalation to show
    only_cancel(ex.on_time(T0 + 30_000, BID, ASK))
    assert not ex.done  # waits for the cancel to be confirmed
    assert ex.on_order(cancelled(ex), T0 + 30_100, BID, ASK) == []
    assert ex.done
    assert ex.outcome == "maker chase timed out after 30s, taker not allowed"
    assert ex.orders_sent == 1


def test_escalate_while_nothing_is_live_places_the_taker_at_once():
    ex, _ = make_exec(BUY)
    p = only_place(ex.escalate(T0, BID, ASK, "gap worsened past hard"))
    assert p.request.tif is IOC
    assert ex.escalate(T0, BID, ASK, "again") == []  # already taker


# ------------------------------------------------------------------------------- rejections


def test_post_only_reject_requotes_at_the_fresh_touch():
    ex, _ = make_exec(BUY)
    only_place(ex.start(T0, BID, ASK))
    p = only_place(ex.on_order(rejected(ex, POST_ONLY_WOULD_TAKE), T0 + 5, 59_999.50, 59_999.60))
    assert p.request.price == D("59999.50")
    assert p.request.client_id == "rb7-2"
    assert p.request.tif is PO
    assert ex.post_only_rejects == 1
    assert ex.phase is Phase.MAKER


def test_post_only_rejects_beyond_the_retry_limit_escalate():
    ex, _ = make_exec(BUY)
    only_place(ex.start(T0, BID, ASK))
    for i in range(MAX_POST_ONLY_RETRIES):  # 20 re-quotes
        only_place(ex.on_order(rejected(ex, POST_ONLY_WOULD_TAKE), T0 + i, BID, ASK))
    # the 21st reject gives up on maker: taker IOC (allowed)
    p = only_place(ex.on_order(rejected(ex, POST_ONLY_WOULD_TAKE), T0 + 99, BID, ASK))
    assert p.request.tif is IOC
    assert p.request.client_id == f"rb7-{MAX_POST_ONLY_RETRIES + 2}"
    assert ex.outcome == "escalated to taker: post-only kept crossing"


def test_post_only_rejects_beyond_the_retry_limit_finish_without_taker():
    ex, _ = make_exec(BUY, taker_allowed=False)
    only_place(ex.start(T0, BID, ASK))
    for i in range(MAX_POST_ONLY_RETRIES):
        only_place(ex.on_order(rejected(ex, POST_ONLY_WOULD_TAKE), T0 + i, BID, ASK))
    assert ex.on_order(rejected(ex, POST_ONLY_WOULD_TAKE), T0 + 99, BID, ASK) == []
    assert ex.done
    assert ex.outcome == "post-only kept crossing; taker not allowed"


def test_other_rejection_finishes_with_the_reason():
    ex, _ = make_exec(BUY)
    only_place(ex.start(T0, BID, ASK))
    assert ex.on_order(rejected(ex, "170131: Insufficient balance"), T0, BID, ASK) == []
    assert ex.done
    assert ex.outcome == "rejected: 170131: Insufficient balance"


def test_rejection_without_a_reason_says_so():
    ex, _ = make_exec(BUY)
    only_place(ex.start(T0, BID, ASK))
    ex.on_order(rejected(ex, ""), T0, BID, ASK)
    assert ex.outcome == "rejected: no reason given"


def test_refused_send_finishes_with_the_reason():
    ex, _ = make_exec(BUY)
    p = only_place(ex.start(T0, BID, ASK))
    ex.on_rejected_send("someone-else", "x")  # not ours: ignored
    assert not ex.done
    ex.on_rejected_send(p.request.client_id, "watch mode")
    assert ex.done and ex.live is None
    assert ex.outcome == "rejected: watch mode"


def test_updates_for_other_client_ids_are_ignored():
    ex, _ = make_exec(BUY)
    start_acked(ex)
    other = replace(ex.live, client_id="rb6-1", status=OrderStatus.FILLED, filled_qty=D("0.01"))
    assert ex.on_order(other, T0, BID, ASK) == []
    assert ex.filled == 0 and not ex.done


# ------------------------------------------------------------------------------- partial fills and the gap


def test_partial_fill_then_chase_resizes_to_the_remainder_bounded_by_the_fresh_gap():
    ex, gap = make_exec(BUY, "0.010000", gap=-0.010)
    start_acked(ex)
    assert ex.on_order(part(ex, "0.004000"), T0 + 500, BID, ASK) == []  # still open
    assert ex.filled == D("0.004000") and ex.remaining == D("0.006000")
    # the account now needs only 0.005 more (we bought 0.004, the grid sold 0.001 the other way)
    gap.value = -0.005
    only_cancel(ex.on_touch(T0 + 2_000, 60_000.02, 60_000.12))
    p = only_place(ex.on_order(cancelled(ex, "0.004000"), T0 + 2_000, 60_000.02, 60_000.12))
    # min(remaining 0.006, fresh gap 0.005) = 0.005
    assert p.request.qty == D("0.005000")
    assert ex.filled == D("0.004000")


def test_partial_fill_then_chase_never_exceeds_the_plan_even_if_the_gap_grew():
    ex, gap = make_exec(BUY, "0.010000", gap=-0.010)
    start_acked(ex)
    ex.on_order(part(ex, "0.004000"), T0 + 500, BID, ASK)
    gap.value = -0.020  # drift grew: still only the plan's remainder 0.010 - 0.004 = 0.006
    only_cancel(ex.on_touch(T0 + 2_000, 60_000.02, 60_000.12))
    p = only_place(ex.on_order(cancelled(ex), T0 + 2_000, 60_000.02, 60_000.12))
    assert p.request.qty == D("0.006000")


def test_partial_fill_then_escalation_takes_only_the_remainder():
    ex, gap = make_exec(SELL, "0.010000", gap=0.010)
    start_acked(ex)
    ex.on_order(part(ex, "0.007500"), T0 + 500, BID, ASK)
    gap.value = 0.0025  # what our 0.0075 sold left
    only_cancel(ex.on_time(T0 + 30_000, BID, ASK))
    p = only_place(ex.on_order(cancelled(ex), T0 + 30_000, BID, ASK))
    assert (p.request.tif, p.request.qty) == (IOC, D("0.002500"))


def test_gap_sign_flipped_after_cancel_sends_nothing():
    ex, gap = make_exec(BUY, "0.010000", gap=-0.010)
    start_acked(ex)
    gap.value = +0.001  # a grid fill flipped the drift: buying now would grow |gap|
    only_cancel(ex.on_touch(T0 + 2_000, 60_000.02, 60_000.12))
    assert ex.on_order(cancelled(ex), T0 + 2_000, 60_000.02, 60_000.12) == []
    assert ex.done
    assert ex.filled == 0
    assert ex.orders_sent == 1


def test_gap_closed_after_cancel_does_not_claim_filled():
    ex, gap = make_exec(BUY, "0.010000", gap=-0.010)
    start_acked(ex)
    gap.value = 0.0
    only_cancel(ex.on_touch(T0 + 2_000, 60_000.02, 60_000.12))
    ex.on_order(cancelled(ex), T0 + 2_000, 60_000.02, 60_000.12)
    assert ex.done and ex.filled == 0
    # what _place says in the same situation; the outcome is shown in the cockpit log
    assert ex.outcome == "nothing left to trade (gap closed)"


def test_gap_already_closed_at_start_sends_nothing():
    ex, _ = make_exec(BUY, "0.010000", gap=0.0)
    assert ex.start(T0, BID, ASK) == []
    assert ex.done
    assert ex.outcome == "nothing left to trade (gap closed)"


def test_wrong_side_gap_at_start_sends_nothing():
    ex, _ = make_exec(SELL, "0.010000", gap=-0.010)  # selling would grow a negative gap
    assert ex.start(T0, BID, ASK) == []
    assert ex.done


def test_first_order_is_bounded_by_the_gap_when_the_gap_is_smaller_than_the_plan():
    ex, _ = make_exec(BUY, "0.010000", gap=-0.0042)
    assert only_place(ex.start(T0, BID, ASK)).request.qty == D("0.004200")


# ------------------------------------------------------------------------------- minimums


def test_size_rounding_below_min_qty_sends_nothing():
    # 0.0000479 rounds toward zero to 0.000047 < min qty 0.000048
    ex, _ = make_exec(BUY, "0.0000479", gap=-0.0000479)
    assert ex.start(T0, BID, ASK) == []
    assert ex.done
    assert ex.outcome == "no order: size 0.000047 below min qty 0.000048"


def test_value_below_min_notional_sends_nothing():
    # 0.000080 x 60000.00 = 4.80 USDT < 5
    ex, _ = make_exec(BUY, "0.000080", gap=-0.00008)
    assert ex.start(T0, BID, ASK) == []
    assert ex.outcome == "no order: value 4.8000 below min order value 5"


def test_size_rounding_to_zero_is_gap_closed():
    ex, _ = make_exec(BUY, "0.010000", gap=-0.0000004)  # less than one qty step
    assert ex.start(T0, BID, ASK) == []
    assert ex.outcome == "nothing left to trade (gap closed)"


# ------------------------------------------------------------------------------- price limit


def test_price_limit_clamps_the_taker_buy():
    ex, _ = make_exec(BUY, maker_first=False, price_limit="60010.00")
    # uncapped IOC would be 60000.50 x 1.001 -> 60060.50; the approval said never above 60010.00
    p = only_place(ex.start(T0, 60_000.00, 60_000.50))
    assert p.request.price == D("60010.00")


def test_price_limit_clamps_the_taker_sell():
    ex, _ = make_exec(SELL, maker_first=False, price_limit="59990.00")
    # uncapped: 59940.37; the limit keeps it at 59990.00 or above
    p = only_place(ex.start(T0, 60_000.37, 60_000.47))
    assert p.request.price == D("59990.00")


def test_price_limit_clamps_the_maker_quote_too():
    ex, _ = make_exec(BUY, price_limit="60010.00")
    p = only_place(ex.start(T0, 60_020.00, 60_020.10))
    assert (p.request.tif, p.request.price) == (PO, D("60010.00"))


def test_price_limit_that_does_not_bind_changes_nothing():
    ex, _ = make_exec(BUY, maker_first=False, price_limit="60100.00")
    assert only_place(ex.start(T0, 60_000.00, 60_000.50)).request.price == D("60060.50")


# ------------------------------------------------------------------------------- other terminal paths


def test_ioc_partial_fill_finishes_and_leaves_the_rest_to_the_next_decision():
    ex, _ = make_exec(BUY, maker_first=False)
    only_place(ex.start(T0, BID, ASK))
    assert ex.on_order(cancelled(ex, "0.004000"), T0, BID, ASK) == []
    assert ex.done
    assert ex.outcome == "taker IOC filled 0.004000 of 0.010000; rest left to the next decision"


def test_maker_cancelled_by_the_venue_finishes():
    ex, _ = make_exec(BUY)
    start_acked(ex)
    assert ex.on_order(cancelled(ex, reason=POST_ONLY_WOULD_TAKE), T0 + 1, BID, ASK) == []
    assert ex.done
    assert ex.outcome == f"cancelled by the venue or the user ({POST_ONLY_WOULD_TAKE})"


def test_maker_fully_filled_finishes_and_counts_fees():
    ex, _ = make_exec(SELL)
    start_acked(ex)
    ex.on_fill(D("0.006"), D("60000.10"), 0.36, True)
    ex.on_fill(D("0.004"), D("60000.10"), 0.24, True)
    assert ex.on_order(full(ex), T0 + 1, BID, ASK) == []
    assert ex.done and ex.outcome == "filled"
    assert ex.maker_fills == 2 and ex.taker_fills == 0
    assert ex.fees_quote == pytest.approx(0.60)
    assert ex.fill_notional == D("600.00100")  # 0.01 x 60000.10


def test_abort_without_a_live_order_finishes_at_once():
    ex, _ = make_exec(BUY)
    assert ex.abort(T0, "paused") == []
    assert ex.done and ex.outcome == "paused"


def test_client_ids_follow_prefix_id_attempt_and_are_unique():
    ex, _ = make_exec(BUY, rebalance_id=42, prefix="rbX")
    ids = [only_place(ex.start(T0, BID, ASK)).request.client_id]
    for i in range(5):
        ids.append(only_place(ex.on_order(rejected(ex, POST_ONLY_WOULD_TAKE), T0 + i, BID, ASK)).request.client_id)
    assert ids == [f"rbX42-{n}" for n in range(1, 7)]
    assert len(set(ids)) == len(ids)


# ------------------------------------------------------------------------------- property: one live order


ACTIONS = st.one_of(
    st.tuples(st.just("ack")),
    st.tuples(st.just("partial"), st.integers(1, 9)),
    st.tuples(st.just("fill")),
    st.tuples(st.just("venue_cancel")),
    st.tuples(st.just("confirm_cancel")),
    st.tuples(st.just("reject_po")),
    st.tuples(st.just("reject_other")),
    st.tuples(st.just("touch"), st.integers(-5, 5), st.integers(0, 4_000)),
    st.tuples(st.just("time"), st.integers(0, 15_000)),
    st.tuples(st.just("grid"), st.integers(-3_000, 3_000)),
)


@settings(max_examples=examples(300), deadline=None)
@given(side=st.sampled_from([BUY, SELL]), maker_first=st.booleans(), taker_allowed=st.booleans(),
       actions=st.lists(ACTIONS, min_size=1, max_size=60))
def test_random_venue_behaviour_never_has_two_live_orders(side, maker_first, taker_allowed, actions):
    """A simulated venue answers in random ways. Invariants: a PlaceOrder only when no order of
    ours is live at the venue; cancels only for the live one; ids unique; the side never
    changes; no order larger than the plan's remainder or the fresh gap; never more filled
    than planned; once done, nothing is left live at the venue."""
    plan_qty = D("0.010000")
    ex, gap = make_exec(side, str(plan_qty), maker_first=maker_first, taker_allowed=taker_allowed, wait_s=30)
    sign = side.sign
    venue: dict[str, Order] = {}  # what the venue holds open
    pending_cancel: set[str] = set()
    ids: set[str] = set()
    now = T0
    bid = BID

    def handle(cmds):
        for c in cmds:
            if type(c) is PlaceOrder:
                r = c.request
                assert not venue, f"second live order {r.client_id} while {list(venue)} open"
                assert r.client_id not in ids
                ids.add(r.client_id)
                assert r.side is side
                side_gap = Decimal(str(-gap.value if side is BUY else gap.value))
                assert r.qty <= plan_qty - filled_total[0]
                assert r.qty <= side_gap + D("0.000001")
                venue[r.client_id] = Order(r.client_id, "", r.symbol, r.side, r.qty, r.price, r.tif,
                                           OrderStatus.NEW, created_ms=now)
            else:
                assert type(c) is CancelOrder
                assert c.client_id in venue, f"cancel of {c.client_id} which is not live"
                pending_cancel.add(c.client_id)

    def deliver(order: Order):
        if not order.status.is_open:
            venue.pop(order.client_id, None)
            pending_cancel.discard(order.client_id)
        else:
            venue[order.client_id] = order
        handle(ex.on_order(order, now, bid, bid + 0.10))

    filled_total = [D(0)]

    def fill_to(o: Order, new_filled: Decimal, status: OrderStatus) -> Order:
        inc = new_filled - o.filled_qty
        filled_total[0] += inc
        gap.value += sign * float(inc)  # a buy raises the (negative) gap toward 0
        return replace(o, filled_qty=new_filled, status=status, order_id=o.order_id or "X")

    handle(ex.start(now, bid, bid + 0.10))
    for a in actions:
        if ex.done:
            break
        live = next(iter(venue.values()), None)
        kind = a[0]
        if kind == "ack" and live is not None and not live.order_id:
            deliver(replace(live, order_id=f"X{live.client_id}"))
        elif kind == "partial" and live is not None:
            rem = live.qty - live.filled_qty
            take = (rem * a[1] / 10).quantize(D("0.000001"))
            if take > 0:
                deliver(fill_to(live, live.filled_qty + take, OrderStatus.PARTIALLY_FILLED))
        elif kind == "fill" and live is not None:
            deliver(fill_to(live, live.qty, OrderStatus.FILLED))
        elif kind == "venue_cancel" and live is not None and live.order_id:
            deliver(replace(live, status=OrderStatus.CANCELLED))
        elif kind == "confirm_cancel" and live is not None and live.client_id in pending_cancel:
            deliver(replace(live, status=OrderStatus.CANCELLED, order_id=live.order_id or "X"))
        elif kind == "reject_po" and live is not None and not live.order_id and live.tif is PO:
            deliver(replace(live, status=OrderStatus.REJECTED, reject_reason=POST_ONLY_WOULD_TAKE))
        elif kind == "reject_other" and live is not None and not live.order_id:
            deliver(replace(live, status=OrderStatus.REJECTED, reject_reason="170131: Insufficient balance"))
        elif kind == "touch":
            now += a[2]
            bid = round(bid + a[1] * 0.01, 2)
            handle(ex.on_touch(now, bid, bid + 0.10))
        elif kind == "time":
            now += a[1]
            handle(ex.on_time(now, bid, bid + 0.10))
        elif kind == "grid":
            gap.value += a[1] / 1_000_000  # the grid moves the account by up to 0.003
        assert len(venue) <= 1
        assert filled_total[0] <= plan_qty
        assert ex.filled == filled_total[0]
    if ex.done:
        assert not venue, f"done ({ex.outcome}) but {list(venue)} still live"
