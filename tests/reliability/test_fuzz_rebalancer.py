"""Stateful fuzz of the sync ``Rebalancer`` on a ``PaperExchange`` + ``GridBot`` (hypothesis).

Rules move the market (trades and quotes, small steps and jumps), fill the futures grid,
switch modes, approve / skip / force, pause, kill and re-arm, disconnect (lossy: pushes are
dropped and reconciled on reconnect) and reconnect, withhold market data (stale windows),
inject venue rejections and duplicate pushes, and let time pass. ``Sim`` (helpers.py)
checks every ``PlaceOrder`` as it leaves the engine and ``check_state`` runs after every
step; any violation fails the run with hypothesis' shrunk sequence of steps.

Sized to run in a few seconds: ``max_examples`` x ``stateful_step_count`` steps, each a
handful of synchronous calls. ``database=None``: nothing is written to the working tree.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from core.model import Mode, Side
from tests.builders import examples
from tests.core.helpers_engine import T0
from tests.reliability.helpers import CAP_SLACK, ORDER_CAP_AT, Sim, market_grid, sim_config

CENT = 0.01

FUZZ_SETTINGS = settings(max_examples=examples(150), stateful_step_count=80, deadline=None, database=None, print_blob=True,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class RebalancerMachine(RuleBasedStateMachine):
    """One account: spot 0.5 BTC + a short 0.5 BTC hedge, a neutral grid at 60 000 +/- 1.5 %."""

    @initialize(mode=st.sampled_from([Mode.AUTO, Mode.AUTO, Mode.SEMI, Mode.WATCH]),
                spot=st.sampled_from(["0.5", "0.506", "0.494", "0.52", "0.47"]),
                seed=st.integers(0, 2**16), latency_ms=st.sampled_from([0, 0, 250]))
    def start(self, mode, spot, seed, latency_ms):
        self.rng = random.Random(seed)
        self.sim = Sim(sim_config(), mode=mode, spot=spot, grid=market_grid(), cap_slack=CAP_SLACK,
                       order_cap_at=ORDER_CAP_AT, latency_ms=latency_ms)
        self.mid_c = 6_000_000  # integer cents
        self.quoted_c = self.mid_c
        self.t = T0
        self.sim.quote(self.t, self._bid(1), self._ask(1))
        self.sim.trade(self.t, self.mid_c / 100)

    def _bid(self, spread_c: int) -> float:
        return (self.mid_c - spread_c) / 100

    def _ask(self, spread_c: int) -> float:
        return (self.mid_c + spread_c) / 100

    def _step_time(self, dt_ms: int) -> None:
        self.t += dt_ms

    # ------------------------------------------------------------------ market

    @rule(move_c=st.integers(-6_000, 6_000), dt=st.integers(50, 4_000), spread_c=st.integers(1, 5),
          qty=st.sampled_from([0.0005, 0.002, 0.01, 0.2, 2.0]), what=st.sampled_from(["quote+trade", "trade", "quote"]))
    def market_move(self, move_c, dt, spread_c, qty, what):
        self._step_time(dt)
        self.mid_c = max(5_000_000, min(7_000_000, self.mid_c + move_c))
        # a trade far from the last quote comes with a fresh quote (a feed's trades and touch
        # agree to within 0.25 %; see CAP_SLACK for why this matters to the cap checks)
        if what != "trade" or abs(self.mid_c - self.quoted_c) > self.quoted_c * 0.0025:
            self.sim.quote(self.t, self._bid(spread_c), self._ask(spread_c))
            self.quoted_c = self.mid_c
        if what != "quote":
            buy = self.rng.random() < 0.5
            px = self._ask(spread_c) if buy else self._bid(spread_c)
            self.sim.trade(self.t, px, qty, buy)

    @rule(n=st.integers(5, 40), drift_c=st.integers(-800, 800), dt=st.integers(100, 1_500))
    def market_burst(self, n, drift_c, dt):
        """A run of quotes and trades drifting one way (the grid fills, the rebalancer works)."""
        for _ in range(n):
            self._step_time(dt)
            self.mid_c = max(5_000_000, min(7_000_000, self.mid_c + drift_c + self.rng.randint(-300, 300)))
            spread_c = self.rng.randint(1, 3)
            self.sim.quote(self.t, self._bid(spread_c), self._ask(spread_c))
            self.quoted_c = self.mid_c
            buy = self.rng.random() < 0.5
            self.sim.trade(self.t, self._ask(spread_c) if buy else self._bid(spread_c),
                           self.rng.choice([0.0005, 0.003, 0.02, 0.5]), buy)

    @rule(pct=st.sampled_from([-2.0, -0.8, 0.8, 2.0]), dt=st.integers(100, 2_000))
    def jump(self, pct, dt):
        self._step_time(dt)
        self.mid_c = int(self.mid_c * (1 + pct / 100))
        self.sim.quote(self.t, self._bid(2), self._ask(2))
        self.quoted_c = self.mid_c
        self.sim.trade(self.t, self.mid_c / 100, 0.5, pct > 0)

    @rule(side=st.sampled_from([Side.BUY, Side.SELL]), qty=st.sampled_from(["0.002", "0.006", "0.014", "0.03"]))
    def futures_fill(self, side, qty):
        self.sim.grid_fill(side, qty)

    @rule(dt=st.sampled_from([500, 1_000, 3_000, 9_000, 11_000, 31_000]))
    def time_passes_without_data(self, dt):
        self._step_time(dt)
        self.sim.tick(self.t)

    # ------------------------------------------------------------------ the trader

    @rule(mode=st.sampled_from([Mode.AUTO, Mode.SEMI, Mode.WATCH]))
    def set_mode(self, mode):
        self.sim.set_mode(mode)

    @rule()
    def approve(self):
        self.sim.approve()

    @rule()
    def skip(self):
        self.sim.skip()

    @rule()
    def force(self):
        self.sim.force()

    @rule()
    def toggle_pause(self):
        self.sim.toggle_pause()

    @rule()
    def kill(self):
        self.sim.kill()

    @rule()
    def rearm(self):
        self.sim.rearm()

    @rule()
    def cancel_pending(self):
        self.sim.cancel_pending()

    # ------------------------------------------------------------------ faults

    @precondition(lambda self: self.sim.connected)
    @rule(lossy=st.booleans())
    def disconnect(self, lossy):
        self.sim.disconnect(lossy=lossy)

    @precondition(lambda self: not self.sim.connected)
    @rule()
    def reconnect(self):
        self.sim.connect()

    @rule(on=st.booleans())
    def withhold_market_data(self, on):
        self.sim.withhold(on)

    @rule(as_update=st.booleans())
    def venue_rejects_next_order(self, as_update):
        self.sim.inject_rejection(as_update)

    @rule()
    def duplicate_fill_push(self):
        self.sim.duplicate_fill(self.rng)

    @rule()
    def duplicate_order_push(self):
        self.sim.duplicate_order_update(self.rng)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def no_violation(self):
        if not hasattr(self, "sim"):
            return
        self.sim.check_state()
        assert not self.sim.violations, "\n".join(self.sim.violations)

    def teardown(self):
        if hasattr(self, "sim"):
            # settle: reconnect, fresh data, a few quiet seconds; everything must still hold
            self.sim.withhold(False)
            self.sim.connect()
            for _ in range(3):
                self._step_time(1_000)
                self.sim.quote(self.t, self._bid(1), self._ask(1))
                self.sim.trade(self.t, self.mid_c / 100)
            self.sim.check_state()
            assert not self.sim.violations, "\n".join(self.sim.violations)
            c = self.sim.counts
            fills = len(self.sim.ex.fills(0))
            event(f"orders placed: {'0' if not c['places'] else '1-4' if c['places'] < 5 else '5+'}")
            event(f"our fills: {'0' if not fills else '1-4' if fills < 5 else '5+'}")
            event(f"injected rejections reached: {c['rejections_injected'] > 0}")
            event(f"rebalances done: {self.sim.rec.done > 0}")


RebalancerMachine.TestCase.settings = FUZZ_SETTINGS
TestRebalancerFuzz = RebalancerMachine.TestCase


class LongRebalancerMachine(RebalancerMachine):
    """The same machine, 20x the examples and longer runs (``-m slow``: a few minutes)."""


LongRebalancerMachine.TestCase.settings = settings(FUZZ_SETTINGS, max_examples=examples(3_000), stateful_step_count=150)
TestRebalancerFuzzLong = pytest.mark.slow(LongRebalancerMachine.TestCase)


def test_the_fuzz_checks_can_fail():
    """The harness is not vacuous: an order that grows the gap, sent in WATCH, on stale data,
    while disconnected and over the per-trade cap, is reported on every count."""
    from decimal import Decimal

    from core.events import PlaceOrder
    from core.model import OrderRequest, TimeInForce

    sim = Sim(sim_config(), mode=Mode.AUTO, spot="0.52")  # long drift: only SELL helps
    sim.set_mode(Mode.WATCH)
    sim.disconnect(lossy=False)
    sim.tick(T0 + 60_000)
    sim._send(PlaceOrder(OrderRequest("rb-evil-1", "BTCUSDT", Side.BUY, Decimal("0.02"), Decimal("60000.00"),
                                      TimeInForce.IOC)))
    text = "\n".join(sim.violations)
    for needle in ("WATCH mode", "disconnected", "stale market data", "grows |gap|", "per-trade cap"):
        assert needle in text, text
    sim2 = Sim(sim_config(), mode=Mode.AUTO)
    sim2.reb.book.spot_total += 0.001  # the engine's view drifts from the exchange's
    sim2.check_state()
    assert any("net delta" in v for v in sim2.violations)


# ------------------------------------------------------------------ what the fuzz found (pinned, exact caps)
# These were strict xfails until the sizing moved to the order price (execution.py size_cap).

CAP_BUG = ("FOUND: notional caps are checked once, at the last trade price, when a rebalance starts "
           "(rebalancer.py _start -> risk.py RiskManager.size(now, qty, self.price)); the order is then priced "
           "elsewhere (taker IOC limit = touch +/- slippage_cap_bps; maker at the touch, which may differ from "
           "the last trade) and chase re-quotes re-place the remaining size at later prices with no new cap "
           "check (execution.py _place), so the order's notional exceeds max_notional_per_trade "
           "(and the fills can push the hour/day sums past their caps by the same margin)")


def test_cap_a_taker_buy_sized_to_the_cap_stays_within_it():
    sim = Sim(sim_config(), mode=Mode.AUTO, spot="0.48")  # gap -0.02 past hard: BUY at once, clipped to 600
    sim.quote(T0 + 500, 59_999.99, 60_000.01)
    sim.trade(T0 + 500, 60_000.0)
    assert sim.counts["places"] == 1
    assert not sim.violations, sim.violations  # 0.01 BTC at the 60 060.01 limit = 600.60 > 600


def test_cap_a_chase_after_the_price_moved_stays_within_it():
    m = RebalancerMachine()  # the sequence hypothesis shrank to: two +0.8 % jumps, then quiet quotes
    m.start(mode=Mode.AUTO, spot="0.5", seed=0, latency_ms=0)
    m.sim.cap_slack, m.sim.order_cap_at = 0.0, "order"  # exact caps
    m.jump(dt=100, pct=0.8)  # the grid sells into the rise: gap -0.032, a 600 USDT BUY sized at 60 480
    m.jump(dt=100, pct=0.8)
    for _ in range(3):
        m._step_time(1_000)
        m.sim.quote(m.t, m._bid(1), m._ask(1))
        m.sim.trade(m.t, m.mid_c / 100)
    assert m.sim.counts["places"] >= 2
    assert not m.sim.violations, m.sim.violations  # the chase re-quote: 0.00992 @ 60 963.83 = 604.76


def test_cap_sizing_uses_the_price_the_order_is_sent_at():
    sim = Sim(sim_config(), mode=Mode.AUTO, spot="0.507")  # soft SELL (maker at the ask)
    sim.quote(T0 + 500, 59_999.99, 60_000.01)
    sim.grid_fill(Side.BUY, "0.03", "60000")  # gap +0.037: full SELL, clipped to the 600 cap
    sim.trade(T0 + 600, 58_800.0, 0.001, False)  # a print 2 % under the touch: sized at 58 800
    assert sim.counts["places"] >= 1
    assert not sim.violations, sim.violations


class _SettableClock:
    def __init__(self, t: int) -> None:
        self.t = t

    def now_ms(self) -> int:
        return self.t


async def test_force_on_data_just_past_stale_after_is_refused():
    import asyncio
    from decimal import Decimal

    from core.engine import Engine
    from core.events import Tick
    from core.model import BTCUSDT_SPOT, Quote, Trade
    from core.rebalancer import Rebalancer
    from core.venues.paper import PaperVenue
    from core.venues.paper_exchange import PaperExchange
    from tests.core.helpers_engine import initial_position_fill

    ex = PaperExchange(balances={"BTC": Decimal("0.52"), "USDT": Decimal("50000")})  # gap +0.02
    ex.apply_grid_fill(initial_position_fill(T0, Decimal("-0.5"), Decimal("60000")))
    reb = Rebalancer(sim_config(), BTCUSDT_SPOT, mode=Mode.SEMI)  # SEMI: nothing trades by itself
    clock = _SettableClock(T0)
    venue = PaperVenue(ex, market=None, speed=0, tick_ms=0)
    engine = Engine(reb, venue, clock=clock, tick_s=3600)
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 5)
        venue.feed(Quote(T0, 59_999.99, 1.0, 60_000.01, 1.0))
        venue.feed(Trade(T0, 60_000.0, 0.001, Side.BUY))  # the last market data
        clock.t = T0 + 10_000
        engine._accept(Tick(T0 + 10_000))  # the engine's timer: data exactly 10 s old, not stale yet
        clock.t = T0 + 10_200  # 200 ms later (before the next tick) the trader presses f
        engine.force()
        for _ in range(10):
            await asyncio.sleep(0)
        assert engine.order_calls == 0, "an order left on data 10.2 s old (stale_after_s = 10)"
    finally:
        await engine.shutdown(cancel_orders=False)
        await asyncio.wait_for(task, 5)


SELL_CAP_BUG = ("BUG: a taker SELL is capped at its limit price (execution.py _place -> risk.py max_qty_at(now, "
                "price) with price = bid x (1 - slippage_cap_bps)), but it fills at the bid, above that limit: "
                "the fill notional exceeds max_notional_per_trade / the hourly room by up to the slippage cap "
                "(the worst price for a sell's notional is the touch, not its limit). Found by the long fuzz "
                "with exact caps")


def test_cap_a_taker_sell_fills_within_the_per_trade_cap():
    sim = Sim(sim_config(), mode=Mode.AUTO, spot="0.5")
    sim.quote(T0 + 500, 59_949.99, 59_950.01)
    sim.trade(T0 + 500, 59_950.0, 0.001, False)  # the last print, 50 USDT under the next touch
    sim.quote(T0 + 600, 59_999.99, 60_000.01)
    sim.grid_fill(Side.BUY, "0.02", "60000")  # gap +0.02: hard SELL, maker 5 s, then taker
    for t in range(1_000, 8_000, 1_000):
        sim.quote(T0 + t, 59_999.99, 60_000.01)
    sim.check_state()
    assert sim.ex.fills(0), "the scenario needs the taker fill"
    assert not sim.violations, sim.violations  # 0.010008 filled at 59 999.99 = 600.48 > 600


# A taker SELL fills at the bid it meets on arrival, which can be above the bid it was sized on.
# The fuzz found two ways past the caps (strict xfails until fixed): order latency (250 ms, the
# market ticks up: 600.02 > 600) and a reconnect before a fresh quote (a jump hidden by the outage:
# hourly 2 001.56 > 2 000). Fixed: taker sells are sized at the bid plus the slippage cap
# (execution.py _place), and no order leaves after a (re)connect until a trade or quote arrived
# (rebalancer.py _gate).


def test_cap_a_sell_with_order_latency_fills_within_the_per_trade_cap():
    m = RebalancerMachine()  # the sequence hypothesis shrank to
    m.start(mode=Mode.AUTO, spot="0.52", seed=0, latency_ms=250)
    m.sim.cap_slack = 0.0
    m.market_burst(drift_c=0, dt=100, n=5)  # the IOC sell sized at 59 999.99 reaches a bid of 60 002.06
    m.sim.check_state()
    assert m.sim.ex.fills(0)
    assert not m.sim.violations, m.sim.violations


def test_cap_a_sell_right_after_a_reconnect_stays_within_the_hourly_cap():
    m = RebalancerMachine()  # the sequence the long fuzz shrank to
    m.start(mode=Mode.AUTO, spot="0.47", seed=0, latency_ms=0)
    m.sim.cap_slack, m.sim.order_cap_at = 0.0, "order"
    m.force()  # three 600 USDT buys use 1 798.20 of the 2 000 hour
    m.force()
    m.jump(dt=100, pct=-2.0)
    m.disconnect(lossy=True)
    m.jump(dt=100, pct=0.8)
    m.sim.connect(snapshot=False)  # back before the public stream sent a fresh touch
    m.force()  # a taker sell sized to the 201.80 left at its limit, filled at the bid: 203.36
    m.sim.check_state()
    assert not m.sim.violations, m.sim.violations


def test_a_sell_lifted_by_a_jump_in_flight_counts_at_the_price_it_was_sized_for():
    """The fuzz's case past the slippage margin: 250 ms of latency and +0.8 % within 100 ms. The
    taker sell fills well above the bid plus the slippage cap it was sized at; that excess is
    price improvement (``helpers.SELL_FILL_BOUND``), everything else is checked exactly."""
    m = RebalancerMachine()  # the sequence hypothesis shrank to
    m.start(mode=Mode.AUTO, spot="0.52", seed=0, latency_ms=250)
    m.jump(dt=100, pct=0.8)
    m.jump(dt=150, pct=0.0)  # the IOC sell arrives (250 ms) into the lifted book
    m.sim.check_state()
    sells = [f for f in m.sim.ex.fills(0) if f.client_id in m.sim._sell_bound]
    assert sells, "the scenario needs a taker sell"
    cap = m.sim.cfg.risk.max_notional_per_trade
    assert any(float(f.price) > m.sim._sell_bound[f.client_id] for f in sells)  # lifted past its margin
    assert sum(float(f.price * f.qty) for f in sells) > cap  # so its raw notional passes the cap ...
    assert not m.sim.violations, m.sim.violations  # ... by improvement only
