"""Load and validate ``config.yaml`` (both policy shapes) and the API secrets.

Every problem becomes one ``ConfigError`` naming the file, the key path and what was
expected, so a trader can fix a typo without reading code. The CLI turns it into exit code 2.

The ``rebalancer:`` block takes one of three shapes:

- ``anchor`` (EMA/anchor aware, seed 000): ``desired_net_delta_base``, ``thresholds``, ``bias``,
  ``ema``, ``anchor`` ... in base units;
- ``simple`` (seed 001, verbatim): ``target_delta_usdt``, ``rebalance_threshold_usdt``,
  ``use_trend`` ... in USDT;
- ``baseline``: trade the whole gap at market every ``check_interval_s`` (for comparison).

``policy:`` picks one explicitly; without it the shape is inferred from the keys and the
inference is reported (``AppConfig.policy_note``).
"""

from __future__ import annotations

import difflib
import os
import stat
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from core.errors import RebalancerError

VENUES = ("paper", "testnet", "demo", "mainnet")


class ConfigError(RebalancerError):
    """A configuration problem, worded for the person editing the file."""

    def __init__(self, file: str | os.PathLike | None, key: str, expected: str, got: Any = MISSING):
        self.file = str(file) if file is not None else "<config>"
        self.key = key
        self.expected = expected
        self.got = got
        where = f"{self.file}: {key}" if key else self.file
        got_txt = "" if got is MISSING else f" (got {_show(got)})"
        super().__init__(f"{where}: {expected}{got_txt}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"{type(value).__name__} {value!r}"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


def _check(ok: bool, text: str) -> str | None:
    return None if ok else text


def _range(lo: float | None = None, hi: float | None = None, *, lo_open=False, hi_open=False):
    """A field check: value within [lo, hi] (or open at either end)."""

    def check(v: float) -> str | None:
        if lo is not None and (v <= lo if lo_open else v < lo):
            return f"a number {'>' if lo_open else '>='} {lo}" + (f" and {'<' if hi_open else '<='} {hi}" if hi is not None else "")
        if hi is not None and (v >= hi if hi_open else v > hi):
            return f"a number {'<' if hi_open else '<='} {hi}" + (f" and {'>' if lo_open else '>='} {lo}" if lo is not None else "")
        return None

    return check


POSITIVE = _range(0, lo_open=True)
NON_NEGATIVE = _range(0)
UNIT = _range(0, 1)


def _f(default: Any = MISSING, check=None, doc: str = "", factory=None):
    meta = {"check": check, "doc": doc}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


# ---------------------------------------------------------------- blocks


@dataclass(frozen=True)
class ThresholdsConfig:
    soft: float = _f(0.006, POSITIVE, "partial rebalance past this |gap|")
    hard: float = _f(0.02, POSITIVE, "full rebalance past this |gap|")
    units: Literal["base", "pct_of_spot_notional"] = _f("base")


@dataclass(frozen=True)
class BiasConfig:
    mode: Literal["ema", "manual", "off"] = _f("ema")
    strength: float = _f(0.5, UNIT, "how strongly bias widens or tightens thresholds")
    w_ema: float = _f(0.6, NON_NEGATIVE)
    w_anchor: float = _f(0.4, NON_NEGATIVE)
    manual_override: float = _f(0.0, _range(-1, 1))
    min_scale: float = _f(0.25, _range(0, 1, lo_open=True))
    max_scale: float = _f(2.0, _range(1))


@dataclass(frozen=True)
class EmaConfig:
    fast: int = _f(9, POSITIVE)
    slow: int = _f(21, POSITIVE)
    timeframe: str = _f("1m", None, "candle length: 15s, 1m, 5m, 1h ...")
    slope_lookback_s: float = _f(300.0, POSITIVE)
    trend_threshold_pct: float = _f(0.1, POSITIVE)


@dataclass(frozen=True)
class AnchorConfig:
    window_s: float = _f(600.0, POSITIVE, "recent-fills window for the VWAP anchors")
    edge_bps_soft: float = _f(5.0, NON_NEGATIVE)
    edge_bps_hard: float = _f(0.0, NON_NEGATIVE)
    max_wait_s_on_soft: float = _f(120.0, NON_NEGATIVE)
    degrade_edge_with_time: bool = _f(True)
    full_bias_edge_bps: float = _f(50.0, POSITIVE, "edge (bps) at which the anchor bias reaches ±1")


@dataclass(frozen=True)
class ExecutionConfig:
    maker_first: bool = _f(True)
    chase_ticks: int = _f(2, _range(1))
    chase_interval_s: float = _f(2.0, NON_NEGATIVE)
    max_chase_s: float = _f(30.0, NON_NEGATIVE, "soft path: chase this long, then escalate or give up")
    hard_maker_wait_s: float = _f(5.0, NON_NEGATIVE, "hard path: rest a maker order this long, then take")
    soft_taker_after_wait: bool = _f(True, None, "soft path: take when the chase times out")
    slippage_cap_bps: float = _f(10.0, POSITIVE, "taker limit = touch ± this")
    min_trade_base: float = _f(0.0001, NON_NEGATIVE)
    max_trade_base: float = _f(1.0, POSITIVE)


@dataclass(frozen=True)
class RiskConfig:
    cooldown_s: float = _f(10.0, NON_NEGATIVE, "no new rebalance this long after one")
    hard_cooldown_s: float = _f(2.0, NON_NEGATIVE, "cooldown that applies to the hard path")
    hysteresis_pct: float = _f(0.5, NON_NEGATIVE, "an opposite-side trade needs |gap| ≥ soft × (1 + this)")
    hysteresis_window_s: float = _f(300.0, NON_NEGATIVE)
    max_notional_per_trade: float = _f(50_000.0, POSITIVE)
    max_notional_per_hour: float = _f(250_000.0, POSITIVE)
    max_notional_per_day: float = _f(1_000_000.0, POSITIVE)
    max_orders_per_minute: int = _f(30, POSITIVE)
    stale_after_s: float = _f(10.0, POSITIVE)
    max_drawdown_pct: float = _f(10.0, _range(0, 100, lo_open=True))
    max_drawdown_quote: float | None = _f(None, POSITIVE)


@dataclass(frozen=True)
class AnchorPolicyConfig:
    desired_net_delta_base: float = _f(0.0)
    thresholds: ThresholdsConfig = _f(factory=ThresholdsConfig)
    partial_rebalance_ratio: float = _f(0.5, _range(0, 1, lo_open=True))
    bias: BiasConfig = _f(factory=BiasConfig)
    ema: EmaConfig = _f(factory=EmaConfig)
    anchor: AnchorConfig = _f(factory=AnchorConfig)


@dataclass(frozen=True)
class SimplePolicyConfig:
    """Seed 001's block, key for key."""

    target_delta_usdt: float = _f(0.0)
    rebalance_threshold_usdt: float = _f(100.0, POSITIVE)
    use_trend: bool = _f(True)
    ema_fast_period: int = _f(9, POSITIVE)
    ema_slow_period: int = _f(21, POSITIVE)
    ema_timeframe: str = _f("1m")
    trend_threshold_pct: float = _f(0.1, POSITIVE)
    trend_multiplier: float = _f(1.5, _range(1))
    use_limit_orders: bool = _f(True)
    max_wait_seconds: float = _f(30.0, NON_NEGATIVE)
    cooldown_seconds: float = _f(10.0, NON_NEGATIVE)


@dataclass(frozen=True)
class BaselinePolicyConfig:
    desired_net_delta_base: float = _f(0.0)
    check_interval_s: float = _f(60.0, POSITIVE)
    min_trade_base: float = _f(0.0005, POSITIVE)


@dataclass(frozen=True)
class RebalancerConfig:
    policy: Literal["anchor", "simple", "baseline"]
    anchor: AnchorPolicyConfig
    simple: SimplePolicyConfig
    baseline: BaselinePolicyConfig
    execution: ExecutionConfig
    risk: RiskConfig
    spot_reserve_base: float = 0.0
    proposal_ttl_s: float = 30.0
    evaluate_every_s: float = 1.0


@dataclass(frozen=True)
class ApiConfig:
    account_name: str = _f("main")
    testnet: bool | None = _f(None, None, "seed key: true → testnet, false → mainnet")
    domain: str = _f("bybit")
    tld: str = _f("com")
    rest_url: str | None = _f(None)
    ws_public_url: str | None = _f(None)
    ws_private_url: str | None = _f(None)
    recv_window_ms: int = _f(5000, POSITIVE)
    on_start_open_orders: Literal["adopt", "cancel"] = _f("cancel")


@dataclass(frozen=True)
class GridConfig:
    lower: float | None = _f(None, POSITIVE, "lowest grid price; unset: first price − span_pct")
    upper: float | None = _f(None, POSITIVE, "highest grid price; unset: first price + span_pct")
    span_pct: float = _f(1.0, _range(0, 50, lo_open=True), "half-width around the first price when lower/upper are unset")
    levels: int = _f(80, _range(2))
    qty_per_level: float = _f(0.002, POSITIVE)
    mode: Literal["neutral", "long", "short"] = _f("neutral")


@dataclass(frozen=True)
class PaperConfig:
    base_balance: float = _f(0.5, NON_NEGATIVE)
    quote_balance: float = _f(50_000.0, NON_NEGATIVE)
    futures_size: float = _f(-0.5)
    futures_entry: float | None = _f(None, POSITIVE)
    market: str | list[str] = _f("synthetic", None, "'synthetic' or CSV file path(s)")
    seed: int = _f(7)
    start_price: float = _f(60_000.0, POSITIVE)
    speed: float = _f(1.0, NON_NEGATIVE, "replay speed in the cockpit; 0 = as fast as possible")
    latency_ms: int = _f(0, NON_NEGATIVE)
    synthetic_spread_ticks: int = _f(1, _range(1))
    grid: GridConfig | None = _f(factory=GridConfig)
    state_file: str | None = _f(None)


@dataclass(frozen=True)
class JournalConfig:
    enabled: bool = _f(True)
    dir: str | None = _f(None, None, "default: $REBALANCER_DATA_DIR or ~/.local/share/spot-rebalancer")


@dataclass(frozen=True)
class UiConfig:
    refresh_hz: float = _f(5.0, _range(0.5, 10))
    log_file: str | None = _f(None)


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

    @property
    def policy(self) -> str:
        return self.rebalancer.policy

    def with_overrides(self, **changes: Any) -> "AppConfig":
        return replace(self, **changes)


# ---------------------------------------------------------------- generic builder


_TYPE_WORDS = {float: "a number", int: "a whole number", bool: "true or false", str: "text"}


def _type_word(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        parts = [_type_word(a) for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(parts)
    if origin is list:
        return "a list of " + _type_word(typing.get_args(tp)[0])
    if is_dataclass(tp):
        return "a mapping (key: value lines)"
    return _TYPE_WORDS.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(tp: Any, value: Any, file: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, file, key)
            except ConfigError as e:
                errors.append(e)
        raise ConfigError(file, key, f"expected {_type_word(tp)}", value)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value is False and "off" in choices:
            return "off"  # YAML 1.1 reads a bare `off` as false
        if value in choices and not isinstance(value, bool):
            return value
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, [str(c) for c in choices], n=1)
            hint = f" — did you mean {close[0]!r}?" if close else ""
        raise ConfigError(file, key, f"expected one of {', '.join(repr(c) for c in choices)}{hint}", value)
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected {_type_word(tp)}", value)
        return [_coerce(item, v, file, f"{key}[{i}]") for i, v in enumerate(value)]
    if is_dataclass(tp):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(file, key, "expected a mapping (key: value lines)", value)
        return _build(tp, value, file, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(file, key, "expected true or false", value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(file, key, "expected a number", value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(file, key, "expected a finite number", value)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(file, key, "expected a whole number", value)
        return value
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(file, key, "expected text", value)
    raise TypeError(f"unsupported config type {tp!r}")  # programming error


def _build(cls: type, data: dict, file: str, prefix: str, *, skip: tuple[str, ...] = ()) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for k in data:
        if k in skip:
            continue
        if k not in known:
            close = difflib.get_close_matches(str(k), sorted(known), n=1)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            allowed = ", ".join(sorted(known))
            raise ConfigError(file, _join(prefix, k), f"unknown key{hint} (allowed here: {allowed})")
    kwargs = {}
    for f in fields(cls):
        key = _join(prefix, f.name)
        if f.name in data:
            val = _coerce(hints[f.name], data[f.name], file, key)
            check = f.metadata.get("check") if f.metadata else None
            if check is not None and val is not None and not isinstance(val, (list, dict, bool)):
                problem = check(val)
                if problem:
                    raise ConfigError(file, key, f"expected {problem}", data[f.name])
            kwargs[f.name] = val
        elif f.default is MISSING and f.default_factory is MISSING:  # type: ignore[misc]
            raise ConfigError(file, key, f"missing: expected {_type_word(hints[f.name])}")
    return cls(**kwargs)


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


# ---------------------------------------------------------------- policy shapes


ANCHOR_KEYS = {f.name for f in fields(AnchorPolicyConfig)}
SIMPLE_KEYS = {f.name for f in fields(SimplePolicyConfig)}
BASELINE_KEYS = {f.name for f in fields(BaselinePolicyConfig)}
SHARED_KEYS = {"policy", "execution", "risk", "spot_reserve_base", "proposal_ttl_s", "evaluate_every_s"}
_SHAPES = {"anchor": ANCHOR_KEYS, "simple": SIMPLE_KEYS, "baseline": BASELINE_KEYS}


def _infer_policy(block: dict) -> tuple[str, str]:
    keys = set(block) - SHARED_KEYS
    hits = {}
    for name, own in _SHAPES.items():
        others = set().union(*(k for n, k in _SHAPES.items() if n != name))
        found = sorted(keys & (own - others))
        if found:
            hits[name] = found
    if len(hits) > 1:
        parts = "; ".join(f"{', '.join(v[:3])} ({n})" for n, v in hits.items())
        return "", f"keys of different policies are mixed: {parts}; set 'policy:' and keep one shape"
    if hits:
        (name, found), = hits.items()
        return name, f"policy: {name} (inferred from {', '.join(found[:3])})"
    return "anchor", "policy: anchor (inferred: the default)"


def _build_rebalancer(block: Any, file: str) -> tuple[RebalancerConfig, str]:
    if block is None:
        block = {}
    if not isinstance(block, dict):
        raise ConfigError(file, "rebalancer", "expected a mapping (key: value lines)", block)
    note = ""
    policy = block.get("policy")
    if policy is None:
        policy, note = _infer_policy(block)
        if not policy:
            raise ConfigError(file, "rebalancer", note)
    else:
        policy = _coerce(Literal["anchor", "simple", "baseline"], policy, file, "rebalancer.policy")
        note = f"policy: {policy} (set in the file)"
    shape_keys = _SHAPES[policy]
    for k in block:
        if k in SHARED_KEYS or k in shape_keys:
            continue
        others = [name for name, keys in _SHAPES.items() if k in keys and name != policy]
        if others:
            raise ConfigError(
                file, f"rebalancer.{k}",
                f"this key belongs to the {others[0]} policy, but policy is {policy!r}: remove it or change 'policy:'",
            )
        close = difflib.get_close_matches(str(k), sorted(shape_keys | SHARED_KEYS), n=1)
        hint = f" — did you mean {close[0]!r}?" if close else ""
        raise ConfigError(file, f"rebalancer.{k}", f"unknown key for the {policy} policy{hint}")
    policy_block = {k: v for k, v in block.items() if k in shape_keys}
    anchor = AnchorPolicyConfig()
    simple = SimplePolicyConfig()
    baseline = BaselinePolicyConfig()
    if policy == "anchor":
        anchor = _build(AnchorPolicyConfig, policy_block, file, "rebalancer")
        t = anchor.thresholds
        if t.soft >= t.hard:
            raise ConfigError(file, "rebalancer.thresholds.soft", f"expected soft < hard (soft {t.soft}, hard {t.hard})")
        if anchor.ema.fast >= anchor.ema.slow:
            raise ConfigError(file, "rebalancer.ema.fast", f"expected fast < slow (fast {anchor.ema.fast}, slow {anchor.ema.slow})")
        if anchor.bias.w_ema + anchor.bias.w_anchor == 0 and anchor.bias.mode != "off":
            raise ConfigError(file, "rebalancer.bias.w_ema", "expected w_ema + w_anchor > 0 (or bias.mode: off)")
        parse_timeframe_ms(anchor.ema.timeframe, file, "rebalancer.ema.timeframe")
    elif policy == "simple":
        simple = _build(SimplePolicyConfig, policy_block, file, "rebalancer")
        if simple.ema_fast_period >= simple.ema_slow_period:
            raise ConfigError(
                file, "rebalancer.ema_fast_period",
                f"expected ema_fast_period < ema_slow_period ({simple.ema_fast_period} vs {simple.ema_slow_period})",
            )
        parse_timeframe_ms(simple.ema_timeframe, file, "rebalancer.ema_timeframe")
    else:
        baseline = _build(BaselinePolicyConfig, policy_block, file, "rebalancer")
    execution = _coerce(ExecutionConfig, block.get("execution"), file, "rebalancer.execution")
    risk = _coerce(RiskConfig, block.get("risk"), file, "rebalancer.risk")
    if execution.min_trade_base > execution.max_trade_base:
        raise ConfigError(file, "rebalancer.execution.min_trade_base", "expected min_trade_base <= max_trade_base")
    if policy == "simple":
        # The seed's execution keys drive the shared execution/risk settings unless those
        # blocks set them explicitly.
        exec_block = block.get("execution") or {}
        risk_block = block.get("risk") or {}
        if "maker_first" not in exec_block:
            execution = replace(execution, maker_first=simple.use_limit_orders)
        if "max_chase_s" not in exec_block:
            execution = replace(execution, max_chase_s=simple.max_wait_seconds)
        if "cooldown_s" not in risk_block:
            risk = replace(risk, cooldown_s=simple.cooldown_seconds)
    extras = {k: block[k] for k in ("spot_reserve_base", "proposal_ttl_s", "evaluate_every_s") if k in block}
    spot_reserve = _coerce(float, extras.get("spot_reserve_base", 0.0), file, "rebalancer.spot_reserve_base")
    ttl = _coerce(float, extras.get("proposal_ttl_s", 30.0), file, "rebalancer.proposal_ttl_s")
    every = _coerce(float, extras.get("evaluate_every_s", 1.0), file, "rebalancer.evaluate_every_s")
    if spot_reserve < 0:
        raise ConfigError(file, "rebalancer.spot_reserve_base", "expected a number >= 0", spot_reserve)
    if ttl <= 0:
        raise ConfigError(file, "rebalancer.proposal_ttl_s", "expected a number > 0", ttl)
    if every <= 0:
        raise ConfigError(file, "rebalancer.evaluate_every_s", "expected a number > 0", every)
    cfg = RebalancerConfig(
        policy=policy, anchor=anchor, simple=simple, baseline=baseline, execution=execution,
        risk=risk, spot_reserve_base=spot_reserve, proposal_ttl_s=ttl, evaluate_every_s=every,
    )
    return cfg, note


_TF_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_timeframe_ms(text: str, file: str | None = None, key: str = "timeframe") -> int:
    """'15s', '1m', '5m', '1h' (or a bare number of minutes, as Bybit writes '1', '5')."""
    t = str(text).strip().lower()
    try:
        if t.isdigit():
            ms = int(t) * 60_000
        else:
            ms = int(float(t[:-1]) * _TF_UNITS[t[-1]])
    except (KeyError, ValueError, IndexError, OverflowError):
        raise ConfigError(file, key, "expected a timeframe such as 15s, 1m, 5m, 1h", text) from None
    if ms <= 0:
        raise ConfigError(file, key, "expected a positive timeframe", text)
    return ms


# ---------------------------------------------------------------- top level

TOP_KEYS = {"symbol", "venue", "mode", "api", "rebalancer", "paper", "journal", "ui"}


def load_config(path: str | os.PathLike, *, env: dict[str, str] | None = None, load_env_file: bool = True,
                need_secrets: bool | None = None) -> AppConfig:
    """Read, validate and resolve a config file. Raises ``ConfigError``."""
    p = Path(path)
    file = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found: expected a readable YAML file") from None
    except IsADirectoryError:
        raise ConfigError(file, "", "is a directory: expected a YAML file") from None
    except PermissionError:
        raise ConfigError(file, "", "cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise ConfigError(file, "", "is not UTF-8 text: expected a YAML file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(file, "", f"invalid YAML at {where}: {problem}") from None
    return config_from_dict(data, file=file, env=env, load_env_file=load_env_file, need_secrets=need_secrets,
                            env_dir=p.resolve().parent)


def config_from_dict(data: Any, *, file: str = "<config>", env: dict[str, str] | None = None,
                     load_env_file: bool = False, need_secrets: bool | None = None,
                     env_dir: Path | None = None) -> AppConfig:
    if data is None:
        raise ConfigError(file, "", "is empty: expected at least 'symbol:' and a 'rebalancer:' block")
    if not isinstance(data, dict):
        raise ConfigError(file, "", "expected a mapping at the top level (symbol:, rebalancer:, ...)", data)
    for k in data:
        if k not in TOP_KEYS:
            close = difflib.get_close_matches(str(k), sorted(TOP_KEYS), n=1)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            raise ConfigError(file, str(k), f"unknown top-level key{hint} (allowed: {', '.join(sorted(TOP_KEYS))})")
    if "symbol" not in data:
        raise ConfigError(file, "symbol", "missing: expected the trading symbol, e.g. symbol: BTCUSDT")
    symbol = _coerce(str, data["symbol"], file, "symbol").upper()
    if not symbol.isalnum() or not symbol.endswith(("USDT", "USDC")):
        raise ConfigError(file, "symbol", "expected a spot symbol quoted in USDT or USDC, e.g. BTCUSDT", data["symbol"])
    api = _coerce(ApiConfig, data.get("api"), file, "api")
    venue_raw = data.get("venue")
    if venue_raw is None:
        venue = "paper" if api.testnet is None else ("testnet" if api.testnet else "mainnet")
    else:
        venue = _coerce(Literal["paper", "testnet", "demo", "mainnet"], venue_raw, file, "venue")
        if api.testnet is True and venue == "mainnet":
            raise ConfigError(file, "venue", "contradicts api.testnet: true (remove one)", venue_raw)
        if api.testnet is False and venue in ("testnet", "demo"):
            raise ConfigError(file, "venue", "contradicts api.testnet: false, which means mainnet (remove one)", venue_raw)
    mode = _coerce(Literal["auto", "semi", "watch"], data.get("mode", "semi"), file, "mode")
    rebalancer, note = _build_rebalancer(data.get("rebalancer"), file)
    paper = _coerce(PaperConfig, data.get("paper"), file, "paper")
    if paper.grid is not None and (paper.grid.lower is None) != (paper.grid.upper is None):
        raise ConfigError(file, "paper.grid.lower", "expected both lower and upper, or neither (then span_pct around the first price)")
    if paper.grid is not None and paper.grid.lower is not None and paper.grid.lower >= paper.grid.upper:
        raise ConfigError(file, "paper.grid.lower", f"expected lower < upper ({paper.grid.lower} vs {paper.grid.upper})")
    journal = _coerce(JournalConfig, data.get("journal"), file, "journal")
    ui = _coerce(UiConfig, data.get("ui"), file, "ui")
    cfg = AppConfig(path=file, symbol=symbol, venue=venue, mode=mode, api=api, rebalancer=rebalancer,
                    paper=paper, journal=journal, ui=ui, policy_note=note)
    if need_secrets is None:
        need_secrets = venue != "paper"
    if need_secrets:
        cfg = attach_secrets(cfg, env=env, load_env_file=load_env_file, env_dir=env_dir)
    return cfg


def secret_env_names(account: str) -> tuple[str, str]:
    return f"BYBIT_API_KEY_{account}", f"BYBIT_API_SECRET_{account}"


def attach_secrets(cfg: AppConfig, *, env: dict[str, str] | None = None, load_env_file: bool = True,
                   env_dir: Path | None = None) -> AppConfig:
    """Read ``BYBIT_API_KEY_<account>`` / ``BYBIT_API_SECRET_<account>`` from the environment,
    after loading ``.env`` (current directory, then the config's directory) without overriding
    variables already set. Warns when ``.env`` is readable by others."""
    warnings = list(cfg.warnings)
    if env is None:
        if load_env_file:
            from dotenv import load_dotenv

            for candidate in _env_files(env_dir):
                if _world_readable(candidate):
                    warnings.append(f"{candidate} is readable by other users: run chmod 600 {candidate}")
                load_dotenv(candidate, override=False)
        env = dict(os.environ)
    key_name, secret_name = secret_env_names(cfg.api.account_name)
    key, secret = env.get(key_name, "").strip(), env.get(secret_name, "").strip()
    if not key or not secret:
        missing = [n for n, v in ((key_name, key), (secret_name, secret)) if not v]
        raise ConfigError(
            cfg.path, "api.account_name",
            f"venue {cfg.venue!r} needs API keys: set {' and '.join(missing)} in the environment or in .env "
            f"(account_name is {cfg.api.account_name!r})",
        )
    return replace(cfg, secrets=ApiSecrets(key=key, secret=secret), warnings=tuple(warnings))


def _env_files(env_dir: Path | None) -> list[Path]:
    seen, out = set(), []
    for d in (Path.cwd(), env_dir):
        if d is None:
            continue
        f = (d / ".env").resolve()
        if f.is_file() and f not in seen:
            seen.add(f)
            out.append(f)
    return out


def _world_readable(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


# ---------------------------------------------------------------- effective config view


def effective_config_dict(cfg: AppConfig) -> dict:
    """The resolved config as plain data, secrets masked (for ``check-config``)."""

    def plain(obj: Any) -> Any:
        if is_dataclass(obj):
            return {f.name: plain(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, (list, tuple)):
            return [plain(x) for x in obj]
        return obj

    r = cfg.rebalancer
    policy_block = {"anchor": r.anchor, "simple": r.simple, "baseline": r.baseline}[r.policy]
    out = {
        "file": cfg.path,
        "symbol": cfg.symbol,
        "venue": cfg.venue,
        "mode": cfg.mode,
        "api": plain(cfg.api),
        "rebalancer": {
            "policy": r.policy,
            **plain(policy_block),
            "execution": plain(r.execution),
            "risk": plain(r.risk),
            "spot_reserve_base": r.spot_reserve_base,
            "proposal_ttl_s": r.proposal_ttl_s,
            "evaluate_every_s": r.evaluate_every_s,
        },
        "paper": plain(cfg.paper),
        "journal": plain(cfg.journal),
        "ui": plain(cfg.ui),
    }
    key_name, secret_name = secret_env_names(cfg.api.account_name)
    if cfg.secrets is not None:
        out["secrets"] = {key_name: mask(cfg.secrets.key), secret_name: "***"}
    else:
        out["secrets"] = {key_name: "<not loaded: paper venue needs none>", secret_name: "<not loaded>"}
    return out
