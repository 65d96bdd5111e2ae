"""The policy's soft / hard thresholds in every unit at one price: what ``check-config`` prints.

Thresholds in ``base`` do not carry across symbols (0.02 is 1,200 USDT of BTC but 60 USDT of
ETH); in ``quote`` or ``pct_of_equity`` they do, but what they mean in coins moves with price.
Showing each threshold as base, quote, % of the spot notional and % of equity at a stated
price lets a trader carry a config to another symbol knowingly.

The price: ``--price`` when given; paper: ``paper.start_price`` (synthetic market) or the first
price of the first market file; a live venue has no price before it connects, so the paper start
price stands in and the output says so. The conversion to base is the policy's own
(``base_thresholds``), so the figures are the ones a decision at that price would use.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from core.account import spot_exposure
from core.config import AppConfig
from core.instruments import split_symbol
from core.policy import INF, make_policy
from core.venues.market.schemas import PRICE, detect_schema, header_names

UNITS = ("base", "quote", "pct_of_spot_notional", "pct_of_equity")


@dataclass(frozen=True)
class ThresholdTable:
    """Soft and hard in every unit (None: not known without the equity or the spot wallet)."""

    policy: str
    configured_units: str
    price: float
    price_from: str
    equity: float | None
    spot_base: float | None
    soft: dict[str, float | None]
    hard: dict[str, float | None]

    def to_dict(self) -> dict:
        return {"policy": self.policy, "configured_units": self.configured_units, "price": self.price,
                "price_from": self.price_from, "equity_quote": self.equity, "spot_base": self.spot_base,
                "soft": dict(self.soft), "hard": dict(self.hard)}

    def lines(self, symbol: str) -> list[str]:
        base, quote = split_symbol(symbol, unknown_quote="USDT")
        eq = "equity unknown (live: read at start; --equity E)" if self.equity is None \
            else f"equity {self.equity:,.2f} {quote}"
        spot = "spot wallet unknown" if self.spot_base is None else f"spot {self.spot_base:g} {base}"
        out = [f"thresholds ({self.policy}, configured in {self.configured_units}) at {self.price:,.8g} {quote} "
               f"({self.price_from}), {eq}, {spot}:"]
        for name, row in (("soft", self.soft), ("hard", self.hard)):
            parts = [_fmt(row["base"], ".8g", f" {base}"), _fmt(row["quote"], ",.2f", f" {quote}"),
                     _fmt(row["pct_of_spot_notional"], ".4g", " % of spot notional"),
                     _fmt(row["pct_of_equity"], ".4g", " % of equity")]
            out.append(f"  {name}: " + " = ".join(parts))
        return out


def _fmt(x: float | None, spec: str, unit: str) -> str:
    return ("n/a" if x is None else format(x, spec)) + unit


def first_price(path: str | Path) -> float | None:
    """The first row's price (a trade's price, a bar's open, a quote's bid) of a market file;
    None when it cannot be read (the preflight names the file)."""
    p = Path(path)
    try:
        with (gzip.open(p, "rt", encoding="utf-8") if p.suffix == ".gz" else p.open(encoding="utf-8")) as f:
            header, row = f.readline(), f.readline()
        schema = detect_schema(header, str(p))
    except (OSError, UnicodeDecodeError, EOFError, ValueError):
        return None
    cells = row.strip().split(",")
    if len(header_names(header)) != len(cells) and not schema.extra_ok:
        return None
    for index, kind in schema.used:
        if kind == PRICE:
            try:
                return float(cells[index])
            except (IndexError, ValueError):
                return None
    return None


def reference_price(cfg: AppConfig, given: float | None = None) -> tuple[float, str]:
    """The price to show the thresholds at, and where it came from."""
    if given is not None:
        return given, "--price"
    market = cfg.paper.market
    if cfg.venue == "paper" and market != "synthetic":
        name = market if isinstance(market, str) else market[0]
        px = first_price(name)
        if px is not None and px > 0:
            return px, f"the first price in {Path(name).name}"
    if cfg.venue == "paper":
        return cfg.paper.start_price, "paper.start_price"
    return cfg.paper.start_price, f"paper.start_price standing in: {cfg.venue} reads the price at start; --price P"


def threshold_table(cfg: AppConfig, *, price: float | None = None, equity: float | None = None) -> ThresholdTable:
    """The configured policy's thresholds at the reference price (``price`` overrides it) and
    equity (paper: the paper account's at that price; live: ``equity`` or unknown)."""
    px, source = reference_price(cfg, price)
    r = cfg.rebalancer
    spot: float | None = None
    if cfg.venue == "paper":
        p = cfg.paper
        spot = spot_exposure(p.base_balance, r.spot_reserve_base)
        if equity is None:
            entry = p.futures_entry or px
            equity = p.base_balance * px + p.quote_balance + p.futures_size * (px - entry)
    policy = make_policy(r)
    soft_b, hard_b = policy.thresholds_base(spot or 0.0, px, equity)
    return ThresholdTable(policy=policy.name, configured_units=policy.threshold_units, price=px, price_from=source,
                          equity=equity, spot_base=spot, soft=_every_unit(soft_b, px, equity, spot),
                          hard=_every_unit(hard_b, px, equity, spot))


def _every_unit(base: float, price: float, equity: float | None, spot: float | None) -> dict[str, float | None]:
    known = base != INF
    return {
        "base": base if known else None,
        "quote": base * price if known else None,
        "pct_of_spot_notional": base / abs(spot) * 100.0 if known and spot else None,
        "pct_of_equity": base * price / equity * 100.0 if known and equity and equity > 0 else None,
    }


__all__ = ["UNITS", "ThresholdTable", "first_price", "reference_price", "threshold_table"]
