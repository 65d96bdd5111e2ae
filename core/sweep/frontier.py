"""The frontier: the configs no other config beats on both cost and tracking.

A point is on the (Pareto) frontier when no other point has cost <= and tracking <= with at
least one strictly less. Lower is better on every axis the sweep draws: cost (bps, USDT) and
tracking (time-weighted mean |gap|, % of the time over the common band).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

AXES = {  # the pairs drawn: (tracking key, cost key)
    "usdt_vs_mean_gap": ("mean_abs_gap_base", "cost_quote"),
    "bps_vs_mean_gap": ("mean_abs_gap_base", "cost_bps"),
    "usdt_vs_over_band": ("pct_time_over_band", "cost_quote"),
    "bps_vs_over_band": ("pct_time_over_band", "cost_bps"),
}

LABELS = {
    "mean_abs_gap_base": "mean |gap| (base)",
    "pct_time_over_band": "time over band (%)",
    "cost_quote": "cost (USDT)",
    "cost_bps": "cost (bps, all-in)",
}


def metric(row: dict, key: str) -> float | None:
    """A row's figure; a run that traded nothing cost 0 USDT (its cost in bps does not exist)."""
    v = row.get(key)
    if v is None and key == "cost_quote" and row.get("fills") == 0:
        return 0.0
    if v is None or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def pareto_front(points: Sequence[tuple[float, float] | None]) -> list[int]:
    """Indices of the non-dominated points (minimising both coordinates), by x then y.
    ``None`` entries (a figure that does not exist) take no part."""
    idx = sorted((i for i, p in enumerate(points) if p is not None), key=lambda i: (points[i][0], points[i][1]))
    front: list[int] = []
    best_y = math.inf
    last: tuple[float, float] | None = None
    for i in idx:
        x, y = points[i]
        if y < best_y:
            front.append(i)
            best_y = y
            last = (x, y)
        elif last is not None and (x, y) == last:  # an exact twin of a frontier point is on it too
            front.append(i)
    return front


def frontiers(rows: Sequence[dict], get: Callable[[dict, str], float | None] = metric) -> dict[str, list[int]]:
    """The frontier on each pair of axes in ``AXES``, as row indices."""
    out = {}
    for name, (xk, yk) in AXES.items():
        pts = []
        for r in rows:
            x, y = get(r, xk), get(r, yk)
            pts.append(None if x is None or y is None else (x, y))
        out[name] = pareto_front(pts)
    return out
