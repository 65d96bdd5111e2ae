"""Pytest fixtures for the Bybit fake. Register from ``tests/conftest.py`` with

    pytest_plugins = ["tests.fakes.conftest_plugin"]

(or import the fixtures into a conftest).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .bybit import FakeBybit


@pytest.fixture
def bybit_fake() -> Iterator[FakeBybit]:
    """A started FakeBybit with default keys, balances and book; stopped after the test.

    Create pybit clients with ``loopback_http(bybit_fake, ...)`` /
    ``LoopbackWebSocket(bybit_fake.ws_base_url, ...)`` and ``exit()`` WebSockets before
    this fixture tears down (a fixture depending on ``bybit_fake`` does that naturally).
    """
    with FakeBybit() as fake:
        yield fake
