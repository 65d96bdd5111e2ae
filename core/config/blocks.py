"""The config's shape: one frozen dataclass per block, each field with its default, range and doc.

The ``rebalancer:`` block is a tagged union: ``RebalancerConfig.settings`` is exactly one
policy's own block, so the simple policy never carries anchor keys (and vice versa).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from core.config.fields import UNIT, in_range, setting

VENUES = ("paper", "testnet", "demo", "mainnet")
# the cockpit's own theme, then Textual's built-in ones (tests/tui/test_cockpit_themes.py keeps this in step)
ThemeName = Literal[
    "cockpit", "textual-dark", "textual-light", "nord", "gruvbox", "catppuccin-mocha", "dracula", "tokyo-night",
    "monokai", "flexoki", "catppuccin-latte", "catppuccin-frappe", "catppuccin-macchiato", "solarized-light",
    "solarized-dark", "rose-pine", "rose-pine-moon", "rose-pine-dawn", "atom-one-dark", "atom-one-light",
    "ansi-dark", "ansi-light",
]
HOUR_S = 3_600.0
DAY_S = 86_400.0


# ---------------------------------------------------------------- blocks


@dataclass(frozen=True)
class ThresholdsConfig:
    """The anchor policy's |gap| thresholds, in ``units``; converted to base at each decision's
    price (and equity), so a ``quote`` or ``pct_of_equity`` config carries across symbols."""

    soft: float = setting(0.006, in_range(0, 1e9, lo_open=True), "partial rebalance past this |gap|, in units (base ≤ 1e4, pct_of_equity ≤ 100)")
    hard: float = setting(0.02, in_range(0, 1e9, lo_open=True), "full rebalance past this |gap|, in units (base ≤ 1e4, pct_of_equity ≤ 100)")
    units: Literal["base", "quote", "pct_of_spot_notional", "pct_of_equity"] = setting(
        "base", None, "base: coins; quote: USDT of gap notional; pct_of_spot_notional: % of the spot "
                      "wallet; pct_of_equity: % of account equity")

    # the largest soft / hard each unit takes (a base figure past 1e4 coins is a typo)
    UNIT_MAX: ClassVar[dict[str, float]] = {"base": 1e4, "quote": 1e9, "pct_of_spot_notional": 1e4,
                                            "pct_of_equity": 100.0}


@dataclass(frozen=True)
class BiasConfig:
    mode: Literal["ema", "manual", "off"] = setting("ema")
    strength: float = setting(0.5, UNIT, "how strongly bias widens or tightens thresholds")
    w_ema: float = setting(0.6, in_range(0, 10))
    w_anchor: float = setting(0.4, in_range(0, 10))
    manual_override: float = setting(0.0, in_range(-1, 1))
    min_scale: float = setting(0.25, in_range(0, 1, lo_open=True))
    max_scale: float = setting(2.0, in_range(1))


@dataclass(frozen=True)
class EmaConfig:
    fast: int = setting(9, in_range(1, 10_000))
    slow: int = setting(21, in_range(1, 10_000))
    timeframe: str = setting("1m", None, "candle length: 15s, 1m, 5m, 1h ...")
    slope_lookback_s: float = setting(300.0, in_range(0, DAY_S, lo_open=True))
    trend_threshold_pct: float = setting(0.1, in_range(0, 100, lo_open=True))


@dataclass(frozen=True)
class AnchorConfig:
    window_s: float = setting(600.0, in_range(0, 7 * DAY_S, lo_open=True), "recent-fills window for the VWAP anchors")
    edge_bps_soft: float = setting(5.0, in_range(0, 10_000))
    edge_bps_hard: float = setting(0.0, in_range(0, 10_000))
    max_wait_s_on_soft: float = setting(120.0, in_range(0, DAY_S))
    degrade_edge_with_time: bool = setting(True)
    full_bias_edge_bps: float = setting(50.0, in_range(0, 10_000, lo_open=True), "edge (bps) at which the anchor bias reaches ±1")


@dataclass(frozen=True)
class ExecutionConfig:
    style: Literal["auto", "maker_first", "taker"] = setting(
        "auto", None, "auto: per rebalance, rest or take, whichever the cost estimate says is cheaper "
                      "(core/execution_choice.py); maker_first: rest, chase, then take; taker: never rest")
    taker_slippage_bps: float = setting(0.0, in_range(0, 1_000), "auto: expected slippage beyond the touch when taking")
    maker_first: bool = setting(True)
    chase_ticks: int = setting(2, in_range(1, 1_000_000))
    chase_interval_s: float = setting(2.0, in_range(0, HOUR_S))
    max_chase_s: float = setting(30.0, in_range(0, HOUR_S), "soft path: chase this long, then escalate or give up")
    hard_maker_wait_s: float = setting(5.0, in_range(0, HOUR_S), "hard path: rest a maker order this long, then take")
    soft_taker_after_wait: bool = setting(True, None, "soft path: take when the chase times out")
    rest_at_gate: bool = setting(
        False, None, "auto mode, anchor policy: while the soft path's anchor gate waits, rest a post-only order "
                     "at the gate's price (docs/maker-discount.md)")
    gate_reprice_bps: float = setting(
        2.0, in_range(0, 1_000), "rest_at_gate: move the gate order only when the gate's price moved this far "
                                 "(0: one tick), and at most every 5 s")
    slippage_cap_bps: float = setting(10.0, in_range(0, 1_000, lo_open=True), "taker limit = touch ± this")
    min_trade_base: float = setting(0.0001, in_range(0, 1e9))
    max_trade_base: float = setting(1.0, in_range(0, 1e9, lo_open=True))


@dataclass(frozen=True)
class RiskConfig:
    cooldown_s: float = setting(10.0, in_range(0, DAY_S), "no new rebalance this long after one")
    hard_cooldown_s: float = setting(2.0, in_range(0, DAY_S), "cooldown that applies to the hard path")
    hysteresis_pct: float = setting(0.5, in_range(0, 100), "an opposite-side trade needs |gap| ≥ soft × (1 + this)")
    hysteresis_window_s: float = setting(300.0, in_range(0, DAY_S))
    max_notional_per_trade: float = setting(50_000.0, in_range(0, 1e9, lo_open=True))
    max_notional_per_hour: float = setting(250_000.0, in_range(0, 1e10, lo_open=True))
    max_notional_per_day: float = setting(1_000_000.0, in_range(0, 1e11, lo_open=True))
    max_orders_per_minute: int = setting(30, in_range(1, 1_000_000))
    stale_after_s: float = setting(10.0, in_range(0, HOUR_S, lo_open=True))
    max_drawdown_pct: float = setting(10.0, in_range(0, 100, lo_open=True))
    max_drawdown_quote: float | None = setting(None, in_range(0, 1e12, lo_open=True))


@dataclass(frozen=True)
class ProposalsConfig:
    """Semi mode: how far the engine's view may move from a shown proposal before it is
    withdrawn and a new one (new number, the bell again) replaces it."""

    size_tolerance: float = setting(0.1, in_range(0, 1), "re-propose when the size moves more than this fraction")
    price_tolerance_bps: float = setting(5.0, in_range(0, 1_000), "re-propose when the price limit moves more than this")


@dataclass(frozen=True)
class AnchorPolicyConfig:
    """The EMA/anchor-aware policy (seed 000), in base units."""

    name: ClassVar[str] = "anchor"
    desired_net_delta_base: float = setting(0.0, in_range(-1e6, 1e6))
    thresholds: ThresholdsConfig = setting(factory=ThresholdsConfig)
    partial_rebalance_ratio: float = setting(0.5, in_range(0, 1, lo_open=True))
    bias: BiasConfig = setting(factory=BiasConfig)
    ema: EmaConfig = setting(factory=EmaConfig)
    anchor: AnchorConfig = setting(factory=AnchorConfig)


@dataclass(frozen=True)
class SimplePolicyConfig:
    """The simple trend-aware policy: seed 001's block, key for key, in USDT."""

    name: ClassVar[str] = "simple"

    target_delta_usdt: float = setting(0.0, in_range(-1e10, 1e10))
    rebalance_threshold_usdt: float = setting(100.0, in_range(0, 1e10, lo_open=True))
    use_trend: bool = setting(True)
    ema_fast_period: int = setting(9, in_range(1, 10_000))
    ema_slow_period: int = setting(21, in_range(1, 10_000))
    ema_timeframe: str = setting("1m")
    trend_threshold_pct: float = setting(0.1, in_range(0, 100, lo_open=True))
    trend_multiplier: float = setting(1.5, in_range(1, 100))
    use_limit_orders: bool = setting(True)
    max_wait_seconds: float = setting(30.0, in_range(0, HOUR_S))
    cooldown_seconds: float = setting(10.0, in_range(0, DAY_S))


@dataclass(frozen=True)
class BaselinePolicyConfig:
    """The comparison baseline: every ``check_interval_s``, trade the whole gap at market."""

    name: ClassVar[str] = "baseline"
    desired_net_delta_base: float = setting(0.0, in_range(-1e6, 1e6))
    check_interval_s: float = setting(60.0, in_range(0, DAY_S, lo_open=True))
    min_trade_base: float = setting(0.0005, in_range(0, 1e9, lo_open=True))


PolicySettings = AnchorPolicyConfig | SimplePolicyConfig | BaselinePolicyConfig
POLICY_SETTINGS: dict[str, type] = {c.name: c for c in (AnchorPolicyConfig, SimplePolicyConfig, BaselinePolicyConfig)}
POLICY_NAMES = tuple(POLICY_SETTINGS)


@dataclass(frozen=True)
class RebalancerConfig:
    """The ``rebalancer:`` block: one policy's own settings (a tagged union: the block's class
    says which policy), the shared execution and risk settings, and — for ``--policy`` and
    comparisons — other policies' own settings from ``other_policies:``."""

    settings: PolicySettings
    execution: ExecutionConfig
    risk: RiskConfig
    spot_reserve_base: float = 0.0
    proposal_ttl_s: float = 30.0
    evaluate_every_s: float = 1.0
    proposals: ProposalsConfig = field(default_factory=ProposalsConfig)
    other_policies: tuple[PolicySettings, ...] = ()

    @property
    def policy(self) -> str:
        return self.settings.name

    def settings_for(self, name: str) -> PolicySettings:
        """``name``'s own settings: the chosen block, one from ``other_policies:``, or its defaults."""
        if name not in POLICY_SETTINGS:
            raise ValueError(f"unknown policy {name!r} (expected {', '.join(POLICY_NAMES)})")
        if name == self.settings.name:
            return self.settings
        for s in self.other_policies:
            if s.name == name:
                return s
        return POLICY_SETTINGS[name]()

    def with_policy(self, name: str) -> "RebalancerConfig":
        """The same config running ``name`` with its own settings (``--policy``)."""
        if name == self.settings.name:
            return self
        chosen = self.settings_for(name)
        others = tuple(s for s in (self.settings, *self.other_policies) if s.name != name)
        return replace(self, settings=chosen, other_policies=others)


@dataclass(frozen=True)
class ApiConfig:
    account_name: str = setting("main")
    testnet: bool | None = setting(None, None, "seed key: true → testnet, false → mainnet")
    domain: str = setting("bybit")
    tld: str = setting("com")
    rest_url: str | None = setting(None)
    ws_public_url: str | None = setting(None)
    ws_private_url: str | None = setting(None)
    recv_window_ms: int = setting(5000, in_range(1, 60_000))
    on_start_open_orders: Literal["adopt", "cancel"] = setting("cancel")


@dataclass(frozen=True)
class GridConfig:
    lower: float | None = setting(None, in_range(0, 1e9, lo_open=True), "lowest grid price; unset: first price − span_pct")
    upper: float | None = setting(None, in_range(0, 1e9, lo_open=True), "highest grid price; unset: first price + span_pct")
    span_pct: float = setting(1.0, in_range(0, 50, lo_open=True), "half-width around the first price when lower/upper are unset")
    levels: int = setting(80, in_range(2, 1_000))
    qty_per_level: float = setting(0.002, in_range(0, 1e9, lo_open=True))
    mode: Literal["neutral", "long", "short"] = setting("neutral")


FEE_TIERS: dict[str, tuple[float, float]] = {
    # (maker, taker) as fractions. Bybit publishes these base rates; VIP tiers vary by region
    # and over time, so a VIP account writes its own maker / taker rates.
    "base": (0.001, 0.001),  # Bybit spot, non-VIP
    "perp-base": (0.0002, 0.00055),  # Bybit perpetuals, non-VIP: a maker discount to try policies against
}


@dataclass(frozen=True)
class FeesConfig:
    """What the paper exchange (and a replay) charges on spot fills: a named tier, or explicit
    rates (both maker and taker). Live venues read the account's own rates at start."""

    tier: str | None = setting(None, None, f"one of {', '.join(FEE_TIERS)} (default base) — or set maker and taker")
    maker: float | None = setting(None, in_range(0, 0.01), "maker rate as a fraction: 0.0002 = 0.02 %")
    taker: float | None = setting(None, in_range(0, 0.01), "taker rate as a fraction: 0.00055 = 0.055 %")

    @property
    def rates(self) -> tuple[float, float]:
        """(maker, taker) as fractions."""
        if self.maker is not None and self.taker is not None:
            return self.maker, self.taker
        return FEE_TIERS[self.tier or "base"]


@dataclass(frozen=True)
class PaperConfig:
    base_balance: float = setting(0.5, in_range(0, 1e9))
    quote_balance: float = setting(50_000.0, in_range(0, 1e12))
    futures_size: float = setting(-0.5, in_range(-1e9, 1e9))
    futures_entry: float | None = setting(None, in_range(0, 1e9, lo_open=True))
    market: str | list[str] = setting("synthetic", None, "'synthetic' or CSV file path(s)")
    seed: int = setting(7, in_range(0, 1_000_000_000))
    market_beta: float = setting(0.0, in_range(0, 1), "synthetic: share of the moves from one driver common to every "
                                                     "symbol (correlated paths); 0: the symbol's own path alone")
    driver_seed: int | None = setting(None, in_range(0, 1_000_000_000), "synthetic: the common driver's seed "
                                                                        "(default: seed; with symbols: the shared seed)")
    start_price: float = setting(60_000.0, in_range(1e-6, 1e9))
    speed: float = setting(1.0, in_range(0, 1_000), "replay speed in the cockpit; 0 = as fast as possible")
    latency_ms: int = setting(0, in_range(0, 60_000))
    synthetic_spread_ticks: int = setting(1, in_range(1, 10_000), "taker touch without BBO (optimistic fill model)")
    fees: FeesConfig = setting(factory=FeesConfig)
    fill_model: Literal["honest", "optimistic"] = setting(
        "honest", None, "honest: spread, queue, bars fill only when traded through (docs/fill-model.md)")
    half_spread_bps: float = setting(0.5, in_range(0, 1_000), "honest: taker touch without BBO = last ± this")
    bar_volume_share: float = setting(
        0.1, in_range(0, 1, lo_open=True), "honest, on 1-minute bars: share of a trade-through print that fills us")
    bar_through_bps: float = setting(
        1.0, in_range(0, 1_000), "honest, on 1-minute bars: a print must pass our price by this (and a tick) to fill")
    grid: GridConfig | None = setting(factory=GridConfig)
    state_file: str | None = setting(None)


@dataclass(frozen=True)
class JournalConfig:
    enabled: bool = setting(True)
    dir: str | None = setting(None, None, "default: $REBALANCER_DATA_DIR or ~/.local/share/spot-rebalancer")


@dataclass(frozen=True)
class UiConfig:
    refresh_hz: float = setting(5.0, in_range(0.5, 10))
    log_file: str | None = setting(None)
    theme: ThemeName = setting("cockpit", None, "colour theme at start (ctrl+p → Theme changes it while running)")


ALERT_EVENTS = ("proposal", "halt", "kill", "rearm", "mode", "order_rejected_streak", "feed_down", "feed_up", "fill",
                "daily_summary")


@dataclass(frozen=True)
class AlertsConfig:
    """Where alerts go (Apprise URLs; ``${NAME}`` is read from the environment / ``.env``) and which."""

    urls: list[str] = setting(factory=list, doc="Apprise URLs, e.g. tgram://${TELEGRAM_TOKEN}/${TELEGRAM_CHAT}")
    events: list[Literal[ALERT_EVENTS]] = setting(  # type: ignore[valid-type]
        factory=lambda: [e for e in ALERT_EVENTS if e != "fill"], doc="which events are sent (fill is off by default)")
    feed_down_after_s: float = setting(30.0, in_range(1, 3600), "feed_down after this long without market data")
    rejected_streak: int = setting(3, in_range(1, 100), "order_rejected_streak after this many rejections in a row")
    timeout_s: float = setting(5.0, in_range(0.5, 60), "per send, per service")
    retries: int = setting(2, in_range(0, 10), "per alert, with backoff")
    per_minute: int = setting(20, in_range(1, 600), "rate limit per service")


@dataclass(frozen=True)
class InstrumentConfig:
    """Trading rules for a symbol paper and replay do not bundle (``core.instruments``); a live
    session reads its symbol's rules from the venue instead."""

    tick_size: float = setting(check=in_range(0, 1e6, lo_open=True), doc="price step")
    qty_step: float = setting(check=in_range(0, 1e6, lo_open=True), doc="base quantity step")
    min_qty: float = setting(check=in_range(0, 1e9, lo_open=True), doc="smallest order, base")
    min_notional: float = setting(5.0, in_range(0, 1e9), "smallest order value, quote")
    perp_tick_size: float | None = setting(None, in_range(0, 1e6, lo_open=True),
                                           "the perpetual's price step (paper grid); default tick_size")
    perp_qty_step: float | None = setting(None, in_range(0, 1e6, lo_open=True),
                                          "the perpetual's quantity step; default qty_step")


@dataclass(frozen=True)
class ApiSecrets:
    """API credentials; the repr never shows them."""

    key: str = field(repr=False)
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"ApiSecrets(key={mask(self.key)}, secret=***)"

    __str__ = __repr__


def mask(text: str | None) -> str:
    if not text:
        return "<unset>"
    return f"{text[:2]}***{text[-2:]}" if len(text) > 8 else "***"


@dataclass(frozen=True)
class AppConfig:
    path: str
    symbol: str
    venue: str
    mode: str
    api: ApiConfig
    rebalancer: RebalancerConfig
    paper: PaperConfig
    journal: JournalConfig
    ui: UiConfig
    policy_note: str = ""
    secrets: ApiSecrets | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()
    instrument: InstrumentConfig | None = None  # rules for a symbol paper / replay do not bundle
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    # ``symbols:`` (issue 18): one config per symbol; this one is then the shared blocks as written
    symbol_configs: tuple["AppConfig", ...] = field(default=(), repr=False)

    @property
    def policy(self) -> str:
        return self.rebalancer.policy

    def per_symbol(self) -> tuple["AppConfig", ...]:
        """One config per symbol to run: the ``symbols:`` entries, or this config alone."""
        return self.symbol_configs or (self,)

    def only(self, symbol: str) -> "AppConfig":
        """The config of ``symbol`` alone (``--symbol`` on a ``symbols:`` file); ``self`` when it
        has no ``symbols:`` (then ``symbol`` replaces its own)."""
        if not self.symbol_configs:
            return replace(self, symbol=symbol)
        for c in self.symbol_configs:
            if c.symbol == symbol:
                return c
        from core.config.fields import ConfigError

        names = ", ".join(c.symbol for c in self.symbol_configs)
        raise ConfigError(self.path, "symbols", f"{symbol} is not one of this file's symbols ({names})")

    def with_overrides(self, **changes: Any) -> "AppConfig":
        return replace(self, **changes)
