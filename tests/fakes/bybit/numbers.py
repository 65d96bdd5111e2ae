"""Decimal helpers: Bybit sends every price, size, fee and timestamp as a string.

The fake keeps exact ``Decimal`` values internally and only turns them into strings at the
edge, so a journal can be compared with the ledger without float noise.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation

ZERO = Decimal(0)


class BadNumber(ValueError):
    """A request carried something that is not a decimal number."""


def dec(value: object) -> Decimal:
    """Parse str/int/Decimal/float (floats via their shortest repr: 100.5 -> "100.5")."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise BadNumber(f"not a decimal: {value!r}")
    try:
        out = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise BadNumber(f"not a decimal: {value!r}") from exc
    if not out.is_finite():
        raise BadNumber(f"not a finite decimal: {value!r}")
    return out


def fmt(value: Decimal | int | str | None) -> str:
    """Plain decimal string without exponent ("0.000048", "50000.1", "0"); None -> ""."""
    if value is None:
        return ""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True when ``value`` has no more decimals than ``step`` allows (170134/170137 checks)."""
    return (value % step) == 0


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """Round toward zero to a multiple of ``step``."""
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step
