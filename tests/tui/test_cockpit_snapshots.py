"""SVG snapshot tests (pytest-textual-snapshot). Baselines: tests/tui/__snapshots__/.

Deterministic: a fixed FakeEngine snapshot, every time rendered from its ts_ms in UTC, no
wall clock, no blinking cursor. Regenerate after an intended visual change with
``pytest tests/tui --snapshot-update`` and look at the SVGs before committing them.
"""

from __future__ import annotations

import pytest

from core.model import Mode, TradingState
from tui.app import CockpitApp


async def _settle(pilot) -> None:
    await pilot.pause()
    pilot.app.poll()
    await pilot.pause()


def _app(fakes, **state) -> CockpitApp:
    return CockpitApp(fakes.FakeEngine(fakes.make_state(**state)), bell=False)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_semi_with_proposal(snap_compare, fakes, size):
    app = _app(fakes, mode=Mode.SEMI, proposal=fakes.make_proposal())
    assert snap_compare(app, terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_watch_on_mainnet(snap_compare, fakes, size):
    app = _app(fakes, mode=Mode.WATCH, venue="mainnet")
    assert snap_compare(app, terminal_size=size, run_before=_settle)


def test_auto_halted(snap_compare, fakes):
    app = _app(fakes, mode=Mode.AUTO, trading_state=TradingState.HALTED, halt_reason="kill switch", orders=(),
               escalation_progress=None, escalation_left_s=None)
    assert snap_compare(app, terminal_size=(160, 48), run_before=_settle)


def test_force_dialog_80x24(snap_compare, fakes):
    app = _app(fakes, mode=Mode.AUTO)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle, press=["f"])


@pytest.mark.parametrize("page", ["2", "3", "4", "5", "6"], ids=["positions", "trend", "anchor", "log", "feed"])
def test_narrow_pages(snap_compare, fakes, page):
    app = _app(fakes, mode=Mode.SEMI)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle, press=[page])


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (160, 48)], ids=["80x24", "120x36", "160x48"])
def test_five_symbols(snap_compare, fakes, size):
    """Several symbols (issue 18): the overview (page 0 at 80x24, on top where it fits), the worst
    state and the queued proposal in the header, the card labelled with the proposal's symbol."""
    from dataclasses import replace

    states = {s: fakes.make_symbol_state(s) for s in fakes.SYMBOLS5}
    states["ETHUSDT"] = replace(states["ETHUSDT"], proposal=replace(fakes.make_proposal(3), qty="0.250000",
                                                                    price_limit="3001.10"))
    states["SOLUSDT"] = replace(states["SOLUSDT"], trading_state=TradingState.HALTED, halt_reason="kill switch",
                                gap_base=9.9)
    states["XRPUSDT"] = replace(states["XRPUSDT"], mode=Mode.AUTO, orders=(), gap_base=100.0)
    states["DOGEUSDT"] = replace(states["DOGEUSDT"], trading_state=TradingState.PAUSED, gap_base=-2_000.0)
    app = CockpitApp(fakes.FakePortfolio(states), bell=False)
    assert snap_compare(app, terminal_size=size, run_before=_settle)
