"""Net delta in base and quote units, with the DESIGN.md sign conventions."""

from __future__ import annotations

import pytest

from core.delta import DeltaSnapshot, gap_after, grows_gap, spot_exposure
from core.model import Side


@pytest.mark.parametrize(
    "spot, fut, target, net, gap, side",
    [
        # short hedge, long drift: 0.55 + (-0.5) = 0.05; gap = 0.05 - 0 -> SELL
        (0.55, -0.5, 0.0, 0.05, 0.05, Side.SELL),
        # short drift: 0.45 + (-0.5) = -0.05 -> BUY
        (0.45, -0.5, 0.0, -0.05, -0.05, Side.BUY),
        # long futures add exposure: 0.2 + 0.3 = 0.5; target 0.5 -> on target, no side
        (0.2, 0.3, 0.5, 0.5, 0.0, None),
        # non-zero target: net 0.05, target 0.1 -> gap -0.05 -> BUY
        (0.55, -0.5, 0.1, 0.05, -0.05, Side.BUY),
        # flat futures, spot only: net 0.01 -> SELL
        (0.01, 0.0, 0.0, 0.01, 0.01, Side.SELL),
    ],
)
def test_net_gap_and_correcting_side(spot, fut, target, net, gap, side):
    d = DeltaSnapshot(spot_base=spot, futures_base=fut, target_base=target, price=60_000.0)
    assert d.net_base == pytest.approx(net, abs=1e-12)
    assert d.gap_base == pytest.approx(gap, abs=1e-12)
    assert d.correcting_side is side


def test_quote_units():
    # spot 0.55 × 60000 = 33000; futures -0.5 × 60000 = -30000; total = 3000
    d = DeltaSnapshot(spot_base=0.55, futures_base=-0.5, target_base=0.0, price=60_000.0)
    assert d.spot_usdt == pytest.approx(33_000.0)
    assert d.futures_usdt == pytest.approx(-30_000.0)
    assert d.total_usdt == pytest.approx(3_000.0)
    # divergence = total - target: 3000 - 1000 = 2000; 3000 - (-500) = 3500
    assert d.divergence_usdt(1_000.0) == pytest.approx(2_000.0)
    assert d.divergence_usdt(-500.0) == pytest.approx(3_500.0)


def test_seed_001_quote_example():
    # seed 001: "Spot: +$500, Futures: $0" at price 50000 -> 0.01 BTC; divergence +500
    d = DeltaSnapshot(spot_base=0.01, futures_base=0.0, target_base=0.0, price=50_000.0)
    assert d.total_usdt == pytest.approx(500.0)
    assert d.divergence_usdt(0.0) == pytest.approx(500.0)


def test_spot_exposure_removes_reserve():
    # wallet 0.7 (free + locked) minus reserve 0.2 = 0.5 in the hedge
    assert spot_exposure(0.7, 0.2) == pytest.approx(0.5)
    assert spot_exposure(0.7) == 0.7


@pytest.mark.parametrize(
    "gap, side, qty, after, grows",
    [
        (0.05, Side.SELL, 0.03, 0.02, False),  # 0.05 - 0.03
        (0.05, Side.SELL, 0.05, 0.0, False),  # exactly to target
        (0.05, Side.SELL, 0.10, -0.05, False),  # |−0.05| == |0.05|: not larger
        (0.05, Side.SELL, 0.11, -0.06, True),  # overshoot past the mirror
        (0.05, Side.BUY, 0.01, 0.06, True),  # wrong direction
        (-0.05, Side.BUY, 0.05, 0.0, False),
        (-0.05, Side.SELL, 0.001, -0.051, True),
        (0.0, Side.BUY, 0.001, 0.001, True),  # on target: any trade grows |gap|
    ],
)
def test_gap_after_and_grows_gap(gap, side, qty, after, grows):
    assert gap_after(gap, side, qty) == pytest.approx(after, abs=1e-12)
    assert grows_gap(gap, side, qty) is grows
