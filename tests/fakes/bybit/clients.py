"""Real pybit clients pointed at the fake (reference section 1.4, option B: no global state).

pybit builds ``wss://...`` URLs from templates; the subclasses swap everything before
``/v5/`` for the fake's ``ws://127.0.0.1:PORT`` inside ``_connect``, which pybit also calls
with the formatted URL on every reconnect.
"""

from __future__ import annotations

from typing import Any

from pybit.unified_trading import HTTP, WebSocket, WebSocketTrading


def loopback_http(fake_or_url: Any, api_key: str | None = None, api_secret: str | None = None,
                  **kw: Any) -> HTTP:
    """A pybit ``HTTP`` session whose ``endpoint`` is the fake (or any ``http://`` base URL)."""
    base = fake_or_url if isinstance(fake_or_url, str) else fake_or_url.rest_url
    session = HTTP(api_key=api_key, api_secret=api_secret, **kw)
    session.endpoint = base
    return session


def _rebase(base_url: str, url: str) -> str:
    return base_url + url[url.index("/v5/"):]


class LoopbackWebSocket(WebSocket):
    """``pybit.unified_trading.WebSocket`` on ``base_url`` (e.g. ``fake.ws_base_url``).

    ``testnet`` defaults to False here (pybit requires it); everything else is pybit's.
    """

    def __init__(self, base_url: str, **kw: Any) -> None:
        self._base_url = base_url  # must exist before super().__init__, which connects
        kw.setdefault("testnet", False)
        super().__init__(**kw)

    def _connect(self, url: str) -> None:
        return super()._connect(_rebase(self._base_url, url))


class LoopbackWebSocketTrading(WebSocketTrading):
    """``pybit.unified_trading.WebSocketTrading`` (order entry over ``/v5/trade``) on ``base_url``."""

    def __init__(self, base_url: str, **kw: Any) -> None:
        self._base_url = base_url
        kw.setdefault("testnet", False)
        super().__init__(**kw)

    def _connect(self, url: str) -> None:
        return super()._connect(_rebase(self._base_url, url))
