"""Bybit v5 JSON (REST results and WebSocket pushes) -> ``core.model`` values. Pure functions.

Every number Bybit sends as a string stays exact (``Decimal``) where it describes an order,
a fill, a balance or a position; market data becomes floats (``core.model`` conventions).
A function raises ``BadMessage`` (or a ``KeyError``/``ValueError`` from a malformed field)
when an item cannot be understood; the stream layer counts and logs those and goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from core.errors import RebalancerError
from core.model import (
    Balance, Candle, Fill, Instrument, Leg, Order, OrderStatus, PerpTicker, Position, Quote, Side, TimeInForce, Trade,
)
from core.venues import bybit_codes as codes

ZERO = Decimal(0)

STATUS = {
    "New": OrderStatus.NEW,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Untriggered": OrderStatus.NEW,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "PartiallyFilledCanceled": OrderStatus.CANCELLED,
    "Deactivated": OrderStatus.CANCELLED,
    "Triggered": OrderStatus.NEW,
    "Rejected": OrderStatus.REJECTED,
}
TIF = {"PostOnly": TimeInForce.POST_ONLY, "IOC": TimeInForce.IOC, "GTC": TimeInForce.GTC, "FOK": TimeInForce.IOC}

# Bybit kline intervals by length in ms.
KLINE_INTERVAL = {
    60_000: "1", 180_000: "3", 300_000: "5", 900_000: "15", 1_800_000: "30", 3_600_000: "60",
    7_200_000: "120", 14_400_000: "240", 21_600_000: "360", 43_200_000: "720", 86_400_000: "D",
    604_800_000: "W",
}


class BadMessage(RebalancerError, ValueError):
    """A push or a result we cannot turn into a value."""


def dec(value: object, default: Decimal | None = ZERO) -> Decimal:
    """A Bybit decimal string -> Decimal; ``""``/None -> ``default`` (BadMessage when None)."""
    if value is None or value == "":
        if default is None:
            raise BadMessage("missing number")
        return default
    if isinstance(value, float):
        value = repr(value)
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise BadMessage(f"not a number: {value!r}") from None
    if not d.is_finite():
        raise BadMessage(f"not a finite number: {value!r}")
    return d


def ms(value: object, default: int | None = None) -> int:
    if value is None or value == "":
        if default is None:
            raise BadMessage("missing timestamp")
        return default
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        try:
            return int(Decimal(str(value)))
        except InvalidOperation:
            raise BadMessage(f"not a timestamp: {value!r}") from None


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def fmt_decimal(d: Decimal) -> str:
    """Exact plain decimal text for the wire: never exponent notation, never a float."""
    if not isinstance(d, Decimal):
        raise TypeError(f"expected Decimal, got {type(d).__name__}")
    return format(d, "f")


# ---------------------------------------------------------------- instruments, fees, account


def spot_instrument(item: Mapping) -> Instrument:
    lot, price = item["lotSizeFilter"], item["priceFilter"]
    max_qty = lot.get("maxLimitOrderQty") or lot.get("maxOrderQty") or "1e9"
    return Instrument(
        symbol=item["symbol"], base=item["baseCoin"], quote=item["quoteCoin"],
        tick_size=dec(price["tickSize"], None), qty_step=dec(lot["basePrecision"], None),
        min_qty=dec(lot.get("minOrderQty")), min_notional=dec(lot.get("minOrderAmt")),
        max_qty=dec(max_qty), leg=Leg.SPOT,
    )


def linear_instrument(item: Mapping) -> Instrument:
    lot, price = item["lotSizeFilter"], item["priceFilter"]
    return Instrument(
        symbol=item["symbol"], base=item["baseCoin"], quote=item["quoteCoin"],
        tick_size=dec(price["tickSize"], None), qty_step=dec(lot["qtyStep"], None),
        min_qty=dec(lot.get("minOrderQty")), min_notional=dec(lot.get("minNotionalValue")),
        max_qty=dec(lot.get("maxOrderQty") or "1e9"), leg=Leg.LINEAR,
    )


def fee_rates(result: Mapping, symbol: str) -> tuple[Decimal, Decimal] | None:
    """(maker, taker) for ``symbol`` from a fee-rate result, or None when it is not listed."""
    for item in result.get("list") or ():
        if item.get("symbol") in (symbol, None, ""):
            return dec(item.get("makerFeeRate"), None), dec(item.get("takerFeeRate"), None)
    return None


def balances(wallet_items: Iterable[Mapping], coins: Iterable[str] = ()) -> tuple[Balance, ...]:
    """Balances from wallet-balance ``list[]`` items (UNIFIED); ``coins`` are always present
    (zero when the venue omitted them: a REST read that named them says they are empty)."""
    out: dict[str, Balance] = {}
    for acct in wallet_items:
        if acct.get("accountType", "UNIFIED") != "UNIFIED":
            continue
        for c in acct.get("coin") or ():
            wallet = dec(c.get("walletBalance"))
            locked = dec(c.get("locked"))
            out[c["coin"]] = Balance(coin=c["coin"], free=wallet - locked, locked=locked)
    for coin in coins:
        out.setdefault(coin, Balance(coin=coin, free=ZERO, locked=ZERO))
    return tuple(out[k] for k in sorted(out))


def position_row_size(row: Mapping) -> Decimal:
    """Signed size of one position row: Buy +, Sell -, ``""``/``"None"`` flat."""
    size = dec(row.get("size"))
    side = row.get("side") or ""
    if side == "Buy":
        return size
    if side == "Sell":
        return -size
    return ZERO


def position(rows: Iterable[Mapping], symbol: str) -> Position:
    """Net linear position for ``symbol`` (one-way mode: one row; hedge mode: rows summed)."""
    mine = [r for r in rows if r.get("symbol") == symbol]
    if not mine:
        return Position(symbol=symbol, size=ZERO)
    size = sum((position_row_size(r) for r in mine), ZERO)
    main = max(mine, key=lambda r: abs(position_row_size(r)))
    entry = main.get("avgPrice") if main.get("avgPrice") not in (None, "") else main.get("entryPrice")
    liq = main.get("liqPrice")
    return Position(
        symbol=symbol, size=size, entry_price=dec(entry), mark_price=dec(main.get("markPrice")),
        unrealised_pnl=sum((dec(r.get("unrealisedPnl")) for r in mine), ZERO),
        liq_price=dec(liq) if liq not in (None, "", "0") else None,
        leverage=dec(main.get("leverage"), Decimal(1)) or Decimal(1),
    )


# ---------------------------------------------------------------- orders and fills


def order(item: Mapping) -> Order:
    """A REST order (realtime/history) or an ``order`` push item."""
    status_text = item.get("orderStatus", "")
    status = STATUS.get(status_text)
    if status is None:
        raise BadMessage(f"unknown order status {status_text!r}")
    reason = item.get("rejectReason") or ""
    if reason == codes.NO_ERROR:
        reason = ""
    filled = dec(item.get("cumExecQty"))
    if status is OrderStatus.CANCELLED and reason == codes.POST_ONLY_WOULD_TAKE and filled == 0:
        status = OrderStatus.REJECTED  # a crossing PostOnly, however the venue labels it
    created = ms(item.get("createdTime"), 0)
    category = item.get("category", "spot")
    return Order(
        client_id=item.get("orderLinkId") or "",
        order_id=str(item.get("orderId") or ""),
        symbol=item["symbol"],
        side=Side.parse(item["side"]),
        qty=dec(item.get("qty")),
        price=dec(item.get("price")),
        tif=TIF.get(item.get("timeInForce") or "GTC", TimeInForce.GTC),
        status=status,
        filled_qty=filled,
        avg_fill_price=dec(item.get("avgPrice")),
        created_ms=created,
        updated_ms=ms(item.get("updatedTime"), created),
        reject_reason=reason,
        leg=Leg.LINEAR if category == "linear" else Leg.SPOT,
    )


def fill(item: Mapping, *, prefix: str, category: str | None = None) -> Fill:
    """A REST execution or an ``execution`` push item (``category`` from the item when present)."""
    cat = item.get("category") or category or "spot"
    link = item.get("orderLinkId") or ""
    return Fill(
        ts_ms=ms(item.get("execTime")),
        exec_id=str(item["execId"]),
        symbol=item["symbol"],
        side=Side.parse(item["side"]),
        price=dec(item.get("execPrice"), None),
        qty=dec(item.get("execQty"), None),
        fee=dec(item.get("execFee")),
        fee_coin=item.get("feeCurrency") or "",
        is_maker=boolean(item.get("isMaker", False)),
        leg=Leg.LINEAR if cat == "linear" else Leg.SPOT,
        client_id=link,
        order_id=str(item.get("orderId") or ""),
        source="rebalancer" if prefix and link.startswith(prefix) else "external",
    )


def fill_sort_key(item: Mapping) -> tuple:
    """Oldest first; ties by seq, then execId (the docs' advice for equal execTime)."""
    seq = item.get("seq")
    return (ms(item.get("execTime"), 0), seq if isinstance(seq, int) else 0, str(item.get("execId", "")))


# ---------------------------------------------------------------- market data


def quote(message: Mapping) -> Quote | None:
    """``orderbook.1`` snapshot -> Quote; None while a side is empty."""
    data = message["data"]
    bids, asks = data.get("b") or [], data.get("a") or []
    if not bids or not asks:
        return None
    ts = ms(message.get("ts") or message.get("cts"))
    return Quote(ts_ms=ts, bid=float(bids[0][0]), bid_qty=float(bids[0][1]),
                 ask=float(asks[0][0]), ask_qty=float(asks[0][1]))


def trades(message: Mapping) -> list[Trade]:
    items = message["data"]
    if not isinstance(items, list):
        raise BadMessage("publicTrade data is not a list")
    return [Trade(ts_ms=ms(t["T"]), price=float(t["p"]), qty=float(t["v"]), taker_side=Side.parse(t["S"]))
            for t in items]


def perp_ticker(state: Mapping, ts_ms: int) -> PerpTicker | None:
    """A linear ticker (merged snapshot + deltas) -> PerpTicker; None without a mark price."""
    mark = state.get("markPrice")
    if mark in (None, ""):
        return None
    funding = state.get("fundingRate")
    nxt = state.get("nextFundingTime")
    return PerpTicker(ts_ms=ts_ms, mark_price=float(mark),
                      funding_rate=float(funding) if funding not in (None, "") else 0.0,
                      next_funding_ms=ms(nxt, 0))


def candles(rows: Iterable[list], interval_ms: int, now_ms: int, limit: int) -> tuple[Candle, ...]:
    """Kline rows (newest first, as Bybit sends them) -> closed candles, oldest first."""
    out = []
    for r in rows:
        start = ms(r[0])
        if start + interval_ms > now_ms:
            continue  # still open
        out.append(Candle(start_ms=start, interval_ms=interval_ms, open=float(r[1]), high=float(r[2]),
                          low=float(r[3]), close=float(r[4]), volume=float(r[5]) if len(r) > 5 else 0.0))
    out.sort(key=lambda c: c.start_ms)
    return tuple(out[-limit:]) if limit > 0 else ()


__all__ = [
    "BadMessage", "KLINE_INTERVAL", "STATUS", "balances", "boolean", "candles", "dec",
    "fee_rates", "fill", "fill_sort_key", "fmt_decimal", "linear_instrument", "ms", "order", "perp_ticker",
    "position", "position_row_size", "quote", "spot_instrument", "trades",
]
