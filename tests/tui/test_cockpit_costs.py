"""The cockpit shows the fee rates in use (Positions) and, under ``execution.style: auto``, both
cost estimates and the choice (the decision card) — readable at 80x24 and on the wide layout."""

from __future__ import annotations

import pytest

from tui.app import CockpitApp
from tui.panes.positions import fees_line

SIZES = [(80, 24), (160, 48)]


def test_the_fee_line_says_both_rates_with_their_digits(fakes):
    s = fakes.make_state(maker_fee_rate=0.0002, taker_fee_rate=0.00055)
    assert fees_line(s).plain == "fees maker 0.02% · taker 0.055%"
    assert fees_line(fakes.make_state(maker_fee_rate=0.001, taker_fee_rate=0.001)).plain == \
        "fees maker 0.1% · taker 0.1%"


async def _screen(fakes, size, state, keys=()) -> str:
    engine = fakes.FakeEngine(state)
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=size) as pilot:
        await engine.polls(2)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        await engine.polls(1)
        return fakes.screen_text(app)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_positions_pane_shows_the_rates_in_use(fakes, size):
    state = fakes.make_state(maker_fee_rate=0.0002, taker_fee_rate=0.00055)
    text = await _screen(fakes, size, state, keys=("2",) if size[0] < 120 else ())
    assert "fees maker 0.02% · taker 0.055%" in text, text
