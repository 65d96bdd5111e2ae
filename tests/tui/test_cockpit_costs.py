"""The cockpit shows the fee rates in use (Positions) and, under ``execution.style: auto``, both
cost estimates and the choice (the decision card) — readable at 80x24 and on the wide layout."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.execution_choice import estimate
from tui.panes.decision import body
from tui.panes.positions import fees_line

SIZES = [(80, 24), (160, 48)]


def test_the_fee_line_says_both_rates_with_their_digits(fakes):
    s = fakes.make_state(maker_fee_rate=0.0002, taker_fee_rate=0.00055)
    assert fees_line(s).plain == "fees maker 0.02% · taker 0.055%"
    assert fees_line(fakes.make_state(maker_fee_rate=0.001, taker_fee_rate=0.001)).plain == \
        "fees maker 0.1% · taker 0.1%"


def test_the_decision_card_shows_both_estimates_and_the_choice(fakes):
    cost = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=60_010.4, ask=60_010.6, wait_s=30, sigma_bps=0.2)
    text = "\n".join(" ".join(t.plain for t in row) for row in body(fakes.make_state(decision_cost=cost)).rows)
    # rest 0.5 x (2 + 0.874) + 0.5 x 5.517 (an even fill chance before any record) = 4.195
    assert "cost take 5.5 · rest 4.2 bps" in text and "→ rest" in text
    assert "exec maker → taker (cheaper)" in text
    shown = replace(fakes.make_proposal(), cost=cost)  # a proposal shows the estimate it was drafted with
    text = "\n".join(" ".join(t.plain for t in row) for row in body(fakes.make_state(proposal=shown)).rows)
    assert "cost take 5.5 · rest 4.2 bps" in text
    plain = "\n".join(" ".join(t.plain for t in row) for row in body(fakes.make_state()).rows)
    assert "cost " not in plain and "cheaper" not in plain  # maker_first / taker: no estimate, no row


async def _screen(fakes, size, state, keys=()) -> str:
    return await fakes.shown_text(size, state, keys)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_positions_pane_shows_the_rates_in_use(fakes, size):
    state = fakes.make_state(maker_fee_rate=0.0002, taker_fee_rate=0.00055)
    text = await _screen(fakes, size, state, keys=("2",) if size[0] < 120 else ())
    assert "fees maker 0.02% · taker 0.055%" in text, text


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_decision_card_shows_the_estimates_on_screen(fakes, size):
    cost = estimate(maker_fee=0.001, taker_fee=0.001, bid=60_010.4, ask=60_010.6, wait_s=30, sigma_bps=1.0)
    text = await _screen(fakes, size, fakes.make_state(decision_cost=cost))
    # rest 0.5 x (10 + 4.370) + 0.5 x 10.017 = 12.193
    assert "cost take 10.0 · rest 12.2 bps" in text and "→ take" in text, text
