"""The fake account: balances, spot orders and fills, one linear position, and the matcher.

Behaviour follows the reference (``/work/shared/reference/bybit-v5.md``):

* spot BTCUSDT only (linear orders are refused with 10001; the linear position is set by
  the test);
* a Limit order that crosses the top of book takes it (taker, at the book price, consuming
  the level); the rest rests (GTC/PostOnly) or is cancelled (IOC/FOK);
* PostOnly that would cross: retCode 0 on create, then the order ends ``Rejected`` with
  ``rejectReason = EC_PostOnlyWillTakeLiquidity``;
* Market Buy is sized in quote unless ``marketUnit="baseCoin"``; Market Sell in base;
* resting orders fill as maker at their own price when the market trades *through* them
  (``on_trade``), when the book moves across them (``on_book_change``) or on demand
  (``partial_fill``);
* fees 0.1 %: a Buy pays in base (receives ``execQty - fee``), a Sell pays in quote.

Every mutator returns the pushes it caused, in Bybit's order: ``order`` -> ``execution``
-> ``wallet``. All methods take one lock, so the test thread may read while the server's
loop thread trades.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from .events import PrivatePush, Push
from .instruments import BASE, QUOTE, SPOT_FILTERS, SYMBOL, SpotFilters
from .market import Market
from .numbers import ZERO, BadNumber, dec, floor_to, fmt, is_multiple

OPEN_STATUSES = ("New", "PartiallyFilled")
LINK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")

# Spot error codes (reference section 4.1). Kept as names so a test can use them too.
E_PARAMS = 10001
E_INVALID_SYMBOL = 170121
E_INSUFFICIENT = 170131
E_PRICE_DECIMALS = 170134
E_QTY_MIN = 170136
E_QTY_DECIMALS = 170137
E_VALUE_MIN = 170140
E_DUPLICATE_LINK_ID = 170141
E_MARKET_AMOUNT_DECIMALS = 170148
E_ORDER_NOT_EXISTS = 170213


class OrderError(Exception):
    """A business refusal: becomes ``retCode``/``retMsg`` in the REST envelope."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Order:
    order_id: str
    order_link_id: str
    side: str
    order_type: str
    time_in_force: str
    qty: Decimal
    price: Decimal
    market_unit: str  # "baseCoin" | "quoteCoin" ("" in replies for limit orders)
    created_ms: int
    updated_ms: int
    category: str = "spot"
    symbol: str = SYMBOL
    status: str = "New"
    cum_exec_qty: Decimal = ZERO
    cum_exec_value: Decimal = ZERO
    cum_exec_fee: Decimal = ZERO
    fee_currency: str = ""
    reject_reason: str = "EC_NoError"
    cancel_type: str = "UNKNOWN"
    locked: Decimal = ZERO  # funds still held: quote for a Buy, base for a Sell

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def qty_in_base(self) -> bool:
        return self.market_unit != "quoteCoin"

    @property
    def leaves_qty(self) -> Decimal:
        return self.qty - self.cum_exec_qty if self.is_open and self.qty_in_base else ZERO

    @property
    def avg_price(self) -> Decimal | None:
        return self.cum_exec_value / self.cum_exec_qty if self.cum_exec_qty else None

    def rest_item(self) -> dict:
        """``/v5/order/realtime`` and ``/v5/order/history`` list item."""
        return {
            "orderId": self.order_id,
            "orderLinkId": self.order_link_id,
            "blockTradeId": "",
            "symbol": self.symbol,
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "side": self.side,
            "isLeverage": "0",
            "positionIdx": 0,
            "orderStatus": self.status,
            "cancelType": self.cancel_type,
            "rejectReason": self.reject_reason,
            "avgPrice": fmt(self.avg_price) if self.avg_price is not None else "",
            "leavesQty": fmt(self.leaves_qty),
            "leavesValue": fmt(self.leaves_qty * self.price),
            "cumExecQty": fmt(self.cum_exec_qty),
            "cumExecValue": fmt(self.cum_exec_value),
            "cumExecFee": fmt(self.cum_exec_fee),
            "cumFeeDetail": {self.fee_currency: fmt(self.cum_exec_fee)} if self.fee_currency else {},
            "timeInForce": self.time_in_force,
            "orderType": self.order_type,
            "stopOrderType": "",
            "orderIv": "",
            "marketUnit": self.market_unit if self.order_type == "Market" else "",
            "triggerPrice": "0",
            "takeProfit": "0",
            "stopLoss": "0",
            "tpslMode": "",
            "ocoTriggerBy": "",
            "tpLimitPrice": "",
            "slLimitPrice": "",
            "tpTriggerBy": "",
            "slTriggerBy": "",
            "triggerDirection": 0,
            "triggerBy": "",
            "lastPriceOnCreated": "",
            "basePrice": "",
            "reduceOnly": False,
            "closeOnTrigger": False,
            "placeType": "",
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "slippageToleranceType": "UNKNOWN",
            "slippageTolerance": "0",
            "createdTime": str(self.created_ms),
            "updatedTime": str(self.updated_ms),
        }

    def ws_item(self) -> dict:
        """Private ``order`` topic item: the REST item plus the stream-only fields."""
        item = self.rest_item()
        item.update({"category": self.category, "feeCurrency": self.fee_currency, "closedPnl": "0",
                     "rpiTakerAccess": False, "rpiMatchedQty": "0", "brokerOrderPrice": ""})
        return item


@dataclass(frozen=True)
class Fill:
    exec_id: str
    order_id: str
    order_link_id: str
    side: str
    order_type: str
    order_price: Decimal
    order_qty: Decimal
    leaves_qty: Decimal
    exec_price: Decimal
    exec_qty: Decimal
    exec_value: Decimal
    exec_fee: Decimal
    fee_rate: Decimal
    fee_currency: str
    is_maker: bool
    exec_time: int
    seq: int
    market_unit: str = ""
    category: str = "spot"
    symbol: str = SYMBOL

    def rest_item(self) -> dict:
        """``/v5/execution/list`` item (``isMaker`` bool, ``seq`` number, rest strings)."""
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderLinkId": self.order_link_id,
            "side": self.side,
            "orderPrice": fmt(self.order_price),
            "orderQty": fmt(self.order_qty),
            "leavesQty": fmt(self.leaves_qty),
            "createType": "CreateByUser",
            "orderType": self.order_type,
            "stopOrderType": "",
            "execFee": fmt(self.exec_fee),
            "execId": self.exec_id,
            "execPrice": fmt(self.exec_price),
            "execQty": fmt(self.exec_qty),
            "execType": "Trade",
            "execValue": fmt(self.exec_value),
            "execTime": str(self.exec_time),
            "feeCurrency": self.fee_currency,
            "isMaker": self.is_maker,
            "feeRate": fmt(self.fee_rate),
            "tradeIv": "",
            "markIv": "",
            "markPrice": "",
            "indexPrice": "",
            "underlyingPrice": "",
            "blockTradeId": "",
            "closedSize": "",
            "seq": self.seq,
            "extraFees": "",
        }

    def ws_item(self) -> dict:
        item = self.rest_item()
        item.update({"category": self.category, "execPnl": "0", "isLeverage": "0",
                     "marketUnit": self.market_unit})
        return item


@dataclass
class CoinBalance:
    coin: str
    wallet: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def free(self) -> Decimal:
        return self.wallet - self.locked


@dataclass
class LinearPosition:
    """The one linear BTCUSDT position; ``size`` is signed (long +, short -)."""

    size: Decimal = ZERO
    entry_price: Decimal = ZERO
    liq_price: Decimal | None = None
    leverage: Decimal = Decimal(1)
    cum_realised_pnl: Decimal = ZERO
    created_ms: int = 0
    updated_ms: int = 0
    seq: int = 0
    symbol: str = SYMBOL

    def side(self) -> str:
        return "Buy" if self.size > 0 else "Sell" if self.size < 0 else ""

    def unrealised_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.entry_price) * self.size if self.size else ZERO

    def rest_item(self, mark: Decimal) -> dict:
        size = abs(self.size)
        value = size * self.entry_price
        im = value / self.leverage if size else ZERO
        return {
            "positionIdx": 0,
            "riskId": 1,
            "riskLimitValue": "2000000",
            "symbol": self.symbol,
            "side": self.side(),
            "size": fmt(size),
            "avgPrice": fmt(self.entry_price if size else ZERO),
            "positionValue": fmt(value),
            "tradeMode": 0,
            "autoAddMargin": 0,
            "positionStatus": "Normal",
            "leverage": fmt(self.leverage),
            "markPrice": fmt(mark),
            "liqPrice": fmt(self.liq_price) if self.liq_price is not None and size else "",
            "bustPrice": "",
            "positionIM": fmt(im),
            "positionMM": fmt(value * Decimal("0.005")),
            "positionBalance": fmt(im),
            "takeProfit": "0",
            "stopLoss": "0",
            "trailingStop": "0",
            "sessionAvgPrice": "",
            "delta": "",
            "gamma": "",
            "vega": "",
            "theta": "",
            "unrealisedPnl": fmt(self.unrealised_pnl(mark)),
            "curRealisedPnl": "0",
            "cumRealisedPnl": fmt(self.cum_realised_pnl),
            "adlRankIndicator": 2 if size else 0,
            "createdTime": str(self.created_ms),
            "updatedTime": str(self.updated_ms),
            "seq": self.seq,
            "isReduceOnly": False,
            "mmrSysUpdatedTime": "",
            "leverageSysUpdatedTime": "",
            "breakEvenPrice": fmt(self.entry_price if size else ZERO),
        }

    def ws_item(self, mark: Decimal) -> dict:
        item = self.rest_item(mark)
        item["entryPrice"] = item.pop("avgPrice")
        item["category"] = "linear"
        return item


@dataclass
class _Ids:
    order: int = 1_800_000_000_000_000_000
    execution: int = 2_100_000_000_000_000_000
    seq: int = 1_000

    def next_order(self) -> str:
        self.order += 1
        return str(self.order)

    def next_exec(self) -> str:
        self.execution += 1
        return str(self.execution)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


@dataclass(eq=False, repr=False)
class Ledger:
    """Account state plus the spot matcher. ``clock`` returns server time in ms.

    Through ``FakeBybit.ledger`` use the read side only; mutate via FakeBybit's methods so
    the change runs on the server loop and its pushes are published.
    """

    market: Market
    clock: Callable[[], int]
    filters: SpotFilters = SPOT_FILTERS
    symbol: str = SYMBOL
    base: str = BASE
    quote: str = QUOTE
    # several symbols on one account (``FakeBybit(symbols=...)``): one Ledger per symbol sharing
    # the balances, ids and lock; these value every coin and sum every position's PnL
    price_of: Callable[[str], Decimal | None] | None = None
    total_upl: Callable[[], Decimal] | None = None
    _balances: dict[str, CoinBalance] = field(default_factory=dict)
    _orders: dict[str, Order] = field(default_factory=dict)
    _by_link: dict[str, str] = field(default_factory=dict)
    _fills: list[Fill] = field(default_factory=list)
    _position: LinearPosition = field(default_factory=LinearPosition)
    _ids: _Ids = field(default_factory=_Ids)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self._position.symbol = self.symbol

    # ---- read side (copies, safe from any thread) -------------------------------------

    @property
    def orders(self) -> list[Order]:
        """Every order ever accepted, oldest first (copies)."""
        with self._lock:
            return [copy.copy(o) for o in self._orders.values()]

    @property
    def open_orders(self) -> list[Order]:
        with self._lock:
            return [copy.copy(o) for o in self._orders.values() if o.is_open]

    @property
    def fills(self) -> list[Fill]:
        """Every execution, oldest first."""
        with self._lock:
            return list(self._fills)

    @property
    def balances(self) -> dict[str, CoinBalance]:
        """Coin -> CoinBalance(wallet, locked, free) copies."""
        with self._lock:
            return {c: replace(b) for c, b in self._balances.items()}

    @property
    def position(self) -> LinearPosition:
        with self._lock:
            return replace(self._position)

    def order(self, *, order_link_id: str | None = None, order_id: str | None = None) -> Order | None:
        with self._lock:
            found = self._find(order_id, order_link_id)
            return copy.copy(found) if found else None

    def _find(self, order_id: str | None, order_link_id: str | None) -> Order | None:
        if order_id:
            return self._orders.get(order_id)
        if order_link_id:
            oid = self._by_link.get(order_link_id)
            return self._orders.get(oid) if oid else None
        return None

    def _bal(self, coin: str) -> CoinBalance:
        return self._balances.setdefault(coin, CoinBalance(coin))

    # ---- test controls ----------------------------------------------------------------

    def set_balance(self, coin: str, wallet) -> list[Push]:
        """Set a coin's wallet balance (free + locked); locks held by open orders stay."""
        with self._lock:
            bal = self._bal(coin)
            amount = dec(wallet)
            if amount < bal.locked:
                raise ValueError(f"{coin}: wallet {amount} below locked {bal.locked}")
            bal.wallet = amount
            return [self._wallet_push()]

    def set_position(self, size, entry_price=None, liq_price=None, leverage=None,
                     cum_realised_pnl=None) -> list[Push]:
        """Replace the linear position (signed size) and push ``position``."""
        with self._lock:
            p = self._position
            now = self.clock()
            if p.size == 0 and dec(size) != 0:
                p.created_ms = now
            p.size = dec(size)
            if entry_price is not None:
                p.entry_price = dec(entry_price)
            if liq_price is not None:
                p.liq_price = dec(liq_price)
            if leverage is not None:
                p.leverage = dec(leverage)
            if cum_realised_pnl is not None:
                p.cum_realised_pnl = dec(cum_realised_pnl)
            p.updated_ms = now
            p.seq = self._ids.next_seq()
            return [self.position_push()]

    def position_push(self) -> PrivatePush:
        with self._lock:
            return PrivatePush("position", [self._position.ws_item(self.market.linear.mark_price)])

    def position_rest_item(self) -> dict:
        with self._lock:
            return self._position.rest_item(self.market.linear.mark_price)

    # ---- order entry ------------------------------------------------------------------

    def place(self, params: dict) -> tuple[dict, list[Push]]:
        """``/v5/order/create``: validate, lock, match. Returns (result, pushes)."""
        with self._lock:
            self._check_category_symbol(params)
            side = _choice(params, "side", ("Buy", "Sell"))
            order_type = _choice(params, "orderType", ("Limit", "Market"))
            qty = _positive(params, "qty")
            link = str(params.get("orderLinkId") or "")
            if link and not LINK_ID_RE.match(link):
                raise OrderError(E_PARAMS, "params error: orderLinkId is invalid")
            if link and link in self._by_link:
                raise OrderError(E_DUPLICATE_LINK_ID, "Duplicate clientOrderId.")
            if str(params.get("isLeverage", 0)) not in ("0", ""):
                raise OrderError(E_PARAMS, "params error: the fake has no margin trading")
            if params.get("orderFilter", "Order") != "Order":
                raise OrderError(E_PARAMS, "params error: only orderFilter=Order is supported")
            if order_type == "Limit":
                tif = params.get("timeInForce") or "GTC"
                if tif not in ("GTC", "IOC", "FOK", "PostOnly"):
                    raise OrderError(E_PARAMS, "params error: timeInForce invalid")
                price = _positive(params, "price")
                unit = "baseCoin"
                self._validate_limit(side, qty, price)
            else:
                tif = "IOC"
                price = ZERO
                unit = params.get("marketUnit") or ("quoteCoin" if side == "Buy" else "baseCoin")
                if unit not in ("baseCoin", "quoteCoin"):
                    raise OrderError(E_PARAMS, "params error: marketUnit invalid")
                self._validate_market(side, qty, unit)

            now = self.clock()
            order = Order(order_id=self._ids.next_order(), order_link_id=link, side=side,
                          order_type=order_type, time_in_force=tif, qty=qty, price=price,
                          market_unit=unit, created_ms=now, updated_ms=now, symbol=self.symbol)
            self._orders[order.order_id] = order
            if link:
                self._by_link[link] = order.order_id
            if order_type == "Limit":
                self._lock_funds(order, self._lock_needed(side, qty, price))
                pushes = self._match_new_limit(order)
            else:
                pushes = self._match_market(order)
            return {"orderId": order.order_id, "orderLinkId": order.order_link_id}, pushes

    def amend(self, params: dict) -> tuple[dict, list[Push]]:
        """``/v5/order/amend``: new qty and/or price for an open Limit order."""
        with self._lock:
            self._check_category_symbol(params)
            order = self._open_order(params)
            if order.order_type != "Limit":
                raise OrderError(E_PARAMS, "params error: only Limit orders can be amended")
            if params.get("qty") in (None, "") and params.get("price") in (None, ""):
                raise OrderError(E_PARAMS, "params error: nothing to amend")
            qty = _positive(params, "qty") if params.get("qty") not in (None, "") else order.qty
            price = _positive(params, "price") if params.get("price") not in (None, "") else order.price
            if qty <= order.cum_exec_qty:
                raise OrderError(E_PARAMS, "params error: qty must exceed the executed qty")
            self._validate_limit(order.side, qty, price, check_balance=False)
            need = self._lock_needed(order.side, qty - order.cum_exec_qty, price)
            coin = self.quote if order.side == "Buy" else self.base
            if need > self._bal(coin).free + order.locked:
                raise OrderError(E_INSUFFICIENT, "Insufficient balance.")
            self._release(order)
            order.qty, order.price = qty, price
            order.updated_ms = self.clock()
            self._lock_funds(order, need)
            opposite = self._opposite(order.side)
            if opposite is not None and self._crosses(order, opposite.price):
                if order.time_in_force == "PostOnly":
                    # Unverified on the real venue; the fake cancels, like a PostOnly reject.
                    self._close(order, "Cancelled", reject_reason="EC_PostOnlyWillTakeLiquidity")
                    return _ack(order), self._order_pushes(order, [])
                fills, public = self._take(order, opposite.price, min(order.leaves_qty, opposite.qty))
                return _ack(order), public + self._order_pushes(order, fills)
            return _ack(order), self._order_pushes(order, [])

    def cancel(self, params: dict) -> tuple[dict, list[Push]]:
        """``/v5/order/cancel`` by orderId (wins) or orderLinkId."""
        with self._lock:
            self._check_category_symbol(params)
            order = self._open_order(params)
            self._close(order, "PartiallyFilledCanceled" if order.cum_exec_qty else "Cancelled",
                        cancel_type="CancelByUser")
            return _ack(order), self._order_pushes(order, [])

    def cancel_all(self, params: dict) -> tuple[dict, list[Push]]:
        """``/v5/order/cancel-all`` for spot: every open order (optionally of ``symbol``)."""
        with self._lock:
            category = params.get("category")
            if category != "spot":
                if category == "linear":
                    return {"list": [], "success": "1"}, []
                raise OrderError(E_PARAMS, "params error: category invalid")
            symbol = params.get("symbol")
            if symbol and symbol != self.symbol:
                return {"list": [], "success": "1"}, []
            pushes: list[Push] = []
            listed = []
            for order in list(self._orders.values()):
                if order.is_open:
                    self._close(order, "PartiallyFilledCanceled" if order.cum_exec_qty else "Cancelled",
                                cancel_type="CancelByUser")
                    listed.append(_ack(order))
                    pushes.append(PrivatePush("order", [order.ws_item()]))
            if listed:
                pushes.append(self._wallet_push())
            return {"list": listed, "success": "1"}, pushes

    # ---- market-driven fills ----------------------------------------------------------

    def on_trade(self, price, qty, taker_side: str) -> list[Push]:
        """A public trade: fill resting orders the print went *through* (as maker, at their price).

        A print at exactly our price does not fill us (queue position unknown); use
        ``partial_fill`` for that.
        """
        with self._lock:
            price, remaining = dec(price), dec(qty)
            buys = sorted((o for o in self._resting() if o.side == "Buy" and o.price > price),
                          key=lambda o: (-o.price, o.created_ms, o.order_id))
            sells = sorted((o for o in self._resting() if o.side == "Sell" and o.price < price),
                           key=lambda o: (o.price, o.created_ms, o.order_id))
            pushes: list[Push] = []
            for order in buys + sells:
                if remaining <= 0:
                    break
                take = min(order.leaves_qty, remaining)
                remaining -= take
                fill = self._apply_fill(order, take, order.price, is_maker=True)
                pushes += self._order_pushes(order, [fill])
            return pushes

    def on_book_change(self) -> list[Push]:
        """The book moved across resting orders: they fill as maker against the new level."""
        with self._lock:
            pushes: list[Push] = []
            book = self.market.books["spot"]
            for order in sorted(self._resting(), key=lambda o: (o.created_ms, o.order_id)):
                level = book.ask if order.side == "Buy" else book.bid
                if level is None or not self._crosses(order, level.price):
                    continue
                take = min(order.leaves_qty, level.qty)
                fill = self._apply_fill(order, take, order.price, is_maker=True)
                # The crossing level traded with us: it shrinks, and the tape prints our price.
                pushes += self.market.consume("spot", order.side, take)
                taker = "Sell" if order.side == "Buy" else "Buy"
                pushes += self.market.record_trade("spot", order.price, take, taker, fill.exec_time)
                pushes += self._order_pushes(order, [fill])
            return pushes

    def partial_fill(self, qty, *, order_link_id: str | None = None, order_id: str | None = None,
                     price=None) -> tuple[Fill, list[Push]]:
        """Fill ``qty`` of a resting order as maker (at its price unless ``price`` is given)."""
        with self._lock:
            order = self._find(order_id, order_link_id)
            if order is None or not order.is_open:
                raise KeyError(f"no open order {order_link_id or order_id!r}")
            take = dec(qty)
            if not 0 < take <= order.leaves_qty:
                raise ValueError(f"fill qty {take} outside (0, {order.leaves_qty}]")
            fill = self._apply_fill(order, take, dec(price) if price is not None else order.price,
                                    is_maker=True)
            return fill, self._order_pushes(order, [fill])

    # ---- queries ------------------------------------------------------------------------

    def query_orders(self, *, open_only: int = 0, order_id=None, order_link_id=None,
                     status=None, start=None, end=None, history=False) -> list[Order]:
        """Newest first. realtime: open (or, by id, any state); history: everything."""
        with self._lock:
            if order_id or order_link_id:
                found = self._find(order_id, order_link_id)
                chosen = [found] if found else []
            elif history:
                chosen = list(self._orders.values())
            elif open_only == 0:
                chosen = [o for o in self._orders.values() if o.is_open]
            else:
                chosen = [o for o in self._orders.values() if not o.is_open][-500:]
            if status:
                chosen = [o for o in chosen if o.status == status]
            if start is not None:
                chosen = [o for o in chosen if o.created_ms >= start]
            if end is not None:
                chosen = [o for o in chosen if o.created_ms <= end]
            return [copy.copy(o) for o in reversed(chosen)]

    def query_fills(self, *, order_id=None, order_link_id=None, start=None, end=None) -> list[Fill]:
        with self._lock:
            chosen = [f for f in self._fills
                      if (not order_id or f.order_id == order_id)
                      and (not order_link_id or f.order_link_id == order_link_id)
                      and (start is None or f.exec_time >= start)
                      and (end is None or f.exec_time <= end)]
            return list(reversed(chosen))

    def wallet_item(self, coins: list[str] | None = None) -> dict:
        """One ``/v5/account/wallet-balance`` list element (also the ``wallet`` push item)."""
        with self._lock:
            price = self.market.reference_price("spot")
            upl = (self.total_upl() if self.total_upl is not None
                   else self._position.unrealised_pnl(self.market.linear.mark_price))
            items = []
            total = ZERO
            names = coins if coins else [c for c, b in self._balances.items() if b.wallet or b.locked]
            for coin in names:
                bal = self._balances.get(coin, CoinBalance(coin))
                if coin == self.quote:
                    rate = Decimal(1)
                elif self.price_of is not None:
                    rate = self.price_of(coin) or ZERO
                else:
                    rate = price if coin == self.base else ZERO
                usd = bal.wallet * rate
                total += usd
                coin_upl = upl if coin == self.quote else ZERO
                items.append({
                    "coin": coin,
                    "equity": fmt(bal.wallet + coin_upl),
                    "usdValue": fmt(usd + coin_upl),
                    "walletBalance": fmt(bal.wallet),
                    "locked": fmt(bal.locked),
                    "free": "",
                    "availableToWithdraw": "",
                    "availableToBorrow": "",
                    "borrowAmount": "0",
                    "spotBorrow": "0",
                    "accruedInterest": "0",
                    "totalOrderIM": "0",
                    "totalPositionIM": "0",
                    "totalPositionMM": "0",
                    "unrealisedPnl": fmt(coin_upl),
                    "cumRealisedPnl": "0",
                    "bonus": "0",
                    "spotHedgingQty": "0",
                    "marginCollateral": True,
                    "collateralSwitch": True,
                })
            equity = total + upl
            return {
                "accountType": "UNIFIED",
                "accountIMRate": "0",
                "accountMMRate": "0",
                "accountLTV": "0",
                "totalEquity": fmt(equity),
                "totalWalletBalance": fmt(total),
                "totalMarginBalance": fmt(equity),
                "totalAvailableBalance": fmt(equity),
                "totalPerpUPL": fmt(upl),
                "totalInitialMargin": "0",
                "totalMaintenanceMargin": "0",
                "coin": items,
            }

    # ---- internals ----------------------------------------------------------------------

    def _check_category_symbol(self, params: dict) -> None:
        category = params.get("category")
        if category != "spot":
            raise OrderError(E_PARAMS, f"params error: category {category!r} not supported by the fake "
                                       "(spot only)")
        if params.get("symbol") != self.symbol:
            raise OrderError(E_INVALID_SYMBOL, "Invalid symbol.")

    def _open_order(self, params: dict) -> Order:
        oid, link = params.get("orderId"), params.get("orderLinkId")
        if not oid and not link:
            raise OrderError(E_PARAMS, "params error: orderId or orderLinkId is required")
        order = self._find(oid, link)
        if order is None or not order.is_open:
            raise OrderError(E_ORDER_NOT_EXISTS, "Order does not exist.")
        return order

    def _validate_limit(self, side: str, qty: Decimal, price: Decimal, check_balance: bool = True) -> None:
        f = self.filters
        if not is_multiple(price, f.tick):
            raise OrderError(E_PRICE_DECIMALS, "Order price has too many decimals.")
        if not is_multiple(qty, f.base_step):
            raise OrderError(E_QTY_DECIMALS, "Order quantity has too many decimals.")
        if qty < f.min_qty:
            raise OrderError(E_QTY_MIN, "Order quantity below the lower limit.")
        if qty * price < f.min_amt:
            raise OrderError(E_VALUE_MIN, "Order value exceeded lower limit.")
        if check_balance:
            coin = self.quote if side == "Buy" else self.base
            if self._lock_needed(side, qty, price) > self._bal(coin).free:
                raise OrderError(E_INSUFFICIENT, "Insufficient balance.")

    def _validate_market(self, side: str, qty: Decimal, unit: str) -> None:
        f = self.filters
        book = self.market.books["spot"]
        touch = book.ask if side == "Buy" else book.bid
        if unit == "quoteCoin":
            if not is_multiple(qty, f.quote_step):
                raise OrderError(E_MARKET_AMOUNT_DECIMALS, "Market order amount decimal too long.")
            if qty < f.min_amt:
                raise OrderError(E_VALUE_MIN, "Order value exceeded lower limit.")
            base_qty = qty / touch.price if touch else None
        else:
            if not is_multiple(qty, f.base_step):
                raise OrderError(E_QTY_DECIMALS, "Order quantity has too many decimals.")
            if qty < f.min_qty:
                raise OrderError(E_QTY_MIN, "Order quantity below the lower limit.")
            if touch is not None and qty * touch.price < f.min_amt:
                raise OrderError(E_VALUE_MIN, "Order value exceeded lower limit.")
            base_qty = qty
        if side == "Buy":
            cost = qty if unit == "quoteCoin" else (qty * touch.price if touch else ZERO)
            if cost > self._bal(self.quote).free:
                raise OrderError(E_INSUFFICIENT, "Insufficient balance.")
        elif (base_qty or ZERO) > self._bal(self.base).free:
            raise OrderError(E_INSUFFICIENT, "Insufficient balance.")

    @staticmethod
    def _lock_needed(side: str, qty: Decimal, price: Decimal) -> Decimal:
        return qty * price if side == "Buy" else qty

    def _lock_funds(self, order: Order, amount: Decimal) -> None:
        coin = self.quote if order.side == "Buy" else self.base
        self._bal(coin).locked += amount
        order.locked += amount

    def _release(self, order: Order) -> None:
        coin = self.quote if order.side == "Buy" else self.base
        self._bal(coin).locked -= order.locked
        order.locked = ZERO

    def _opposite(self, side: str):
        book = self.market.books["spot"]
        return book.ask if side == "Buy" else book.bid

    @staticmethod
    def _crosses(order: Order, level_price: Decimal) -> bool:
        return order.price >= level_price if order.side == "Buy" else order.price <= level_price

    def _resting(self) -> list[Order]:
        return [o for o in self._orders.values() if o.is_open and o.order_type == "Limit"]

    def _match_new_limit(self, order: Order) -> list[Push]:
        opposite = self._opposite(order.side)
        crosses = opposite is not None and self._crosses(order, opposite.price)
        tif = order.time_in_force
        if tif == "PostOnly" and crosses:
            self._close(order, "Rejected", reject_reason="EC_PostOnlyWillTakeLiquidity")
            return self._order_pushes(order, [])
        if tif == "FOK" and (not crosses or opposite.qty < order.qty):
            self._close(order, "Cancelled", reject_reason="EC_NoImmediateQtyToFill")
            return self._order_pushes(order, [])
        fills: list[Fill] = []
        public: list[Push] = []
        if crosses:
            fills, public = self._take(order, opposite.price, min(order.qty, opposite.qty))
        if order.is_open and tif in ("IOC", "FOK"):
            self._close(order, "PartiallyFilledCanceled" if order.cum_exec_qty else "Cancelled",
                        reject_reason="EC_NoError" if order.cum_exec_qty else "EC_NoImmediateQtyToFill")
        return public + self._order_pushes(order, fills)

    def _match_market(self, order: Order) -> list[Push]:
        level = self._opposite(order.side)
        if level is None:
            self._close(order, "Cancelled", reject_reason="EC_NoImmediateQtyToFill")
            return self._order_pushes(order, [])
        wanted = order.qty if order.qty_in_base else floor_to(order.qty / level.price, self.filters.base_step)
        take = min(wanted, level.qty)
        fills: list[Fill] = []
        public: list[Push] = []
        if take > 0:
            fills, public = self._take(order, level.price, take)
        if order.is_open:
            if not order.qty_in_base and take == wanted and take > 0:
                self._close(order, "Filled")  # a quote-sized buy is done once its only fill is in
            else:
                self._close(order, "PartiallyFilledCanceled" if order.cum_exec_qty else "Cancelled",
                            reject_reason="EC_NoError" if order.cum_exec_qty else "EC_NoImmediateQtyToFill")
        return public + self._order_pushes(order, fills)

    def _take(self, order: Order, price: Decimal, qty: Decimal) -> tuple[list[Fill], list[Push]]:
        """Taker fill against the book: consume the level and print a public trade."""
        fill = self._apply_fill(order, qty, price, is_maker=False)
        public = self.market.consume("spot", order.side, qty)
        public += self.market.record_trade("spot", price, qty, order.side, fill.exec_time)
        return [fill], public

    def _apply_fill(self, order: Order, qty: Decimal, price: Decimal, *, is_maker: bool) -> Fill:
        rate = self.filters.maker_rate if is_maker else self.filters.taker_rate
        value = qty * price
        base, quote = self._bal(self.base), self._bal(self.quote)
        if order.side == "Buy":
            fee, fee_ccy = qty * rate, self.base
            quote.wallet -= value
            base.wallet += qty - fee
            if order.order_type == "Limit":
                release = min(qty * order.price, order.locked)
                order.locked -= release
                quote.locked -= release
        else:
            fee, fee_ccy = value * rate, self.quote
            base.wallet -= qty
            quote.wallet += value - fee
            if order.order_type == "Limit":
                release = min(qty, order.locked)
                order.locked -= release
                base.locked -= release
        now = self.clock()
        order.cum_exec_qty += qty
        order.cum_exec_value += value
        order.cum_exec_fee += fee
        order.fee_currency = fee_ccy
        order.updated_ms = now
        if order.qty_in_base and order.cum_exec_qty >= order.qty:
            self._close(order, "Filled")
        elif order.qty_in_base:
            order.status = "PartiallyFilled"
        fill = Fill(exec_id=self._ids.next_exec(), order_id=order.order_id,
                    order_link_id=order.order_link_id, side=order.side, order_type=order.order_type,
                    order_price=order.price, order_qty=order.qty, leaves_qty=order.leaves_qty,
                    exec_price=price, exec_qty=qty, exec_value=value, exec_fee=fee, fee_rate=rate,
                    fee_currency=fee_ccy, is_maker=is_maker, exec_time=now, seq=self._ids.next_seq(),
                    market_unit=order.market_unit if order.order_type == "Market" else "", symbol=self.symbol)
        self._fills.append(fill)
        return fill

    def _close(self, order: Order, status: str, *, reject_reason: str | None = None,
               cancel_type: str | None = None) -> None:
        order.status = status
        if reject_reason is not None:
            order.reject_reason = reject_reason
        if cancel_type is not None:
            order.cancel_type = cancel_type
        order.updated_ms = self.clock()
        self._release(order)

    def _order_pushes(self, order: Order, fills: list[Fill]) -> list[Push]:
        pushes: list[Push] = [PrivatePush("order", [order.ws_item()])]
        if fills:
            pushes.append(PrivatePush("execution", [f.ws_item() for f in fills]))
        pushes.append(self._wallet_push())
        return pushes

    def _wallet_push(self) -> PrivatePush:
        return PrivatePush("wallet", [self.wallet_item()])


def _ack(order: Order) -> dict:
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def _choice(params: dict, key: str, allowed: tuple[str, ...]) -> str:
    value = params.get(key)
    if value not in allowed:
        raise OrderError(E_PARAMS, f"params error: {key} must be one of {', '.join(allowed)}")
    return value


def _positive(params: dict, key: str) -> Decimal:
    raw = params.get(key)
    if raw in (None, ""):
        raise OrderError(E_PARAMS, f"params error: {key} is required")
    try:
        value = dec(raw)
    except BadNumber:
        raise OrderError(E_PARAMS, f"params error: {key} invalid") from None
    if value <= 0:
        raise OrderError(E_PARAMS, f"params error: {key} must be positive")
    return value


__all__ = ["Ledger", "Order", "Fill", "CoinBalance", "LinearPosition", "OrderError"]
