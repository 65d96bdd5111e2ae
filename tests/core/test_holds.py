"""``SureHold``: when the policy's answer is surely HOLD, so the rebalancer need not ask it."""

from __future__ import annotations

from core.account import AccountBook
from core.config import AnchorPolicyConfig, BiasConfig, ExecutionConfig, RiskConfig, ThresholdsConfig
from core.fills import RecentFills
from core.holds import SureHold
from core.model import Side
from core.policy import WHOLE_BAND, AnchorPolicy, PolicyMemory
from core.trend import TrendTracker

MEM = PolicyMemory()


class Counting(AnchorPolicy):
    """The anchor policy, counting how often it is asked for bands."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.robust_calls = self.hold_calls = 0

    def robust_hold_band(self, *a, **kw):
        self.robust_calls += 1
        return super().robust_hold_band(*a, **kw)

    def hold_band(self, *a, **kw):
        self.hold_calls += 1
        return super().hold_band(*a, **kw)


def holds(units: str = "base", spot: float = 0.5, futures: float = -0.5) -> tuple[SureHold, AccountBook, Counting]:
    soft, hard = (0.004, 0.012) if units == "base" else (1.0, 3.0)
    p = Counting(AnchorPolicyConfig(thresholds=ThresholdsConfig(soft=soft, hard=hard, units=units),
                                    bias=BiasConfig(min_scale=0.5)), ExecutionConfig(), RiskConfig())
    book = AccountBook(fixed_target=0.0)
    book.spot_total, book.futures_size = spot, futures
    recent = RecentFills(600_000)
    return SureHold(p, book, TrendTracker(9, 21, 60_000, 300, 0.1), recent), book, p


def test_live_under_the_floor_means_under_soft_at_the_smallest_scale():
    h, _, _ = holds()
    assert h.under_floor(0.0019, 60_000.0) and h.under_floor(-0.0019, 60_000.0)
    assert not h.under_floor(0.002, 60_000.0) and not h.under_floor(-0.0021, None)


def test_with_thresholds_in_percent_the_floor_follows_the_spot_wallet():
    h, book, _ = holds("pct_of_spot_notional", spot=0.5)
    assert h.under_floor(0.0024, 60_000.0)  # 1 % of 0.5 = 0.005, x 0.5
    book.spot_total = 1.0
    assert h.under_floor(0.0049, 60_000.0) and not h.under_floor(0.0051, 60_000.0)


def test_under_the_fixed_floor_hold_is_sure_at_every_price():
    h, _, p = holds()
    assert h.trend_free_band(0, 0.001, MEM) is WHOLE_BAND
    assert h.band(0, 60_000.0, 0.001, MEM) is WHOLE_BAND
    assert p.robust_calls == p.hold_calls == 0


def test_the_robust_band_is_kept_while_account_and_anchors_stand_still():
    h, book, p = holds(spot=0.5025)  # gap 0.0025: over the floor 0.002, under soft 0.004 x 0.7 (worst trend)
    first = h.trend_free_band(0, 0.0025, MEM)
    assert first is not None and first.lo < 60_000.0 < first.hi
    assert h.trend_free_band(60_000, 0.0025, MEM) is first
    assert p.robust_calls == 1
    book.futures_size = -0.499  # the account moved: drawn again
    h.trend_free_band(120_000, 0.007, MEM)
    h.recent.add(120_000, Side.BUY, 0.01, 60_000.0)  # a new anchor: drawn again
    h.trend_free_band(120_000, 0.007, MEM)
    assert p.robust_calls == 3


def test_the_policy_is_asked_for_its_band_when_the_trend_free_one_does_not_cover_the_price():
    h, _, p = holds(spot=0.5035)  # gap 0.0035: past soft x 0.7 under the worst trend, under soft today
    assert h.trend_free_band(0, 0.0035, MEM) is None
    band = h.band(0, 60_000.0, 0.0035, MEM)
    assert p.hold_calls == 1
    assert band is not None and band.lo < 60_000.0 < band.hi
