"""Issue 17's replay speed-ups against the plain path: each one on and off must leave the very
same replay.

* ``core.replay.early_out``: the bulk step's cheap refusal (``ENABLED`` on / off);
* ``core.replay.grid_path``: the grid replayed from a recording (``grid_path=`` given / not),
  and a sweep that records it against one that does not (``ENABLED`` on / off);
* ``core.venues.paper_exchange.grid_ledger``: the grid's fill booked lean (``ENABLED`` on / off),
  whole replays and the events of single fills.

Compared with ``test_replay_bulk``'s ``replay`` (every exchange fill, every record, the report,
the exchange's state, trend, anchors, statistics, the kill switch's equity), on the repository's
excerpts always and on every recorded data set when ``../shared/data`` is there, with
``examples/replay.yaml`` (the busy grid these speed-ups are for) and the demo config; ``-m slow``
adds the other policies and the 8-month file.
Each test also checks that its speed-up really ran (refusals counted, batches replayed), so a
switch that silently did nothing cannot pass.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from unittest import mock

import pytest

import core.replay.early_out as early_out
import core.replay.grid_path as grid_path_mod
import core.venues.paper_exchange.grid_ledger as grid_ledger
from core.config import load_config
from core.replay import WALL_FIELDS, run_replay
from core.replay.grid_path import GridPathMismatch, ReplayedGrid, record_grid, replayed_grid
from core.venues.market import load_market
from tests.core.test_replay_bulk import first_difference, replay

EXCERPTS = {
    "bybit-month-day": ("bybit_linear_BTCUSDT_1m_2025-01-20.csv.gz",),
    "bybit-spot-6h+quotes": ("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz",
                             "bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-0600.csv.gz"),
    "binance-usdm-ticks+bbo": ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_15s.csv.gz",
                               "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_15s.csv.gz"),
}
RECORDED = {  # every file of ../shared/data once (quotes with their trades); the 8-month file under -m slow
    "bybit-spot-day+quotes": ("bybit_spot_BTCUSDT_1m_2022-12-13.csv.gz",
                              "bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"),
    "bybit-linear-12h+quotes": ("bybit_linear_BTCUSDT_1m_2022-12-13_0000-1200.csv.gz",
                                "bybit_linear_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"),
    "bybit-linear-month": ("bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz",),
    "binance-spot-ticks+bbo": ("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz",
                               "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_235959Z.csv.gz"),
    "binance-usdm-ticks+bbo": ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_235959Z.csv.gz",
                               "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_235959Z.csv.gz"),
}
EIGHT_MONTHS = ("binance_usdm_BTCUSDT_1m_2022-05-01_2022-12-31.csv.gz",)
CONFIGS = ("examples/replay.yaml", "config.yaml")


def assert_same(plain, fast) -> None:
    for name in plain.parts:
        assert plain.parts[name] == fast.parts[name], f"{name}: {first_difference(plain.parts[name], fast.parts[name])}"
    assert plain.equity == fast.equity


def early_out_on_and_off(cfg, market, policy: str = "anchor") -> int:
    """Replays with the refusal off and on; returns how many calls it refused."""
    refused = 0
    bands_unless_refused = early_out.bands_unless_refused

    def counting(*args):
        nonlocal refused
        out = bands_unless_refused(*args)
        refused += out is None
        return out

    with mock.patch.object(early_out, "ENABLED", False):
        plain = replay(cfg, market, policy, bulk=True)
    with mock.patch.object(early_out, "bands_unless_refused", counting):
        fast = replay(cfg, market, policy, bulk=True)
    assert_same(plain, fast)
    assert plain.events == fast.events  # nothing refused that the bulk path would have taken
    return refused


def grid_ledger_on_and_off(cfg, market, policy: str = "anchor") -> int:
    """Replays with the generic and the lean booking of grid fills; returns the lean bookings."""
    booked = 0
    lean = grid_ledger.apply_grid_fill_lean

    def counting(ex, fill):
        nonlocal booked
        booked += 1
        return lean(ex, fill)

    with mock.patch.object(grid_ledger, "ENABLED", False):
        plain = replay(cfg, market, policy, bulk=True)
    with mock.patch.object(grid_ledger, "apply_grid_fill_lean", counting):
        fast = replay(cfg, market, policy, bulk=True)
    assert_same(plain, fast)
    return booked


def grid_path_on_and_off(cfg, market, policy: str = "anchor") -> int:
    """Replays with the live grid and with its recording; returns the batches replayed."""
    path = record_grid(cfg, market)
    plain = replay(cfg, market, policy, bulk=True)
    taken = []
    on_price = ReplayedGrid.on_price

    def counting(self, ts_ms, price):
        out = on_price(self, ts_ms, price)
        if out:
            taken.append(len(out))
        return out

    real = run_replay

    def with_path(*args, **kw):
        kw.setdefault("grid_path", path)
        return real(*args, **kw)

    with mock.patch.object(ReplayedGrid, "on_price", counting), \
            mock.patch.object(sys.modules[replay.__module__], "run_replay", with_path):
        fast = replay(cfg, market, policy, bulk=True)
    assert_same(plain, fast)
    assert path is None or len(taken) == len(path.batches)
    return len(taken)


def _market(paths):
    return load_market([str(p) for p in paths])


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", sorted(EXCERPTS))
def test_early_out_changes_nothing_on_the_excerpts(repo_root, excerpt, name, config):
    cfg = load_config(str(repo_root / config), need_secrets=False)
    market = _market([excerpt(f) for f in EXCERPTS[name]])
    refused = early_out_on_and_off(cfg, market)
    if name == "bybit-month-day":
        assert refused > 100  # it ran (trades + quotes tapes take the other bulk step)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", sorted(EXCERPTS))
def test_early_out_refuses_only_what_the_bulk_step_would_not_take(repo_root, excerpt, name, config):
    """Refusing is always safe (the one-by-one loop is the reference), so what can go wrong is
    refusing a run the bulk path would have taken: each refusal is checked against
    ``fast_forward`` itself, which must take nothing there (and so change nothing)."""
    from core.replay.fastpath import FastForward

    cfg = load_config(str(repo_root / config), need_secrets=False)
    market = _market([excerpt(f) for f in EXCERPTS[name]])
    checked = 0
    real_guarded = early_out.guarded

    def checking_guarded(step):
        ff = getattr(step, "__self__", None)
        if type(ff) is not FastForward:
            return real_guarded(step)

        def step_or_refuse(ti, qi, next_tick):
            nonlocal checked
            if ti < ff.nt and early_out.cannot_take(ff.reb, ff.ex, ff.ts, ff.px, ti):
                checked += 1
                assert ff.fast_forward(ti, next_tick) == (ti, next_tick), f"refused event {ti}, which it takes"
                return ti, qi, next_tick, None
            return step(ti, qi, next_tick)
        return step_or_refuse

    with mock.patch.object(early_out, "guarded", checking_guarded):
        replay(cfg, market, "anchor", bulk=True)
    if name == "bybit-month-day":
        assert checked > 100


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", sorted(EXCERPTS))
def test_replayed_grid_changes_nothing_on_the_excerpts(repo_root, excerpt, name, config):
    cfg = load_config(str(repo_root / config), need_secrets=False)
    market = _market([excerpt(f) for f in EXCERPTS[name]])
    batches = grid_path_on_and_off(cfg, market)
    if name == "bybit-month-day":
        assert batches > 100


@pytest.mark.parametrize("policy", ("anchor", pytest.param("simple", marks=pytest.mark.slow),
                                    pytest.param("baseline", marks=pytest.mark.slow)))
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "bybit-linear-month" else n
                                  for n in sorted(RECORDED)])  # the month (15 s) with the 8 months, under -m slow
def test_both_change_nothing_on_every_recorded_file(repo_root, shared_data, name, policy):
    cfg = load_config(str(repo_root / "examples/replay.yaml"), need_secrets=False)
    market = _market([shared_data(f) for f in RECORDED[name]])
    early_out_on_and_off(cfg, market, policy)
    grid_path_on_and_off(cfg, market, policy)
    grid_ledger_on_and_off(cfg, market, policy)


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_both_change_nothing_on_the_8_month_file(repo_root, shared_data, config):
    cfg = load_config(str(repo_root / config), need_secrets=False)
    market = _market([shared_data(f) for f in EIGHT_MONTHS])
    # config.yaml's demo grid (+/-0.3 %) is out of range most of these months: hundreds, not thousands
    assert early_out_on_and_off(cfg, market) > 100
    assert grid_path_on_and_off(cfg, market) > 100
    assert grid_ledger_on_and_off(cfg, market) > 100


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", sorted(EXCERPTS))
def test_lean_grid_ledger_changes_nothing_on_the_excerpts(repo_root, excerpt, name, config):
    cfg = load_config(str(repo_root / config), need_secrets=False)
    market = _market([excerpt(f) for f in EXCERPTS[name]])
    booked = grid_ledger_on_and_off(cfg, market)
    if name == "bybit-month-day":
        assert booked > 100


def _fill(side, price, qty, fee, *, exec_id="grid-1", maker=True, fee_coin="USDT", symbol="BTCUSDT"):
    from decimal import Decimal

    from core.model import Fill, Leg
    return Fill(ts_ms=1_700_000_000_000, exec_id=exec_id, symbol=symbol, side=side, price=Decimal(price),
                qty=Decimal(qty), fee=Decimal(fee), fee_coin=fee_coin, is_maker=maker, leg=Leg.LINEAR,
                order_id="grid-L1", source="grid")


@pytest.mark.parametrize("fill_args", [
    dict(side="BUY", price="60000.1", qty="0.002", fee="0.02400004"),  # the grid's fee = the exchange's
    dict(side="SELL", price="60000.1", qty="0.002", fee="0.0240000400"),  # equal value, other exponent
    dict(side="SELL", price="60010.5", qty="0.004", fee="0.01"),  # another fee
    dict(side="BUY", price="59990.0", qty="0.002", fee="0.02399600", maker=False),  # taker rate
    dict(side="BUY", price="59990.0", qty="0.002", fee="0.023996", exec_id=""),  # no exec id: the exchange's
    dict(side="SELL", price="59990.0", qty="0.002", fee="0.023996", fee_coin="BTC", symbol=""),
])
def test_a_lean_booking_returns_the_events_of_the_generic_one(fill_args):
    from decimal import Decimal

    from core.model import Side
    from core.venues.paper_exchange import PaperExchange

    from core.venues.paper_exchange import FeeSchedule

    fill = _fill(**{**fill_args, "side": Side[fill_args["side"]]})
    out = {}
    for on in (False, True):
        with mock.patch.object(grid_ledger, "ENABLED", on):
            for settle, fees in ((True, FeeSchedule()), (False, FeeSchedule()),
                                 (True, FeeSchedule(linear_maker=Decimal(0), linear_taker=Decimal(0)))):
                for balances in ({"BTC": Decimal("0.5"), "USDT": Decimal("50000")}, {"BTC": Decimal("0.5")}):
                    ex = PaperExchange(balances=balances, settle_linear_in_quote=settle, fees=fees)
                    if "USDT" not in balances:
                        del ex._bal["USDT"]  # no quote coin yet: the first settlement adds it
                    ex.on_trade(1_700_000_000_000, 60_000.0, 0.001, True)
                    events = [ex.apply_grid_fill(fill), ex.apply_grid_fill(_fill(Side.SELL, "60100", "0.001",
                                                                                 "0.0120200"))]
                    out.setdefault(on, []).append((repr(events), repr(ex.to_state())))
    assert out[True] == out[False]


def test_a_recording_is_used_only_for_its_own_tape_and_grid(repo_root, excerpt):
    cfg = load_config(str(repo_root / "examples/replay.yaml"), need_secrets=False)
    market = _market([excerpt(EXCERPTS["bybit-month-day"][0])])
    path = record_grid(cfg, market)
    assert path is not None and len(path.batches) > 100
    assert isinstance(replayed_grid(path, cfg, market), ReplayedGrid)
    other_tape = _market([excerpt(EXCERPTS["bybit-month-day"][0])])  # equal rows, another object
    assert replayed_grid(path, cfg, other_tape) is None
    wider = replace(cfg, paper=replace(cfg.paper, grid=replace(cfg.paper.grid, levels=cfg.paper.grid.levels + 1)))
    assert replayed_grid(path, wider, market) is None
    # a replay given another config's recording runs its own grid, and gets its own answer
    def report(**kw):
        return {k: v for k, v in run_replay(wider, market, **kw).report.items() if k not in WALL_FIELDS}
    assert report(grid_path=path) == report()
    with mock.patch.object(grid_path_mod, "ENABLED", False):
        assert record_grid(cfg, market) is None


def test_a_print_the_recording_did_not_fill_on_is_refused(repo_root, excerpt):
    cfg = load_config(str(repo_root / "examples/replay.yaml"), need_secrets=False)
    market = _market([excerpt(EXCERPTS["bybit-month-day"][0])])
    grid = ReplayedGrid(record_grid(cfg, market))
    first = grid._batches[0]
    with pytest.raises(GridPathMismatch):
        grid.on_price(first.ts_ms + 1, first.price)  # the right price at the wrong time
    assert grid.on_price(first.ts_ms, first.price) == first.fills


def test_a_sweep_with_the_recording_gives_the_rows_of_one_without(repo_root, excerpt, tmp_path):
    from core.sweep import plan_sweep, run_sweep
    from core.sweep.results import ResultsLog

    f = str(excerpt(EXCERPTS["bybit-month-day"][0]))
    market = load_market(f)
    specs = ["rebalancer.thresholds.soft=0.003,0.006", "rebalancer.partial_rebalance_ratio=0.5,1.0"]
    rows = {}
    for on in (True, False):
        with mock.patch.object(grid_path_mod, "ENABLED", on):
            plan = plan_sweep(str(repo_root / "examples/replay.yaml"), market, [f], specs)
        assert (plan.ctx.grid_path is not None) is on
        log = ResultsLog(tmp_path / f"rows-{on}.jsonl")
        run_sweep(plan, log, jobs=1)
        rows[on] = {r["id"]: {k: v for k, v in r.items() if k not in ("wall_s", "cpu_s")} for r in log.read()}
    assert len(rows[True]) == 4  # today's config is one of the grid's points
    assert rows[True] == rows[False]
