"""Numbers a person reads: times as ISO UTC, quantities and prices on the instrument's grid."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal


def iso_utc(ts_ms: int | None) -> str | None:
    """``2022-12-13T00:00:00Z`` (seconds; None stays None)."""
    if ts_ms is None:
        return None
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def places(step: Decimal) -> int:
    """Decimal places of an instrument step (0.000001 -> 6, 0.01 -> 2, 1 -> 0)."""
    return max(0, -step.normalize().as_tuple().exponent)
