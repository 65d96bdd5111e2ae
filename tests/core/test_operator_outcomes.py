"""Every operator command ends in one ``Outcome`` — what it did, or why it did nothing — and that
very sentence is the Log line and the journal's ``operator`` row (issue 16: toasts said "sent"
when nothing happened). Same account as ``test_operator``: futures -0.5, spot sets the gap,
anchor soft 0.004 / hard 0.012, cooldown 10 s, slippage cap 10 bps, touch 59,999.99 / 60,000.01."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.model import Mode, Side
from core.outcome import Outcome
from tests.core.helpers_engine import T0, Harness, SpyRecorder, rcfg

BID, ASK = 59_999.99, 60_000.01
S = 1_000


def rig(spot: str = "0.51", mode: Mode = Mode.SEMI) -> tuple[Harness, SpyRecorder]:
    spy = SpyRecorder()
    h = Harness(rcfg(), spot=spot, mode=mode, recorder=spy)
    h.market(T0, BID, ASK)
    return h, spy


def assert_said_once_everywhere(h: Harness, spy: SpyRecorder, out: Outcome) -> None:
    """The outcome's text is the last Log line (at its level) and the last operator row."""
    assert spy.operator_rows()[-1] == (out.command, out.text)
    assert (h.reb.log[-1].level, h.reb.log[-1].text) == (out.level, out.text)


def _withdrawn(h: Harness) -> None:
    h.grid_fill(T0 + S, Side.SELL, "0.008", "60000")  # gap 0.002: under soft
    h.market(T0 + 2 * S, BID, ASK)


def _need_gone_unseen(h: Harness) -> None:
    h.grid_fill(T0 + S, Side.SELL, "0.008", "60000")  # no evaluation yet: the card still shows #1


def _kill(h: Harness) -> None:
    h.do(h.reb.operator.kill().commands)


CASES: list[tuple[str, str, Mode, Callable[[Harness], None] | None, Callable, str, bool]] = [
    # id, spot, mode, before, command, text, acted
    ("approve-none", "0.5", Mode.SEMI, None, lambda op: op.approve(), "nothing to approve", False),
    ("approve-withdrawn", "0.51", Mode.SEMI, _withdrawn, lambda op: op.approve(),
     "nothing to approve (proposal #1 withdrawn: no longer needed)", False),
    ("approve-need-gone", "0.51", Mode.SEMI, _need_gone_unseen, lambda op: op.approve(),
     "proposal #1 not sent: no longer needed; nothing to trade now", False),
    ("approve-watch", "0.51", Mode.WATCH, None, lambda op: op.approve(),
     "approve refused: watch mode never trades", False),
    ("approve-auto", "0.5", Mode.AUTO, None, lambda op: op.approve(),
     "nothing to approve: auto mode sends its decisions itself", False),
    ("approve-paused", "0.51", Mode.SEMI, lambda h: h.reb.risk.pause(), lambda op: op.approve(),
     "approve #1 refused: PAUSED by the user", False),
    ("approve-halted", "0.51", Mode.SEMI, _kill, lambda op: op.approve(),
     "nothing to approve (proposal #1 dropped: halted)", False),
    ("force-at-target", "0.5", Mode.AUTO, None, lambda op: op.force(), "nothing to force: already at target", False),
    ("force-watch", "0.51", Mode.WATCH, None, lambda op: op.force(), "force refused: watch mode never trades", False),
    ("force-halted", "0.51", Mode.SEMI, _kill, lambda op: op.force(),
     "force refused: HALTED: kill switch pressed by the user", False),
    ("offer-force-watch", "0.51", Mode.WATCH, None, lambda op: op.offer_force(),
     "force refused: watch mode never trades", False),
    ("offer-force-at-target", "0.5", Mode.SEMI, None, lambda op: op.offer_force(),
     "nothing to force: already at target", False),
    ("cancel-none", "0.5", Mode.AUTO, None, lambda op: op.cancel_pending(), "no pending order", False),
    ("skip-proposal", "0.51", Mode.SEMI, None, lambda op: op.skip(),
     "skipped proposal #1; no new one for 10 s (cooldown)", True),
    ("skip-auto", "0.5", Mode.AUTO, None, lambda op: op.skip(), "the next decision will be skipped", True),
    ("skip-none", "0.5", Mode.SEMI, None, lambda op: op.skip(), "nothing to skip: no proposal is pending", False),
    ("skip-watch", "0.5", Mode.WATCH, None, lambda op: op.skip(), "nothing to skip: watch mode never trades", False),
    ("pause", "0.5", Mode.AUTO, None, lambda op: op.toggle_pause(), "paused: no new orders", True),
    ("resume", "0.5", Mode.AUTO, lambda h: h.reb.operator.toggle_pause(), lambda op: op.toggle_pause(),
     "resumed: trading ACTIVE", True),
    ("pause-halted", "0.5", Mode.AUTO, _kill, lambda op: op.toggle_pause(),
     "pause refused: HALTED — re-arm first (r)", False),
    ("mode", "0.5", Mode.AUTO, None, lambda op: op.set_mode(Mode.SEMI), "mode AUTO → SEMI", True),
    ("mode-drops-proposal", "0.51", Mode.SEMI, None, lambda op: op.set_mode(Mode.WATCH),
     "mode SEMI → WATCH; proposal #1 dropped", True),
    ("mode-same", "0.5", Mode.AUTO, None, lambda op: op.set_mode(Mode.AUTO), "already in AUTO mode", False),
    ("kill", "0.5", Mode.AUTO, None, lambda op: op.kill(),
     "HALTED: kill switch pressed by the user; cancelling our orders", True),
    ("rearm-not-halted", "0.5", Mode.AUTO, None, lambda op: op.rearm(), "nothing to re-arm: trading is ACTIVE", False),
    ("rearm", "0.5", Mode.AUTO, _kill, lambda op: op.rearm(), "re-armed: trading ACTIVE", True),
]


@pytest.mark.parametrize("spot, mode, before, command, text, acted",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_command_says_its_outcome_in_the_log_and_the_journal(spot, mode, before, command, text, acted):
    h, spy = rig(spot, mode)
    if before is not None:
        before(h)
    out = command(h.reb.operator)
    assert isinstance(out, Outcome)
    assert (out.text, out.acted) == (text, acted)
    assert_said_once_everywhere(h, spy, out)
    h.do(out.commands)
    assert h.places == []


def test_force_says_the_order_it_sent():
    h, spy = rig("0.51", Mode.SEMI)  # gap +0.010
    out = h.reb.operator.force()
    assert_said_once_everywhere(h, spy, out)
    h.do(out.commands)
    (sent,) = h.places
    assert out.text == f"force sent: sell 0.010000 BTC, limit ≥ 59,940.00 → order {sent.client_id}"
    assert out.acted and out.order_ids == (sent.client_id,)


@pytest.mark.parametrize("ask", ["offer_force", "force"])
def test_a_force_the_risk_caps_allow_no_size_for_is_refused_saying_which(ask):
    spy = SpyRecorder()
    h = Harness(rcfg(risk__max_notional_per_hour=5), spot="0.51", mode=Mode.SEMI, recorder=spy)
    h.market(T0, BID, ASK)
    out = getattr(h.reb.operator, ask)()
    assert (out.text, out.acted) == ("force refused: size 0.00008333 below min trade 0.0001", False)
    assert_said_once_everywhere(h, spy, out)


def test_force_confirmed_then_the_gap_closed_says_already_at_target():
    h, spy = rig("0.51", Mode.SEMI)
    preview = h.reb.operator.preview_force()
    h.grid_fill(T0 + S, Side.SELL, "0.010", "60000")  # the gap goes to 0 while the dialog is up
    out = h.reb.operator.force(preview)
    assert (out.text, out.acted) == ("nothing to force: already at target", False)
    assert_said_once_everywhere(h, spy, out)


def test_force_confirmed_then_the_gap_changed_side_sends_nothing_and_says_so():
    h, spy = rig("0.51", Mode.SEMI)
    preview = h.reb.operator.preview_force()
    h.grid_fill(T0 + S, Side.SELL, "0.020", "60000")  # gap -0.010: a buy now
    out = h.reb.operator.force(preview)
    assert out.text == "force not sent: the gap changed side since you confirmed (sell → buy); press f again"
    assert out.commands == ()
    assert_said_once_everywhere(h, spy, out)


def test_cancel_names_the_rebalance_and_its_order_and_then_there_is_none():
    h, spy = rig("0.51", Mode.SEMI)
    h.do(h.reb.operator.approve().commands)  # a soft maker order rests
    (working,) = h.places
    out = h.reb.operator.cancel_pending()
    assert out.text == f"cancelling rebalance #1 (order {working.client_id})" and out.acted
    assert_said_once_everywhere(h, spy, out)
    h.do(out.commands)
    again = h.reb.operator.cancel_pending()
    assert (again.text, again.acted) == ("no pending order", False)
