"""Which records become alerts, and what each says. Pure: records in, ``Alert`` values out.

``AlertRules`` is a ``Recorder`` tap (``core.record_lines.Tee``): it sees every record the
journal gets, so an alert can never say something the journal does not. ``FeedWatch`` and
``DailySummary`` are read on the engine's tick (the feed's silence is not a record).

Events: ``proposal`` (semi mode: symbol, side, size, limit, reason, expiry), ``halt`` / ``kill``
(a halt the trader asked for is a kill), ``rearm``, ``mode``, ``order_rejected_streak`` (N
rejections in a row), ``feed_down`` / ``feed_up`` (no market data, or disconnected, past N
seconds), ``fill`` (ours; off by default), ``daily_summary``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from core.model import Decision, Fill, Order
from core.recorder import Recorder
from core.state import Proposal

EVENTS = ("proposal", "halt", "kill", "rearm", "mode", "order_rejected_streak", "feed_down", "feed_up", "fill",
          "daily_summary")
DEFAULT_EVENTS = tuple(e for e in EVENTS if e != "fill")


@dataclass(frozen=True)
class Alert:
    event: str
    title: str
    body: str
    fields: dict[str, Any] = field(default_factory=dict)


Sink = Callable[[Alert], None]


def _utc(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class AlertRules(Recorder):
    """Records in, alerts out to ``sink`` (only the ``events`` chosen)."""

    def __init__(self, sink: Sink, *, symbol: str, events: tuple[str, ...] = DEFAULT_EVENTS,
                 rejected_streak: int = 3) -> None:
        self.sink = sink
        self.symbol = symbol
        self.events = frozenset(events)
        self.rejected_streak = rejected_streak
        self._rejected = 0
        self._halted = False

    def _say(self, event: str, title: str, body: str, **fields: Any) -> None:
        if event in self.events:
            self.sink(Alert(event, f"[{self.symbol}] {title}", body, {"event": event, "symbol": self.symbol, **fields}))

    # -- records
    def proposal(self, ts_ms: int, proposal: Proposal, answer: str) -> None:
        if answer != "shown":
            return
        p = proposal
        expiry = f"expires {_utc(p.expires_ms)}" if p.expires_ms is not None else "does not expire"
        reason = p.decision.reason if p.decision is not None else ""
        self._say("proposal", f"proposal #{p.proposal_id}: {p.side.value} {p.qty}",
                  f"{p.side.value} {p.qty} {self.symbol}, limit {p.price_limit}; {expiry}. {reason}",
                  proposal_id=p.proposal_id, side=p.side.value, qty=str(p.qty), limit=str(p.price_limit),
                  reason=reason, expires=_utc(p.expires_ms) if p.expires_ms is not None else "never",
                  expires_ms=p.expires_ms, ts_ms=ts_ms)

    def state(self, ts_ms: int, kind: str, value: str, reason: str) -> None:
        if kind == "trading_state":
            if value == "HALTED" and not self._halted:
                self._halted = True
                event = "kill" if "kill switch pressed" in reason else "halt"
                self._say(event, f"HALTED: {reason}", f"Trading halted at {_utc(ts_ms)}: {reason}. "
                          "Nothing is sent until you re-arm (r).", reason=reason, ts_ms=ts_ms)
            elif value == "ACTIVE" and self._halted:
                self._halted = False
                self._say("rearm", "re-armed: trading ACTIVE", f"Re-armed at {_utc(ts_ms)}: {reason}",
                          reason=reason, ts_ms=ts_ms)
        elif kind == "mode":
            self._say("mode", f"mode {value}", f"Mode {value} at {_utc(ts_ms)}: {reason}", mode=value,
                      reason=reason, ts_ms=ts_ms)

    def order(self, ts_ms: int, order: Order, event: str) -> None:
        if event == "Rejected" or order.status.value == "Rejected":
            self._rejected += 1
            if self._rejected == self.rejected_streak:
                self._say("order_rejected_streak", f"{self._rejected} orders rejected in a row",
                          f"Last: {order.client_id} {order.side.value} {order.qty} @ {order.price}: "
                          f"{order.reject_reason}", count=self._rejected, reason=order.reject_reason, ts_ms=ts_ms)
        elif event in ("New", "PartiallyFilled", "Filled"):
            self._rejected = 0

    def fill(self, fill: Fill) -> None:
        if fill.source != "rebalancer":
            return
        self._say("fill", f"fill {fill.side.value} {fill.qty} @ {fill.price}",
                  f"{'maker' if fill.is_maker else 'taker'}, fee {fill.fee} {fill.fee_coin}",
                  side=fill.side.value, qty=str(fill.qty), price=str(fill.price), fee=str(fill.fee),
                  fee_coin=fill.fee_coin, maker=fill.is_maker, ts_ms=fill.ts_ms)

    def decision(self, decision: Decision, mode: str, outcome: str) -> None:
        pass  # the journal's and the log's; an alert per decision would be noise


class FeedWatch:
    """``feed_down`` once no market data has come, or the venue has been disconnected, for
    ``after_s``; ``feed_up`` when data flows again. Read on the engine's tick (wall time)."""

    def __init__(self, sink: Sink, *, symbol: str, after_s: float, events: frozenset[str]) -> None:
        self.sink = sink
        self.symbol = symbol
        self.after_ms = int(after_s * 1000)
        self.events = events
        self.down = False
        self._disconnected_since: int | None = None

    def check(self, now_ms: int, last_data_ms: int | None, connected: bool) -> None:
        if connected:
            self._disconnected_since = None
        elif self._disconnected_since is None:
            self._disconnected_since = now_ms
        age = None if last_data_ms is None else now_ms - last_data_ms
        silent = age is not None and age >= self.after_ms
        cut = self._disconnected_since is not None and now_ms - self._disconnected_since >= self.after_ms
        if (silent or cut) and not self.down:
            self.down = True
            why = (f"venue disconnected for {(now_ms - self._disconnected_since) / 1000:.0f} s" if cut
                   else f"no market data for {age / 1000:.0f} s")
            if "feed_down" in self.events:
                self.sink(Alert("feed_down", f"[{self.symbol}] feed DOWN: {why}",
                                f"{why} (at {_utc(now_ms)}); no order is sent on old data.",
                                {"event": "feed_down", "symbol": self.symbol, "why": why, "connected": connected,
                                 "age_s": None if age is None else age / 1000, "ts_ms": now_ms}))
        elif self.down and connected and age is not None and age < self.after_ms:
            self.down = False
            if "feed_up" in self.events:
                self.sink(Alert("feed_up", f"[{self.symbol}] feed up", f"market data flows again ({_utc(now_ms)})",
                                {"event": "feed_up", "symbol": self.symbol, "ts_ms": now_ms}))


class DailySummary:
    """Once a UTC day (at the first check after midnight): the session's volume, fees, cost,
    time over band, and the day's P&L (equity change since the previous summary, or the start)."""

    def __init__(self, sink: Sink, *, symbol: str, events: frozenset[str]) -> None:
        self.sink = sink
        self.symbol = symbol
        self.events = events
        self._day: str | None = None
        self._equity: float | None = None  # at the start of the day being summed up

    def check(self, now_ms: int, figures: Callable[[], dict]) -> None:
        day = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")
        if day == self._day:
            return
        f = figures()
        first, self._day = self._day is None, day
        before, self._equity = self._equity, f.get("equity_quote")
        if first or "daily_summary" not in self.events:
            return
        equity = f.get("equity_quote")
        f["day_pnl_quote"] = round(equity - before, 2) if equity is not None and before is not None else None
        body = ", ".join(f"{k} {v}" for k, v in f.items())
        self.sink(Alert("daily_summary", f"[{self.symbol}] daily summary", body,
                        {"event": "daily_summary", "symbol": self.symbol, **f, "ts_ms": now_ms}))


def summary_figures(reb) -> dict:
    """What the daily summary says, from the rebalancer's running statistics."""
    st = reb.stats
    f = reb.costs.figures()
    total = st.time_total_ms
    return {
        "fills": st.fills,
        "volume_quote": round(st.volume_quote, 2),
        "fees_quote": round(st.fees_quote, 4),
        "cost_bps": f["cost_bps"],
        "equity_quote": round(reb.book.equity_quote(reb.price), 2) if reb.price and reb.book.balances_ok else None,
        "pct_time_over_band": round(st.time_over_band_ms / total * 100, 3) if total else None,
    }


__all__ = ["Alert", "AlertRules", "DEFAULT_EVENTS", "DailySummary", "EVENTS", "FeedWatch", "summary_figures"]
