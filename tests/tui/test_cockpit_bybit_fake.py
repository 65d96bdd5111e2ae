"""The cockpit on the Bybit venue, against the loopback fake of Bybit v5 (real pybit, real
sockets, 127.0.0.1 only): live numbers on screen, watch mode never sends an order even when
force is pressed, and in auto mode the journal ends equal to the fake's ledger.
"""

from __future__ import annotations

import pytest

from core.journal import Journal
from core.model import Mode
from tests.builders import session_engine
from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET
from tests.fakes.conftest_plugin import bybit_fake  # noqa: F401  (fixture)
from tui.app import CockpitApp

FAST = dict(watchdog_interval_s=0.05, rebuild_after_s=0.4, min_backoff_s=0.1, max_backoff_s=1.0,
            retry_backoff_s=0.02, subscribe_timeout_s=5.0, http_timeout_s=3.0)


def _config(make_config, fake, mode: str):
    return make_config(venue="testnet", mode=mode,
                       api__rest_url=fake.rest_url, api__ws_public_url=fake.ws_base_url,
                       api__ws_private_url=fake.ws_base_url,
                       _env={"BYBIT_API_KEY_Tst": DEFAULT_KEY, "BYBIT_API_SECRET_Tst": DEFAULT_SECRET},
                       _need_secrets=True)


async def test_watch_cockpit_shows_live_bybit_numbers_and_force_sends_nothing(bybit_fake, make_config, fakes):
    fake = bybit_fake
    fake.set_book("50000.00", "1", "50000.10", "1")
    engine = session_engine(_config(make_config, fake, "watch"), **FAST)
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await fakes.until(pilot, lambda: engine.started.is_set())
        fake.trade("50000.05", "0.01", "Buy")
        await fakes.until(pilot, lambda: app.state is not None and app.state.price == pytest.approx(50000.05))
        shot = app.export_screenshot()
        assert "TESTNET" in shot and "WATCH" in shot
        assert "50,000.05" in shot  # the fake's print, on screen
        await pilot.press("f")  # disabled in watch: nothing to confirm
        engine.control.force()  # and refused by the engine even when called directly
        await pilot.press("a")
        await pilot.pause(0.3)
        assert fake.order_request_count() == 0
        assert engine.venue.can_trade is False
        await engine.shutdown(cancel_orders=False)
    assert fake.order_request_count() == 0


async def test_auto_trades_on_the_fake_and_the_journal_equals_its_ledger(bybit_fake, make_config, tmp_path, fakes):
    fake = bybit_fake
    fake.set_book("50000.00", "1", "50000.10", "1")
    fake.set_balance("BTC", "0.12")  # 0.12 spot against a 0.1 short: gap +0.02 > hard → sell
    fake.set_position("-0.1", entry_price="50000")
    journal = Journal(tmp_path / "j.sqlite")
    engine = session_engine(_config(make_config, fake, "auto"), journal=journal, **FAST)
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await fakes.until(pilot, lambda: engine.started.is_set())
        fake.trade("50000.05", "0.01", "Buy")
        await fakes.until(pilot, lambda: len(fake.ledger.fills) > 0, 20)
        await fakes.until(pilot, lambda: abs(engine.reb.gap_base()) < 0.012, 20)
        assert engine.reb.mode is Mode.AUTO
        await engine.shutdown(cancel_orders=True)
    ledger = sorted(f.exec_id for f in fake.ledger.fills)
    j = Journal(tmp_path / "j.sqlite", create=False)
    try:
        journaled = sorted(f.exec_id for f in j.fills())
    finally:
        j.close()
    assert journaled == ledger
    assert len(set(journaled)) == len(journaled)
    assert fake.ledger.open_orders == [] or all(not o.order_link_id.startswith("rb") for o in fake.ledger.open_orders)
