"""Alerts in a real session (issue 19's "done when"): a semi-mode paper session with a
webhook URL delivers a ``proposal`` alert within a second of the proposal appearing and a
``kill`` alert on the kill switch; a market feed that stops gives ``feed_down``; a hanging
receiver does not hold the engine; a wrong URL is a config error naming its key."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from core.config import ConfigError, load_config
from core.model import Mode
from core.session import Environment, build_session
from tests.fakes.webhook import Webhook
from tui.cli import main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
DEADLINE_S = 30.0


@pytest.fixture
def hook():
    h = Webhook()
    yield h
    h.close()


def _cfg(hook: Webhook, **alerts):
    cfg = load_config(str(REPO / "config.yaml"), need_secrets=False)
    a = replace(cfg.alerts, urls=[hook.url], **alerts)
    return replace(cfg, alerts=a)


async def _until(pred, what: str) -> float:
    end = time.monotonic() + DEADLINE_S
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
    return time.monotonic()


def test_a_proposal_alert_within_a_second_and_a_kill_alert(hook, tmp_path):
    cfg = replace(_cfg(hook), mode="semi")
    session = build_session(cfg, Environment(data_dir=tmp_path, paper_speed=0))
    engine, reb = session.engine, session.rebalancer

    async def run() -> float:
        task = asyncio.create_task(engine.run())
        shown = await _until(lambda: reb.operator.proposal is not None, "a proposal")
        number = reb.operator.proposal.proposal_id
        post = await asyncio.to_thread(hook.wait_for, lambda p: f"proposal #{number}" in p.get("title", ""))
        engine.kill()
        await asyncio.to_thread(hook.wait_for, lambda p: "HALTED" in p.get("title", ""))
        await engine.shutdown(cancel_orders=True, reason="test stop")
        await task
        return post["at"] - shown

    late = asyncio.run(run())
    assert late < 1.0
    proposal = next(p for p in hook.posts if "proposal #" in p["title"])
    for field in ("event=proposal", "symbol=BTCUSDT", "side=", "qty=", "limit=", "reason=", "expires="):
        assert field in proposal["message"], field
    kill = next(p for p in hook.posts if "HALTED" in p["title"])
    assert "event=kill" in kill["message"] and "kill switch pressed" in kill["message"]
    assert sum("HALTED" in p["title"] for p in hook.posts) == 1


def test_a_market_feed_that_stops_gives_feed_down(hook, tmp_path):
    cfg = _cfg(hook, feed_down_after_s=1.0)
    market = [str(FIXTURES / "bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz")]
    cfg = replace(cfg, mode="watch", paper=replace(cfg.paper, market=market))
    session = build_session(cfg, Environment(data_dir=tmp_path, paper_speed=0))
    engine = session.engine

    async def run() -> dict:
        task = asyncio.create_task(engine.run())
        post = await asyncio.to_thread(hook.wait_for, lambda p: "feed DOWN" in p.get("title", ""), 20.0)
        await engine.shutdown(cancel_orders=True, reason="test stop")
        await task
        return post

    post = asyncio.run(run())
    assert "event=feed_down" in post["message"] and "no market data" in post["message"]


def test_a_hanging_receiver_does_not_hold_the_engine(hook, tmp_path):
    """Every request hangs; the session still trades, ticks and stops on time."""
    hook.hang.set()
    cfg = replace(_cfg(hook), mode="auto")
    session = build_session(cfg, Environment(data_dir=tmp_path, paper_speed=0))
    engine, reb = session.engine, session.rebalancer

    async def run() -> float:
        task = asyncio.create_task(engine.run())
        await _until(lambda: reb.stats.fills >= 2, "two fills of ours")
        engine.set_mode(Mode.SEMI)  # a mode alert, queued for a receiver that never answers
        engine.kill()
        t0 = time.monotonic()
        await engine.shutdown(cancel_orders=True, reason="test stop")
        await task
        return time.monotonic() - t0

    took = asyncio.run(run())
    assert reb.stats.fills >= 2
    assert took < 5.0  # the stop gives queued alerts 2 s at most, never the receiver's 30


def test_a_wrong_alert_url_is_a_config_error_naming_the_key(tmp_path, capsys):
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "\nalerts:\n  urls:\n    - json://127.0.0.1:9/ok\n    - nonsense://nowhere\n", encoding="utf-8")
    assert main(["check-config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "alerts.urls[1]" in err and "Apprise" in err
    unset = tmp_path / "unset.yaml"
    unset.write_text(text + "\nalerts:\n  urls: ['tgram://${NO_SUCH_TOKEN_HERE}/1']\n", encoding="utf-8")
    assert main(["check-config", "--config", str(unset)]) == 2
    assert "alerts.urls[0]" in capsys.readouterr().err


def test_alert_test_says_what_each_service_answered(hook, tmp_path, capsys):
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    cfg = tmp_path / "alerts.yaml"
    cfg.write_text(text + f"\nalerts:\n  urls: ['{hook.url}', 'json://127.0.0.1:1/closed']\n  timeout_s: 2\n"
                          "  retries: 0\n", encoding="utf-8")
    rc = main(["alert-test", "--config", str(cfg)])
    out = capsys.readouterr().out
    assert rc == 1
    assert f"{hook.url}: ok" in out and "json://127.0.0.1:1/closed: FAILED" in out
    assert any("alert test" in p["title"] for p in hook.posts)


def test_a_config_error_for_an_unknown_event(tmp_path):
    from core.config import config_from_dict

    with pytest.raises(ConfigError, match=r"alerts.events\[0\].*did you mean 'halt'"):
        config_from_dict({"symbol": "BTCUSDT", "alerts": {"events": ["halted"]}}, file="x.yaml")
