"""Risk gates every order passes: size limits, notional caps, order rate, staleness, and the
drawdown kill switch.

A refusal is a sentence, not a boolean, so the cockpit and the journal can say why nothing
was sent. Rolling windows keep running sums, so each check is amortised O(1).
"""

from __future__ import annotations

from collections import deque

from core.config import ExecutionConfig, RiskConfig
from core.model import TradingState
from core.values import value_type

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MINUTE_MS = 60_000


class _Window:
    """Sum of values over a rolling time window."""

    __slots__ = ("span_ms", "items", "total")

    def __init__(self, span_ms: int) -> None:
        self.span_ms = span_ms
        self.items: deque[tuple[int, float]] = deque()
        self.total = 0.0

    def add(self, ts_ms: int, value: float) -> None:
        self.items.append((ts_ms, value))
        self.total += value

    def current(self, now_ms: int) -> float:
        cutoff = now_ms - self.span_ms
        items = self.items
        while items and items[0][0] <= cutoff:
            self.total -= items.popleft()[1]
        if not items:
            self.total = 0.0
        return self.total

    def count(self, now_ms: int) -> int:
        self.current(now_ms)
        return len(self.items)


@value_type
class SizeCheck:
    qty: float  # allowed size (may be clipped below the wanted size)
    refused: str | None = None  # why nothing may be sent
    note: str = ""  # why the size was clipped


class RiskManager:
    def __init__(self, risk: RiskConfig, execution: ExecutionConfig) -> None:
        self.cfg = risk
        self.exec = execution
        self.state = TradingState.ACTIVE
        self.halt_reason = ""
        self._hour = _Window(HOUR_MS)
        self._day = _Window(DAY_MS)
        self._orders = _Window(MINUTE_MS)
        self.peak_equity: float | None = None
        self.last_equity: float | None = None
        self.stops = 0  # kills, halts, pauses and mode changes so far: an order made before one is stale

    # -- trading state

    def pause(self) -> None:
        if self.state is TradingState.ACTIVE:
            self.state = TradingState.PAUSED
            self.stops += 1

    def resume(self) -> None:
        if self.state is TradingState.PAUSED:
            self.state = TradingState.ACTIVE

    def halt(self, reason: str) -> None:
        self.state = TradingState.HALTED
        self.halt_reason = reason
        self.stops += 1

    def rearm(self) -> None:
        """Only the user calls this: clears the halt and restarts the drawdown peak from now."""
        self.state = TradingState.ACTIVE
        self.halt_reason = ""
        self.peak_equity = self.last_equity

    # -- kill switch

    def on_equity(self, equity: float) -> str | None:
        """Track the peak; returns the halt reason when the drawdown limit is hit."""
        reason = self.halt_reason_at(equity)
        self.last_equity = equity
        if self.peak_equity is None or equity > self.peak_equity:
            self.peak_equity = equity
        return reason

    def halt_reason_at(self, equity: float) -> str | None:
        """What ``on_equity(equity)`` would answer, without recording anything."""
        peak = self.peak_equity
        if peak is None or equity > peak or self.state is TradingState.HALTED:
            return None
        dd = peak - equity
        dd_pct = dd / peak * 100.0 if peak > 0 else 0.0
        if dd_pct >= self.cfg.max_drawdown_pct:
            return f"kill switch: drawdown {dd_pct:.2f}% ≥ {self.cfg.max_drawdown_pct}% (equity {equity:,.2f} from peak {peak:,.2f})"
        if self.cfg.max_drawdown_quote is not None and dd >= self.cfg.max_drawdown_quote:
            return f"kill switch: drawdown {dd:,.2f} ≥ {self.cfg.max_drawdown_quote:,.2f} quote"
        return None

    def surely_no_halt(self, peak: float, equity: float) -> bool:
        """True when no sample with equity ≥ ``equity``, under any peak ≤ ``peak``, can trip
        the kill switch (drawn a hair inside the limits, so float rounding cannot matter).
        Replay's bulk path asks this of a whole run of samples at once."""
        if self.state is TradingState.HALTED:
            return True
        dd = peak - equity
        if dd <= 0.0:
            return True
        if peak > 0 and dd / peak * 100.0 >= self.cfg.max_drawdown_pct * (1.0 - 1e-9):
            return False
        q = self.cfg.max_drawdown_quote
        return q is None or dd < q * (1.0 - 1e-9)

    @property
    def drawdown_pct(self) -> float:
        if not self.peak_equity or self.last_equity is None:
            return 0.0
        return max(0.0, (self.peak_equity - self.last_equity) / self.peak_equity * 100.0)

    # -- order gates

    def gate(self, now_ms: int, *, last_market_ms: int | None, connected: bool, balances_ok: bool) -> str | None:
        """Why no new order may be sent now, or None."""
        if self.state is TradingState.HALTED:
            return f"HALTED: {self.halt_reason}"
        if self.state is TradingState.PAUSED:
            return "PAUSED by the user"
        if not connected:
            return "venue disconnected"
        if not balances_ok:
            return "balances not confirmed by the venue yet"
        if last_market_ms is None:
            return "no market data yet"
        age_s = (now_ms - last_market_ms) / 1000.0
        if age_s > self.cfg.stale_after_s:
            return f"market data stale ({age_s:.1f}s > {self.cfg.stale_after_s:.0f}s)"
        if self._orders.count(now_ms) >= self.cfg.max_orders_per_minute:
            return f"order rate cap: {self.cfg.max_orders_per_minute} orders per minute"
        return None

    def size(self, now_ms: int, qty: float, price: float) -> SizeCheck:
        """Clip a wanted size to the size limits and notional caps (never round up)."""
        if price <= 0:
            return SizeCheck(0.0, "no valid price")
        notes = []
        if qty > self.exec.max_trade_base:
            qty = self.exec.max_trade_base
            notes.append(f"clipped to max trade {self.exec.max_trade_base}")
        per_trade = self.cfg.max_notional_per_trade / price
        if qty > per_trade:
            qty = per_trade
            notes.append(f"clipped to {self.cfg.max_notional_per_trade:,.0f} per trade")
        room, which = self._notional_room(now_ms)
        if room <= 0:
            return SizeCheck(0.0, f"{which} notional cap reached")
        if qty * price > room:
            qty = room / price
            notes.append(f"clipped to the {which} cap left ({room:,.0f})")
        if qty < self.exec.min_trade_base:
            return SizeCheck(0.0, f"size {qty:.8f} below min trade {self.exec.min_trade_base}")
        return SizeCheck(qty, None, "; ".join(notes)) if notes else SizeCheck(qty)

    def max_qty_at(self, now_ms: int, price: float) -> float:
        """The largest size an order at ``price`` may have now: max trade, per-trade notional,
        and what is left of the hourly and daily notional caps (checked at the price the order
        is actually sent at, every time it is (re)placed)."""
        if price <= 0:
            return 0.0
        room = self._notional_room(now_ms)[0]
        return max(0.0, min(self.exec.max_trade_base, self.cfg.max_notional_per_trade / price, room / price))

    def _notional_room(self, now_ms: int) -> tuple[float, str]:
        """What is left of the tighter notional cap, and which one it is (hourly or daily)."""
        hour_left = self.cfg.max_notional_per_hour - self._hour.current(now_ms)
        day_left = self.cfg.max_notional_per_day - self._day.current(now_ms)
        return (hour_left, "hourly") if hour_left <= day_left else (day_left, "daily")

    def on_order_sent(self, now_ms: int) -> None:
        self._orders.add(now_ms, 1.0)

    def on_fill(self, ts_ms: int, notional: float) -> None:
        self._hour.add(ts_ms, notional)
        self._day.add(ts_ms, notional)

    def notional_used(self, now_ms: int) -> tuple[float, float]:
        return self._hour.current(now_ms), self._day.current(now_ms)

    def orders_last_minute(self, now_ms: int) -> int:
        return self._orders.count(now_ms)
