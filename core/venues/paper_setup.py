"""A paper account as the config's ``paper:`` block describes it: the simulated exchange with its
starting balances, futures position and fee rates (``paper.fees``), and the simulated grid bot
started at the first price.

Shared by the live paper session and by replay, so both start from the same account.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from core.config import AppConfig, ConfigError, GridConfig
from core.instruments import for_config
from core.model import BTCUSDT_LINEAR, Fill, Instrument, Leg, Side
from core.venues.grid import GridBot
from core.venues.market import MarketData, MarketDataError, load_market
from core.venues.paper_exchange import FeeSchedule, FillModel, PaperExchange


def load_paper_market(cfg: AppConfig) -> MarketData:
    """The recorded market ``paper.market`` names, loaded whole, or a ``ConfigError`` naming the
    key. ``check-config`` and a start both call this: an OK must mean the start will not trip on
    a truncated gzip, an out-of-order file or a file with no trades (a BBO file alone)."""
    market = cfg.paper.market
    files = market if isinstance(market, list) else [market]
    try:
        data = load_market(files)
    except MarketDataError as e:
        raise ConfigError(cfg.path, "paper.market", str(e)) from None
    if not len(data.trades):
        raise ConfigError(cfg.path, "paper.market", f"{', '.join(map(str, files))}: no trades or klines in it: the paper exchange "
                          "needs them (a header with no rows, or quotes alone, cannot drive it)")
    return data


def build_grid(cfg: GridConfig | None, first_price: float, instrument: Instrument = BTCUSDT_LINEAR) -> GridBot | None:
    if cfg is None:
        return None
    lower, upper = cfg.lower, cfg.upper
    if lower is None or upper is None:
        lower = first_price * (1 - cfg.span_pct / 100.0)
        upper = first_price * (1 + cfg.span_pct / 100.0)
    return GridBot(lower=lower, upper=upper, levels=cfg.levels, qty_per_level=cfg.qty_per_level, mode=cfg.mode,
                   instrument=instrument)


def fee_schedule(cfg: AppConfig, linear_from: FeeSchedule = FeeSchedule()) -> FeeSchedule:
    """The spot rates of ``paper.fees`` (a tier or explicit rates); the linear rates are
    ``linear_from``'s (Bybit's base by default)."""
    maker, taker = cfg.paper.fees.rates
    return replace(linear_from, spot_maker=Decimal(str(maker)), spot_taker=Decimal(str(taker)))


def fill_model(cfg: AppConfig, *, bars: bool = False) -> FillModel:
    """The config's fill model; ``bars``: the market data is 1-minute bars expanded to prints."""
    p = cfg.paper
    return FillModel(kind=p.fill_model, half_spread_bps=p.half_spread_bps, bar_volume_share=p.bar_volume_share,
                     bar_through_bps=p.bar_through_bps, bars=bars)


def build_paper(cfg: AppConfig, first_price: float, ts_ms: int, *,
                bars: bool = False) -> tuple[PaperExchange, GridBot | None]:
    """A paper account as the config's ``paper:`` block describes it, grid started at the first price;
    ``bars``: the market is 1-minute bars (``TradeTape.from_bars``), filled by the bar rules.
    (``PaperExchange`` is looked up when called: tests swap in one that keeps every fill.)"""
    p = cfg.paper
    spot, linear = for_config(cfg)  # the symbol's own rules (refused when unknown)
    ex = PaperExchange(spot=spot, linear=linear,
                       balances={spot.base: Decimal(str(p.base_balance)),
                                 spot.quote: Decimal(str(p.quote_balance))},
                       fees=fee_schedule(cfg), latency_ms=p.latency_ms,
                       synthetic_spread_ticks=p.synthetic_spread_ticks, fill_model=fill_model(cfg, bars=bars))
    if p.futures_size:
        entry = p.futures_entry or first_price
        size = Decimal(str(p.futures_size))
        ex.apply_grid_fill(Fill(ts_ms=ts_ms, exec_id="initial-position", symbol=linear.symbol,
                                side=Side.BUY if size > 0 else Side.SELL, price=Decimal(str(entry)),
                                qty=abs(size), fee=Decimal(0), fee_coin="USDT", is_maker=True,
                                leg=Leg.LINEAR, source="initial"))
    grid = build_grid(p.grid, first_price, linear)
    if grid is not None:
        for f in grid.start(first_price, ts_ms):
            ex.apply_grid_fill(f)
        ex.grid = grid
    return ex, grid
