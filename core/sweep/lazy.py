"""The lazy-hedge bound: the least trading that holds a band, on the very grid path a replay sees.

What it is. Without rebalancing, the account's gap moves only when the simulated grid bot
fills (the futures leg); that path does not depend on the policy, so it is computed once per
data set (``unhedged_path``: the replay's own paper account and grid, fed the same trades).
The *lazy hedge* for a band ``b`` then trades only when ``|gap| > b``, and only back to the
band's edge (``|gap| = b``), at the taker fee with no spread and no drift. Any hedge that keeps
``|gap| <= b`` at all times must trade at least that much: each breach has to be undone at
least down to the edge, and trading further in only adds volume. So for a band held at all
times its volume and fee are a floor. Drawn against the time-weighted mean |gap| it holds (the
frontier's axis) it is the yardstick, not a strict floor: a policy that trades back towards the
centre holds a lower mean |gap| for the same volume (the issue measured the anchor policy at
0.8-1.1x the lazy volume for its mean |gap|).

Why it is a fair yardstick and not a strategy: it reacts to each grid fill at the fill's
instant and price, which no real order can do, and it ignores minimum order sizes.

Tracking is measured as ``GapStats`` does (|gap| integrated over time between account
changes) against the sweep's common band, with the replay's rule (a |gap| at or over the band
counts as over): the lazy hedge for exactly the common band sits on its edge and counts as over;
one a hair narrower is never over. The ladder of bands drawn (``bands_for``) stays off that edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.config import AppConfig
from core.events import BalanceUpdate, PositionUpdate
from core.model import BTCUSDT_SPOT, Side
from core.session import build_rebalancer
from core.venues.market import MarketData, no_trades_reason
from core.venues.paper_setup import build_paper


@dataclass(frozen=True)
class GapPath:
    """The unhedged gap: ``gap0`` at ``t0``, then at each grid fill (ts, the gap after it, price), to ``t1``."""

    t0: int
    t1: int
    gap0: float
    price0: float
    steps: tuple[tuple[int, float, float], ...]
    taker_fee_rate: float
    default_band: float  # the policy's hard threshold at the first price (replay's default band)


@dataclass(frozen=True)
class LazyPoint:
    """One lazy hedge: its band, the tracking it holds against the common band, and what it costs."""

    band: float
    mean_abs_gap_base: float
    pct_time_over_band: float
    volume_base: float
    cost_quote: float
    cost_bps: float
    trades: int


def unhedged_path(cfg: AppConfig, market: MarketData, *, policy: str | None = None) -> GapPath:
    """The gap with no rebalancing: the replay's starting account and grid, fed every trade."""
    trades = market.trades
    if len(trades) == 0:
        raise ValueError(no_trades_reason(market))
    ts_arr, px_arr = trades.ts_ms, trades.price
    t0, p0 = ts_arr[0], px_arr[0]
    ex, grid = build_paper(cfg, p0, t0)
    reb = build_rebalancer(cfg, venue_name="replay", instrument=BTCUSDT_SPOT, mode="watch", policy=policy,
                           maker_fee_rate=float(ex.fees.spot_maker), taker_fee_rate=float(ex.fees.spot_taker))
    reb.on_event(BalanceUpdate(t0, ex.balances()))
    reb.on_event(PositionUpdate(t0, ex.position()))
    gap0 = reb.gap_base()
    band = reb.policy.band_base(p0, reb.book.spot_total, reb.book.equity_quote(p0))
    steps: list[tuple[int, float, float]] = []
    if grid is not None:
        on_price = grid.on_price
        buy = Side.BUY
        level = Decimal(repr(gap0))  # summed exactly, as the account books it: a gap of exactly the
        for ts, px in zip(ts_arr, px_arr):  # band counts as over it, as in the replay
            fills = on_price(ts, px)
            if fills:
                for f in fills:
                    level += f.qty if f.side is buy else -f.qty
                steps.append((ts, float(level), px))
    t1 = max(ts_arr[-1], market.end_ms or ts_arr[-1])
    return GapPath(t0, t1, gap0, p0, tuple(steps), float(ex.fees.spot_taker), band)


def lazy_hedge(path: GapPath, band: float, common_band: float) -> LazyPoint:
    """The lazy hedge holding ``band`` (base) on ``path``; tracking measured against ``common_band``."""
    gap = path.gap0
    since = path.t0
    integral = over = 0.0
    volume = notional = cost = 0.0
    trades = 0
    fee = path.taker_fee_rate

    def hedge(g: float, px: float) -> float:
        nonlocal volume, notional, cost, trades
        a = g if g >= 0 else -g
        if a > band:
            q = a - band
            volume += q
            notional += q * px
            cost += q * px * fee
            trades += 1
            return band if g > 0 else -band
        return g

    gap = hedge(gap, path.price0)  # a start already past the band is undone at once
    held = gap - path.gap0  # the lazy hedge's position: gap = unhedged gap + held
    for ts, level, px in path.steps:
        if ts > since:
            a = gap if gap >= 0 else -gap
            dt = ts - since
            integral += a * dt
            if a >= common_band:
                over += dt
            since = ts
        raw = level + held
        gap = hedge(raw, px)
        held += gap - raw
    total = path.t1 - path.t0
    if path.t1 > since:
        a = abs(gap)
        integral += a * (path.t1 - since)
        if a >= common_band:
            over += path.t1 - since
    return LazyPoint(
        band=band,
        mean_abs_gap_base=integral / total if total else abs(gap),
        pct_time_over_band=over / total * 100.0 if total else 0.0,
        volume_base=volume,
        cost_quote=cost,
        cost_bps=fee * 1e4,  # the taker fee and nothing else, by construction
        trades=trades,
    )


def lazy_curve(path: GapPath, bands: list[float], common_band: float) -> list[LazyPoint]:
    """The lazy hedge for each band, narrowest first (the bound drawn as a line)."""
    return [lazy_hedge(path, b, common_band) for b in sorted(set(bands))]


def bands_for(mean_gaps: list[float], common_band: float, n: int = 40) -> list[float]:
    """Bands whose lazy hedges span the tracking the configs reached (a geometric ladder)."""
    finite = [g for g in mean_gaps if g and g > 0]
    lo = min(finite + [common_band / 10]) * 0.8
    hi = max(finite + [common_band]) * 3.0
    ratio = (hi / lo) ** (1 / (n - 1))
    return [lo * ratio ** i for i in range(n)]
