"""The fill model: how honest the paper exchange is about spread and queue (paper and replay alike).

Why: a replay that fills a resting order as soon as a 1-minute bar touches its price, and takes
at the last price with no spread, makes maker orders look cheap; a policy tuned on it over-uses
them. ``honest`` (the default) assumes what a real book does:

- **spread:** a taker meets the quoted touch when there is BBO data; without it the touch is the
  last price ± ``half_spread_bps`` (at least one tick), so a taker buy on bars pays above the last
  price;
- **queue, on trades data with BBO:** an order joins the back of its price level. What was shown
  at the touch when it took effect is ahead of it (nothing when it improves the touch; the
  touch's size when it sits deeper: the same depth per level that takers walk). Prints *at* its
  price by the other side use up that queue first; only the rest fills us. A print *through*
  its price (by ≥ 1 tick) means the level was cleared: it fills up to the print's size;
- **on bars** (each bar replayed as 4 prints: ``core.venues.market.bars``) the order of events
  inside a minute is unknown, so only a print that trades *through* the price by ≥ 1 tick and by
  ``bar_through_bps`` fills, and only ``bar_volume_share`` of that print's volume (partial
  fills). The margin is there because the 4-print path puts a bar's extremes at fixed times
  (20 s, 40 s) whatever their real time: an extreme that happened before our order arrived can
  still reach it. 1 bp makes the bar model no more optimistic than the tick data on the
  recorded trades + BBO files (``docs/fill-model.md``, ``scripts/validate_fill_model.py``);
- without BBO on trades data the queue is unknown: only trade-through fills (as on bars, with
  the print's whole size);
- a quote that a print more than ``core.model.STALE_QUOTE_MS`` later has left (the quotes
  ended: quote bars for half a day) is no longer the touch: takers meet the half-spread.

``optimistic`` is the old model, kept for comparison: any print strictly through fills up to its
size, a print at our price never does, takers pay ``synthetic_spread_ticks`` from the last price.

Latency (``latency_ms``) applies to place, amend and cancel alike (``CommandDesk``): a fill can
still arrive between sending a cancel and its taking effect.
"""

from __future__ import annotations

from dataclasses import dataclass

FILL_MODELS = ("honest", "optimistic")


@dataclass(frozen=True, slots=True)
class FillModel:
    """Settings of the fill model (``paper:`` in the config); ``bars`` says the tape is 1-minute
    bars expanded to prints (replay sets it from the data, never the user)."""

    kind: str = "honest"
    half_spread_bps: float = 0.5
    bar_volume_share: float = 0.1
    bar_through_bps: float = 1.0
    bars: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FILL_MODELS:
            raise ValueError(f"fill model must be one of {', '.join(FILL_MODELS)} (got {self.kind!r})")
        if not 0.0 <= self.half_spread_bps <= 1_000.0:
            raise ValueError(f"half_spread_bps must be in [0, 1000] (got {self.half_spread_bps})")
        if not 0.0 < self.bar_volume_share <= 1.0:
            raise ValueError(f"bar_volume_share must be in (0, 1] (got {self.bar_volume_share})")
        if not 0.0 <= self.bar_through_bps <= 1_000.0:
            raise ValueError(f"bar_through_bps must be in [0, 1000] (got {self.bar_through_bps})")

    @property
    def honest(self) -> bool:
        return self.kind == "honest"

    @property
    def queue(self) -> bool:
        """Prints at our price can fill us (after the queue ahead): honest, on trades data."""
        return self.kind == "honest" and not self.bars

    def to_dict(self) -> dict:
        return {"kind": self.kind, "half_spread_bps": self.half_spread_bps,
                "bar_volume_share": self.bar_volume_share, "bar_through_bps": self.bar_through_bps,
                "bars": self.bars}

    @classmethod
    def from_dict(cls, d: dict | None) -> "FillModel":
        return cls(**d) if d else cls()


OPTIMISTIC = FillModel(kind="optimistic")
