"""Rest or take? The cost of each way to execute one rebalance, estimated now, and the cheaper.

Costs are in bps of the trade's notional at the mid, the measure ``core.costs`` reports, so an
estimate can be checked against what the run then paid:

    take = taker fee + half spread + slippage beyond the touch
    rest = p x (maker fee + adverse selection) + (1 - p) x take + gap growth

- **p**, the fill rate: the share of a resting order that fills before the wait is over, from
  our own recent resting orders (``fill_rate``: an even chance before any outcome).
- **adverse selection**: how far the market runs through a resting order once it fills (our
  maker fills' markout, at least the volatility prior sigma x sqrt(wait) x sqrt(2 / pi)).
  A fill earns the half spread, and the part left unfilled is taken later at a price that
  has moved: in a fair market the move the unfilled part meets is what the filled part's
  markout implies, so the half spread and the drift cancel and what is left is the formula
  above. Resting is cheaper exactly when maker fee + adverse selection < take; ``p`` scales
  the saving (and weighs it against the gap growing), it does not change its sign.
- **slippage**: our own taker fills, how far past the touch they priced (the configured
  ``execution.taker_slippage_bps`` until there are a few).
- **gap growth**: while we wait, other fills (the grid's) keep moving the gap at their recent
  rate; the part it grows by, as a share of the trade (at most all of it), is exposure carried
  through the market's movement over the wait.

Ties go to taking: the same cost sooner keeps the hedge tighter. With maker fee == taker fee
(Bybit's spot base tier) resting can only win where the adverse selection is under the half
spread, so it takes; with a maker discount (0.02 % / 0.055 %) it rests while the market's
movement and our markouts stay under the 3.5 bps the discount is worth. A grid's hedge trades
with the market's move (the grid buys a fall, we sell into it), so a resting hedge fills when
the move turns: on the dev data its adverse selection is 4–10 bps and taking wins
(docs/maker-discount.md). The inputs come from the rebalancer's own data (candle closes,
markouts, its resting and taker fills, other fills): pure and deterministic, no clock read.
"""

from __future__ import annotations

import math
from collections import deque

from core.values import value_type

ADVERSE_K = math.sqrt(2.0 / math.pi)  # E[running max of a unit random walk over a unit time]
PRIOR_SIGMA_BPS = 1.0  # bps per sqrt(second) until enough candles are seen (BTC: ~7 bps a minute)
VOL_CANDLES = 30  # candle returns the volatility is measured over
EWMA_LAMBDA = 0.94  # weight of the past per candle (RiskMetrics' daily value, here per candle)
MIN_VOL_CANDLES = 5
MIN_MARKOUTS = 5  # maker fills before their markout counts
FLOW_WINDOW_MS = 300_000  # other fills the gap's growth rate is measured over
PRIOR_FILL_RATE = 0.5  # no resting outcomes yet: an even chance (``fill_rate`` of no shares)
FILL_RATE_RESTS = 50  # recent resting orders the fill rate is measured over
MIN_TAKER_FILLS = 5  # taker fills before their slippage beyond the touch counts
MIN_RESTS = 5  # rebalances that rested and traded before the record corrects the estimate


@value_type
class CostEstimate:
    """Both ways to execute, in bps, and the cheaper one (``choice``: "take" or "rest")."""

    take_bps: float
    rest_bps: float
    choice: str
    half_spread_bps: float = 0.0
    drift_bps: float = 0.0  # adverse selection per maker fill (our markouts, else the volatility prior)
    growth_bps: float = 0.0  # the gap growing while resting
    wait_s: float = 0.0
    fill_rate: float = PRIOR_FILL_RATE  # the share of the resting order expected to fill in the wait

    @property
    def rests(self) -> bool:
        return self.choice == "rest"

    def summary(self) -> str:
        return f"take {self.take_bps:.1f} bps vs rest {self.rest_bps:.1f} bps → {self.choice}"


def estimate(*, maker_fee: float, taker_fee: float, bid: float, ask: float, wait_s: float,
             sigma_bps: float | None, markout_bps: float | None = None, growth_ratio: float = 0.0,
             slippage_bps: float = 0.0, fill_rate: float | None = None,
             rest_bias_bps: float | None = None) -> CostEstimate:
    """The cost of taking now and of resting up to ``wait_s``, and the cheaper.

    ``maker_fee`` / ``taker_fee``: fractions (0.001 = 10 bps); ``bid`` / ``ask``: the touch (equal
    without a book); ``sigma_bps``: volatility in bps per sqrt(second) (None: the prior);
    ``markout_bps``: our maker fills' mean adverse markout (None: too few yet); ``growth_ratio``:
    how much the gap is expected to grow over the wait, as a share of the trade; ``fill_rate``:
    the share of a resting order expected to fill before the wait is over (None: no outcomes
    yet, an even chance); ``rest_bias_bps``: how much more our resting has cost than this
    estimate said (``RestingRecord.bias_bps``; None: too few yet)."""
    mid = (bid + ask) * 0.5
    half = (ask - bid) * 0.5 / mid * 1e4 if mid > 0 and ask >= bid else 0.0
    take = taker_fee * 1e4 + half + slippage_bps
    sigma = PRIOR_SIGMA_BPS if sigma_bps is None else sigma_bps
    move = sigma * math.sqrt(max(0.0, wait_s))
    adverse = ADVERSE_K * move
    if markout_bps is not None and markout_bps > adverse:
        adverse = markout_bps
    p = PRIOR_FILL_RATE if fill_rate is None else min(1.0, max(0.0, fill_rate))
    growth = ADVERSE_K * move * min(1.0, max(0.0, growth_ratio))
    rest = p * (maker_fee * 1e4 + adverse) + (1.0 - p) * take + growth
    if rest_bias_bps is not None:
        rest += rest_bias_bps
    return CostEstimate(take_bps=take, rest_bps=rest, choice="rest" if rest < take else "take",
                        half_spread_bps=half, drift_bps=adverse, growth_bps=growth, wait_s=wait_s, fill_rate=p)


def fill_rate(shares) -> float:
    """The share of a resting order expected to fill, from the shares our recent resting orders
    filled (each 0..1): Laplace's rule of succession, (sum + 1) / (n + 2): an even chance before
    any outcome, our own record once there are several."""
    shares = list(shares)
    return (sum(shares) + 1.0) / (len(shares) + 2.0)


class RestingRecord:
    """How our recent resting orders went: the share of each that filled (``fill_rate``) and
    what each rebalance that rested cost all-in against what the estimate said it would
    (``bias_bps``). The estimate's model of adverse selection (volatility, markouts) is a model;
    this record is what resting actually cost here, the unfilled part's chase included, so the
    estimate is corrected by its own measured error."""

    def __init__(self, n: int = FILL_RATE_RESTS) -> None:
        self.entries: deque[list] = deque(maxlen=n)  # [rebalance, estimated rest bps, share filled | None, cost, notional]
        self._by: dict[str, list] = {}

    def rested(self, rebalance: str, rest_bps: float) -> None:
        """A rebalance starts resting on an estimate of ``rest_bps``."""
        if len(self.entries) == self.entries.maxlen:
            self._by.pop(self.entries[0][0], None)
        entry = [rebalance, rest_bps, None, 0.0, 0.0]
        self.entries.append(entry)
        self._by[rebalance] = entry

    def on_fill(self, rebalance: str, cost_quote: float, notional: float) -> None:
        """A fill of a rebalance that rested (maker or the taker after it): its all-in cost in
        quote (fee + side x (price - arrival mid) x qty) and notional at the arrival mid."""
        entry = self._by.get(rebalance)
        if entry is not None:
            entry[3] += cost_quote
            entry[4] += notional

    def finished(self, rebalance: str, share_filled: float) -> None:
        entry = self._by.get(rebalance)
        if entry is not None:
            entry[2] = min(1.0, max(0.0, share_filled))

    def shares(self) -> list[float]:
        return [e[2] for e in self.entries if e[2] is not None]

    def fill_rate(self) -> float:
        return fill_rate(self.shares())

    def bias_bps(self) -> float | None:
        """Notional-weighted mean of (cost paid - rest estimated) in bps over the finished
        rebalances that traded; None with fewer than ``MIN_RESTS``."""
        done = [e for e in self.entries if e[2] is not None and e[4] > 0]
        if len(done) < MIN_RESTS:
            return None
        return sum(e[3] * 1e4 - e[1] * e[4] for e in done) / sum(e[4] for e in done)


def volatility_bps(closes, timeframe_ms: int, last: float | None = None, n: int = VOL_CANDLES) -> float | None:
    """Volatility in bps per sqrt(second) from the last ``n`` candle returns (and the forming
    candle's move so far to ``last``, counted as a whole candle's: a jump shows at once), scaled
    from the candle length to one second. An exponentially weighted variance (RiskMetrics'
    ``EWMA_LAMBDA`` per candle, started from the window's plain variance) so that the latest
    moves weigh most: a calm hour followed by a jump is not calm. None with fewer than
    ``MIN_VOL_CANDLES`` returns."""
    pts = [c for c in list(closes)[-(n + 1):] if c > 0]
    if last is not None and last > 0 and pts:
        pts.append(last)
    if len(pts) < MIN_VOL_CANDLES + 1 or timeframe_ms <= 0:
        return None
    rets = [b / a - 1.0 for a, b in zip(pts, pts[1:])]
    var = sum(r * r for r in rets) / len(rets)
    for r in rets:
        var = EWMA_LAMBDA * var + (1.0 - EWMA_LAMBDA) * r * r
    return math.sqrt(var) * 1e4 / math.sqrt(timeframe_ms / 1000.0)


def growth_ratio(flow_base: float, window_s: float, wait_s: float, qty: float) -> float:
    """How much the gap is expected to grow over ``wait_s``, as a share of ``qty``: the net
    base that other fills (the grid's, manual ones) added in the gap's direction over the last
    ``window_s``, at the same rate (growth only: flow that closes the gap counts nothing)."""
    if window_s <= 0 or qty <= 0 or flow_base <= 0:
        return 0.0
    return min(1.0, flow_base / window_s * wait_s / qty)


__all__ = ["ADVERSE_K", "FILL_RATE_RESTS", "FLOW_WINDOW_MS", "MIN_RESTS", "MIN_TAKER_FILLS", "PRIOR_FILL_RATE", "CostEstimate",
           "PRIOR_SIGMA_BPS", "RestingRecord", "estimate", "fill_rate", "growth_ratio", "volatility_bps"]
