"""The cockpit reads well (issue 16): countdowns in wall seconds, labelled numbers, text that ends
in "…" at a word instead of being cut, at 80x24, 120x36 and 160x48.

Screens are rendered with the real app over the fake engine (``App.run_test(size=...)``) and
checked as text: what a newcomer reads, not how it is styled.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from core.model import Mode, Side
from core.state import FeedHealth
from tui.app import CockpitApp
from tui.panes.anchor import gate_text
from tui.panes.status import status_text


# ------------------------------------------------------------------ countdowns in wall seconds
def test_a_proposal_countdown_shows_the_wall_seconds_the_engine_gives_at_any_speed(fakes):
    """The engine gives a proposal the trader's 30 s at any paper speed and says how many are
    left (``proposal_left_s``, wall seconds); the header shows that, not divided again."""
    p = fakes.make_proposal(expires_in_s=300.0)  # 300 s of market time at speed 10 ...
    fast = fakes.make_state(proposal=p, feed=FeedHealth(data_age_ms=100, speed=10.0))
    assert "▶ PROPOSAL #42 30s" in status_text(fast, 160).plain  # ... are the trader's 30 s


# ------------------------------------------------------------------ the anchor gate says which number is the VWAP
def test_the_anchor_gate_labels_the_vwap_it_compares_with(fakes):
    sell = fakes.make_state()
    text = gate_text(sell).plain
    assert "SELL ≥ 59,987.95  (buy VWAP 59,940.00)" in text
    buy = fakes.make_state(decision=replace(fakes.make_decision(), side=Side.BUY))
    assert "(sell VWAP 59,940.00)" in gate_text(buy).plain


# ------------------------------------------------------------------ whole screens at three sizes
SIZES = [(80, 24), (120, 36), (160, 48)]
LONG_WHY = ("|gap| 0.012000 ≥ soft 0.005763: gate wait over (120s), sell 50% of the gap; bias -0.08 "
            "(ema -0.16, anchor +0.05) → ×0.96; hysteresis forbids a buy for 4m10s; the anchor window "
            "holds 3 buys and 2 sells")
CUT_MID_WORD = re.compile(r"[^\s(]…")  # "ha…", "comb -0…", "pric…": a word or number cut short


def _state(fakes, **changes):
    decision = replace(fakes.make_decision(), reason=LONG_WHY)
    return fakes.make_state(decision=decision, **changes)


async def _screen(fakes, size, state, keys=()) -> str:
    return await fakes.shown_text(size, state, keys)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_header_carries_price_net_gap_and_equity_with_units(fakes, size):
    text = await _screen(fakes, size, _state(fakes))
    header = text.splitlines()[1]
    assert "price 60,010.50 USDT" in header
    assert "net gap +0.015300 BTC past soft" in header
    assert "equity 25,010.42 USDT" in header


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_no_text_is_cut_mid_word_and_the_reason_ends_in_an_ellipsis(fakes, size):
    text = await _screen(fakes, size, _state(fakes))
    assert not CUT_MID_WORD.findall(text), text
    why = [line for line in text.splitlines() if "why  " in line]
    assert why and "|gap| 0.012000" in why[0]  # the reason starts on screen ...
    assert "holds 3 buys and 2 sells" in text or re.search(r" …\s*[│┃]", text), text  # ... and ends, or says it goes on


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_proposal_card_is_readable(fakes, size):
    p = replace(fakes.make_proposal(), decision=replace(fakes.make_decision(), reason=LONG_WHY))
    text = await _screen(fakes, size, _state(fakes, proposal=p))
    assert not CUT_MID_WORD.findall(text), text
    assert "SELL  0.015000 BTC  limit ≥ 59,987.95" in text


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_force_dialog_labels_fit_beside_a_long_reason(fakes, size):
    engine_state = _state(fakes)
    preview = replace(fakes.make_proposal(forced=True, expires_in_s=None),
                      decision=replace(fakes.make_decision(), reason=LONG_WHY))
    engine = fakes.FakeEngine(engine_state)
    engine.control.preview = preview  # what preview_force returns
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=size) as pilot:
        await engine.polls(2)
        await pilot.press("f")
        await pilot.pause()
        text = fakes.screen_text(app)
    for label in ("side", "size", "price limit", "price now", "fee ≈", "net after", "venue", "why"):
        assert re.search(rf"█\s+{re.escape(label)}\s", text), (label, text)
    assert "≥ 59,987.95 USDT" in text and "60,010.50 USDT" in text
    assert "holds 3 buys and 2 sells" in text  # the reason wraps inside the dialog


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_fill_fees_carry_their_coin_on_its_precision(fakes, size):
    text = await _screen(fakes, size, _state(fakes), keys=("1",))
    assert "fee 0.0240 USDT" in text and "fee 0.00000200 BTC" in text and "fee 0.0900 USDT" in text
    assert not re.search(r"\d\.\d{9,}", text)  # never the venue's 9-11 decimals
    assert "0.004000 BTC @ 60,012.50" in text


async def test_disabled_footer_keys_are_struck_through_not_only_dimmed(fakes):
    """16 colours (TERM=screen): a dimmed blue can map to the same blue; a strike cannot."""
    from textual.widgets._footer import FooterKey

    engine = fakes.FakeEngine(fakes.make_state(mode=Mode.WATCH, orders=()))
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await engine.polls(2)
        await pilot.pause()
        keys = {k.key: k for k in app.screen.query(FooterKey)}
        struck = {name for name, k in keys.items() if k.render().spans and k.rich_style.strike}
    assert {"a", "f", "c"} <= struck  # approve / force (watch), cancel (no order)
    assert not struck & {"k", "p", "m", "q"}


# ------------------------------------------------------------------ restored lines keep their times
def test_lines_said_while_the_session_was_restored_carry_the_start_time(tmp_path, make_config):
    """A halt restored from the journal is said before any market event: its Log line showed
    "--:--:--". It now carries the time the session started."""
    import asyncio

    from core.journal import Journal
    from core.session import Environment, build_session
    from tui.panes.log import log_text

    t0 = 1_765_000_000_000
    journal = Journal(tmp_path / "j.sqlite")
    journal.record_state(t0 - 60_000, "trading_state", "HALTED", "kill switch pressed by the user")
    s = build_session(make_config(), Environment(journal=journal, now_ms=lambda: t0, paper_speed=0))

    async def main() -> None:
        task = asyncio.create_task(s.engine.run())
        await asyncio.wait_for(s.engine.started.wait(), 10)
        await s.engine.shutdown(cancel_orders=True, reason="test stop")
        await task

    asyncio.run(main())
    restored = [line for line in s.rebalancer.log if "restored HALTED" in line.text]
    assert restored and all(line.ts_ms >= t0 for line in restored)
    assert not any(log_text(line).plain.startswith("--:--:--") for line in s.rebalancer.log)
