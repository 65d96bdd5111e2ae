"""``FakeBybit``: the REST and WebSocket fakes on one background asyncio loop.

All trading state is mutated on that loop's thread, so REST handlers, WS trade ops and the
test's control calls (``set_book``, ``trade``, ...) are serialised and their pushes keep
their order. Control methods called from the test thread hop onto the loop and wait for
the result; reads (``fake.ledger.fills`` ...) take the ledger's lock and return copies.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from decimal import Decimal
from collections.abc import Callable, Iterable
from typing import Any

from . import auth
from .events import Push
from .faults import DEFAULT_MESSAGES, FaultPlan, HttpStatus, LoseReply, RestError
from .httpserver import HttpServer
from .instruments import SYMBOL, SYMBOLS, base_coin, spot_filters
from .ledger import Fill, Ledger
from .market import Market
from .numbers import dec
from .observe import Observer, SeenRequest
from .rest import RestApi
from .ws import WsHub

HOST = "127.0.0.1"


class FakeBybit:
    """A loopback Bybit v5 (REST + WS) for the real pybit client. Use as a context manager.

    Defaults: keys ``auth.DEFAULT_KEY/DEFAULT_SECRET`` (trade) and
    ``auth.READONLY_KEY/READONLY_SECRET`` (read only); balances 10 000 USDT and 0.1 BTC;
    spot book 50000.00 x 1 / 50000.10 x 1; linear book 50010.0 / 50010.1; mark 50010.

    ``symbols``: the spot symbols the account trades (BTCUSDT alone by default; ETHUSDT and
    SOLUSDT are known too). Each has its own market and order book, all share the balances;
    the controls take ``symbol=`` (BTCUSDT when omitted). Books of the extra symbols start
    at ``OTHER_BOOKS``.
    """

    OTHER_BOOKS = {"ETHUSDT": (("3000.00", "10", "3000.01", "10"), ("3000.5", "50", "3000.6", "50"), "3000.5"),
                   "SOLUSDT": (("150.00", "100", "150.01", "100"), ("150.02", "500", "150.03", "500"), "150.02")}

    def __init__(self, *, balances: dict[str, Any] | None = None,
                 book: tuple | None = ("50000.00", "1", "50000.10", "1"),
                 linear_book: tuple | None = ("50010.0", "5", "50010.1", "5"),
                 mark_price: Any = "50010",
                 ws_ack_delay_s: float = 0.005, trade_ack_delay_s: float = 0.005,
                 enforce_rate_limits: bool = False, book_repeat_s: float = 3.0,
                 symbols: Iterable[str] = (SYMBOL,)) -> None:
        self._skew_ms = 0
        self.market = Market(clock=self.now_ms)
        self._ledger = Ledger(self.market, self.now_ms)
        self.ledgers: dict[str, Ledger] = {SYMBOL: self._ledger}
        for symbol in symbols:
            if symbol == SYMBOL:
                continue
            if symbol not in SYMBOLS:
                raise ValueError(f"the fake knows {', '.join(SYMBOLS)} (not {symbol})")
            market = Market(clock=self.now_ms, symbol=symbol)
            self.ledgers[symbol] = Ledger(market, self.now_ms, filters=spot_filters(symbol), symbol=symbol,
                                          base=base_coin(symbol), _balances=self._ledger._balances,
                                          _ids=self._ledger._ids, _lock=self._ledger._lock)
        if len(self.ledgers) > 1:
            for ledger in self.ledgers.values():
                ledger.price_of, ledger.total_upl = self._price_of, self._total_upl
        self.keys: dict[str, auth.ApiKey] = {}
        self.add_key(auth.DEFAULT_KEY, auth.DEFAULT_SECRET, can_trade=True)
        self.add_key(auth.READONLY_KEY, auth.READONLY_SECRET, can_trade=False)
        self.faults = FaultPlan()
        self.observer = Observer()
        self.rest = RestApi(self._ledger, self.market, self.keys, self.faults, self.observer,
                            self.now_ms, self._publish, enforce_rate_limits, ledgers=self.ledgers)
        self.hub = WsHub(market=self.market, ledger=self._ledger, keys=self.keys,
                         observer=self.observer, clock=self.now_ms, publish=self._publish,
                         ack_delay_s=ws_ack_delay_s, trade_ack_delay_s=trade_ack_delay_s,
                         book_repeat_s=book_repeat_s,
                         markets={symbol: ledger.market for symbol, ledger in self.ledgers.items()})
        self._http = HttpServer(self.rest.handle)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self.rest_port = 0
        self.ws_port = 0

        self.market.set_linear(mark_price=mark_price, index_price=mark_price)
        if book:
            self.market.set_book("spot", *book)
        if linear_book:
            self.market.set_book("linear", *linear_book)
        for symbol, ledger in self.ledgers.items():
            if symbol != SYMBOL:
                spot, linear, mark = self.OTHER_BOOKS[symbol]
                ledger.market.set_linear(mark_price=mark, index_price=mark)
                ledger.market.set_book("spot", *spot)
                ledger.market.set_book("linear", *linear)
        for coin, amount in (balances or {"USDT": "10000", "BTC": "0.1"}).items():
            self._ledger.set_balance(coin, amount)

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> "FakeBybit":
        self._thread = threading.Thread(target=self._run, name="fake-bybit", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake bybit did not start in 10 s")
        if self._start_error is not None:
            raise RuntimeError("fake bybit failed to start") from self._start_error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(5)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)

    def __enter__(self) -> "FakeBybit":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # surfaced by start()
            self._start_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _startup(self) -> None:
        self.rest_port = await self._http.start(HOST)
        self.ws_port = await self.hub.start(HOST)

    async def _shutdown(self) -> None:
        await self.hub.close()
        await self._http.close()

    # ---- addresses ----------------------------------------------------------------------

    @property
    def rest_url(self) -> str:
        """For ``HTTP().endpoint``: ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.rest_port}"

    @property
    def ws_base_url(self) -> str:
        """``ws://127.0.0.1:PORT``; channels live at ``/v5/public/{spot,linear}``, ``/v5/private``, ``/v5/trade``."""
        return f"ws://{HOST}:{self.ws_port}"

    # ---- clock and keys -----------------------------------------------------------------

    @property
    def clock_skew_ms(self) -> int:
        """Server clock minus wall clock. +10_000 makes a correct client look 10 s late (10002)."""
        return self._skew_ms

    @clock_skew_ms.setter
    def clock_skew_ms(self, value: int) -> None:
        self._skew_ms = int(value)

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self._skew_ms

    def add_key(self, key: str, secret: str, *, can_trade: bool = True) -> None:
        """Register an API key; ``can_trade=False`` gets 10005 on order endpoints."""
        self.keys[key] = auth.ApiKey(key, secret, can_trade)

    # ---- ledger view --------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        """Read ``.orders``, ``.open_orders``, ``.fills``, ``.balances``, ``.position``, ``.order(...)``."""
        return self._ledger

    # ---- market control -----------------------------------------------------------------

    def set_book(self, bid, bid_qty, ask, ask_qty, *, category: str = "spot", symbol: str = SYMBOL) -> None:
        """Set the top of book (``None`` empties a side); resting spot orders it crosses fill."""
        ledger = self.ledgers[symbol]

        def apply() -> list[Push]:
            pushes = ledger.market.set_book(category, bid, bid_qty, ask, ask_qty)
            if category == "spot":
                pushes += ledger.on_book_change()
            return pushes
        self._control(apply)

    def trade(self, price, qty, taker_side: str = "Buy", *, category: str = "spot",
              ts_ms: int | None = None, symbol: str = SYMBOL) -> list[Fill]:
        """Print a public trade; spot orders it trades *through* fill as maker. Returns new fills."""
        if taker_side not in ("Buy", "Sell"):
            raise ValueError("taker_side must be 'Buy' or 'Sell'")

        ledger = self.ledgers[symbol]

        def apply() -> tuple[list[Fill], list[Push]]:
            before = len(ledger.fills)
            pushes = ledger.market.record_trade(category, dec(price), dec(qty), taker_side, ts_ms)
            if category == "spot":
                pushes += ledger.on_trade(price, qty, taker_side)
            return ledger.fills[before:], pushes
        return self._control(apply, returns=True)

    def set_linear_ticker(self, *, mark_price=None, index_price=None, funding_rate=None,
                          next_funding_time=None, symbol: str = SYMBOL) -> None:
        """Change linear ticker fields; subscribers get a ``delta`` with just those fields."""
        self._control(lambda: self.ledgers[symbol].market.set_linear(
            mark_price=mark_price, index_price=index_price, funding_rate=funding_rate,
            next_funding_time=next_funding_time))

    def close_candle(self, category: str = "spot") -> None:
        """Push ``confirm: true`` for the open 1-minute candle(s)."""
        self._control(lambda: self.market.close_candle(category))

    def add_candles(self, rows: Iterable[tuple], category: str = "spot") -> None:
        """Seed closed 1-minute candles for REST kline: (start_ms, open, high, low, close, volume)."""
        self._control(lambda: self.market.add_candles(category, rows) or [])

    # ---- account control ----------------------------------------------------------------

    def set_balance(self, coin: str, amount) -> None:
        """Set a coin's wallet balance (free + locked). Pushes ``wallet``."""
        self._control(lambda: self._ledger.set_balance(coin, amount))

    def set_fee_rates(self, maker, taker, category: str = "spot") -> None:
        """This account's fee rates (fractions, e.g. "0.0002"): what ``/v5/account/fee-rate``
        serves and, for spot, what fills are charged from now on (Bybit's base rates by default)."""
        def apply() -> list[Push]:
            self.rest.fee_rates[category] = {"makerFeeRate": str(maker), "takerFeeRate": str(taker)}
            if category == "spot":
                for ledger in self.ledgers.values():
                    ledger.filters = replace(ledger.filters, maker_rate=Decimal(str(maker)),
                                             taker_rate=Decimal(str(taker)))
            return []
        self._control(apply)

    def set_position(self, size, *, entry_price=None, mark_price=None, liq_price=None,
                     leverage=None, symbol: str = SYMBOL) -> None:
        """Set the linear BTCUSDT position (signed size). Pushes ``position`` (and a ticker delta)."""
        def apply() -> list[Push]:
            pushes: list[Push] = []
            if mark_price is not None:
                pushes += self.ledgers[symbol].market.set_linear(mark_price=mark_price)
            return pushes + self.ledgers[symbol].set_position(size, entry_price=entry_price,
                                                      liq_price=liq_price, leverage=leverage)
        self._control(apply)

    def partial_fill(self, order_link_id: str | None, qty, *, price=None,
                     order_id: str | None = None) -> Fill:
        """Fill ``qty`` of a resting order as maker (at its price). Pushes order/execution/wallet."""
        ledger = self._ledger_of(order_link_id, order_id)
        return self._control(lambda: ledger.partial_fill(
            qty, order_link_id=order_link_id, order_id=order_id, price=price), returns=True)

    def fill_order(self, order_link_id: str | None, *, order_id: str | None = None) -> Fill:
        """Fill the rest of a resting order as maker."""
        order = self._ledger_of(order_link_id, order_id).order(order_link_id=order_link_id, order_id=order_id)
        if order is None:
            raise KeyError(order_link_id or order_id)
        return self.partial_fill(order_link_id, order.leaves_qty, order_id=order_id)

    # ---- REST faults --------------------------------------------------------------------

    def next_rest_error(self, path: str, ret_code: int, ret_msg: str | None = None, *,
                        headers: dict[str, str] | None = None, times: int = 1,
                        reset_after_ms: int | None = None) -> None:
        """Answer the next ``times`` requests on ``path`` ("*" = any) with ``ret_code`` (not executed).

        10006 gets a FUTURE ``X-Bapi-Limit-Reset-Timestamp`` (now + ``reset_after_ms``,
        default 200 ms): a past one makes pybit call ``time.sleep`` with a negative number.
        ``headers`` override any header (e.g. to test that trap deliberately).
        """
        if ret_code == 10006 and reset_after_ms is None:
            reset_after_ms = 200
        message = ret_msg or DEFAULT_MESSAGES.get(ret_code, f"fake error {ret_code}")
        self.faults.add(path, RestError(ret_code, message, dict(headers or {}), reset_after_ms), times)

    def next_http_status(self, path: str, status: int = 502, *, body: bytes | None = None,
                         times: int = 1) -> None:
        """Answer the next ``times`` requests on ``path`` with an HTTP error page (not executed)."""
        self.faults.add(path, HttpStatus(status, body or b""), times)

    def lose_next_reply(self, path: str, times: int = 1) -> None:
        """Execute the next request on ``path`` (the order IS placed), then drop the connection.

        The client sees ``requests.exceptions.ConnectionError``; the ledger has the order.
        """
        self.faults.add(path, LoseReply(), times)

    # ---- WS faults ----------------------------------------------------------------------

    def drop_connections(self, abrupt: bool = True, channels: Iterable[str] | None = None) -> int:
        """Kill WS clients (channels: "spot", "linear", "private", "trade"). Returns how many.

        ``abrupt``: TCP RST, no close frame (every websocket-client version reconnects).
        Otherwise a clean close frame 1001 (pybit reconnects only with websocket-client >= 1.9).
        """
        chosen = set(channels) if channels else None
        return self._call(lambda: self.hub.drop(abrupt, chosen))

    def stall_pongs(self, seconds: float) -> None:
        """Stop answering protocol PINGs and JSON pings for ``seconds`` (data keeps flowing)."""
        self.hub.stall_pongs(seconds)

    def mute_streams(self, channels: Iterable[str] | None = None) -> int:
        """Stall the WS connections open now (channels: "spot", "linear", "private"; None = all):
        each stays open and answers pings, but sends nothing else. A reconnect gets a healthy
        connection. Returns how many were muted."""
        chosen = set(channels) if channels else None
        return self._call(lambda: self.hub.mute(chosen))

    def push_unexpected(self, topic: str | None, payload: dict | str | bytes,
                        channels: Iterable[str] | None = None) -> int:
        """Send ``payload`` to every live WS client regardless of subscriptions.

        A dict gets ``"topic": topic`` added if it has none; a str is sent verbatim (use it for
        malformed JSON); bytes go as a binary frame. Returns the number of clients reached.
        """
        chosen = set(channels) if channels else None
        return self._call(lambda: self.hub.push_raw(payload, topic=topic, channels=chosen))

    # ---- observation --------------------------------------------------------------------

    def request_count(self, path: str | None = None) -> int:
        """Requests received on ``path`` (all paths if None), including refused ones."""
        return self.observer.request_count(path)

    def order_request_count(self) -> int:
        """REST create/amend/cancel/cancel-all plus WS trade ops."""
        return self.observer.order_request_count()

    @property
    def requests(self) -> list[SeenRequest]:
        return self.observer.requests

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
        """Wait (on a condition, not a sleep loop) until ``predicate()``; False on timeout."""
        return self.observer.wait_until(predicate, timeout)

    def subscribers(self, topic: str, channel: str | None = None) -> int:
        """Live connections subscribed to ``topic`` (after the ack was sent)."""
        return self.observer.subscribers(topic, channel)

    def subscribe_count(self, topic: str, channel: str | None = None) -> int:
        """Subscribe acks ever sent for ``topic`` (grows on every resubscribe)."""
        return self.observer.subscribe_count(topic, channel)

    def ws_connections(self, channel: str, live: bool = True) -> int:
        return self.observer.ws_connections(channel, live)

    # ---- several symbols ----------------------------------------------------------------

    def _ledger_of(self, order_link_id: str | None, order_id: str | None) -> Ledger:
        """The ledger holding that order (BTCUSDT's when none does: it raises as before)."""
        for ledger in self.ledgers.values():
            if ledger.order(order_link_id=order_link_id, order_id=order_id) is not None:
                return ledger
        return self._ledger

    def _price_of(self, coin: str) -> Decimal | None:
        for ledger in self.ledgers.values():
            if ledger.base == coin:
                return ledger.market.reference_price("spot")
        return None

    def _total_upl(self) -> Decimal:
        return sum((ledger._position.unrealised_pnl(ledger.market.linear.mark_price)
                    for ledger in self.ledgers.values()), Decimal(0))

    # ---- plumbing -----------------------------------------------------------------------

    def _publish(self, pushes: list[Push]) -> None:
        """Loop thread only: hand pushes to the hub and wake ``wait_until`` callers."""
        self.hub.publish(pushes)
        self.observer.notify()

    def _on_loop(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the loop thread (directly if not started or already there)."""
        loop = self._loop
        if loop is None or self._on_loop() or not loop.is_running():
            return fn()

        async def run() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), loop).result(5)

    def _control(self, fn: Callable[[], Any], returns: bool = False) -> Any:
        """Run a state change on the loop and publish its pushes; ``returns``: fn gives (value, pushes)."""
        def run() -> Any:
            out = fn()
            value, pushes = out if returns else (None, out)
            if pushes:
                self._publish(list(pushes))
            return value
        return self._call(run)


__all__ = ["FakeBybit"]
