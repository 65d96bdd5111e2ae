"""Events a venue emits and commands the engine sends back.

Market data events are the value types themselves (``Trade``, ``Quote``, ``PerpTicker``);
the account and order events below wrap what changed. Everything is a frozen value, so an
event can be journaled, replayed and compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.model import Balance, Fill, Order, OrderRequest, Position, PerpTicker, Quote, Trade


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    ts_ms: int
    order: Order


@dataclass(frozen=True, slots=True)
class FillEvent:
    fill: Fill

    @property
    def ts_ms(self) -> int:
        return self.fill.ts_ms


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    ts_ms: int
    balances: tuple[Balance, ...]


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    ts_ms: int
    position: Position


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    ts_ms: int
    connected: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    """Timer event: lets time-based rules (waits, expiries, chases) run in a quiet market."""

    ts_ms: int


@dataclass(frozen=True, slots=True)
class VenueError:
    ts_ms: int
    message: str
    code: int | None = None
    client_id: str = ""
    fatal: bool = False


MarketEvent = Trade | Quote | PerpTicker
Event = (
    Trade | Quote | PerpTicker | OrderUpdate | FillEvent | BalanceUpdate | PositionUpdate
    | ConnectionChanged | Tick | VenueError
)


# ---------------------------------------------------------------- commands (engine -> venue)


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    request: OrderRequest


@dataclass(frozen=True, slots=True)
class CancelOrder:
    client_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AmendOrder:
    client_id: str
    price: Decimal
    qty: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CancelAllOurs:
    reason: str = ""


Command = PlaceOrder | CancelOrder | AmendOrder | CancelAllOurs
