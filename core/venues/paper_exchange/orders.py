"""What the exchange keeps per order and per atomic action."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.model import Fill, Leg, Order, OrderRequest, OrderStatus, Side, TimeInForce

ZERO = Decimal(0)
EMPTY: tuple = ()
INF = float("inf")
NINF = float("-inf")
# the hot path's bounds when no order rests on a side: every real price is inside them, and a
# print of 0, a negative, an infinite or a NaN price falls outside, to the slow path that ignores it
LEAST_PRICE = 5e-324  # the least positive float
MOST_PRICE = 1.7976931348623157e308  # the greatest finite float


def dec(x: Any) -> Decimal:
    """float/int/str/Decimal -> Decimal via the shortest text (floats: 61837.63 stays exact)."""
    return x if isinstance(x, Decimal) else Decimal(str(x))


class BookOrder:
    """Mutable book entry for one of our orders; ``snapshot`` gives the frozen ``Order``."""

    __slots__ = (
        "client_id", "order_id", "symbol", "side", "qty", "price", "price_f", "tif", "status",
        "filled", "value", "created_ms", "updated_ms", "reject_reason", "seq", "locked",
        "ahead",
    )

    def __init__(self, req: OrderRequest, order_id: str, seq: int, created_ms: int, updated_ms: int) -> None:
        self.client_id = req.client_id
        self.order_id = order_id
        self.symbol = req.symbol
        self.side = req.side
        self.qty = req.qty
        self.price = req.price
        self.price_f = float(req.price)
        self.tif = req.tif
        self.status = OrderStatus.NEW
        self.filled = ZERO
        self.value = ZERO  # sum of fill price x qty, for the average fill price
        self.created_ms = created_ms
        self.updated_ms = updated_ms
        self.reject_reason = ""
        self.seq = seq
        self.locked = ZERO  # what this order holds: quote for a buy, base for a sell
        self.ahead: Decimal | None = None  # the queue ahead of it at its price; None: unknown

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled

    def snapshot(self) -> Order:
        avg = self.value / self.filled if self.filled else ZERO
        return Order(
            client_id=self.client_id, order_id=self.order_id, symbol=self.symbol, side=self.side,
            qty=self.qty, price=self.price, tif=self.tif, status=self.status,
            filled_qty=self.filled, avg_fill_price=avg, created_ms=self.created_ms,
            updated_ms=self.updated_ms, reject_reason=self.reject_reason, leg=Leg.SPOT,
        )

    def to_dict(self) -> dict:
        return {
            "client_id": self.client_id, "order_id": self.order_id, "symbol": self.symbol,
            "side": self.side.value, "qty": str(self.qty), "price": str(self.price),
            "tif": self.tif.value, "status": self.status.value, "filled": str(self.filled),
            "value": str(self.value), "created_ms": self.created_ms, "updated_ms": self.updated_ms,
            "reject_reason": self.reject_reason, "seq": self.seq, "locked": str(self.locked),
            "ahead": None if self.ahead is None else str(self.ahead),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "BookOrder":
        req = OrderRequest(d["client_id"], d["symbol"], Side(d["side"]), Decimal(d["qty"]),
                           Decimal(d["price"]), TimeInForce(d["tif"]))
        o = cls(req, d["order_id"], d["seq"], d["created_ms"], d["updated_ms"])
        o.status = OrderStatus(d["status"])
        o.filled = Decimal(d["filled"])
        o.value = Decimal(d["value"])
        o.reject_reason = d["reject_reason"]
        o.locked = Decimal(d["locked"])
        ahead = d.get("ahead")
        o.ahead = None if ahead is None else Decimal(ahead)
        return o


class Batch:
    """Collects what one atomic action changed, so events go out in Bybit's order."""

    __slots__ = ("orders", "fills")

    def __init__(self) -> None:
        self.orders: dict[str, BookOrder] = {}
        self.fills: list[Fill] = []

    def touch(self, o: BookOrder) -> None:
        self.orders.setdefault(o.client_id, o)
