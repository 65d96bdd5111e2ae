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


def test_one_symbol_splitter_for_labels_fees_and_balances():
    """The cockpit's labels, the report's fee conversion and Bybit's balance coins split a
    symbol the same way (they were three copies that disagreed: BTCFDUSD, ETHBTC)."""
    from core.report import fee_in_quote  # noqa: F401 - imports the shared splitter
    from core.venues import bybit_reads
    from tui import fmt

    for sym, want in [("BTCFDUSD", ("BTC", "FDUSD")), ("ETHBTC", ("ETH", "BTC")), ("solusdt", ("SOL", "USDT")),
                      ("XUSDE", ("X", "USDE"))]:
        assert split_symbol(sym) == want
        assert fmt.split_symbol(sym) == want
        assert bybit_reads.split_symbol(sym) == want
    assert fmt.split_symbol("ODD") == ("ODD", "quote")  # a label still names the unit
    assert bybit_reads.split_symbol("ODD") == ("ODD", "USDT")
    import core.report as report

    assert not hasattr(report, "_split_symbol")
