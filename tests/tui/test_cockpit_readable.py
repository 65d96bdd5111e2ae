"""The cockpit reads well (issue 16): countdowns in wall seconds, labelled numbers, text that ends
in "…" at a word instead of being cut, at 80x24, 120x36 and 160x48.

Screens are rendered with the real app over the fake engine (``App.run_test(size=...)``) and
checked as text: what a newcomer reads, not how it is styled.
"""

from __future__ import annotations

from dataclasses import replace

from core.model import Side
from core.state import FeedHealth
from tui.panes.anchor import gate_text
from tui.panes.status import status_text


# ------------------------------------------------------------------ countdowns in wall seconds
def test_a_proposal_countdown_shows_wall_seconds_at_paper_speed_10(fakes):
    p = fakes.make_proposal(expires_in_s=30.0)  # 30 s of market time ...
    fast = fakes.make_state(proposal=p, feed=FeedHealth(data_age_ms=100, speed=10.0))
    line = status_text(fast, 160).plain
    assert "▶ PROPOSAL #42 3.0s" in line  # ... pass in 3 s of the trader's time
    real = fakes.make_state(proposal=p, feed=FeedHealth(data_age_ms=100))
    assert "▶ PROPOSAL #42 30s" in status_text(real, 160).plain


# ------------------------------------------------------------------ the anchor gate says which number is the VWAP
def test_the_anchor_gate_labels_the_vwap_it_compares_with(fakes):
    sell = fakes.make_state()
    text = gate_text(sell).plain
    assert "SELL ≥ 59,987.95  (buy VWAP 59,940.00)" in text
    buy = fakes.make_state(decision=replace(fakes.make_decision(), side=Side.BUY))
    assert "(sell VWAP 59,940.00)" in gate_text(buy).plain
