"""``execution.rest_at_gate`` (issue 17): while the anchor gate makes the soft path wait, a
post-only order for the partial rests at the gate's price, follows it, and is cancelled when
the wait ends in any way; its fills are costed against the mid when they fill.

Numbers (BTCUSDT spot, tick 0.01, step 0.000001): soft 0.004, hard 0.012, partial 0.5, bias
off, a soft edge of 5 bps, a 120 s wait. A grid buy of 0.006 at 60,000 makes net +0.006 (a
sell of 0.003) and the buy VWAP 60,000: the gate is 60,000 x 1.0005 = 60,030.00.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.events import CancelAllOurs, CancelOrder
from core.model import Action, Mode, Side, TimeInForce
from core.policy import PolicyMemory, PolicyView, make_policy
from core.replay import run_replay
from core.venues.market import load_market
from tests.conftest import build_config
from tests.core.helpers_engine import T0, Harness, SpyRecorder, rcfg, replay_config_dict

D = Decimal
S = 1_000
BID, ASK = 59_999.99, 60_000.01
GATE = {"bias__strength": 0.0, "anchor__edge_bps_soft": 5, "anchor__degrade_edge_with_time": False,
        "execution__style": "auto", "execution__rest_at_gate": True}


def waiting(*, mode: Mode = Mode.AUTO, grid: tuple[Side, str, str] = (Side.BUY, "0.006", "60000"),
            recorder=None, **over) -> Harness:
    """A gap past soft whose gate waits: price 60,000 against the gate 60,030.00 (a sell)."""
    h = Harness(rcfg(**{**GATE, **over}), mode=mode, recorder=recorder)
    h.grid_fill(T0, *grid)
    h.market(T0 + S, BID, ASK)
    return h


def cancels(h: Harness) -> list[str]:
    return [c.reason for c in h.cancels if type(c) is CancelOrder]


def test_a_waiting_gate_rests_a_post_only_order_for_the_partial_at_the_gate_price():
    spy = SpyRecorder()
    h = waiting(recorder=spy)
    assert "gate waits (0/120s)" in h.reb.decision.reason  # the policy still waits, as before
    [o] = h.places
    assert (o.side, o.qty, o.price, o.tif) == (Side.SELL, D("0.003000"), D("60030.00"), TimeInForce.POST_ONLY)
    assert "gate" in o.reason
    assert h.reb.exec.plan.path == "gate" and not h.reb.exec.plan.taker_allowed
    assert list(h.reb.orders.working) == [o.client_id]  # the pending-orders pane's list
    [shown] = h.reb.snapshot().orders
    assert shown.at_gate and shown.tif == "PostOnly"  # the pane says where it rests, not a chase count
    d, _mode, outcome = spy.decisions[-1]  # the journal: the decision that started it, linked to its orders
    assert (d.action, outcome) == (Action.PARTIAL, "executed")
    assert d.reason.startswith("rest at the gate: sell 0.003000 at 60030.00 while the gate waits (0/120s)")


@pytest.mark.parametrize("grid, side, price", [
    ((Side.BUY, "0.006", "60000.37"), Side.SELL, "60030.38"),  # 60000.37 x 1.0005 = 60030.370185: up
    ((Side.SELL, "0.006", "60000.37"), Side.BUY, "59970.36"),  # 60000.37 x 0.9995 = 59970.369815: down
])
def test_the_gate_price_is_rounded_to_the_tick_on_the_side_that_keeps_the_gate_true(grid, side, price):
    h = waiting(grid=grid)
    [o] = h.places
    assert (o.side, o.qty, o.price) == (side, D("0.003000"), D(price))


def test_the_gate_order_follows_a_degrading_edge_at_most_every_five_seconds():
    h = waiting(anchor__degrade_edge_with_time=True, execution__gate_reprice_bps=0)  # every tick it moves
    assert h.places[-1].price == D("60030.00")
    h.tick(T0 + 3 * S)  # waited 2 s: edge 4.9167 bps -> 60029.50, but the order is 2 s old
    assert h.cancels == [] and len(h.places) == 1
    h.tick(T0 + 6 * S)  # waited 5 s: edge 5 x (1 - 5/120) = 4.791667 bps -> 60028.75
    assert cancels(h) == ["gate moved: sell 0.003000 at 60028.75"]
    assert (h.places[-1].qty, h.places[-1].price) == (D("0.003000"), D("60028.75"))
    assert len(h.ex.open_orders()) == 1  # one order at a time
    h.market(T0 + 61 * S, BID, ASK)  # waited 60 s: 2.5 bps -> 60015.00
    assert h.places[-1].price == D("60015.00")


def test_with_a_reprice_step_the_gate_order_follows_only_moves_that_large():
    """``execution.gate_reprice_bps``: a degrading edge moves the gate a little every second;
    with a 1 bp step the order stays until the gate is 1 bp away (fewer order calls)."""
    h = waiting(anchor__degrade_edge_with_time=True, execution__gate_reprice_bps=1.0)
    h.tick(T0 + 6 * S)  # 60028.75: 0.21 bp from the order's 60030.00
    h.market(T0 + 20 * S, BID, ASK)  # waited 19 s: 4.2083 bps -> 60025.25: 0.79 bp
    assert h.cancels == [] and len(h.places) == 1
    h.market(T0 + 30 * S, BID, ASK)  # waited 29 s: 3.7917 bps -> 60022.75: 1.21 bp
    assert cancels(h) == ["gate moved: sell 0.003000 at 60022.75"]
    assert h.places[-1].price == D("60022.75")


def test_the_gate_order_is_resized_when_the_partial_changes():
    h = waiting()
    h.grid_fill(T0 + 2 * S, Side.BUY, "0.002", "60000")  # net +0.008: the partial is 0.004
    h.tick(T0 + 2 * S)
    assert cancels(h) == ["gate moved: sell 0.004000 at 60030.00"]
    assert (h.places[-1].qty, h.places[-1].price) == (D("0.004000"), D("60030.00"))


@pytest.mark.parametrize("grid, why", [
    ((Side.SELL, "0.003", "60000"), "the gap fell under soft"),  # net +0.003
    ((Side.SELL, "0.012", "60000"), "the gap changed side"),  # net -0.006
    ((Side.BUY, "0.008", "60000"), "the gap passed hard"),  # net +0.014
])
def test_the_gate_order_is_cancelled_when_the_gap_no_longer_waits_there(grid, why):
    h = waiting()
    h.grid_fill(T0 + 2 * S, *grid)
    h.tick(T0 + 2 * S)
    assert cancels(h) == [f"gate order cancelled: {why}"]
    assert h.ex.open_orders() == () and h.reb.exec is None


def test_past_hard_the_hard_path_takes_after_the_cancel():
    h = waiting()
    h.grid_fill(T0 + 2 * S, Side.BUY, "0.008", "60000")  # net +0.014
    h.tick(T0 + 2 * S)
    h.tick(T0 + 3 * S)
    o = h.places[-1]
    assert (o.side, o.qty, o.tif) == (Side.SELL, D("0.014000"), TimeInForce.IOC)


def test_when_the_gate_opens_on_a_print_that_did_not_fill_it_the_partial_is_taken_as_before():
    h = waiting()
    h.quote(T0 + 2 * S, 60_029.99, 60_030.01)
    h.trade(T0 + 2 * S, 60_030.00, 0.01)  # at the gate, not through it: no fill
    assert cancels(h) == ["gate order cancelled: the gate opened"]
    h.tick(T0 + 3 * S)
    o = h.places[-1]
    assert (o.side, o.qty, o.tif) == (Side.SELL, D("0.003000"), TimeInForce.IOC)  # auto at 0.1/0.1: take


def test_when_the_wait_ends_the_gate_order_goes_and_the_partial_follows():
    h = waiting()
    h.market(T0 + 121 * S, BID, ASK)  # 120 s after the wait began
    assert cancels(h) == ["gate order cancelled: the gate wait is over"] and h.reb.exec is None
    h.tick(T0 + 122 * S)
    o = h.places[-1]
    assert (o.side, o.qty, o.tif) == (Side.SELL, D("0.003000"), TimeInForce.IOC)
    assert any(line.text.startswith("rebalance #2: sell 0.003000") and "gate wait over (120s)" in line.text
               for line in h.reb.log)


@pytest.mark.parametrize("act, kind", [
    (lambda r: r.operator.kill(), CancelAllOurs),
    (lambda r: r.operator.toggle_pause(), CancelOrder),
    (lambda r: r.operator.set_mode(Mode.WATCH), CancelOrder),
])
def test_kill_pause_and_watch_cancel_the_gate_order(act, kind):
    h = waiting()
    out = act(h.reb)
    h.submit(out.commands)
    assert [type(c) for c in h.cancels] == [kind]
    assert h.ex.open_orders() == () and h.reb.exec is None
    h.tick(T0 + 3 * S)
    h.tick(T0 + 10 * S)
    assert len(h.places) == 1  # and none rests again


def test_semi_mode_cancels_it_and_rests_none():
    h = waiting()
    h.reb.operator.set_mode(Mode.SEMI)
    h.tick(T0 + 2 * S)
    assert cancels(h) == ["gate order cancelled: semi mode"]
    h.tick(T0 + 10 * S)
    assert len(h.places) == 1 and h.reb.proposal is None  # the gate still waits: nothing to propose


@pytest.mark.parametrize("over, mode", [
    ({"execution__rest_at_gate": False}, Mode.AUTO),  # the default: the gate polls, as before
    ({}, Mode.SEMI),
    ({}, Mode.WATCH),
])
def test_nothing_rests_at_the_gate_when_off_or_not_in_auto(over, mode):
    h = waiting(mode=mode, **over)
    assert "gate waits" in h.reb.decision.reason
    assert h.places == []


def test_a_gate_fill_is_costed_against_the_mid_when_it_fills():
    h = waiting(execution__style="taker")
    h.quote(T0 + 2 * S, 60_035.99, 60_036.01)  # the market runs through the order
    h.trade(T0 + 2 * S, 60_036.00, 0.01)
    assert h.reb.stats.maker_fills == 1 and h.reb.exec is None
    fee = 0.003 * 60_030 * 0.001
    at_fill = (fee + (60_036.00 - 60_030.00) * 0.003) / (0.003 * 60_036.00) * 1e4  # the run-through counts
    at_placement = (fee + (60_000.00 - 60_030.00) * 0.003) / (0.003 * 60_000.00) * 1e4  # the move to the gate: a "saving"
    f = h.reb.costs.figures()
    assert f["cost_bps"] == pytest.approx(at_fill, abs=1e-3) == pytest.approx(10.999, abs=1e-3)
    assert f["gate_cost_bps"] == f["cost_bps"] and f["gate_fills"] == 1
    assert f["gate_cost_bps_at_placement"] == pytest.approx(at_placement, abs=1e-3) == pytest.approx(5.005, abs=1e-3)
    assert f["cost_bps_gate_at_placement"] == f["gate_cost_bps_at_placement"]  # the run had no other fill


def test_the_policy_names_the_gate_order_only_while_its_gate_waits():
    cfg = rcfg(**GATE)
    p = make_policy(cfg)
    view = PolicyView(ts_ms=T0, price=60_000.0, spot_base=0.506, futures_base=-0.5, buy_vwap=60_000.0)
    d, mem = p.decide(view, PolicyMemory())
    assert p.gate_order(d, mem) == (pytest.approx(0.003), pytest.approx(60_030.0))
    opened, mem2 = p.decide(PolicyView(ts_ms=T0 + S, price=60_031.0, spot_base=0.506, futures_base=-0.5,
                                       buy_vwap=60_000.0), mem)
    assert opened.action is Action.PARTIAL and p.gate_order(opened, mem2) is None
    cooling, mem3 = p.decide(view, mem.after_trade(T0 - S, Side.SELL))  # a cooldown hold, not a wait
    assert cooling.action is Action.HOLD and p.gate_order(cooling, mem3) is None


# ---------------------------------------------------------------------------- a replay

TAPE_T0 = 1_670_889_600_000


def gate_tape(path: Path) -> Path:
    """A trades tape: flat, a fall the grid buys (two levels of 0.003: net +0.006, buy VWAP
    16,978.75, gate 16,987.24), a slow rise under the gate, then a print through it by > 1 bp."""
    px = ([17_000.0] * 60 + [17_000 - 2.5 * i for i in range(1, 21)] + [16_950.0] * 20
          + [16_950.0 + i for i in range(1, 35)] + [16_989.0] * 30)
    rows = ["ts_ms,price,qty,side,trade_id"]
    rows += [f"{TAPE_T0 + i * 1000},{p:.2f},0.05,{'buy' if i % 2 else 'sell'},{i + 1}" for i, p in enumerate(px)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def gate_replay(tmp_path: Path, rest: bool, bulk: bool = True):
    cfg = build_config(_base=replay_config_dict(
        rebalancer__execution__rest_at_gate=rest, rebalancer__anchor__degrade_edge_with_time=False,
        rebalancer__bias__strength=0.0,
        paper__grid={"span_pct": 30, "levels": 480, "qty_per_level": 0.003, "mode": "neutral"}))
    return run_replay(cfg, load_market([gate_tape(tmp_path / "gate.csv")]), bulk=bulk)


def test_a_replay_fills_the_gate_order_as_maker_at_the_gate_price(tmp_path):
    res = gate_replay(tmp_path, rest=True)
    [fill] = res.exchange.fills()
    assert (fill.side, fill.price, fill.qty, fill.is_maker) == (Side.SELL, D("16987.24"), D("0.003000"), True)
    r = res.report
    assert r["gate_fills"] == 1 and r["maker_fills"] == 1 and r["taker_fills"] == 0
    # against the print that filled it (16,989.00): the 0.1 % fee and the 1.04 bps run-through
    assert r["cost_bps"] == pytest.approx((0.003 * 16_987.24 * 0.001 + 0.003 * 1.76) / (0.003 * 16_989) * 1e4, abs=1e-3)
    before = gate_replay(tmp_path, rest=False).report  # the gate polled: the print opens it, a maker
    assert before["fills"] == 0 and "gate_fills" not in before  # order at the touch that did not fill


def test_the_bulk_path_gives_the_same_orders_while_a_gate_order_rests(tmp_path):
    a, b = gate_replay(tmp_path, rest=True), gate_replay(tmp_path, rest=True, bulk=False)
    assert a.exchange.fills() == b.exchange.fills() and a.exchange.fills()
    assert {k: v for k, v in a.report.items() if k not in ("wall_s", "events_per_s", "events_processed")} == \
        {k: v for k, v in b.report.items() if k not in ("wall_s", "events_per_s", "events_processed")}
