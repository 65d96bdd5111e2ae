"""Several symbols on one Bybit account: one set of connections, one ``Venue`` per symbol (issue 18).

Why a hub: Bybit limits connections (500 per 5 min per domain) and counts order limits per
account, not per symbol. A ``BybitVenue`` per symbol would open three sockets each and
give every symbol the whole order budget (N symbols could send N x 20 creates a second and
be refused). The hub holds, for every symbol at once:

- one public socket per category (spot: ``orderbook.1`` + ``publicTrade`` of every symbol;
  linear: ``tickers`` of those with a perpetual) and one private socket, with today's
  guards, watchdog, stall detection and reconnect (``bybit_streams``); a reconnect
  re-subscribes every symbol's topics;
- one REST client (one HTTP session, one clock offset) and one rate budget, shared fairly:
  each symbol's requests wait in their own lane and free slots go round-robin
  (``bybit_fair``), so a symbol flooding orders cannot starve another's hedge.

``hub.venue(symbol)`` is a ``HubVenue``: exactly ``BybitVenue`` for one symbol (the same
order safety, reconcile, stall watch and reads, all filtered by its symbol and client
prefix; its own instrument rules and fee rates), except that it borrows the hub's
connections. Events reach it already routed: its symbol's market data, orders, fills and
position, and the account's wallet narrowed to its two coins. ``start`` / ``stop`` are
reference-counted: the first start reads every symbol's rules and opens the sockets, the
last stop closes them. Killing one symbol (its engine's ``cancel_all_ours`` and stop)
cancels only that symbol's orders carrying our prefix and leaves the others trading.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence

from core.config import ApiSecrets
from core.events import BalanceUpdate, ConnectionChanged, VenueProblem
from core.venues import bybit_codes as codes
from core.venues import bybit_parse as P
from core.venues.base import AuthError, EventSink, VenueError
from core.venues.bybit import BybitVenue, channel_specs, key_read_only, make_rest
from core.venues.bybit_rest import LaneRest, base_url
from core.venues.bybit_settings import BybitSettings
from core.venues.bybit_streams import BybitStreams

log = logging.getLogger("rebalancer.bybit.hub")

ACCOUNT_LANE = ""  # the hub's own requests (clock, key permissions)
SHARED = ("venue", "domain", "tld", "rest_url", "ws_public_url", "ws_private_url", "recv_window_ms", "client_prefix",
          "linear_fills")  # what the shared connections filter and sign with: one value per account


class HubVenue(BybitVenue):
    """One symbol's ``Venue`` over a ``BybitHub``'s shared connections."""

    def __init__(self, hub: "BybitHub", settings: BybitSettings, *, secrets: ApiSecrets | None,
                 on_rules: Callable[[BybitVenue], None] | None = None) -> None:
        super().__init__(settings, secrets=secrets, on_rules=on_rules, rest=LaneRest(hub.rest, settings.symbol))
        self.hub = hub
        self._holding = False  # counted in the hub's users

    def __repr__(self) -> str:  # never shows credentials
        return f"HubVenue({self.name}, {self.symbol}, can_trade={self.can_trade})"

    async def start(self, sink: EventSink) -> None:
        """The hub's connections (opened by the first symbol to start), then this symbol's
        fee rates and rules handed to the engine, then its events."""
        self._loop = asyncio.get_running_loop()
        self._sink = sink
        self._stopped = False
        refused_unheard = self._clock_refused  # found by a clock check before we had a sink
        try:
            await self.hub.acquire()
            self._holding = True
            self._session_start_ms = self._now_ms()
            if self._spot is None:
                await self._load_rules()
            await self._load_fees()
            if self.hub.read_only_why:
                self._mark_read_only(self.hub.read_only_why)
            if refused_unheard and self._clock_refused:
                self._emit(VenueProblem(self._now_ms(), self._clock_text(), code=codes.TIMESTAMP_OUT_OF_WINDOW))
            if self.on_rules is not None:
                self.on_rules(self)
        except AuthError as e:
            self._emit(VenueProblem(self._now_ms(), str(e), code=e.code, fatal=True))
            await self._let_go()
            raise
        except BaseException:
            await self._let_go()
            raise
        self._streams = self.hub.streams
        self._started = True
        self._announced_up = True
        self.hub.attach(self)
        self._supervisor = asyncio.create_task(self._supervise(), name=f"bybit-{self.name}-{self.symbol}-watchdog")
        self._emit(ConnectionChanged(self._now_ms(), True, f"bybit {self.name} {self.symbol}: streams up"))

    async def _load_fees(self) -> None:
        """The rates the hub read for every symbol at once; its own call when they are not there."""
        rates = self.hub.spot_fees.get(self.symbol)
        if rates is None:
            await super()._load_fees()
        else:
            self.maker_fee_rate, self.taker_fee_rate = rates

    async def stop(self) -> None:
        self._stopped = True
        await self._stop_tasks()
        await self._let_go()
        self._started = False

    async def _let_go(self) -> None:
        self.hub.detach(self)
        self._streams = None
        if self._holding:
            self._holding = False
            await self.hub.release()

    async def _close_streams(self) -> None:
        self._streams = None  # the hub's to close


class BybitHub:
    """Shared connections for several symbols of one account; ``venue(symbol)`` per symbol.

    ``settings``: one ``BybitSettings`` per symbol (distinct symbols; the same venue, hosts
    and recv window; the first one's timings and rate limits apply to the shared parts).
    ``on_rules``: symbol -> the callback its venue calls once its rules and fees are read.
    """

    def __init__(self, settings: Sequence[BybitSettings], *, secrets: ApiSecrets | None = None,
                 on_rules: Mapping[str, Callable[[BybitVenue], None]] | None = None) -> None:
        if not settings:
            raise ValueError("a Bybit hub needs at least one symbol")
        first = settings[0]
        symbols = [s.symbol for s in settings]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"each symbol once per hub (got {', '.join(symbols)})")
        for s in settings[1:]:
            for name in SHARED:
                if getattr(s, name) != getattr(first, name):
                    raise ValueError(f"{s.symbol}: {name} differs from {first.symbol}'s; one hub is one account "
                                     "on one venue")
        self.settings = first
        self.name = first.venue
        key, secret = (secrets.key, secrets.secret) if secrets is not None else (None, None)
        self._api_key, self._api_secret = key, secret
        self.rest = make_rest(first, key, secret, on_clock=self._on_clock, fair=True)
        self.fair = self.rest.fair
        rules = on_rules or {}
        self._venues: dict[str, HubVenue] = {s.symbol: HubVenue(self, s, secrets=secrets, on_rules=rules.get(s.symbol))
                                             for s in settings}
        self._attached: dict[str, HubVenue] = {}
        self.streams: BybitStreams | None = None
        self.read_only_why: str | None = None
        self.spot_fees: dict[str, tuple] = {}  # symbol -> (maker, taker), read once per open
        self.opens = 0  # times the shared connections were opened
        self._users = 0
        self._gate: asyncio.Lock | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._venues)

    def venue(self, symbol: str) -> HubVenue:
        """The ``Venue`` of ``symbol`` (one object per symbol, for the hub's life)."""
        try:
            return self._venues[symbol.upper()]
        except KeyError:
            raise KeyError(f"{symbol} is not on this hub ({', '.join(self._venues)})") from None

    def __repr__(self) -> str:
        return f"BybitHub({self.name}, {', '.join(self._venues)}, users={self._users})"

    # ------------------------------------------------------------------ reference counting

    async def acquire(self) -> None:
        """Count a user; the first one reads the clock, every symbol's rules and the key's
        permissions, then opens the shared sockets subscribed to every symbol's topics."""
        if self._gate is None:
            self._gate = asyncio.Lock()
        async with self._gate:
            if self._users == 0:
                await self._open()
            self._users += 1

    async def release(self) -> None:
        """Uncount a user; the last one closes the sockets and the HTTP session."""
        if self._gate is None:
            self._gate = asyncio.Lock()
        async with self._gate:
            self._users = max(0, self._users - 1)
            if self._users == 0:
                await self._close()

    def attach(self, venue: HubVenue) -> None:
        """From now on ``venue`` gets its symbol's events (called at the end of its start)."""
        self._attached[venue.symbol] = venue

    def detach(self, venue: HubVenue) -> None:
        if self._attached.get(venue.symbol) is venue:
            del self._attached[venue.symbol]

    async def _open(self) -> None:
        await self.rest.sync_clock()
        venues = list(self._venues.values())
        await asyncio.gather(*(v._load_rules() for v in venues))
        if self.settings.check_key_permissions:
            await self._load_key_permissions()
        await self._load_fees(venues)
        linear = [v.symbol for v in venues if v.linear_instrument is not None]
        streams = self._make_streams([v.symbol for v in venues], linear)
        try:
            await streams.open_all(self.settings.subscribe_timeout_s)
        except BaseException:
            await streams.close_all()
            raise
        self.streams = streams
        self.opens += 1

    async def _close(self) -> None:
        self.fair.close()  # nobody is left to wait for a slot
        streams, self.streams = self.streams, None
        if streams is not None:
            await streams.close_all()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.rest.close), 5.0)
        except Exception:  # noqa: BLE001 - stopping
            log.debug("closing the HTTP session failed", exc_info=True)

    async def _load_fees(self, venues: Sequence[HubVenue]) -> None:
        """Every symbol's spot fee rates in one call: without a symbol the endpoint lists them
        all, and at its 5 requests a second one call per symbol held a 10-symbol start for about
        2 s. A symbol the answer leaves out (or a failed call) reads its own, as before."""
        self.spot_fees = {}
        try:
            result = await self.rest.call("get_fee_rates", category="spot", lane=ACCOUNT_LANE)
        except AuthError as e:
            if e.code in codes.KEY_REJECTED:
                raise
            log.info("fee rates for every symbol unavailable (%s): each symbol reads its own", e)
            return
        except VenueError as e:
            log.info("fee rates for every symbol unavailable (%s): each symbol reads its own", e)
            return
        for v in venues:
            try:
                rates = P.fee_rates(result, v.symbol)
            except P.BadMessage:
                continue  # that symbol's own call says what is wrong, as a lone symbol's would
            if rates is not None:
                self.spot_fees[v.symbol] = rates

    async def _load_key_permissions(self) -> None:
        try:
            info = await self.rest.call("get_api_key_information", retries=0, lane=ACCOUNT_LANE)
        except AuthError:
            raise
        except VenueError as e:
            log.info("API-key info unavailable (%s): read-only keys are detected on the first order", e)
            return
        self.read_only_why = key_read_only(info)

    def _make_streams(self, symbols: list[str], linear: list[str]) -> BybitStreams:
        s = self.settings
        ws_public = base_url(s.ws_public_url) if s.ws_public_url else None
        ws_private = base_url(s.ws_private_url) if s.ws_private_url else None
        specs = channel_specs(self.name, bool(linear), ws_public, ws_private, spot_symbols=len(symbols),
                              linear_symbols=len(linear))
        return BybitStreams(
            loop=asyncio.get_running_loop(), specs=specs, symbols=symbols, linear_symbols=linear, tag_symbols=True,
            client_prefix=s.client_prefix, api_key=self._api_key, api_secret=self._api_secret, domain=s.domain,
            tld=s.tld, on_events=self._route, on_link=self._on_link, on_problem=self._on_problem,
            clock_ms=self.rest.server_now_ms, ping_interval_s=s.ping_interval_s, ping_timeout_s=s.ping_timeout_s,
            ws_retries=s.ws_retries, auth_expire_s=s.auth_expire_s, rebuild_after_s=s.rebuild_after_s,
            min_backoff_s=s.min_backoff_s, max_backoff_s=s.max_backoff_s, linear_fills=s.linear_fills,
            stall_after_s={"spot": s.public_stall_s},
        )

    # ------------------------------------------------------------------ fan-out (loop thread)

    def _route(self, batch: Iterable[tuple[str | None, object]]) -> None:
        """Each ``(symbol, event)`` to its symbol's venue; the wallet (symbol None) to every
        venue, narrowed to its base and quote coins. Order within a symbol is kept."""
        out: dict[str, list] = {}
        attached = self._attached
        for symbol, ev in batch:
            if symbol is not None:
                if symbol in attached:
                    out.setdefault(symbol, []).append(ev)
                continue
            if type(ev) is not BalanceUpdate:
                continue
            for sym, venue in attached.items():
                spot = venue.spot_instrument
                coins = (spot.base, spot.quote) if spot is not None else ()
                mine = tuple(b for b in ev.balances if b.coin in coins)  # type: ignore[attr-defined]
                if mine:
                    out.setdefault(sym, []).append(BalanceUpdate(ev.ts_ms, mine, made_ms=ev.made_ms))  # type: ignore[attr-defined]
        for sym, events in out.items():
            venue = attached.get(sym)
            if venue is not None:
                venue._deliver(events)

    def _on_link(self, name: str, up: bool, detail: str) -> None:
        for venue in list(self._attached.values()):
            venue._on_link(name, up, detail)

    def _on_problem(self, text: str) -> None:
        log.warning("%s", text)
        for venue in list(self._attached.values()):
            venue._emit(VenueProblem(venue._now_ms(), text))

    def _on_clock(self, offset_ms: int) -> None:
        for venue in self._venues.values():
            venue._on_clock(offset_ms)


__all__ = ["BybitHub", "HubVenue"]
