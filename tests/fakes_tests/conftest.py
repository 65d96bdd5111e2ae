"""Fixtures for the fake's own tests: the shared ``bybit_fake`` plus pybit clients on it."""

from __future__ import annotations

import pytest

from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET, LoopbackWebSocket, loopback_http
from tests.fakes.conftest_plugin import bybit_fake  # noqa: F401  (re-exported fixture)


@pytest.fixture
def http(bybit_fake):  # noqa: F811
    """Trade-key pybit HTTP with retries disabled ({-1}: an empty set means 'defaults')."""
    return loopback_http(bybit_fake, DEFAULT_KEY, DEFAULT_SECRET, retry_codes={-1})


@pytest.fixture
def open_ws(bybit_fake):  # noqa: F811
    """Factory for pybit WebSockets on the fake; all are exit()-ed before the fake stops."""
    made: list[LoopbackWebSocket] = []

    def make(channel_type: str, **kw) -> LoopbackWebSocket:
        if channel_type == "private":
            kw.setdefault("api_key", DEFAULT_KEY)
            kw.setdefault("api_secret", DEFAULT_SECRET)
        ws = LoopbackWebSocket(bybit_fake.ws_base_url, channel_type=channel_type, **kw)
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.exit()
