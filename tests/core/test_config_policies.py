"""The ``rebalancer:`` block as a tagged union: one policy's own settings, other policies'
settings under ``other_policies:``, and errors that say where a misplaced key belongs."""

from __future__ import annotations

import dataclasses

import pytest

from core.config import (
    AnchorPolicyConfig, BaselinePolicyConfig, ConfigError, SimplePolicyConfig, config_from_dict, effective_config_dict,
)
from core.policy import make_policy
from tests.builders import BASE_CONFIG, SIMPLE_BLOCK, apply_overrides


def load(**overrides):
    return config_from_dict(apply_overrides(BASE_CONFIG, overrides), file="<test>")


def error(**overrides) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load(**overrides)
    return e.value


def test_each_policy_carries_only_its_own_block():
    anchor = load().rebalancer
    assert isinstance(anchor.settings, AnchorPolicyConfig) and anchor.policy == "anchor"
    simple = load(rebalancer=SIMPLE_BLOCK).rebalancer
    assert isinstance(simple.settings, SimplePolicyConfig) and simple.policy == "simple"
    assert not hasattr(simple.settings, "thresholds") and not hasattr(simple.settings, "anchor")
    field_names = {f.name for f in dataclasses.fields(simple)}
    assert field_names.isdisjoint({"anchor", "simple", "baseline"})  # one block, not three with defaults


def test_other_policies_give_policy_switches_their_own_settings():
    cfg = load(rebalancer__other_policies={"baseline": {"check_interval_s": 15, "min_trade_base": 0.001},
                                           "simple": {"rebalance_threshold_usdt": 250}})
    r = cfg.rebalancer
    assert r.policy == "anchor"
    base = r.with_policy("baseline")
    assert base.policy == "baseline" and base.settings == BaselinePolicyConfig(check_interval_s=15, min_trade_base=0.001)
    assert base.with_policy("anchor").settings == r.settings  # the anchor block is kept for switching back
    assert make_policy(r, "baseline").cfg.check_interval_s == 15
    assert make_policy(r, "simple").cfg.rebalance_threshold_usdt == 250
    # a policy with no block of its own runs on its defaults
    assert load().rebalancer.with_policy("baseline").settings == BaselinePolicyConfig()
    eff = effective_config_dict(cfg)["rebalancer"]
    assert eff["policy"] == "anchor" and eff["other_policies"]["baseline"]["check_interval_s"] == 15


@pytest.mark.parametrize("others, key, words", [
    ({"basline": {}}, "rebalancer.other_policies.basline", ("unknown policy", "did you mean 'baseline'")),
    ({"anchor": {}}, "rebalancer.other_policies.anchor", ("is the chosen policy",)),
    ({"baseline": {"check_intervl_s": 5}}, "rebalancer.other_policies.baseline.check_intervl_s",
     ("unknown key", "did you mean 'check_interval_s'")),
    ({"baseline": {"check_interval_s": -5}}, "rebalancer.other_policies.baseline.check_interval_s", ("expected",)),
    ({"baseline": 7}, "rebalancer.other_policies.baseline", ("expected a mapping",)),
    ([1, 2], "rebalancer.other_policies", ("expected a mapping",)),
])
def test_other_policies_are_validated_by_their_own_schema(others, key, words):
    e = error(rebalancer__other_policies=others)
    assert e.key == key
    for w in words:
        assert w in str(e)


def test_checks_across_keys_hold_in_another_policys_block_too():
    simple_with_anchor = {**SIMPLE_BLOCK, "other_policies": {"anchor": {"thresholds": {"soft": 0.01, "hard": 0.005}}}}
    with pytest.raises(ConfigError) as e:
        config_from_dict({**BASE_CONFIG, "rebalancer": simple_with_anchor}, file="<t>")
    assert e.value.key == "rebalancer.other_policies.anchor.thresholds.soft" and "soft < hard" in str(e.value)
    ok = {**SIMPLE_BLOCK, "other_policies": {"anchor": {"thresholds": {"soft": 0.001, "hard": 0.005}}}}
    r = config_from_dict({**BASE_CONFIG, "rebalancer": ok}, file="<t>").rebalancer
    assert r.policy == "simple" and r.with_policy("anchor").settings.thresholds.hard == 0.005


@pytest.mark.parametrize("overrides, key, where", [
    ({"policy": "anchor"}, "policy", "it belongs under 'rebalancer:'"),
    ({"paper__levels": 10}, "paper.levels", "it belongs under 'paper.grid:'"),
    ({"rebalancer__soft": 0.01}, "rebalancer.soft", "it belongs under 'rebalancer.thresholds:'"),
    ({"rebalancer__cooldown_s": 5}, "rebalancer.cooldown_s", "it belongs under 'rebalancer.risk:'"),
    ({"api__venue": "paper"}, "api.venue", "it belongs at the top level"),
])
def test_a_known_key_at_the_wrong_level_says_where_it_belongs(overrides, key, where):
    e = error(**overrides)
    assert e.key == key and where in str(e)


def test_a_typo_still_gets_a_did_you_mean():
    assert "did you mean 'soft'" in str(error(rebalancer__thresholds__sofft=0.004))


def test_another_policys_key_points_at_other_policies():
    e = error(rebalancer__rebalance_threshold_usdt=100)
    assert e.key == "rebalancer.rebalance_threshold_usdt"
    assert "belongs to the simple policy" in str(e) and "other_policies" in str(e)
