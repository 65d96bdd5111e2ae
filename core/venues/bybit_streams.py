"""The three Bybit streams (spot public, linear public, private): frames -> events, and a watchdog.

Threading: pybit runs each socket on its own thread. Frames are parsed *there* (cheap,
and a bad frame is caught there) and the resulting events are handed to the event loop
through one ``core.handoff.LoopHandoff``; nothing on a socket thread blocks or touches loop
state. Everything below the "loop side" marker runs on the loop.

The hand-off schedules at most one loop callback at a time (``call_soon_threadsafe`` only
when none is pending) and delivers everything that arrived meanwhile in one batch, in
arrival order. Market data that only matters as its latest value -- the spot top of book
(``Quote``) and the linear ticker (``PerpTicker``, already merged on the thread) -- is
conflated per stream while it waits (the newest value replaces the older one in place; it
never moves across a trade, an order, fill, position or wallet event, or a link change).
Trades and private events are FIFO: never dropped, never reordered. Link changes and problem
reports go through the same hand-off, so they keep their place among the data.

While market data is busy the loop is woken at most every ``market_data_interval_s``
(``MARKET_DATA_MIN_INTERVAL_S``, 20 ms; the first value after a quiet spell goes at once).
Private events and link changes are urgent: they never wait for that interval.

Liveness: a link is *up* when its socket is connected and every subscription has been
acknowledged on the current connection. pybit reconnects by itself after most drops; the
watchdog (``check``, called periodically by the venue) covers the rest: a socket that is
``exited`` (pybit gave up) or not connected for ``rebuild_after_s`` is closed and rebuilt
with exponential back-off. Each change is reported to ``on_link(name, up, detail)``; the
venue turns that into ``ConnectionChanged`` and reconciles after a private outage.

Several symbols (``core.venues.bybit_hub``): one set of sockets carries every symbol's topics
(``symbols``; the linear socket only those with a perpetual, ``linear_symbols``). With
``tag_symbols`` each event is handed over as ``(symbol, event)`` (``None`` for the wallet, which
is the account's) so the hub can route it; market data is conflated per symbol.

Stalls: a socket can stay open and answer pings while sending nothing (pybit only notices a
dead socket, never a silent one). Each link records when its last data frame arrived
(``last_data``; pongs and acks do not count). A link with a stall limit (``stall_after_s``:
the spot stream, whose ``orderbook.1`` Bybit re-sends at least every 3 s) that is silent past
it is replaced at once (``replace``); the private stream is legitimately quiet on a quiet
account, so the venue decides its stall with a REST look (``bybit_stall``) and calls ``replace``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from core.events import BalanceUpdate, FillEvent, OrderUpdate, PositionUpdate
from core.handoff import MARKET_DATA_MIN_INTERVAL_S, LoopHandoff
from core.model import PerpTicker, Quote, Trade
from core.venues import bybit_parse as P
from core.venues.base import VenueError
from core.venues.bybit_ws import GuardedWebSocket

log = logging.getLogger("rebalancer.bybit.streams")

PRIVATE_TOPICS = ("order", "execution", "position", "wallet")
BAD_LOG_EVERY = 100  # after the first few, log every Nth bad message


@dataclass(frozen=True)
class ChannelSpec:
    name: str  # "spot" | "linear" | "private"
    channel_type: str
    testnet: bool
    demo: bool
    base_url: str | None
    expected_subs: int

    @property
    def private(self) -> bool:
        return self.channel_type == "private"


@dataclass
class Link:
    spec: ChannelSpec
    ws: GuardedWebSocket | None = None
    token: int = 0
    up: bool = False
    ready_opens: int = 0
    down_since: float | None = None
    backoff_s: float = 0.5
    next_rebuild: float = 0.0
    rebuild: asyncio.Task | None = None
    last_data: float = 0.0  # monotonic time of the last data frame (or of the subscribe) on this socket
    stall_s: float | None = None  # silent this long while up: replaced (None: no limit here)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class BybitStreams:
    """Owns the sockets; parses on socket threads; reports events and link changes on the loop."""

    def __init__(self, *, loop: asyncio.AbstractEventLoop, specs: Iterable[ChannelSpec], symbol: str = "",
                 client_prefix: str, symbols: Sequence[str] = (), linear_symbols: Sequence[str] | None = None,
                 tag_symbols: bool = False, api_key: str | None, api_secret: str | None, domain: str = "bybit",
                 tld: str = "com", on_events: Callable[[tuple], None], on_link: Callable[[str, bool, str], None],
                 on_problem: Callable[[str], None], clock_ms: Callable[[], int] | None = None,
                 ping_interval_s: float = 20.0, ping_timeout_s: float = 10.0, ws_retries: int = 10,
                 auth_expire_s: int = 10, rebuild_after_s: float = 5.0, min_backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, connect_timeout_s: float = 20.0, linear_fills: bool = True,
                 market_data_interval_s: float = MARKET_DATA_MIN_INTERVAL_S,
                 stall_after_s: dict[str, float] | None = None) -> None:
        self.loop = loop
        self.symbols = tuple(symbols) or (symbol,)
        self.symbol = self.symbols[0]
        self.linear_symbols = self.symbols if linear_symbols is None else tuple(linear_symbols)
        self._ours = frozenset(self.symbols)
        self.tag = tag_symbols
        self._spot_topics = {**{f"orderbook.1.{s}": (True, s) for s in self.symbols},
                             **{f"publicTrade.{s}": (False, s) for s in self.symbols}}
        self._linear_topics = {f"tickers.{s}": s for s in self.linear_symbols}
        self.prefix = client_prefix
        self._key, self._secret = api_key, api_secret
        self.domain, self.tld = domain, tld
        self.on_events, self.on_link, self.on_problem = on_events, on_link, on_problem
        self.clock_ms = clock_ms
        self.ping_interval_s, self.ping_timeout_s = ping_interval_s, ping_timeout_s
        self.ws_retries = ws_retries
        self.auth_expire_s = auth_expire_s
        self.rebuild_after_s = rebuild_after_s
        self.min_backoff_s, self.max_backoff_s = min_backoff_s, max_backoff_s
        self.connect_timeout_s = connect_timeout_s
        self.linear_fills = linear_fills
        stall = stall_after_s or {}
        self.links: dict[str, Link] = {s.name: Link(s, backoff_s=min_backoff_s, stall_s=stall.get(s.name) or None)
                                       for s in specs}
        self._tokens = itertools.count(1)
        self._bad_lock = threading.Lock()
        self.bad_messages = 0
        self.rebuilds = 0
        self.stalls = 0
        self.closed = False
        # socket threads -> loop: one pending callback at a time, market data conflated
        self.handoff = LoopHandoff(loop, self._deliver_batch, min_interval_s=market_data_interval_s,
                                   name="bybit-streams")

    # ================================================================== socket-thread side

    def _post(self, fn: Callable, *args) -> None:
        if self.closed:
            return
        self.handoff.call(fn, *args)  # in order with the data, sharing its loop wake-up

    def ws_data(self, ws: GuardedWebSocket, message: dict) -> None:
        link = self.links.get(ws.name)
        if link is None or link.token != ws.token:
            return  # a superseded socket (its replacement delivers): never deliver twice
        link.last_data = time.monotonic()  # a float store: atomic under the GIL
        events = self._parse(ws, message)
        if not events or self.closed:
            return
        handoff = self.handoff
        if self.tag:
            for symbol, ev in events:
                t = type(ev)
                if t is Quote or t is PerpTicker:
                    handoff.put_latest((ws.name, t, symbol), (symbol, ev))
                else:
                    handoff.put((symbol, ev), urgent=t is not Trade)
            return
        for ev in events:
            t = type(ev)
            if t is Quote or t is PerpTicker:
                handoff.put_latest((ws.name, t), ev)  # only the newest value matters
            elif t is Trade:
                handoff.put(ev, urgent=False)  # FIFO, every trade, at the market-data pace
            else:
                handoff.put(ev)  # orders, fills, positions, wallet: FIFO, at once

    def ws_ready(self, ws: GuardedWebSocket, opens: int) -> None:
        self._post(self._ready, ws.name, ws.token, opens)

    def ws_drop(self, ws: GuardedWebSocket, opens: int, error: BaseException | str) -> None:
        detail = error if isinstance(error, str) else (f"{type(error).__name__}: {error}" if str(error)
                                                       else type(error).__name__)
        self._post(self._dropped, ws.name, ws.token, opens, detail)

    def ws_bad(self, ws: GuardedWebSocket, why: str, raw: object) -> None:
        with self._bad_lock:
            self.bad_messages += 1
            n = self.bad_messages
        if n <= 5 or n % BAD_LOG_EVERY == 0:
            log.warning("%s stream: bad message #%d (%s): %.200r", ws.name, n, why, raw)

    def ws_refused(self, ws: GuardedWebSocket, what: str, message: dict) -> None:
        text = str(message.get("ret_msg") or message.get("retMsg") or message)[:200]
        self._post(self.on_problem, f"{ws.name} stream: {what} refused by Bybit: {text}")

    # ------------------------------------------------------------------ parsing (socket thread)

    def _parse(self, ws: GuardedWebSocket, msg: dict) -> list:
        """Events of one frame (``(symbol, event)`` pairs when tagging)."""
        topic = msg["topic"]
        if ws.name == "spot":
            hit = self._spot_topics.get(topic)
            if hit is not None:
                book, symbol = hit
                if book:
                    q = P.quote(msg)
                    out = [q] if q is not None else []
                else:
                    out = P.trades(msg)
                return [(symbol, ev) for ev in out] if self.tag else out
        elif ws.name == "linear":
            symbol = self._linear_topics.get(topic)
            if symbol is not None:
                state = ws.local.setdefault("ticker", {}).setdefault(symbol, {})
                data = msg["data"]
                if not isinstance(data, dict):
                    raise P.BadMessage("ticker data is not an object")
                if msg.get("type") == "snapshot":
                    state.clear()
                state.update(data)
                t = P.perp_ticker(state, P.ms(msg.get("ts")))
                if t is None:
                    return []
                return [(symbol, t)] if self.tag else [t]
        elif ws.name == "private":
            kind = topic.split(".")[0]
            if kind in PRIVATE_TOPICS:
                items = msg.get("data")
                if not isinstance(items, list):
                    raise P.BadMessage(f"{topic}: data is not a list")
                ts = P.ms(msg.get("creationTime"), 0) or (self.clock_ms() if self.clock_ms else int(time.time() * 1000))
                out = getattr(self, f"_private_{kind}")(ws, items, ts)
                return [(_symbol_of(ev), ev) for ev in out] if self.tag else out
        self.ws_bad(ws, f"unexpected topic {topic!r}", msg)
        return []

    def _each(self, ws: GuardedWebSocket, items: list, fn: Callable[[dict], object | None]) -> list:
        """Apply ``fn`` per item; one bad item is counted and skipped, the rest still count."""
        out = []
        for item in items:
            try:
                if not isinstance(item, dict):
                    raise P.BadMessage("item is not an object")
                ev = fn(item)
            except Exception as e:  # noqa: BLE001
                self.ws_bad(ws, f"{type(e).__name__}: {e}", item)
                continue
            if ev is not None:
                out.append(ev)
        return out

    def _private_order(self, ws: GuardedWebSocket, items: list, ts: int) -> list:
        def one(item: dict):
            if item.get("category", "spot") != "spot" or item.get("symbol") not in self._ours:
                return None
            if not str(item.get("orderLinkId") or "").startswith(self.prefix):
                return None  # not ours (the trader's grid or manual orders)
            o = P.order(item)
            return OrderUpdate(o.updated_ms or ts, o)
        return self._each(ws, items, one)

    def _private_execution(self, ws: GuardedWebSocket, items: list, ts: int) -> list:
        def one(item: dict):
            cat = item.get("category", "spot")
            if item.get("symbol") not in self._ours or item.get("execType", "Trade") != "Trade":
                return None
            if cat == "spot" or (cat == "linear" and self.linear_fills):
                return FillEvent(P.fill(item, prefix=self.prefix))
            return None
        return self._each(ws, items, one)

    def _private_position(self, ws: GuardedWebSocket, items: list, ts: int) -> list:
        rows = ws.local.setdefault("positions", {})  # symbol -> positionIdx -> item
        changed = self._each(ws, items, lambda item: _position_row(item, self._ours, rows))
        symbols = dict.fromkeys(item["symbol"] for item in changed)  # each once, in order
        return [PositionUpdate(ts, P.position(rows[s].values(), s)) for s in symbols]

    def _private_wallet(self, ws: GuardedWebSocket, items: list, ts: int) -> list:
        accounts = self._each(ws, items, lambda item: item if item.get("accountType", "UNIFIED") == "UNIFIED"
                              else None)
        if not accounts:
            return []
        balances = P.balances(accounts)
        return [BalanceUpdate(ts, balances, made_ms=ts)] if balances else []  # ts: the push's creationTime

    # ================================================================== loop side

    def _deliver_batch(self, events: list) -> None:
        if not self.closed:
            self.on_events(tuple(events))

    def _link(self, name: str, token: int) -> Link | None:
        link = self.links.get(name)
        return link if link is not None and link.token == token else None  # None: an old socket

    def _ready(self, name: str, token: int, opens: int) -> None:
        link = self._link(name, token)
        if link is None or self.closed:
            return
        link.ready_opens = opens
        link.last_data = time.monotonic()  # the silence clock starts at the subscribe
        link.down_since = None
        link.backoff_s = self.min_backoff_s
        link.ready.set()
        if not link.up:
            link.up = True
            self.on_link(name, True, "subscribed" if opens <= 1 and not self.rebuilds else "resubscribed")

    def _dropped(self, name: str, token: int, opens: int, detail: str) -> None:
        link = self._link(name, token)
        if link is None or self.closed or opens < link.ready_opens:
            return  # a drop of a connection already replaced
        self._mark_down(link, detail)

    def _mark_down(self, link: Link, detail: str) -> None:
        if link.down_since is None:
            link.down_since = time.monotonic()
        link.ready.clear()
        if link.up:
            link.up = False
            log.warning("%s stream down: %s", link.spec.name, detail)
            self.on_link(link.spec.name, False, detail)

    @property
    def all_up(self) -> bool:
        return all(link.up for link in self.links.values())

    # ------------------------------------------------------------------ building

    def _build(self, spec: ChannelSpec, token: int) -> GuardedWebSocket:
        """Blocking (worker thread): connect and subscribe one socket."""
        kw: dict = dict(testnet=spec.testnet, demo=spec.demo, domain=self.domain, tld=self.tld,
                        ping_interval=self.ping_interval_s, ping_timeout=self.ping_timeout_s,
                        retries=self.ws_retries, restart_on_error=True, trace_logging=False)
        if spec.private:
            kw.update(api_key=self._key, api_secret=self._secret, private_auth_expire=self.auth_expire_s)
        ws = GuardedWebSocket(spec.channel_type, name=spec.name, token=token, listener=self,
                              expected_subs=spec.expected_subs, base_url=spec.base_url, clock_ms=self.clock_ms, **kw)
        try:
            noop = _noop
            if spec.name == "spot":
                for symbol in self.symbols:  # one request per topic: Bybit spot takes <= 10 args a request
                    ws.orderbook_stream(1, symbol, noop)
                    ws.trade_stream(symbol, noop)
            elif spec.name == "linear":
                for symbol in self.linear_symbols:
                    ws.ticker_stream(symbol, noop)
            else:
                ws.order_stream(noop)
                ws.execution_stream(noop)
                ws.position_stream(noop)
                ws.wallet_stream(noop)
        except BaseException:
            ws.close()
            raise
        return ws

    async def _open(self, link: Link) -> None:
        link.token = next(self._tokens)
        link.ready.clear()
        token = link.token
        try:
            ws = await asyncio.wait_for(asyncio.to_thread(self._build, link.spec, token), self.connect_timeout_s)
        except BaseException:
            if link.token == token:
                link.ws = None
            raise
        if self.closed or link.token != token:
            await asyncio.to_thread(ws.close)
            return
        link.ws = ws

    async def open_all(self, timeout_s: float) -> None:
        """Connect every stream and wait until each is subscribed (raises on failure)."""
        await asyncio.gather(*(self._open(link) for link in self.links.values()))
        waits = [asyncio.wait_for(link.ready.wait(), timeout_s) for link in self.links.values()]
        try:
            await asyncio.gather(*waits)
        except TimeoutError:
            late = [n for n, link in self.links.items() if not link.ready.is_set()]
            raise VenueError(f"Bybit stream(s) {', '.join(late)} not subscribed within {timeout_s:.0f} s",
                             retryable=True) from None

    async def close_all(self) -> None:
        self.closed = True
        self.handoff.close()
        tasks = []
        for link in self.links.values():
            if link.rebuild is not None:
                link.rebuild.cancel()
            if link.ws is not None:
                tasks.append(asyncio.wait_for(asyncio.to_thread(link.ws.close), 5.0))
            link.ws = None
            link.up = False
        for r in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                log.debug("closing a stream failed: %r", r)

    # ------------------------------------------------------------------ watchdog

    def check(self) -> None:
        """One watchdog pass (loop thread): notice dead sockets, rebuild stale ones."""
        if self.closed:
            return
        now = time.monotonic()
        for link in self.links.values():
            ws = link.ws
            if link.rebuild is not None:
                continue
            healthy = ws is not None and ws.healthy
            if not healthy:
                why = "exited" if ws is not None and ws.exited else "not connected"
                self._mark_down(link, why)
            elif link.up:
                if link.stall_s is not None and now - link.last_data >= link.stall_s:
                    self.replace(link.spec.name, f"stalled: no data for {now - link.last_data:.1f} s")
                continue
            # down (or connected but not resubscribed): give pybit its chance, then rebuild
            if link.down_since is None:
                link.down_since = now
            if now - link.down_since >= self.rebuild_after_s and now >= link.next_rebuild:
                link.rebuild = asyncio.ensure_future(self._rebuild(link))

    def silent_for(self, name: str) -> float | None:
        """Seconds since the last data frame on ``name`` (None: no such link or not up)."""
        link = self.links.get(name)
        if link is None or not link.up or link.rebuild is not None:
            return None
        return time.monotonic() - link.last_data

    def replace(self, name: str, why: str) -> bool:
        """A stalled socket: report it down (``why``) and rebuild it now, without the
        ``rebuild_after_s`` grace a dropped socket gets (pybit will not notice this one)."""
        link = self.links.get(name)
        if link is None or self.closed or link.rebuild is not None:
            return False
        self.stalls += 1
        log.warning("%s stream %s: replacing the socket", name, why)
        self._mark_down(link, why)
        link.rebuild = asyncio.ensure_future(self._rebuild(link))
        return True

    async def _rebuild(self, link: Link) -> None:
        name = link.spec.name
        try:
            old, link.ws = link.ws, None
            link.token = next(self._tokens)  # silence the old socket's hooks
            if old is not None:
                try:
                    await asyncio.wait_for(asyncio.to_thread(old.close), 5.0)
                except Exception:  # noqa: BLE001 - it is being replaced anyway
                    log.debug("%s: closing the old socket failed", name, exc_info=True)
            log.warning("%s stream: rebuilding the socket", name)
            self.rebuilds += 1
            await self._open(link)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - back off and try again later
            link.next_rebuild = time.monotonic() + link.backoff_s
            log.warning("%s stream: rebuild failed (%s); next try in %.1f s", name, type(e).__name__, link.backoff_s)
            self.on_problem(f"{name} stream: reconnect failed ({type(e).__name__}); retrying in {link.backoff_s:.1f} s")
            link.backoff_s = min(self.max_backoff_s, link.backoff_s * 2)
        else:
            if not link.up:
                # connected but not (yet) subscribed: if that never happens, rebuild later, slower
                link.next_rebuild = time.monotonic() + link.backoff_s
                link.backoff_s = min(self.max_backoff_s, link.backoff_s * 2)
                link.down_since = time.monotonic()
        finally:
            link.rebuild = None


def _noop(_message: dict) -> None:
    """pybit wants a callback per topic; ours is bypassed (GuardedWebSocket routes frames)."""


def _position_row(item: dict, symbols: frozenset, rows: dict) -> object | None:
    symbol = item.get("symbol")
    if item.get("category", "linear") != "linear" or symbol not in symbols:
        return None
    P.position_row_size(item)  # validate before storing
    rows.setdefault(symbol, {})[item.get("positionIdx", 0)] = item
    return item


def _symbol_of(ev: object) -> str | None:
    """The symbol a private event belongs to (None: the account's wallet, for every symbol)."""
    t = type(ev)
    if t is OrderUpdate:
        return ev.order.symbol  # type: ignore[attr-defined]
    if t is FillEvent:
        return ev.fill.symbol  # type: ignore[attr-defined]
    if t is PositionUpdate:
        return ev.position.symbol  # type: ignore[attr-defined]
    return None


__all__ = ["BybitStreams", "ChannelSpec", "Link"]
