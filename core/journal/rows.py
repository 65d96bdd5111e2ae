"""Values <-> journal columns: exact text for numbers, enum members by value, rows rebuilt exactly."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from enum import Enum

from core.model import Fill, Leg, Order, OrderStatus, Side, TimeInForce
from core.values import value_type

ORDER_COLS = (
    "client_id, order_id, symbol, side, qty, price, tif, status, filled_qty, avg_fill_price,"
    " created_ms, updated_ms, reject_reason, leg"
)
FILL_COLS = (
    "exec_id, ts_ms, symbol, side, price, qty, fee, fee_coin, is_maker, leg, client_id,"
    " order_id, source"
)
OPEN_STATUSES = (OrderStatus.NEW.value, OrderStatus.PARTIALLY_FILLED.value)
TERMINAL_STATUSES = (
    OrderStatus.FILLED.value,
    OrderStatus.CANCELLED.value,
    OrderStatus.REJECTED.value,
)


def text(x: object) -> str:
    """Enum members by value (``str()`` of a str-Enum is ``Mode.AUTO`` in 3.11)."""
    return x.value if isinstance(x, Enum) else str(x)


def num(x: Decimal | int | float | str | None) -> str | None:
    """Exact text for a number: Decimal keeps its digits, a float its shortest repr."""
    if x is None:
        return None
    if isinstance(x, bool):
        raise TypeError("a bool is not a number here")
    if isinstance(x, Decimal):
        return str(x)
    if isinstance(x, (int, float)):
        return repr(x)
    return str(Decimal(str(x)))  # validates text input


def fill_row(f: Fill) -> tuple:
    return (
        f.exec_id, int(f.ts_ms), f.symbol, text(f.side), str(f.price), str(f.qty), str(f.fee),
        f.fee_coin, 1 if f.is_maker else 0, text(f.leg), f.client_id, f.order_id, f.source,
    )


def fill_from_row(r: sqlite3.Row | tuple) -> Fill:
    return Fill(
        ts_ms=r[1], exec_id=r[0], symbol=r[2], side=Side(r[3]), price=Decimal(r[4]),
        qty=Decimal(r[5]), fee=Decimal(r[6]), fee_coin=r[7], is_maker=bool(r[8]), leg=Leg(r[9]),
        client_id=r[10], order_id=r[11], source=r[12],
    )


def order_values(o: Order) -> tuple:
    return (
        o.client_id, o.order_id, o.symbol, text(o.side), str(o.qty), str(o.price), text(o.tif),
        text(o.status), str(o.filled_qty), str(o.avg_fill_price), int(o.created_ms),
        int(o.updated_ms), o.reject_reason, text(o.leg),
    )


def order_from_row(r: tuple) -> Order:
    return Order(
        client_id=r[0], order_id=r[1], symbol=r[2], side=Side(r[3]), qty=Decimal(r[4]),
        price=Decimal(r[5]), tif=TimeInForce(r[6]), status=OrderStatus(r[7]),
        filled_qty=Decimal(r[8]), avg_fill_price=Decimal(r[9]), created_ms=r[10],
        updated_ms=r[11], reject_reason=r[12], leg=Leg(r[13]),
    )


@value_type
class Snapshot:
    """One stored balance/position snapshot, numbers exact as written."""

    ts_ms: int
    spot_base: Decimal
    quote: Decimal
    futures_size: Decimal
    price: Decimal
    net_base: Decimal
    equity_quote: Decimal
    target_base: Decimal | None = None

    @property
    def gap_base(self) -> Decimal | None:
        return None if self.target_base is None else self.net_base - self.target_base
