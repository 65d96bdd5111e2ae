"""A demo that moves (issue 16): the README's paper session, ``config.yaml`` as shipped, trades
within 30 s of session time; the realistic paper market stays in ``examples/``.

The session runs on the simulated clock as fast as it goes (``paper_speed=0``: market time is
the synthetic market's, the same at any speed); a recorder tap notes the first order and the
first proposal in market time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from core.config import load_config
from core.recorder import Recorder
from core.session import Environment, build_session

REPO = Path(__file__).resolve().parents[2]
T0 = 1_765_000_000_000
DEMO_S = 30.0  # the first trade (or, in semi, its proposal) within this much session time
WALL_DEADLINE_S = 30.0


class FirstTimes(Recorder):
    def __init__(self) -> None:
        self.order_ms: int | None = None
        self.proposed_ms: int | None = None

    def order(self, ts_ms, order, event):
        if self.order_ms is None:
            self.order_ms = ts_ms

    def decision(self, decision, mode, outcome):
        if outcome == "proposed" and self.proposed_ms is None:
            self.proposed_ms = decision.ts_ms


def _first_times(path: Path, mode: str) -> FirstTimes:
    cfg = load_config(str(path), need_secrets=False)
    cfg = replace(cfg, mode=mode, journal=replace(cfg.journal, enabled=False))
    tap = FirstTimes()
    s = build_session(cfg, Environment(now_ms=lambda: T0, paper_speed=0, record_tap=tap))
    reb = s.rebalancer

    async def main() -> None:
        task = asyncio.create_task(s.engine.run())
        end = time.monotonic() + WALL_DEADLINE_S
        while reb.now_ms - T0 <= DEMO_S * 1000 and time.monotonic() < end:
            await asyncio.sleep(0.005)
        await s.engine.shutdown(cancel_orders=True, reason="test stop")
        await task

    asyncio.run(main())
    assert reb.now_ms - T0 > DEMO_S * 1000, "the session did not reach 30 s of market time"
    return tap


def test_the_default_paper_session_places_its_first_order_within_30_s():
    tap = _first_times(REPO / "config.yaml", "auto")
    assert tap.order_ms is not None and tap.order_ms - T0 <= DEMO_S * 1000, tap.order_ms


def test_the_default_paper_session_in_its_own_semi_mode_proposes_within_30_s():
    assert load_config(str(REPO / "config.yaml"), need_secrets=False).mode == "semi"
    tap = _first_times(REPO / "config.yaml", "semi")
    assert tap.proposed_ms is not None and tap.proposed_ms - T0 <= DEMO_S * 1000, tap.proposed_ms
    assert tap.order_ms is None  # semi: nothing is sent until the trader approves


@pytest.mark.parametrize("key", ["span_pct", "qty_per_level"])
def test_the_realistic_paper_market_stays_in_examples(key):
    demo = load_config(str(REPO / "config.yaml"), need_secrets=False)
    real = load_config(str(REPO / "examples" / "paper-realistic.yaml"), need_secrets=False)
    assert (real.paper.grid.span_pct, real.paper.grid.qty_per_level) == (0.5, 0.002)
    assert getattr(real.paper.grid, key) != getattr(demo.paper.grid, key)
    assert replace(real, paper=demo.paper, path=demo.path) == demo  # the rest is the same config
