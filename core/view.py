"""The cockpit's view of a rebalancer: one immutable ``CockpitState``, computed on request.

Feed health the rebalancer cannot see (order round trips, the venue's request budget, bad
frames the venue dropped before they became events) is handed in by the host as data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.state import CockpitState, CostView, FeedHealth, OrderView
from core.values import value_type

if TYPE_CHECKING:
    from core.rebalancer import Rebalancer


@value_type
class FeedInputs:
    """What the host measures about the feed: order round trips (ms), the venue's request
    budget, and bad messages counted outside the rebalancer (venue parse failures, events
    that raised)."""

    rtt_p50_ms: float | None = None
    rtt_p99_ms: float | None = None
    rate_budget_left: int | None = None
    bad_messages: int = 0
    stalls: int | None = None  # streams replaced because they went silent (None: the venue has no streams)
    reconnects: int | None = None  # reconciles after a reconnect or a stall
    alerts_dropped: int | None = None  # alerts dropped (None: no alerts configured)


NO_FEED = FeedInputs()


def cockpit_state(reb: Rebalancer, now: int, *, connected: bool, feed: FeedInputs = NO_FEED) -> CockpitState:
    book, cfg, d, ex, trend, recent = reb.book, reb.cfg, reb.decision, reb.exec, reb.trend, reb.recent
    orders = tuple(
        OrderView(client_id=o.client_id, side=o.side, tif=o.tif.value, price=str(o.price), qty=str(o.qty),
                  filled=str(o.filled_qty), status=o.status.value,
                  age_s=max(0.0, (now - o.created_ms) / 1000.0) if o.created_ms else 0.0,
                  chase_count=ex.chase_count if ex is not None else 0,
                  at_gate=ex is not None and ex.plan.path == "gate")
        for o in reb.orders.working.values())
    prog = ex.escalation_progress(now) if ex is not None else None
    price = reb.price
    mark = book.mark_price or price
    liq_dist = abs(book.liq_price - mark) / mark * 100.0 if book.liq_price and mark else None
    chart = list(trend.chart)[-120:]
    memory = reb.memory
    cooldown_left = 0.0
    if memory.last_trade_ms is not None:
        cooldown_left = max(0.0, cfg.risk.cooldown_s - (now - memory.last_trade_ms) / 1000.0)
    hyst = ""
    last_side = reb.desk.last_side_trade
    if last_side is not None:
        ts, side = last_side
        left = cfg.risk.hysteresis_window_s - (now - ts) / 1000.0
        if left > 0:
            hyst = f"{side.opposite.value} needs soft×{1 + cfg.risk.hysteresis_pct:.2f} for {left:.0f}s"
    tv = trend.view()
    fee_q = net_after = cost = None
    if d is not None and d.trades and d.side is not None:
        maker_first, _taker_allowed, cost = reb.desk.style_for(d)
        fee_q = d.qty_base * d.price * (reb.maker_fee_rate if maker_first else reb.taker_fee_rate)
        net_after = book.net_after(d.side, d.qty_base)
    if ex is not None:
        cost = ex.estimate  # what the working rebalance goes by
    age = (now - reb.last_market_ms) if reb.last_market_ms is not None else None
    eq = book.equity_quote(price)
    risk = reb.risk
    return CockpitState(
        ts_ms=now, symbol=reb.symbol, venue=reb.venue_name, policy=reb.policy_name, mode=reb.mode,
        base_coin=reb.instrument.base, quote_coin=reb.instrument.quote,
        decision_fee_quote=fee_q, decision_net_after_base=net_after, decision_cost=cost,
        maker_fee_rate=reb.maker_fee_rate, taker_fee_rate=reb.taker_fee_rate,
        trading_state=risk.state, halt_reason=risk.halt_reason, connected=connected,
        price=price, bid=reb.bid if reb.has_quotes else None, ask=reb.ask if reb.has_quotes else None,
        spot_free=book.spot_free, spot_locked=book.spot_locked, spot_reserve=book.reserve,
        quote_free=book.quote_free, quote_locked=book.quote_locked,
        futures_size=book.futures_size, futures_entry=book.futures_entry, mark_price=mark,
        unrealised_pnl=book.upnl, liq_price=book.liq_price, liq_distance_pct=liq_dist,
        funding_rate=book.funding_rate, next_funding_ms=book.next_funding_ms,
        net_base=book.net_base, net_quote=book.net_base * (price or 0.0), target_base=book.target_base(price),
        gap_base=book.gap_base(price),
        effective_soft=d.effective_soft if d else 0.0, effective_hard=d.effective_hard if d else 0.0,
        threshold_unit=d.unit if d else "base", gap_in_unit=d.gap if d else 0.0,
        gap_history=tuple(reb.gap_history), decision=d,
        ema_fast=tv.ema_fast, ema_slow=tv.ema_slow, slope_pct=tv.slope_pct,
        trend_state=tv.state if tv.ready else "warming up", trend_signal=tv.signal,
        price_history=tuple(c[1] for c in chart), ema_fast_history=tuple(c[2] for c in chart),
        ema_slow_history=tuple(c[3] for c in chart),
        buy_vwap=recent.buy_vwap, sell_vwap=recent.sell_vwap,
        anchor_window_s=reb.policy.fills_window_s, buy_fill_count=recent.buy_count,
        sell_fill_count=recent.sell_count, fill_imbalance_base=recent.imbalance_base,
        orders=orders, escalation_progress=prog[0] if prog else None,
        escalation_left_s=prog[1] if prog else None,
        recent_fills=tuple(reb.recent_fills), cost=cost_view(reb), proposal=reb.operator.proposal,
        cooldown_left_s=cooldown_left,
        hysteresis_note=hyst, equity_quote=eq, peak_equity_quote=risk.peak_equity or eq,
        drawdown_pct=risk.drawdown_pct, log=tuple(reb.log),
        feed=FeedHealth(data_age_ms=age, rtt_p50_ms=feed.rtt_p50_ms, rtt_p99_ms=feed.rtt_p99_ms,
                        rate_budget_left=feed.rate_budget_left, events_total=reb.stats.events,
                        bad_messages=reb.bad_messages + feed.bad_messages,
                        stale_after_ms=int(cfg.risk.stale_after_s * 1000), stalls=feed.stalls,
                        reconnects=feed.reconnects, alerts_dropped=feed.alerts_dropped, speed=reb.market_speed),
    )


def cost_view(reb: Rebalancer) -> CostView:
    """The session's hedge cost, by the one definition (``core.costs``)."""
    parts = reb.costs.parts
    if not parts.fills:
        return NO_COST
    f = reb.costs.figures()
    return CostView(parts.fills, f["cost_bps"], f["cost_fee_bps"], f["cost_spread_bps"], f["cost_drift_bps"],
                    f["maker_markout_60s_bps"])


NO_COST = CostView()
