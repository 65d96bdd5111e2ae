"""A seeded synthetic spot market (GARCH volatility, regimes, fat tails) for running with no files."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from core.model import Quote, Trade
from core.venues.market.data import MarketData, SourceInfo
from core.venues.market.tapes import SIDE_OF, QuoteTape, TradeTape

# (name, weight, volatility multiplier, drift in log-price per hour)
_REGIMES: tuple[tuple[str, float, float, float], ...] = (
    ("calm", 0.25, 0.45, 0.0),
    ("normal", 0.30, 1.0, 0.0),
    ("active", 0.18, 1.8, 0.0),
    ("trend_up", 0.11, 1.15, +0.004),
    ("trend_down", 0.11, 1.35, -0.005),
    ("storm", 0.05, 3.2, 0.0),
)
_SECONDS_PER_YEAR = 365.25 * 86400.0


class SyntheticMarket:
    """A seeded, deterministic spot market for running the cockpit with no data files.

    Not a plain random walk: log returns have GARCH(1,1) variance (updated every
    ``garch_step_s`` of simulated time from the realised return, per-second units), and the
    level it reverts to switches between regimes (calm, normal, active,
    trending, storm) lasting ``regime_mean_s`` on average. Events arrive at exponential
    intervals, faster when the market is volatile. Every event moves the fair price and the
    quote (1-3 tick spread on the 0.01 tick, wider when volatile); most also print a trade at
    the touch on the taker's side, whose side leans with the move. Shocks are a scale mixture
    of normals (fat tails); trade and book sizes are Pareto (heavy-tailed).

    ``events()`` and ``tape()`` both replay the same stream from ``start_ms`` with a fresh
    ``random.Random(seed)``, so they agree and can be called any number of times.
    """

    def __init__(
        self,
        seed: int,
        start_ms: int,
        start_price: float = 60000.0,
        *,
        trades_per_s: float = 3.0,
        annual_vol: float = 0.4,
        tick: float = 0.01,
        qty_step: float = 0.000001,
        min_trade_qty: float = 0.0005,
        max_trade_qty: float = 20.0,
        quote_only_prob: float = 0.35,
        regime_mean_s: float = 7200.0,
        garch_step_s: float = 10.0,
        garch_alpha: float = 0.04,
        garch_beta: float = 0.955,
        jump_prob: float = 0.08,
        jump_scale: float = 3.3,
        size_scale: float = 1.0,
        driver_beta: float = 0.0,
        driver_seed: int = 0,
    ) -> None:
        if start_price <= 0 or tick <= 0 or trades_per_s <= 0 or annual_vol <= 0:
            raise ValueError("start_price, tick, trades_per_s and annual_vol must be > 0")
        if not (0 <= quote_only_prob < 1):
            raise ValueError("quote_only_prob must be in [0, 1)")
        if not (0 <= garch_alpha and 0 <= garch_beta and garch_alpha + garch_beta < 1):
            raise ValueError("GARCH needs alpha, beta >= 0 and alpha + beta < 1")
        if size_scale <= 0:
            raise ValueError("size_scale must be > 0")
        if not (0 <= driver_beta <= 1):
            raise ValueError("driver_beta must be in [0, 1]")
        if not (0 <= jump_prob < 1) or jump_scale < 1:
            raise ValueError("need 0 <= jump_prob < 1 and jump_scale >= 1")
        self.seed = seed
        self.start_ms = int(start_ms)
        self.start_price = float(start_price)
        self.trades_per_s = float(trades_per_s)
        self.annual_vol = float(annual_vol)
        self.tick = float(tick)
        self.qty_step = float(qty_step)
        self.min_trade_qty = float(min_trade_qty)
        self.max_trade_qty = float(max_trade_qty)
        self.quote_only_prob = float(quote_only_prob)
        self.regime_mean_s = float(regime_mean_s)
        self.garch_step_s = float(garch_step_s)
        self.garch_alpha = float(garch_alpha)
        self.garch_beta = float(garch_beta)
        self.jump_prob = float(jump_prob)
        self.jump_scale = float(jump_scale)
        self.size_scale = float(size_scale)  # trade and book sizes x this (a cheaper coin trades more units)
        # correlated markets: this share of the moves comes from a driver common to every market
        # with the same driver_seed (a random walk on whole wall seconds from the hour the market
        # starts in), the rest from its own path; 0 = its own path alone, exactly as before
        self.driver_beta = float(driver_beta)
        self.driver_seed = int(driver_seed)

    def __repr__(self) -> str:
        return f"SyntheticMarket(seed={self.seed!r}, start_ms={self.start_ms}, start_price={self.start_price})"

    def _raw(self, until_ms: int | None) -> Iterator[tuple]:
        """The stream as tuples: (0, ts, bid, bid_qty, ask, ask_qty) or (1, ts, price, qty, side).

        Everything is local variables in one loop: a simulated day must take seconds.
        """
        rng = random.Random(self.seed)
        rand = rng.random
        gauss = rng.gauss
        log, exp, sqrt, floor, tanh = math.log, math.exp, math.sqrt, math.floor, math.tanh

        # prices and sizes are made as integer steps / steps-per-unit: the division yields the
        # double nearest the decimal (what round() would give), at a fraction of its cost
        px_scale = self._steps_per_unit(self.tick, "tick")
        q_scale = self._steps_per_unit(self.qty_step, "qty_step")
        # heavy-tailed shocks as a scale mixture of normals (cheap, unlike a Student-t draw):
        # with probability jump_prob the shock is jump_scale times wider; unit variance overall
        p_jump = self.jump_prob
        norm = 1.0 / sqrt((1.0 - p_jump) + p_jump * self.jump_scale ** 2)
        calm_sd, jump_sd = norm, norm * self.jump_scale
        v_base = self.annual_vol ** 2 / _SECONDS_PER_YEAR   # per-second variance
        a, b = self.garch_alpha, self.garch_beta
        step_s = self.garch_step_s
        q_only = self.quote_only_prob
        base_rate = self.trades_per_s / (1.0 - q_only)      # steps per second at normal vol
        k = self.size_scale
        tq_min = self.min_trade_qty * k * q_scale            # trade size in qty steps
        tq_max = self.max_trade_qty * k * q_scale
        bq_min = 0.02 * k * q_scale                          # touch size in qty steps
        bq_max = 50.0 * k * q_scale
        inv_a_trade = -1.0 / 1.4                             # Pareto tail index of trade sizes
        inv_a_book = -1.0 / 1.2
        weights = [r[1] for r in _REGIMES]
        mean_regime = self.regime_mean_s
        start_ms = self.start_ms
        limit = until_ms

        def pick_regime(now: float) -> tuple[float, float, float]:
            _, _, mult, drift_h = rng.choices(_REGIMES, weights)[0]
            length = max(600.0, -log(1.0 - rand()) * mean_regime)
            return mult * mult * v_base, drift_h / 3600.0, now + length

        t = 0.0
        log_ret = 0.0                      # log(fair / start_price)
        v_reg, mu, regime_end = pick_regime(0.0)
        h = v_reg
        acc_r = 0.0
        acc_t = 0.0
        last_bid = last_ask = -1.0
        last_ts = start_ms - 1
        p0 = self.start_price
        beta = self.driver_beta
        own_w = sqrt(1.0 - beta * beta)
        if beta:
            origin_s = start_ms // 3_600_000 * 3600              # the driver's first second (shared)
            driver_gauss = random.Random(f"driver:{self.driver_seed}:{origin_s}").gauss
            driver_sd = sqrt(v_base)
            driver_s = origin_s                                   # the driver is known up to here
            driver = 0.0
        while True:
            ratio = h / v_base
            boost = sqrt(ratio)            # busier when volatile, within [0.4, 4] x
            rate = base_rate * (4.0 if boost > 4.0 else (0.4 if boost < 0.4 else boost))
            dt = -log(1.0 - rand()) / rate
            t += dt
            ts = start_ms + int(t * 1000.0)
            if ts <= last_ts:
                ts = last_ts + 1           # one step per ms: its quote and trade share a unique ts
            if limit is not None and ts >= limit:
                return
            last_ts = ts
            if t >= regime_end:
                v_reg, mu, regime_end = pick_regime(t)
            z = gauss(0.0, jump_sd if rand() < p_jump else calm_sd)
            r = mu * dt + sqrt(h * dt) * z
            log_ret += r
            acc_r += r
            acc_t += dt
            if acc_t >= step_s:
                # GARCH(1,1) in per-second units, reverting to the regime's variance
                h = (1.0 - a - b) * v_reg + a * (acc_r * acc_r / acc_t) + b * h
                if h > 60.0 * v_reg:
                    h = 60.0 * v_reg
                acc_r = 0.0
                acc_t = 0.0
            u = rand()
            spread = 1 if u * boost < 0.62 else (2 if u < 0.9 else 3)
            if beta:
                now_s = ts // 1000
                while driver_s < now_s:
                    driver += driver_gauss(0.0, driver_sd)
                    driver_s += 1
                bid_t = floor(p0 * exp(own_w * log_ret + beta * driver) * px_scale - spread * 0.5)
            else:
                bid_t = floor(p0 * exp(log_ret) * px_scale - spread * 0.5)
            bid = bid_t / px_scale
            ask = (bid_t + spread) / px_scale
            if bid != last_bid or ask != last_ask or rand() < 0.5:
                # a touch price moved, or (half the time) only the sizes at the touch changed
                last_bid = bid
                last_ask = ask
                bq = bq_min * (1.0 - rand()) ** inv_a_book
                aq = bq_min * (1.0 - rand()) ** inv_a_book
                yield (0, ts, bid, int(bq if bq < bq_max else bq_max) / q_scale,
                       ask, int(aq if aq < bq_max else bq_max) / q_scale)
            if rand() < q_only:
                continue
            tq = tq_min * (1.0 - rand()) ** inv_a_trade
            qty = int(tq if tq < tq_max else tq_max) / q_scale
            # the taker leans with the move: up-moves are mostly buyers lifting the ask
            if rand() < 0.5 + 0.4 * tanh(z):
                yield (1, ts, ask, qty, 1)
            else:
                yield (1, ts, bid, qty, 0)

    @staticmethod
    def _steps_per_unit(step: float, name: str) -> int:
        n = round(1.0 / step)
        if n < 1 or abs(n * step - 1.0) > 1e-9:
            raise ValueError(f"{name} {step} must divide 1 (like 0.01 or 0.000001)")
        return n

    def events(self, until_ms: int | None = None) -> Iterator[Trade | Quote]:
        """Trades and quotes with ``ts < until_ms`` (unbounded when None), lazily, in order."""
        for ev in self._raw(until_ms):
            if ev[0]:
                yield Trade(ev[1], ev[2], ev[3], SIDE_OF[ev[4]])
            else:
                yield Quote(ev[1], ev[2], ev[3], ev[4], ev[5])

    def tape(self, duration_ms: int) -> MarketData:
        """The first ``duration_ms`` of the stream as columnar tapes (same events as ``events()``)."""
        trades = TradeTape()
        quotes = QuoteTape()
        t_ts, t_p, t_q, t_s = trades.ts_ms.append, trades.price.append, trades.qty.append, trades.side.append
        q_ts, q_b, q_bq, q_a, q_aq = (quotes.ts_ms.append, quotes.bid.append, quotes.bid_qty.append,
                                      quotes.ask.append, quotes.ask_qty.append)
        for ev in self._raw(self.start_ms + int(duration_ms)):
            if ev[0]:
                t_ts(ev[1])
                t_p(ev[2])
                t_q(ev[3])
                t_s(ev[4])
            else:
                q_ts(ev[1])
                q_b(ev[2])
                q_bq(ev[3])
                q_a(ev[4])
                q_aq(ev[5])
        name = f"synthetic:seed={self.seed}"
        return MarketData(
            trades=trades,
            quotes=quotes,
            sources=(SourceInfo(name, "synthetic", len(trades) + len(quotes), len(trades) + len(quotes), 0),),
        )
