"""What the Bybit venue reads over REST: rules, balances, position, our orders, fills, candles.

A mixin of ``BybitVenue`` (one idea per file): it uses the venue's ``rest``, ``settings``,
``symbol``, ``client_prefix`` and order memory, and is never used alone.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from core import instruments
from core.model import Balance, Candle, Fill, Instrument, Order, Position
from core.venues import bybit_parse as P
from core.venues.base import VenueError
from core.venues.bybit_settings import WINDOW_MS

log = logging.getLogger("rebalancer.bybit")


def _parsed(fn, item: dict, **kw):
    """One REST list item through a parser; a malformed one is logged and skipped."""
    try:
        return fn(item, **kw)
    except (P.BadMessage, KeyError, ValueError, TypeError) as e:
        log.warning("skipped a malformed %s item from Bybit (%s): %.200r", fn.__name__, e, item)
        return None


def split_symbol(symbol: str) -> tuple[str, str]:
    """``core.instruments.split_symbol``; a symbol with no known quote coin is taken as USDT-quoted."""
    return instruments.split_symbol(symbol, unknown_quote="USDT")


RULES_MAX_AGE_MS = 6 * 3_600_000  # instrument rules are cached this long, then read again


class BybitReads:
    # ------------------------------------------------------------------ reads

    @property
    def spot_instrument(self) -> Instrument | None:
        """The spot trading rules read at start-up (None before)."""
        return self._spot

    async def instrument(self) -> Instrument:
        """The spot rules, read again from Bybit once they are ``RULES_MAX_AGE_MS`` old (a tick
        or step change reaches a long session) and handed to ``on_rules`` then."""
        stale = self.rules_read_ms is not None and self._now_ms() - self.rules_read_ms >= RULES_MAX_AGE_MS
        if self._spot is None or stale:
            await self._load_rules()
            if stale and self.on_rules is not None:
                self.on_rules(self)
        assert self._spot is not None
        return self._spot

    async def balances(self) -> tuple[Balance, ...]:
        out = await self._read_balances()
        self._note_balances(out)  # what the engine now knows (the private stall watch compares)
        return out

    async def _read_balances(self) -> tuple[Balance, ...]:
        base, quote = (self._spot.base, self._spot.quote) if self._spot else split_symbol(self.symbol)
        result = await self.rest.call("get_wallet_balance", accountType="UNIFIED", coin=f"{base},{quote}")
        return P.balances(result.get("list") or (), coins=(base, quote))

    async def position(self) -> Position:
        out = await self._read_position()
        self._note_position(out)
        return out

    async def _read_position(self) -> Position:
        if self._spot is not None and self.linear_instrument is None:
            return Position(symbol=self.symbol, size=Decimal(0))
        result = await self.rest.call("get_positions", category="linear", symbol=self.symbol)
        return P.position(result.get("list") or (), self.symbol)

    async def _paged(self, method: str, limit: int, **params) -> list[dict]:
        items: list[dict] = []
        cursor = None
        for _ in range(200):  # a bound, not an expectation
            page = await self.rest.call(method, limit=limit, cursor=cursor, **params)
            items.extend(i for i in page.get("list") or () if isinstance(i, dict))
            cursor = page.get("nextPageCursor") or None
            if not cursor:
                break
        return items

    async def _fetch_open_orders(self) -> tuple[Order, ...]:
        items = await self._paged("get_open_orders", 50, category="spot", symbol=self.symbol, openOnly=0)
        out = []
        for item in items:
            if not str(item.get("orderLinkId") or "").startswith(self.client_prefix):
                continue
            o = _parsed(P.order, item)
            if o is not None and o.status.is_open:
                out.append(o)
        return tuple(out)

    async def open_orders(self) -> tuple[Order, ...]:
        orders = await self._fetch_open_orders()
        for o in orders:
            self._known.remember(o)
        return orders

    async def _fetch_order(self, client_id: str) -> Order | None:
        for method in ("get_open_orders", "get_order_history"):
            result = await self.rest.call(method, category="spot", symbol=self.symbol, orderLinkId=client_id)
            for item in result.get("list") or ():
                if item.get("orderLinkId") == client_id:
                    return P.order(item)
        return None

    async def order_by_client_id(self, client_id: str) -> Order | None:
        """/v5/order/realtime by orderLinkId (it also lists recent closed orders), then history."""
        o = await self._fetch_order(client_id)
        if o is not None:
            self._known.remember(o)
        return o

    async def _executions(self, since_ms: int, categories: tuple[str, ...] | None = None) -> tuple[Fill, ...]:
        """Executions of our symbol at or after ``since_ms`` (at most the look-back), oldest first."""
        cats = categories or (("spot", "linear") if self.settings.linear_fills and self.linear_instrument else ("spot",))
        end = self._now_ms() + 60_000
        start = max(int(since_ms), end - self.settings.backfill_lookback_ms)
        rows: list[dict] = []
        for cat in cats:
            s = start
            while s <= end:
                e = min(s + WINDOW_MS - 1, end)
                for item in await self._paged("get_executions", 100, category=cat, symbol=self.symbol,
                                              startTime=s, endTime=e):
                    item.setdefault("category", cat)
                    rows.append(item)
                s = e + 1
        rows = [r for r in rows if r.get("symbol") == self.symbol and r.get("execType", "Trade") == "Trade"
                and P.ms(r.get("execTime"), 0) >= since_ms]
        rows.sort(key=P.fill_sort_key)
        out: dict[str, Fill] = {}
        for r in rows:
            f = _parsed(P.fill, r, prefix=self.client_prefix)
            if f is not None:
                out.setdefault(f.exec_id, f)
        return tuple(out.values())

    async def executions_since(self, ts_ms: int) -> tuple[Fill, ...]:
        """Every execution on our symbol at or after ``ts_ms``, spot and (when the symbol has a
        perpetual) linear, ours and the trader's: what start-up recovery back-fills
        (``core.recovery``); look-back capped at ``backfill_lookback_ms``."""
        return await self._executions(ts_ms)

    async def fills_since(self, ts_ms: int) -> tuple[Fill, ...]:
        """Our spot executions at or after ``ts_ms`` (look-back capped at ``backfill_lookback_ms``)."""
        return tuple(f for f in await self._executions(ts_ms, ("spot",))
                     if f.client_id.startswith(self.client_prefix))

    async def candles(self, interval_ms: int, limit: int) -> tuple[Candle, ...]:
        """Closed spot candles, oldest first (Bybit sends newest first, the first one still open)."""
        interval = P.KLINE_INTERVAL.get(int(interval_ms))
        if interval is None:
            raise VenueError(f"Bybit has no {interval_ms} ms kline (use 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d)")
        if limit <= 0:
            return ()
        result = await self.rest.call("get_kline", category="spot", symbol=self.symbol, interval=interval,
                                      limit=min(1000, limit + 1))
        return P.candles(result.get("list") or (), int(interval_ms), self._now_ms(), limit)
