"""``core.config.yaml_reader``: what YAML 1.1 would have silently changed is kept as written."""

from __future__ import annotations

import pytest

from core.config import ConfigError, load_config
from core.config.yaml_reader import MAX_DEPTH, YamlProblem, read_yaml


@pytest.mark.parametrize("text, value", [
    ("6e-3", 0.006), ("1E3", 1000.0), ("-2.5e-1", -0.25), ("1_000", 1000), ("0x1f", 31), ("0", 0), ("-7", -7),
    ("0.5", 0.5), (".5", 0.5), ("true", True), ("false", False), ("null", None), ("~", None),
    # YAML 1.1 would read these as 7, 750, false, true, false: here they stay what they look like
    ("007", "007"), ("12:30", "12:30"), ("no", "no"), ("yes", "yes"), ("off", "off"), ("on", "on"), ("y", "y"),
    ("'6e-3'", "6e-3"), ('"true"', "true"),
])
def test_scalars_read_as_yaml_1_2(text, value):
    got = read_yaml(f"k: {text}\n")["k"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text, words", [
    ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' (lines 1 and 3)"),
    ("a: {b: 1, c: 2, b: 3}\n", "duplicate key 'b'"),
    ("k: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", "nested deeper than"),
    ("k: " + "1" * 41 + "\n", "digits: too long"),
    ("a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
     "d: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n", "too large"),
])
def test_traps_are_refused(text, words):
    with pytest.raises(YamlProblem, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_yaml(text)


def test_small_aliases_still_work():
    assert read_yaml("a: &x {p: 1}\nb: *x\n") == {"a": {"p": 1}, "b": {"p": 1}}


def test_a_config_keeps_text_that_looks_like_a_number(write_config):
    path = write_config("symbol: BTCUSDT\napi: {account_name: 007}\nrebalancer:\n  thresholds: {soft: 6e-3, hard: 2e-2}\n")
    cfg = load_config(path, need_secrets=False)
    assert cfg.api.account_name == "007" and cfg.rebalancer.settings.thresholds.soft == 0.006
    path = write_config("symbol: BTCUSDT\napi: {account_name: 12:30}\n", name="b.yaml")
    assert load_config(path, need_secrets=False).api.account_name == "12:30"


def test_a_yes_for_a_boolean_says_what_is_expected(write_config):
    path = write_config("symbol: BTCUSDT\njournal: {enabled: yes}\n")
    with pytest.raises(ConfigError) as e:
        load_config(path, need_secrets=False)
    assert e.value.key == "journal.enabled" and "expected true or false" in str(e.value)


@pytest.mark.parametrize("text, key, hint", [
    ("journal: {enabled: no}", "journal.enabled", "write false for 'no'"),
    ("journal: {enabled: on}", "journal.enabled", "write true for 'on'"),
    ("paper: {seed: 007}", "paper.seed", "without leading zeros"),
    ("paper: {start_price: '12:30'}", "paper.start_price", None),
    ("paper: {start_price: 12:30}", "paper.start_price", "without leading zeros or colons"),
])
def test_text_that_old_yaml_would_have_converted_gets_a_hint(write_config, text, key, hint):
    path = write_config(f"symbol: BTCUSDT\n{text}\n")
    with pytest.raises(ConfigError) as e:
        load_config(path, need_secrets=False)
    assert e.value.key == key
    if hint:
        assert hint in str(e.value)
