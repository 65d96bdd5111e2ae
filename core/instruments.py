"""The trading rules of the symbols paper and replay know without asking a venue.

A live session reads its symbol's rules from Bybit (instruments-info, spot and linear) and
never uses this table for orders. Paper and replay have no venue to ask, so they use these
rules -- a snapshot of Bybit's most-traded USDT spot symbols and their perpetuals -- or the
config's ``instrument:`` override for any other symbol. A symbol neither knows is refused
(with a did-you-mean), never simulated with another symbol's rules.
"""

from __future__ import annotations

import difflib
from decimal import Decimal

from typing import TYPE_CHECKING

from core.errors import RebalancerError
from core.model import BTCUSDT_LINEAR, BTCUSDT_SPOT, QUOTES, Instrument, Leg, split_symbol

if TYPE_CHECKING:
    from core.config import AppConfig

D = Decimal

# symbol: (spot tick, spot qty step, spot min qty, spot min notional, perp tick, perp qty step)
# Bybit's published rules (min qty moves with price; the min notional of 5 USDT is what binds).
_TABLE: dict[str, tuple[str, str, str, str, str, str]] = {
    "ETHUSDT": ("0.01", "0.00001", "0.00001", "5", "0.01", "0.01"),
    "SOLUSDT": ("0.01", "0.001", "0.001", "5", "0.01", "0.1"),
    "XRPUSDT": ("0.0001", "0.01", "0.01", "5", "0.0001", "1"),
    "DOGEUSDT": ("0.00001", "0.1", "0.1", "5", "0.00001", "1"),
    "BNBUSDT": ("0.1", "0.001", "0.001", "5", "0.01", "0.01"),
    "ADAUSDT": ("0.0001", "0.01", "0.01", "5", "0.0001", "1"),
    "LTCUSDT": ("0.01", "0.001", "0.001", "5", "0.01", "0.1"),
    "LINKUSDT": ("0.001", "0.01", "0.01", "5", "0.001", "0.1"),
}
# where a paper market of the symbol starts when its config does not say (USDT, a recent typical level)
_TYPICAL_PRICE: dict[str, float] = {
    "BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0, "XRPUSDT": 0.6, "DOGEUSDT": 0.15,
    "BNBUSDT": 600.0, "ADAUSDT": 0.45, "LTCUSDT": 80.0, "LINKUSDT": 15.0,
}


class UnknownSymbol(RebalancerError):
    """Paper or replay asked for a symbol whose rules are neither bundled nor configured."""


def known_symbols() -> tuple[str, ...]:
    return (BTCUSDT_SPOT.symbol, *_TABLE)


def typical_price(symbol: str) -> float | None:
    """A paper market's default start price for a bundled symbol (None: not bundled)."""
    return _TYPICAL_PRICE.get(symbol)


def bundled(symbol: str) -> tuple[Instrument, Instrument]:
    """(spot, linear) rules of a bundled symbol; ``UnknownSymbol`` with a did-you-mean otherwise."""
    if symbol == BTCUSDT_SPOT.symbol:
        return BTCUSDT_SPOT, BTCUSDT_LINEAR
    row = _TABLE.get(symbol)
    if row is None:
        close = difflib.get_close_matches(symbol, known_symbols(), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UnknownSymbol(
            f"no trading rules for {symbol} here (paper and replay know {', '.join(known_symbols())}{hint}); "
            f"give its rules under 'instrument:' in the config (tick_size, qty_step, min_qty, min_notional)")
    tick, step, min_qty, min_notional, perp_tick, perp_step = row
    base, quote = split_symbol(symbol)
    spot = Instrument(symbol=symbol, base=base, quote=quote, tick_size=D(tick), qty_step=D(step),
                      min_qty=D(min_qty), min_notional=D(min_notional))
    linear = Instrument(symbol=symbol, base=base, quote=quote, tick_size=D(perp_tick), qty_step=D(perp_step),
                        min_qty=D(perp_step), min_notional=D("5"), leg=Leg.LINEAR)
    return spot, linear


def for_config(cfg: AppConfig) -> tuple[Instrument, Instrument]:
    """(spot, linear) rules for the config's symbol: its ``instrument:`` block, else the bundled table."""
    i = cfg.instrument
    if i is None:
        return bundled(cfg.symbol)
    base, quote = split_symbol(cfg.symbol)

    def dec(x: float) -> Decimal:
        return D(repr(x))
    spot = Instrument(symbol=cfg.symbol, base=base, quote=quote, tick_size=dec(i.tick_size), qty_step=dec(i.qty_step),
                      min_qty=dec(i.min_qty), min_notional=dec(i.min_notional))
    perp_step = dec(i.perp_qty_step or i.qty_step)
    linear = Instrument(symbol=cfg.symbol, base=base, quote=quote, tick_size=dec(i.perp_tick_size or i.tick_size),
                        qty_step=perp_step, min_qty=perp_step, min_notional=dec(i.min_notional), leg=Leg.LINEAR)
    return spot, linear


__all__ = ["QUOTES", "UnknownSymbol", "bundled", "for_config", "known_symbols", "split_symbol", "typical_price"]
