"""The bundled trading rules paper and replay use (``core.instruments``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.instruments import UnknownSymbol, bundled, known_symbols, split_symbol
from core.model import BTCUSDT_SPOT, Leg


def test_btcusdt_keeps_its_rules():
    spot, linear = bundled("BTCUSDT")
    assert spot is BTCUSDT_SPOT and linear.leg is Leg.LINEAR


@pytest.mark.parametrize("symbol, base, tick, step", [
    ("ETHUSDT", "ETH", "0.01", "0.00001"),
    ("SOLUSDT", "SOL", "0.01", "0.001"),
    ("XRPUSDT", "XRP", "0.0001", "0.01"),
    ("DOGEUSDT", "DOGE", "0.00001", "0.1"),
])
def test_each_bundled_symbol_has_its_own_rules(symbol, base, tick, step):
    spot, linear = bundled(symbol)
    assert (spot.symbol, spot.base, spot.quote) == (symbol, base, "USDT")
    assert (spot.tick_size, spot.qty_step) == (Decimal(tick), Decimal(step))
    assert spot.tick_size != BTCUSDT_SPOT.tick_size or spot.qty_step != BTCUSDT_SPOT.qty_step
    assert linear.symbol == symbol and linear.leg is Leg.LINEAR


def test_an_unknown_symbol_is_refused_with_a_did_you_mean():
    with pytest.raises(UnknownSymbol, match="did you mean ETHUSDT") as err:
        bundled("ETHUSTD")
    assert "instrument:" in str(err.value)
    with pytest.raises(UnknownSymbol) as err:
        bundled("PEPEUSDT")
    assert "PEPEUSDT" in str(err.value) and "BTCUSDT" in str(err.value)


def test_split_symbol():
    assert split_symbol("ETHUSDT") == ("ETH", "USDT")
    assert split_symbol("SOLUSDC") == ("SOL", "USDC")
    assert split_symbol("ODD") == ("ODD", "")
    assert len(known_symbols()) >= 5
