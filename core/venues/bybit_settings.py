"""Everything a ``BybitVenue`` is configured with, as one frozen value.

Why one object: the venue used to take ~30 keyword arguments, so a session, a test and a
benchmark each spelled them differently and a typo was silently a default. A frozen settings
value is built once (``from_config``, by ``core.session``), can be printed (credentials are
not part of it) and changed only by ``dataclasses.replace`` — which rejects unknown names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

VENUES = ("testnet", "demo", "mainnet")
DAY_MS = 86_400_000
WINDOW_MS = 7 * DAY_MS  # Bybit's longest startTime..endTime span for history endpoints


@dataclass(frozen=True)
class BybitSettings:
    symbol: str
    venue: str = "testnet"
    # -- where requests go
    domain: str = "bybit"
    tld: str = "com"
    rest_url: str | None = None
    ws_public_url: str | None = None
    ws_private_url: str | None = None
    recv_window_ms: int = 5000
    # -- what the session allows
    can_trade: bool = True
    client_prefix: str = "rb"
    linear_fills: bool = True  # also read the futures leg's fills (the grid's) for the anchors
    check_key_permissions: bool = True
    confirm_post_only: bool = True
    backfill_lookback_ms: int = WINDOW_MS
    rate_limits: tuple[tuple[str, int], ...] = field(default=())  # (group, per second) over the defaults
    # -- timing: REST
    http_timeout_s: float = 10.0
    read_retries: int = 3
    retry_backoff_s: float = 0.25
    clock_resync_s: float = 600.0
    clock_check_refused_s: float = 2.0  # re-sync this often while a clock refusal keeps trading off
    # -- timing: streams
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 10.0
    ws_retries: int = 10
    auth_expire_s: int = 10
    watchdog_interval_s: float = 0.5
    rebuild_after_s: float = 5.0
    min_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    subscribe_timeout_s: float = 15.0
    # -- stalls: a stream that stays open and answers pings but sends nothing (``bybit_stall``)
    public_stall_s: float = 6.0  # spot silent this long is replaced: orderbook.1 comes at least every 3 s,
    # so this is two missed repeats, and it acts before the engine's stale-data guard (10 s)
    private_stall_s: float = 5.0  # private silent this long: start comparing it with REST
    private_look_s: float = 3.0  # while it stays silent, read wallet + position this often (2 reads)
    private_confirm_s: float = 1.0  # a difference must outlast this (a push in flight is no stall)

    def __post_init__(self) -> None:
        if self.venue not in VENUES:
            raise ValueError(f"venue must be one of {', '.join(VENUES)} (got {self.venue!r})")
        object.__setattr__(self, "symbol", self.symbol.upper())
        if isinstance(self.rate_limits, dict):
            object.__setattr__(self, "rate_limits", tuple(sorted(self.rate_limits.items())))

    @classmethod
    def from_config(cls, cfg, **changes: Any) -> "BybitSettings":
        """From an ``AppConfig``'s venue, symbol, mode and ``api:`` block; ``changes`` on top
        (tests shorten the timings)."""
        api = cfg.api
        base = cls(symbol=cfg.symbol, venue=cfg.venue, domain=api.domain or "bybit", tld=api.tld or "com",
                   rest_url=api.rest_url, ws_public_url=api.ws_public_url, ws_private_url=api.ws_private_url,
                   recv_window_ms=api.recv_window_ms, can_trade=cfg.mode != "watch")
        return replace(base, **changes) if changes else base
