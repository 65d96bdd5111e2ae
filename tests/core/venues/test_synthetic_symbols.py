"""The synthetic market for any symbol (issue 18): on the symbol's tick and qty step with sizes
scaled to the same USDT value, and correlated paths from one common driver."""

from __future__ import annotations

import math

from core.model import Trade
from core.venues.market import SyntheticMarket

T0 = 1_700_000_000_000
HOURS = 6


def minute_returns(sm: SyntheticMarket) -> dict[int, float]:
    last: dict[int, float] = {}
    for ev in sm.events(until_ms=T0 + HOURS * 3_600_000):
        if type(ev) is Trade:
            last[ev.ts_ms // 60_000] = ev.price
    return {m: math.log(last[m] / last[m - 1]) for m in last if m - 1 in last}


def correlation(a: dict[int, float], b: dict[int, float]) -> float:
    keys = sorted(set(a) & set(b))
    xs, ys = [a[k] for k in keys], [b[k] for k in keys]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return cov / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def test_a_shared_driver_correlates_two_symbols_paths():
    def pair(beta: float) -> float:
        btc = SyntheticMarket(seed=7, start_ms=T0, start_price=60_000, driver_beta=beta, driver_seed=7)
        eth = SyntheticMarket(seed=8, start_ms=T0 + 3, start_price=3_000, driver_beta=beta, driver_seed=7)
        return correlation(minute_returns(btc), minute_returns(eth))

    assert abs(pair(0.0)) < 0.2  # their own paths
    assert pair(0.7) > 0.3  # most of the moves from one driver


def test_without_a_driver_the_market_is_exactly_what_it_was():
    plain = SyntheticMarket(seed=7, start_ms=T0, start_price=60_000)
    explicit = SyntheticMarket(seed=7, start_ms=T0, start_price=60_000, driver_beta=0.0, driver_seed=99, size_scale=1.0)
    until = T0 + 600_000
    assert list(plain.events(until)) == list(explicit.events(until))


def test_a_cheap_coin_trades_on_its_tick_and_step_in_more_units():
    sol = SyntheticMarket(seed=7, start_ms=T0, start_price=150, tick=0.01, qty_step=0.001, size_scale=400)
    trades = [ev for ev in sol.events(T0 + 600_000) if type(ev) is Trade]
    assert trades and all(round(t.qty / 0.001) * 0.001 == t.qty or abs(round(t.qty * 1000) - t.qty * 1000) < 1e-6
                          for t in trades)
    assert min(t.qty for t in trades) >= 0.0005 * 400  # sizes worth what BTC's are in USDT
    assert 140 < trades[-1].price < 160
