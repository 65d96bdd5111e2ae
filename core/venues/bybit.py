"""The Bybit venue (testnet, demo, mainnet) on pybit: the ``Venue`` protocol over v5 REST and streams.

Pieces (one idea per module):

- ``bybit_rest``: pybit ``HTTP`` off the loop, one lock, rate budget, error classes;
- ``bybit_rate``: the request budget (``rate_budget_left``);
- ``bybit_ws`` / ``bybit_streams``: guarded pybit sockets, frames -> events, watchdog;
- ``bybit_parse``: Bybit JSON -> ``core.model`` values;
- ``bybit_reconcile``: order/fill memory and the REST pass after an outage;
- ``bybit_stall``: is the private stream stalled (silent, and REST shows what it missed)?
- ``bybit_settings``: the venue's settings as one frozen value;
- this module: start-up, the protocol methods, order safety (``core.session`` assembles a session).

Order safety:

- ``can_trade`` is what the engine asks for (watch mode sets it False) *and* what the
  adapter allows: a read-only key (detected at start-up from the API-key info endpoint when
  Bybit offers it, otherwise on the first order call that gets 10005) or a host clock off
  by more than ``recv_window / 2`` keep it False whatever the engine sets. Every order
  method raises ``TradingDisabled`` before any request when it is False.
- A place is sent once. No reply (timeout, connection loss, HTTP 5xx) raises
  ``OrderStateUnknown``: the engine then calls ``order_by_client_id``.
- While a place is in flight, private stream events are held back and delivered right
  after the engine has taken the reply, so the engine never sees "Filled" followed by a
  stale "New" for the same order.
- Only orders whose client id starts with ``client_prefix`` are ever listed or cancelled:
  the trader's grid may trade the same account.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from decimal import Decimal

from core.config import ApiSecrets
from core.events import BalanceUpdate, ConnectionChanged, FillEvent, OrderUpdate, PositionUpdate
from core.events import Reconciled, VenueProblem
from core.model import Instrument
from core.venues import bybit_codes as codes
from core.venues import bybit_parse as P
from core.venues.base import AuthError, EventSink, TradingDisabled, VenueError
from core.venues.bybit_fair import FairShare
from core.venues.bybit_rate import RateBudget
from core.venues.bybit_reconcile import OVERLAP_MS, AccountReads, KnownOrders, SeenFills, reconcile
from core.venues.bybit_rest import BybitRest, base_url, make_http
from core.venues.bybit_settings import BybitSettings
from core.venues.bybit_orders import REJECT_REASONS, BybitOrders
from core.venues.bybit_reads import RULES_MAX_AGE_MS, BybitReads, split_symbol
from core.venues.bybit_stall import BybitStallWatch
from core.venues.bybit_streams import BybitStreams, ChannelSpec

log = logging.getLogger("rebalancer.bybit")

PRIVATE_EVENTS = (OrderUpdate, FillEvent, BalanceUpdate, PositionUpdate)


class BybitVenue(BybitReads, BybitOrders, BybitStallWatch):
    """``Venue`` over Bybit v5 via pybit, built from ``BybitSettings`` (or ``from_config``).

    Public attributes besides the protocol: ``maker_fee_rate`` / ``taker_fee_rate``
    (Decimal, from the fee-rate endpoint), ``linear_instrument``, ``read_only``,
    ``clock_offset_ms`` (server minus local), ``bad_messages``, ``reconciles``, ``stalls``,
    ``rate_budget_left()``.
    """

    def __init__(self, settings: BybitSettings, *, secrets: ApiSecrets | None = None,
                 on_rules: Callable[["BybitVenue"], None] | None = None, rest: BybitRest | None = None) -> None:
        s = settings
        self.settings = s
        self.name = s.venue
        self.symbol = s.symbol
        self.client_prefix = s.client_prefix
        self.recv_window_ms = int(s.recv_window_ms)
        self.read_only = False
        self._trade_wanted = bool(s.can_trade)
        self._clock_refused = False
        self.clock_offset_ms = 0
        self.maker_fee_rate = Decimal("0.001")
        self.taker_fee_rate = Decimal("0.001")
        self.linear_instrument: Instrument | None = None
        self._spot: Instrument | None = None
        self.rules_read_ms: int | None = None  # when the rules above were read (Bybit's clock)
        self._rules_task: asyncio.Future | None = None
        api_key, api_secret = (secrets.key, secrets.secret) if secrets is not None else (None, None)
        self._api_key, self._api_secret = api_key, api_secret
        self._ws_public = base_url(s.ws_public_url) if s.ws_public_url else None
        self._ws_private = base_url(s.ws_private_url) if s.ws_private_url else None
        self._clock_synced_at = 0.0
        self._clock_task: asyncio.Task | None = None
        self.on_rules = on_rules
        # ``rest``: a shared client (``bybit_hub``: several symbols, one account), else our own
        self.rest = rest if rest is not None else make_rest(s, api_key, api_secret, on_clock=self._on_clock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: EventSink | None = None
        self._streams: BybitStreams | None = None
        self._supervisor: asyncio.Task | None = None
        self._started = False
        self._stopped = False
        self._known = KnownOrders()
        self._seen = SeenFills()
        self._hold = 0
        self._held: list[object] = []
        self._announced_up = False
        self._need_reconcile = False
        self._down_since_ms: int | None = None
        self._reconcile_task: asyncio.Task | None = None
        self._reconcile_retry_at = 0.0
        self._reconcile_backoff_s = 0.5
        self._balance_refresh: asyncio.Task | None = None
        self._session_start_ms = 0
        self.reconciles = 0
        self.last_reconcile = ""
        self._reconciled_while_down = ""

    @classmethod
    def from_config(cls, cfg, *, on_rules=None, **changes) -> "BybitVenue":
        """From an ``AppConfig`` (venue, api block, secrets); ``changes`` replace settings."""
        return cls(BybitSettings.from_config(cfg, **changes), secrets=cfg.secrets, on_rules=on_rules)

    def __repr__(self) -> str:  # never shows credentials
        return f"BybitVenue({self.name}, {self.symbol}, can_trade={self.can_trade})"

    # ------------------------------------------------------------------ trading switch

    @property
    def can_trade(self) -> bool:
        return self._trade_wanted and not self.read_only and not self._clock_refused

    @can_trade.setter
    def can_trade(self, value: bool) -> None:
        self._trade_wanted = bool(value)

    @property
    def trading_refused(self) -> str | None:
        """Why the venue itself refuses order calls now (a read-only key, a bad host clock), or
        None. The engine hands it to the rebalancer, whose gate then decides nothing it cannot
        send — and trades at the next decision once it clears (no cooldown of a failed try)."""
        if self.read_only:
            return "the API key has no trade permission (read-only)"
        return self._clock_text() if self._clock_refused else None

    def _check_trade(self) -> None:
        if not self._trade_wanted:
            raise TradingDisabled(f"{self.name}: order calls are disabled (watch mode)")
        if self.read_only:
            raise TradingDisabled(f"{self.name}: the API key has no trade permission (read-only): watch only")
        if self._clock_refused:
            raise TradingDisabled(f"{self.name}: {self._clock_text()}")

    def _clock_text(self) -> str:
        return (f"clock off by {self.clock_offset_ms:+d} ms (server minus local; the limit is recv_window/2 = "
                f"{self.recv_window_ms // 2} ms): trading disabled until the host clock is synced (NTP)")

    def _on_clock(self, offset_ms: int) -> None:
        self.clock_offset_ms = offset_ms
        self._clock_synced_at = time.monotonic()
        refused = abs(offset_ms) > self.recv_window_ms / 2
        if refused == self._clock_refused:
            return
        self._clock_refused = refused
        if refused:
            log.error("%s", self._clock_text())
            self._emit(VenueProblem(self._now_ms(), self._clock_text(), code=codes.TIMESTAMP_OUT_OF_WINDOW))
        else:
            log.warning("clock offset now %+d ms: within recv_window/2, trading allowed again", offset_ms)

    def _mark_read_only(self, why: str) -> None:
        if self.read_only:
            return
        self.read_only = True
        text = f"the API key is read-only ({why}): watch only, no order will be sent"
        log.warning("%s", text)
        self._emit(VenueProblem(self._now_ms(), text, code=codes.PERMISSION_DENIED))

    def rate_budget_left(self) -> int:
        """Order creates that may go out right now without exceeding Bybit's limits."""
        return self.rest.budget.left("create")

    @property
    def bad_messages(self) -> int:
        return self._streams.bad_messages if self._streams is not None else 0

    def _now_ms(self) -> int:
        return self.rest.server_now_ms()

    # ------------------------------------------------------------------ start / stop

    async def start(self, sink: EventSink) -> None:
        """Clock check, instrument rules, fees, key permissions, then the three streams."""
        self._loop = asyncio.get_running_loop()
        self._sink = sink
        self._stopped = False
        try:
            await self.rest.sync_clock()
            self._session_start_ms = self._now_ms()
            await self._load_rules()
            await self._load_fees()
            if self.settings.check_key_permissions:
                await self._load_key_permissions()
            if self.on_rules is not None:
                self.on_rules(self)
            self._streams = self._make_streams()
            await self._streams.open_all(self.settings.subscribe_timeout_s)
        except AuthError as e:
            self._emit(VenueProblem(self._now_ms(), str(e), code=e.code, fatal=True))
            await self._close_streams()
            raise
        except BaseException:
            await self._close_streams()
            raise
        self._started = True
        self._announced_up = True
        self._supervisor = asyncio.create_task(self._supervise(), name=f"bybit-{self.name}-watchdog")
        self._emit(ConnectionChanged(self._now_ms(), True, f"bybit {self.name}: streams up"))

    async def stop(self) -> None:
        self._stopped = True
        await self._stop_tasks()
        await self._close_streams()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.rest.close), 5.0)
        except Exception:  # noqa: BLE001 - stopping
            log.debug("closing the HTTP session failed", exc_info=True)
        self._started = False

    async def _stop_tasks(self) -> None:
        """Cancel the watchdog and whatever it started (reconcile, refreshes, clock, stall look)."""
        for task in (self._supervisor, self._reconcile_task, self._balance_refresh, self._clock_task,
                     self._stall_look, self._rules_task):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping
                    pass
        self._supervisor = self._reconcile_task = self._balance_refresh = self._clock_task = self._stall_look = None
        self._rules_task = None

    async def _close_streams(self) -> None:
        streams, self._streams = self._streams, None
        if streams is not None:
            await streams.close_all()

    def _make_streams(self) -> BybitStreams:
        specs = channel_specs(self.name, self.linear_instrument is not None, self._ws_public, self._ws_private)
        assert self._loop is not None
        s = self.settings
        return BybitStreams(
            loop=self._loop, specs=specs, symbol=self.symbol, client_prefix=self.client_prefix,
            api_key=self._api_key, api_secret=self._api_secret, domain=s.domain, tld=s.tld,
            on_events=self._deliver, on_link=self._on_link, on_problem=self._on_stream_problem,
            clock_ms=self.rest.server_now_ms, ping_interval_s=s.ping_interval_s, ping_timeout_s=s.ping_timeout_s,
            ws_retries=s.ws_retries, auth_expire_s=s.auth_expire_s, rebuild_after_s=s.rebuild_after_s,
            min_backoff_s=s.min_backoff_s, max_backoff_s=s.max_backoff_s, linear_fills=s.linear_fills,
            stall_after_s={"spot": s.public_stall_s},
        )

    async def _load_rules(self) -> None:
        spot, linear = await asyncio.gather(
            self.rest.call("get_instruments_info", category="spot", symbol=self.symbol),
            self.rest.call("get_instruments_info", category="linear", symbol=self.symbol),
        )
        items = [i for i in spot.get("list") or () if i.get("symbol") == self.symbol]
        if not items:
            raise VenueError(f"{self.symbol} is not a spot symbol on Bybit {self.name}")
        self._spot = P.spot_instrument(items[0])
        self.rules_read_ms = self._now_ms()
        lin = [i for i in linear.get("list") or () if i.get("symbol") == self.symbol]
        self.linear_instrument = P.linear_instrument(lin[0]) if lin else None
        if self.linear_instrument is None:
            log.warning("%s has no linear perpetual on Bybit %s: futures leg reads as flat", self.symbol, self.name)

    async def _load_fees(self) -> None:
        try:
            result = await self.rest.call("get_fee_rates", category="spot", symbol=self.symbol)
        except AuthError as e:
            if e.code in codes.KEY_REJECTED:
                raise
            log.warning("fee rates unavailable (%s); using %s/%s", e, self.maker_fee_rate, self.taker_fee_rate)
            return
        except VenueError as e:
            log.warning("fee rates unavailable (%s); using %s/%s", e, self.maker_fee_rate, self.taker_fee_rate)
            return
        rates = P.fee_rates(result, self.symbol)
        if rates is not None:
            self.maker_fee_rate, self.taker_fee_rate = rates

    async def _load_key_permissions(self) -> None:
        """Best effort: Bybit's API-key info tells whether the key may trade spot."""
        try:
            info = await self.rest.call("get_api_key_information", retries=0)
        except VenueError as e:
            log.info("API-key info unavailable (%s): read-only keys are detected on the first order", e)
            return
        why = key_read_only(info)
        if why:
            self._mark_read_only(why)

    # ------------------------------------------------------------------ events (loop thread)

    def _emit(self, event: object) -> None:
        if self._sink is None or self._stopped:
            return
        try:
            self._sink(event)
        except Exception:  # noqa: BLE001 - a sink failure must not stop the venue
            log.exception("event sink failed on %s", type(event).__name__)

    def _deliver(self, events: Iterable[object]) -> None:
        """Every event from the streams (and reconcile/backfill) passes here, on the loop."""
        base, quote = (self._spot.base, self._spot.quote) if self._spot else ("", "")
        for ev in events:
            t = type(ev)
            if t is FillEvent:
                if not self._seen.add(ev.fill):  # type: ignore[attr-defined]
                    continue
            elif t is BalanceUpdate:
                self._note_balances(ev.balances)  # type: ignore[attr-defined]
                coins = {b.coin for b in ev.balances}  # type: ignore[attr-defined]
                if base and not {base, quote} <= coins:
                    self._refresh_balances_soon()
            elif t is PositionUpdate:
                self._note_position(ev.position)  # type: ignore[attr-defined]
            if (self._hold or self._held) and t in PRIVATE_EVENTS:
                # held, or released with the flush still to run: behind the older ones, never ahead
                self._held.append(ev)
                continue
            if t is OrderUpdate and not self._known.remember(ev.order):  # type: ignore[attr-defined]
                continue  # stale or a repeat: the engine already has this state (or a newer one)
            self._emit(ev)

    def _flush_held(self) -> None:
        if self._hold or not self._held:
            return
        held, self._held = self._held, []
        for ev in held:
            if type(ev) is OrderUpdate and not self._known.remember(ev.order):  # type: ignore[attr-defined]
                continue
            self._emit(ev)

    def _release_hold(self) -> None:
        self._hold -= 1
        if self._hold == 0 and self._held:
            if self._loop is not None:
                # runs after the engine has taken the reply (it continues synchronously on return)
                self._loop.call_soon(self._flush_held)
            else:
                self._flush_held()

    def _on_stream_problem(self, text: str) -> None:
        log.warning("%s", text)
        self._emit(VenueProblem(self._now_ms(), text))

    def _on_link(self, name: str, up: bool, detail: str) -> None:
        if not self._started or self._stopped:
            return  # start() reports readiness itself
        now = self._now_ms()
        if not up:
            if name == "private":
                self._need_reconcile = True
                if self._down_since_ms is None:
                    self._down_since_ms = now
            if self._announced_up:
                self._announced_up = False
                self._emit(ConnectionChanged(now, False, f"bybit {self.name}: {name} stream lost ({detail})"))
            return
        if name == "private" and self._need_reconcile:
            self._start_reconcile()
        self._announce_if_up(f"{name} stream back")

    def _announce_if_up(self, detail: str) -> None:
        streams = self._streams
        if (self._announced_up or streams is None or not streams.all_up or self._need_reconcile
                or self._reconcile_task is not None):
            return
        self._announced_up = True
        if self._reconciled_while_down:  # the private stream came back (and was reconciled) first
            detail = f"{detail}; reconnected; {self._reconciled_while_down}"
            self._reconciled_while_down = ""
        self._emit(ConnectionChanged(self._now_ms(), True, f"bybit {self.name}: {detail}"))

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(self.settings.watchdog_interval_s)
            try:
                streams = self._streams
                if streams is None:
                    continue
                streams.check()
                self._watch_private()
                # while a bad clock keeps trading off, look every few seconds (not every 10 min)
                every = self.settings.clock_check_refused_s if self._clock_refused else self.settings.clock_resync_s
                if (time.monotonic() - self._clock_synced_at >= every
                        and (self._clock_task is None or self._clock_task.done())):
                    self._clock_task = asyncio.ensure_future(self._resync_clock())
                self._refresh_stale_rules()
                private = streams.links.get("private")
                if (self._need_reconcile and private is not None and private.up and self._reconcile_task is None
                        and time.monotonic() >= self._reconcile_retry_at):
                    self._start_reconcile()
            except Exception:  # noqa: BLE001 - the watchdog must keep running
                log.exception("watchdog pass failed")

    def _refresh_stale_rules(self) -> None:
        """Periodic: rules cached past ``RULES_MAX_AGE_MS`` are read again (``instrument()``),
        off the watchdog's pass; a failed read keeps the cached rules and tries next pass."""
        if self.rules_read_ms is None or self._now_ms() - self.rules_read_ms < RULES_MAX_AGE_MS:
            return
        if self._rules_task is None or self._rules_task.done():
            self._rules_task = asyncio.ensure_future(self._read_rules_again())

    async def _read_rules_again(self) -> None:
        try:
            await self.instrument()
        except VenueError as e:
            log.warning("%s: instrument rules could not be read again (%s); the cached ones stay", self.symbol, e)

    async def _resync_clock(self) -> None:
        """Periodic: follow a drifting host clock, and lift a clock refusal once it is fixed
        (every ``clock_check_refused_s`` while refused, so trading resumes within seconds)."""
        try:
            await self.rest.sync_clock()
        except VenueError as e:
            self._clock_synced_at = time.monotonic()  # try again after another interval
            log.warning("clock re-sync failed: %s", e)

    # ------------------------------------------------------------------ reconcile

    def _start_reconcile(self) -> None:
        if self._reconcile_task is None and not self._stopped:
            self._reconcile_task = asyncio.ensure_future(self._run_reconcile())

    async def _run_reconcile(self) -> None:
        # from the newest fill seen (or the session start), or the outage if that began earlier
        anchor = self._seen.last_ts if self._seen.last_ts is not None else self._session_start_ms
        since = max(0, min(anchor, self._down_since_ms or anchor) - OVERLAP_MS)
        reads = AccountReads(open_orders=self._fetch_open_orders, order_by_client_id=self._fetch_order,
                             executions=lambda s: self._executions(s), balances=self.balances,
                             position=self.position)
        try:
            report = await reconcile(reads, self._known, self._seen, since, self._now_ms, self._deliver)
        except asyncio.CancelledError:
            self._reconcile_task = None
            raise
        except Exception as e:  # noqa: BLE001 - retry on the next watchdog pass
            self._reconcile_task = None
            self._reconcile_retry_at = time.monotonic() + self._reconcile_backoff_s
            self._reconcile_backoff_s = min(self.settings.max_backoff_s, self._reconcile_backoff_s * 2)
            text = f"reconcile after reconnect failed ({e}); retrying"
            log.warning("%s", text)
            self._emit(VenueProblem(self._now_ms(), text, code=getattr(e, "code", None)))
            return
        self._reconcile_task = None
        self._reconcile_backoff_s = 0.5
        self._need_reconcile = False
        self._down_since_ms = None
        self.reconciles += 1
        self.last_reconcile = report.detail
        log.info("reconciled after reconnect: %s", report.detail)
        self._emit(Reconciled(self._now_ms(), "reconnect", report.detail))  # the rebalancer records it
        if self._announced_up:
            return
        self._reconciled_while_down = report.detail
        self._announce_if_up("streams back")

    def _refresh_balances_soon(self) -> None:
        if self._balance_refresh is not None and not self._balance_refresh.done():
            return

        async def refresh() -> None:
            try:
                self._deliver([BalanceUpdate(self._now_ms(), await self.balances())])
            except VenueError as e:
                log.warning("balance refresh failed: %s", e)

        self._balance_refresh = asyncio.ensure_future(refresh())

# ---------------------------------------------------------------------- endpoints and engine assembly


def make_rest(s: BybitSettings, api_key: str | None, api_secret: str | None, *,
              on_clock: Callable[[int], None] | None = None, fair: bool = False) -> BybitRest:
    """The REST client ``s`` describes, with its rate budget (``fair``: shared by symbols in turn)."""
    http = make_http(testnet=s.venue == "testnet", demo=s.venue == "demo", domain=s.domain, tld=s.tld,
                     api_key=api_key, api_secret=api_secret, recv_window_ms=int(s.recv_window_ms),
                     timeout_s=s.http_timeout_s, rest_url=s.rest_url)
    budget = RateBudget(dict(s.rate_limits) or None)
    return BybitRest(http, budget=budget, read_retries=s.read_retries, backoff_s=s.retry_backoff_s,
                     secrets=(api_key, api_secret), on_clock=on_clock, fair=FairShare(budget) if fair else None)


def key_read_only(info: dict) -> str | None:
    """Why Bybit's API-key info says the key cannot trade spot (None: it can, or it does not say)."""
    if str(info.get("readOnly", "0")) == "1":
        return "API-key info: readOnly"
    perms = info.get("permissions")
    if isinstance(perms, dict) and isinstance(perms.get("Spot"), list) and "SpotTrade" not in perms["Spot"]:
        return "API-key info: no SpotTrade permission"
    return None


def channel_specs(venue: str, with_linear: bool, ws_public: str | None, ws_private: str | None, *,
                  spot_symbols: int = 1, linear_symbols: int = 1) -> list[ChannelSpec]:
    """The sockets for ``venue``: spot public (orderbook.1 + publicTrade per symbol), linear
    public (tickers; only for symbols with a perpetual) and private (order, execution,
    position, wallet). Demo trading has no public streams of its own: public data is
    mainnet's, and only the private socket goes to stream-demo (reference 3.1)."""
    testnet = venue == "testnet"
    specs = [ChannelSpec("spot", "spot", testnet, False, ws_public, 2 * spot_symbols)]
    if with_linear:
        specs.append(ChannelSpec("linear", "linear", testnet, False, ws_public, linear_symbols))
    specs.append(ChannelSpec("private", "private", testnet, venue == "demo", ws_private, 4))
    return specs


def provisional_instrument(symbol: str) -> Instrument:
    """Stands in until ``start`` reads the real rules (no order can be sent before that)."""
    from core.model import BTCUSDT_SPOT

    if symbol == BTCUSDT_SPOT.symbol:
        return BTCUSDT_SPOT
    base, quote = split_symbol(symbol)
    return Instrument(symbol=symbol, base=base, quote=quote, tick_size=Decimal("0.01"), qty_step=Decimal("0.000001"),
                      min_qty=Decimal("0.000001"), min_notional=Decimal("5"))


__all__ = ["BybitSettings", "BybitVenue", "REJECT_REASONS", "channel_specs", "key_read_only", "make_rest",
           "provisional_instrument"]
