"""``core.session``: the one place a session is wired, and the Bybit venue's settings value."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import ConfigError
from core.journal import Journal
from core.model import BTCUSDT_SPOT, Mode, TradingState
from core.session import Environment, build_rebalancer, build_session
from core.venues.bybit import BybitVenue
from core.venues.bybit_settings import BybitSettings
from core.venues.paper import PaperVenue

T0 = 1_700_000_000_000


def env(tmp_path, **kw) -> Environment:
    return Environment(data_dir=tmp_path, now_ms=lambda: T0, **kw)


def test_a_paper_session_is_wired_from_the_config_and_the_environment(tmp_path, make_config):
    cfg = make_config(mode="auto")
    s = build_session(cfg, env(tmp_path, paper_speed=0))
    assert isinstance(s.venue, PaperVenue) and s.engine.venue is s.venue and s.engine.reb is s.rebalancer
    assert s.rebalancer.mode is Mode.AUTO and s.rebalancer.venue_name == "paper"
    assert s.venue.speed == 0  # the environment's override, not paper.speed
    # ids come from the environment's clock, and never repeat in one process (even at the same ms)
    tag = s.rebalancer.session_tag
    assert len(tag) == 7 and tag.endswith("x")
    assert build_session(cfg, Environment(now_ms=lambda: T0)).rebalancer.session_tag != tag
    assert s.venue.exchange.id_prefix == s.rebalancer.session_tag
    # the journal lives under the data dir, named for account, venue and symbol
    assert s.journal is not None and s.engine.journal is s.journal
    path = Path(s.journal.path)
    assert path.parent == tmp_path / "journals" and "paper" in path.name
    s.journal.close()


def test_no_journal_when_disabled_or_nowhere_to_put_it(tmp_path, make_config):
    assert build_session(make_config(journal__enabled=False), env(tmp_path)).journal is None
    assert build_session(make_config(), Environment(now_ms=lambda: T0)).journal is None
    assert not (tmp_path / "journals").exists()


def test_a_given_journal_restores_the_halt_into_the_rebalancer(tmp_path, make_config):
    j = Journal(tmp_path / "j.sqlite")
    j.record_state(T0, "trading_state", "HALTED", "kill switch: drawdown 11%")
    s = build_session(make_config(), Environment(journal=j, now_ms=lambda: T0))
    assert s.journal is j
    assert s.rebalancer.risk.state is TradingState.HALTED and "drawdown 11%" in s.rebalancer.risk.halt_reason
    j.close()


def test_replay_and_sessions_build_the_same_rebalancer(make_config):
    cfg = make_config(mode="watch")
    reb = build_rebalancer(cfg, venue_name="replay", instrument=BTCUSDT_SPOT, policy="baseline", mode="auto")
    assert reb.mode is Mode.AUTO and reb.policy_name == "baseline" and reb.session_tag == ""
    assert build_rebalancer(cfg, venue_name="paper", instrument=BTCUSDT_SPOT).mode is Mode.WATCH


def test_the_paper_venue_simulates_any_bundled_symbol_on_its_own_rules(tmp_path, make_config):
    from core.instruments import bundled

    s = build_session(make_config(symbol="SOLUSDT"), env(tmp_path))
    spot, linear = bundled("SOLUSDT")
    assert s.rebalancer.instrument == spot and s.venue.exchange.spot == spot and s.venue.exchange.linear == linear
    grid = s.venue.exchange.grid  # sized for SOL: 0.002 BTC at 60,000 is 0.8 SOL at 150, on the perp's 0.1 step
    assert grid.qty_per_level == Decimal("0.8") and 145 < float(grid.lower) < 150 < float(grid.upper) < 155
    assert s.rebalancer.symbol == "SOLUSDT" and "SOLUSDT" in Path(s.journal.path).name
    s.journal.close()


def test_the_paper_venue_refuses_a_symbol_it_has_no_rules_for(tmp_path, make_config):
    with pytest.raises(ConfigError, match="no trading rules for SOLUSDC.*did you mean SOLUSDT") as e:
        build_session(make_config(symbol="SOLUSDC"), env(tmp_path))
    assert e.value.key == "symbol"


def test_a_bybit_session_needs_keys(tmp_path, make_config):
    with pytest.raises(ConfigError, match="BYBIT_API_KEY_"):
        build_session(make_config(venue="testnet"), env(tmp_path))


def test_a_bybit_session_takes_its_settings_from_the_config_and_changes_from_the_environment(tmp_path, make_config):
    cfg = make_config(venue="demo", mode="watch", api__rest_url="http://127.0.0.1:9/", api__recv_window_ms=7000,
                      _env={"BYBIT_API_KEY_Tst": "key-123456789", "BYBIT_API_SECRET_Tst": "secret-abcdefgh"},
                      _need_secrets=True)
    s = build_session(cfg, Environment(now_ms=lambda: T0, venue_changes={"watchdog_interval_s": 0.05}))
    v = s.venue
    assert isinstance(v, BybitVenue)
    st = v.settings
    assert (st.venue, st.symbol, st.rest_url, st.recv_window_ms) == ("demo", "BTCUSDT", "http://127.0.0.1:9/", 7000)
    assert st.can_trade is False and v.can_trade is False  # watch mode: order calls refused by the venue
    assert st.watchdog_interval_s == 0.05 and st.client_prefix == s.rebalancer.client_prefix
    assert "secret-abcdefgh" not in repr(st) and "secret-abcdefgh" not in repr(v)


def test_bybit_settings_are_frozen_and_refuse_unknown_names():
    st = BybitSettings(symbol="btcusdt", rate_limits={"order": 5})
    assert st.symbol == "BTCUSDT" and st.rate_limits == (("order", 5),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.venue = "mainnet"  # type: ignore[misc]
    with pytest.raises(TypeError):
        dataclasses.replace(st, watchdog_interval=1.0)  # a typo is an error, not a silent default
    with pytest.raises(ValueError, match="venue"):
        BybitSettings(symbol="BTCUSDT", venue="paper")


@pytest.mark.parametrize("speed, market_speed", [(10.0, 10.0), (1.0, 1.0), (0, 1.0)])
def test_a_paper_session_tells_the_rebalancer_how_fast_market_time_runs(tmp_path, make_config, speed, market_speed):
    s = build_session(make_config(), env(tmp_path, paper_speed=speed))
    assert s.rebalancer.market_speed == market_speed  # proposal countdowns stay in wall seconds
    s.journal.close()


@pytest.mark.parametrize("venue, state_file, restored", [
    ("paper", False, False),  # a fresh paper account each start: the old account's peak is not its own
    ("paper", True, True),  # the paper account carries on from its state file
    ("testnet", False, True),  # the venue's account carries on
])
def test_the_drawdown_peak_is_restored_only_for_the_same_account(tmp_path, make_config, venue, state_file, restored):
    j = Journal(tmp_path / "j.sqlite")
    j.record_snapshot(T0, spot_base=0.5, quote=50_000, futures_size=-0.5, price=64_000, net_base=0,
                      equity_quote=82_000, target_base=0)
    cfg = make_config()
    if state_file:
        (tmp_path / "paper.json").write_text("{}")
        cfg = dataclasses.replace(cfg, paper=dataclasses.replace(cfg.paper, state_file=str(tmp_path / "paper.json")))
    cfg = dataclasses.replace(cfg, venue=venue)
    reb = build_rebalancer(cfg, venue_name=venue, instrument=BTCUSDT_SPOT, journal=j)
    assert reb.risk.peak_equity == (82_000.0 if restored else None)
    j.close()
