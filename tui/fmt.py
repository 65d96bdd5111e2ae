"""Pure formatting helpers: numbers, times and sides as the cockpit prints them.

Nothing here decides anything; these only turn snapshot values into aligned text. Times
come from the snapshot's ``ts_ms`` (never the wall clock), rendered in UTC, so a replay
and a snapshot test look the same every time.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from rich.style import Style
from rich.text import Text

from core import model
from core.model import Side
from tui import theme

DASH = "—"


def split_symbol(symbol: str) -> tuple[str, str]:
    """("BTC", "USDT") from "BTCUSDT" -- labels only; unknown shapes give (symbol, "quote")."""
    return model.split_symbol(symbol, unknown_quote="quote")


def num(x: float | None, dp: int = 2, *, sign: bool = False, group: bool = True) -> str:
    """A float with fixed decimals (``—`` for None)."""
    if x is None:
        return DASH
    spec = ("+" if sign else "") + ("," if group else "") + f".{dp}f"
    text = format(x, spec)
    if sign and text.lstrip("+-").strip("0.,") == "":
        text = " " + text[1:]  # no "+0.00" / "-0.00"
    return text


def dec_str(s: str, *, group: bool = True) -> str:
    """An exact decimal string from the engine, with thousands separators, digits unchanged."""
    try:
        d = Decimal(s)
    except (InvalidOperation, ValueError, TypeError):
        return str(s)
    return format(d, ",") if group else format(d, "f")


def qty_dp(unit: str) -> int:
    """Decimals for an amount in ``unit`` ("base" -> 6, quote units -> 2)."""
    return 6 if unit.lower() in ("base", "btc", "eth") else 2


_FEE_DP = {"USDT": 4, "USDC": 4, "FDUSD": 4, "BUSD": 4, "DAI": 4, "USD": 4, "EUR": 4, "BTC": 8, "ETH": 8}


def fee(amount: str, coin: str) -> str:
    """A fee on its coin's precision, with the coin: "0.0240 USDT", "0.00000200 BTC" (not the
    venue's 9-11 decimals). Rounded half up; a fee that rounds to 0 keeps one significant digit."""
    try:
        d = Decimal(amount)
    except (InvalidOperation, ValueError, TypeError):
        return f"{amount} {coin}".strip()
    dp = _FEE_DP.get(coin.upper(), 6)
    q = d.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP)
    if q == 0 and d != 0:
        return f"{d:.1e} {coin}".strip()
    return f"{q:,.{dp}f} {coin}".strip()


def bps(x: float | None, *, sign: bool = True) -> str:
    return DASH if x is None else num(x, 1, sign=sign) + " bps"


def pct(x: float | None, dp: int = 2, *, sign: bool = False) -> str:
    return DASH if x is None else num(x, dp, sign=sign) + "%"


def duration(seconds: float | None) -> str:
    """12.3s, 4m05s, 2h13m, 3d04h."""
    if seconds is None:
        return DASH
    neg = seconds < 0
    s = abs(seconds)
    if s < 10:
        out = f"{s:.1f}s"
    elif s < 60:
        out = f"{int(s)}s"
    elif s < 3600:
        out = f"{int(s // 60)}m{int(s % 60):02d}s"
    elif s < 86400:
        out = f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
    else:
        out = f"{int(s // 86400)}d{int(s % 86400 // 3600):02d}h"
    return "-" + out if neg else out


def countdown(market_s: float | None, speed: float = 1.0) -> str:
    """Time left in WALL-clock seconds: the market seconds left over the market's speed (a paper
    market at speed 10 spends a 30 s proposal expiry in 3 s of the trader's time)."""
    if market_s is None:
        return DASH
    return duration(max(0.0, market_s) / (speed if speed and speed > 0 else 1.0))


def age_ms(ms: int | float | None) -> str:
    if ms is None:
        return DASH
    if ms < 1000:
        return f"{int(ms)}ms"
    return duration(ms / 1000)


def utc_time(ts_ms: int | None) -> str:
    """HH:MM:SS in UTC from integer milliseconds."""
    if not ts_ms:
        return "--:--:--"
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%H:%M:%S")


def utc_datetime(ts_ms: int | None) -> str:
    if not ts_ms:
        return "----------- --:--:--"
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def side_style(side: Side | None) -> Style:
    if side is Side.BUY:
        return theme.BUY
    if side is Side.SELL:
        return theme.SELL
    return theme.LABEL


def side_text(side: Side | None, width: int = 0) -> Text:
    label = DASH if side is None else side.value.upper()
    return Text(label.ljust(width), style=side_style(side))


def signed_style(x: float | None) -> Style:
    if x is None or x == 0:
        return theme.VALUE
    return theme.OK if x > 0 else theme.BAD


def gap_level(gap: float, soft: float, hard: float) -> str:
    """"ok" / "soft" / "hard": which colour the gap wears (display only; the engine decides)."""
    g = abs(gap)
    if hard > 0 and g >= hard:
        return "hard"
    if soft > 0 and g >= soft:
        return "soft"
    return "ok"


LEVEL_STYLE = {"ok": theme.OK, "soft": theme.WARN, "hard": theme.BAD}

