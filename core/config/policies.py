"""The ``rebalancer:`` block: which policy, that policy's own keys, shared execution and risk.

``policy:`` picks one explicitly; without it the shape is inferred from the keys and the
inference is reported (``AppConfig.policy_note``). Each policy validates its own block only;
keys of another policy are refused with a word on which policy they belong to. Settings for
the *other* policies (used by ``--policy`` and by comparisons) go under ``other_policies:``.
"""

from __future__ import annotations

import difflib
from dataclasses import fields, replace
from typing import Any, Literal

from core.config.blocks import (
    POLICY_NAMES, POLICY_SETTINGS, AnchorPolicyConfig, ExecutionConfig, PolicySettings, ProposalsConfig, RebalancerConfig, RiskConfig,
    SimplePolicyConfig,
)
from core.config.build import REBALANCER_SHARED, build, coerce, hint_for, join
from core.config.fields import ConfigError, in_range

SHARED_RANGES = {  # the rebalancer block's own numbers (the rest live in their blocks)
    "spot_reserve_base": in_range(0, 1e6),
    "proposal_ttl_s": in_range(0, 3_600, lo_open=True),
    "evaluate_every_s": in_range(0, 3_600, lo_open=True),
}
SHAPES = {name: frozenset(f.name for f in fields(cls)) for name, cls in POLICY_SETTINGS.items()}


def infer_policy(block: dict) -> tuple[str, str]:
    """``(policy, note)`` from which policy's own keys the block uses; ``("", why)`` if mixed."""
    keys = set(block) - set(REBALANCER_SHARED)
    hits = {}
    for name, own in SHAPES.items():
        others = set().union(*(k for n, k in SHAPES.items() if n != name))
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


def build_rebalancer(block: Any, file: str) -> tuple[RebalancerConfig, str]:
    if block is None:
        block = {}
    if not isinstance(block, dict):
        raise ConfigError(file, "rebalancer", "expected a mapping (key: value lines)", block)
    policy = block.get("policy")
    if policy is None:
        policy, note = infer_policy(block)
        if not policy:
            raise ConfigError(file, "rebalancer", note)
    else:
        policy = coerce(Literal["anchor", "simple", "baseline"], policy, file, "rebalancer.policy")
        note = f"policy: {policy} (set in the file)"
    own = SHAPES[policy]
    for k in block:
        if k in REBALANCER_SHARED or k in own:
            continue
        owners = [name for name, keys in SHAPES.items() if k in keys and name != policy]
        if owners:
            raise ConfigError(
                file, f"rebalancer.{k}",
                f"this key belongs to the {owners[0]} policy, but policy is {policy!r}: remove it, change 'policy:', "
                f"or give that policy's settings under 'other_policies: {{{owners[0]}: ...}}'",
            )
        raise ConfigError(file, f"rebalancer.{k}",
                          f"unknown key for the {policy} policy{hint_for(k, own | set(REBALANCER_SHARED), 'rebalancer')}")
    settings = policy_settings(policy, {k: v for k, v in block.items() if k in own}, file, "rebalancer")
    execution = coerce(ExecutionConfig, block.get("execution"), file, "rebalancer.execution")
    risk = coerce(RiskConfig, block.get("risk"), file, "rebalancer.risk")
    proposals = coerce(ProposalsConfig, block.get("proposals"), file, "rebalancer.proposals")
    if execution.min_trade_base > execution.max_trade_base:
        raise ConfigError(file, "rebalancer.execution.min_trade_base", "expected min_trade_base <= max_trade_base")
    if isinstance(settings, SimplePolicyConfig):
        execution, risk = _seed_execution(settings, execution, risk, block)
    spot_reserve = coerce(float, block.get("spot_reserve_base", 0.0), file, "rebalancer.spot_reserve_base")
    ttl = coerce(float, block.get("proposal_ttl_s", 30.0), file, "rebalancer.proposal_ttl_s")
    every = coerce(float, block.get("evaluate_every_s", 1.0), file, "rebalancer.evaluate_every_s")
    for key, value, check in (("spot_reserve_base", spot_reserve, SHARED_RANGES["spot_reserve_base"]),
                              ("proposal_ttl_s", ttl, SHARED_RANGES["proposal_ttl_s"]),
                              ("evaluate_every_s", every, SHARED_RANGES["evaluate_every_s"])):
        problem = check(value)
        if problem:
            raise ConfigError(file, f"rebalancer.{key}", f"expected {problem}", value)
    others = _other_policies(block.get("other_policies"), policy, file)
    cfg = RebalancerConfig(settings=settings, execution=execution, risk=risk, spot_reserve_base=spot_reserve,
                           proposal_ttl_s=ttl, evaluate_every_s=every, proposals=proposals, other_policies=others)
    return cfg, note


def policy_settings(policy: str, data: dict, file: str, prefix: str) -> PolicySettings:
    """One policy's own block, built and checked (including the checks across its keys)."""
    s = build(POLICY_SETTINGS[policy], data, file, prefix)
    if isinstance(s, AnchorPolicyConfig):
        t = s.thresholds
        top = t.UNIT_MAX[t.units]
        for name, v in (("soft", t.soft), ("hard", t.hard)):
            if v > top:
                raise ConfigError(file, join(prefix, f"thresholds.{name}"),
                                  f"expected a number > 0 and <= {top:g} in units '{t.units}'", v)
        if t.soft >= t.hard:
            raise ConfigError(file, join(prefix, "thresholds.soft"), f"expected soft < hard (soft {t.soft}, hard {t.hard})")
        if s.ema.fast >= s.ema.slow:
            raise ConfigError(file, join(prefix, "ema.fast"), f"expected fast < slow (fast {s.ema.fast}, slow {s.ema.slow})")
        if s.bias.w_ema + s.bias.w_anchor == 0 and s.bias.mode != "off":
            raise ConfigError(file, join(prefix, "bias.w_ema"), "expected w_ema + w_anchor > 0 (or bias.mode: off)")
        parse_timeframe_ms(s.ema.timeframe, file, join(prefix, "ema.timeframe"))
    elif isinstance(s, SimplePolicyConfig):
        if s.ema_fast_period >= s.ema_slow_period:
            raise ConfigError(
                file, join(prefix, "ema_fast_period"),
                f"expected ema_fast_period < ema_slow_period ({s.ema_fast_period} vs {s.ema_slow_period})",
            )
        parse_timeframe_ms(s.ema_timeframe, file, join(prefix, "ema_timeframe"))
    return s


def _other_policies(raw: Any, chosen: str, file: str) -> tuple[PolicySettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError(file, "rebalancer.other_policies",
                          "expected a mapping of policy name to its settings, e.g. baseline: {check_interval_s: 60}",
                          raw)
    out = []
    for name, data in raw.items():
        key = f"rebalancer.other_policies.{name}"
        if name not in POLICY_SETTINGS:
            close = difflib.get_close_matches(str(name), POLICY_NAMES, n=1)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            raise ConfigError(file, key, f"unknown policy{hint} (expected one of {', '.join(POLICY_NAMES)})")
        if name == chosen:
            raise ConfigError(file, key, f"{name} is the chosen policy: its settings go directly under 'rebalancer:'")
        if data is not None and not isinstance(data, dict):
            raise ConfigError(file, key, "expected a mapping (key: value lines)", data)
        out.append(policy_settings(name, data or {}, file, key))
    return tuple(out)


def _seed_execution(simple: SimplePolicyConfig, execution: ExecutionConfig, risk: RiskConfig,
                    block: dict) -> tuple[ExecutionConfig, RiskConfig]:
    """The seed's execution keys drive the shared execution/risk settings unless those blocks
    set them explicitly."""
    exec_block = block.get("execution") or {}
    risk_block = block.get("risk") or {}
    if "maker_first" not in exec_block:
        execution = replace(execution, maker_first=simple.use_limit_orders)
    if "max_chase_s" not in exec_block:
        execution = replace(execution, max_chase_s=simple.max_wait_seconds)
    if "cooldown_s" not in risk_block:
        risk = replace(risk, cooldown_s=simple.cooldown_seconds)
    return execution, risk


MIN_TIMEFRAME_MS, MAX_TIMEFRAME_MS = 1_000, 86_400_000
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
    if not MIN_TIMEFRAME_MS <= ms <= MAX_TIMEFRAME_MS:
        raise ConfigError(file, key, "expected a timeframe from 1s to 1d", text)
    return ms
