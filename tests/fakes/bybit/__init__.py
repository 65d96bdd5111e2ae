"""A loopback fake of Bybit's v5 REST + WebSocket API for the real pybit client.

    from tests.fakes.bybit import FakeBybit, loopback_http, LoopbackWebSocket, DEFAULT_KEY, DEFAULT_SECRET

    with FakeBybit() as fake:
        http = loopback_http(fake, DEFAULT_KEY, DEFAULT_SECRET)
        ws = LoopbackWebSocket(fake.ws_base_url, channel_type="spot")

Modules: ``server`` (FakeBybit, the control surface), ``ledger`` (account + matcher),
``market`` (book/trades/candles/tickers), ``rest`` (routes, auth pipeline), ``ws`` (streams,
WS faults), ``auth`` (signatures), ``faults`` (queued REST faults), ``observe`` (request
counts, wait_until), ``httpserver`` (tiny HTTP/1.1), ``clients`` (pybit pointed at the fake).
"""

from .auth import DEFAULT_KEY, DEFAULT_SECRET, READONLY_KEY, READONLY_SECRET, ApiKey
from .clients import LoopbackWebSocket, LoopbackWebSocketTrading, loopback_http
from .instruments import SYMBOL
from .ledger import CoinBalance, Fill, LinearPosition, Order, OrderError
from .server import FakeBybit

__all__ = [
    "FakeBybit", "loopback_http", "LoopbackWebSocket", "LoopbackWebSocketTrading",
    "DEFAULT_KEY", "DEFAULT_SECRET", "READONLY_KEY", "READONLY_SECRET", "ApiKey", "SYMBOL",
    "Order", "Fill", "CoinBalance", "LinearPosition", "OrderError",
]
