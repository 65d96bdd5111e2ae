"""What the market and the ledger hand to the WebSocket hub.

The trading state is pure and synchronous; it returns these records instead of talking to
sockets, so the order of pushes (order -> execution -> wallet) is decided in one place and
the state can be unit-tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PublicPush:
    """A complete public frame (``topic``, ``type``, ``ts``, ``data``...) for one channel."""

    channel: str  # "spot" | "linear"
    topic: str  # e.g. "orderbook.1.BTCUSDT"
    message: dict = field(hash=False)


@dataclass(frozen=True)
class PrivatePush:
    """Items for one all-in-one private topic; the hub wraps them in ``{id, topic, creationTime, data}``."""

    topic: str  # "order" | "execution" | "wallet" | "position"
    data: list = field(hash=False)


Push = PublicPush | PrivatePush
