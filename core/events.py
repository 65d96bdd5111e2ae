"""Events a venue emits and commands the engine sends back.

Market data events are the value types themselves (``Trade``, ``Quote``, ``PerpTicker``);
the account and order events below wrap what changed. Everything is a frozen value, so an
event can be journaled, replayed and compared.
"""

from __future__ import annotations

from decimal import Decimal

from core.model import Balance, Fill, Order, OrderRequest, Position, PerpTicker, Quote, Trade
from core.values import value_type


@value_type
class OrderUpdate:
    ts_ms: int
    order: Order


@value_type
class FillEvent:
    fill: Fill

    @property
    def ts_ms(self) -> int:
        return self.fill.ts_ms


@value_type
class BalanceUpdate:
    ts_ms: int
    balances: tuple[Balance, ...]
    # a push stamped by the venue when it made the wallet: it holds every fill made before then
    # (a REST read's or the paper exchange's time says less; None)
    made_ms: int | None = None


@value_type
class PositionUpdate:
    ts_ms: int
    position: Position


@value_type
class ConnectionChanged:
    ts_ms: int
    connected: bool
    detail: str = ""


@value_type
class Reconciled:
    """The venue repaired its view of the account after a gap (what it found): for the record.
    A venue never writes the journal itself; the rebalancer's recorder does."""

    ts_ms: int
    what: str
    detail: str


@value_type
class Tick:
    """Timer event: lets time-based rules (waits, expiries, chases) run in a quiet market."""

    ts_ms: int


@value_type
class VenueProblem:
    """The venue reported a problem without a call to raise it in: a refused delayed command,
    a cancel that failed in the background, a key found read-only, a host clock off. (A call
    that fails raises ``core.venues.base.VenueError`` instead.) ``client_id`` names the order
    the refused call was about; ``fatal`` means the session cannot go on."""

    ts_ms: int
    message: str
    code: int | None = None
    client_id: str = ""
    fatal: bool = False


MarketEvent = Trade | Quote | PerpTicker
Event = (
    Trade | Quote | PerpTicker | OrderUpdate | FillEvent | BalanceUpdate | PositionUpdate
    | ConnectionChanged | Tick | VenueProblem
)


# ---------------------------------------------------------------- commands (engine -> venue)


@value_type
class PlaceOrder:
    request: OrderRequest


@value_type
class CancelOrder:
    client_id: str
    reason: str = ""


@value_type
class AmendOrder:
    client_id: str
    price: Decimal
    qty: Decimal | None = None


@value_type
class CancelAllOurs:
    reason: str = ""


Command = PlaceOrder | CancelOrder | AmendOrder | CancelAllOurs
