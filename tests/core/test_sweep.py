"""``rebalancer sweep``: specs and grid expansion, resumability, the frontier, the lazy-hedge
bound, and a tiny sweep end to end on a real excerpt (always runs: tests/fixtures)."""

from __future__ import annotations

import json
import time

import pytest

from core.config import load_config
from core.config.yaml_reader import read_yaml
from core.replay import run_replay
from core.sweep import SweepSpecError, plan_sweep, run_sweep, summarise
from core.sweep.frontier import frontiers, pareto_front
from core.sweep.lazy import GapPath, lazy_hedge, unhedged_path
from core.sweep.results import ResultsLog
from core.sweep.spec import TODAY, canonical, expand_grid, make_points, parse_param, parse_params, sample_random
from core.venues.market import load_market
from tests.builders import REPO_ROOT

EXCERPT = "binance_usdm_BTCUSDT_1m_2022-05-01_0000-0600.csv.gz"
CONFIG = str(REPO_ROOT / "examples" / "replay.yaml")
SPECS = ["rebalancer.thresholds.soft=0.004,0.006,0.008", "rebalancer.partial_rebalance_ratio=0.5,1.0"]


# ------------------------------------------------------------------ specs and the grid


def test_param_lists_and_ranges_are_read_as_the_config_reads_values():
    p = parse_param("rebalancer.thresholds.soft=0.004, 6e-3 ,0.008")
    assert p.key == "rebalancer.thresholds.soft" and p.values == (0.004, 0.006, 0.008)
    assert parse_param("rebalancer.bias.mode=ema,off").values == ("ema", "off")
    assert parse_param("rebalancer.execution.maker_first=true,false").values == (True, False)
    assert parse_param("paper.fill_model=honest,optimistic").key == "paper.fill_model"  # paper: is read
    r = parse_param("rebalancer.thresholds.soft=0.004..0.01")
    assert r.is_range and (r.low, r.high) == (0.004, 0.01)


@pytest.mark.parametrize("spec, words", [
    ("rebalancer.thresholds.soft", "expected KEY=VALUES"),
    ("=0.1", "dotted config path"),
    ("rebalancer..soft=0.1", "dotted config path"),
    ("rebalancer.thresholds.soft=", "no values"),
    ("rebalancer.thresholds.soft=0.01..0.004", "low < high"),
    ("rebalancer.thresholds.soft=a..b", "two numbers"),
    ("rebalancer.thresholds.soft=0.1,0.1", "listed twice"),
    ("rebalancer.thresholds.soft={a: 1}", "expected a number"),
    ("rebalancer.thresholds.soft=[1", "cannot read the value"),
    # keys a replay does not read: every point would be the same run
    ("mode=watch,semi", "a replay does not read mode .it runs in auto mode"),
    ("venue=paper,testnet", "does not read venue"),
    ("ui.theme=cockpit,light", "does not read ui.theme .the cockpit.s settings"),
    ("alerts.retries=1,2", "does not read alerts.retries"),
    ("api.account_name=a,b", "does not read api.account_name"),
    ("journal.enabled=true,false", "does not read journal.enabled"),
    ("paper.speed=1,2", "does not read paper.speed"),
])
def test_bad_specs_say_what_is_wrong(spec, words):
    with pytest.raises(SweepSpecError, match=words.replace("(", r"\(")):
        parse_param(spec)


def test_a_key_given_twice_is_refused():
    with pytest.raises(SweepSpecError, match="given twice"):
        parse_params(["a.b=1", "a.b=2"])


def test_grid_is_every_combination_in_the_order_given():
    grid = expand_grid(parse_params(["a.x=1,2,3", "a.y=true,false"]))
    assert grid == [{"a.x": 1, "a.y": True}, {"a.x": 1, "a.y": False}, {"a.x": 2, "a.y": True},
                    {"a.x": 2, "a.y": False}, {"a.x": 3, "a.y": True}, {"a.x": 3, "a.y": False}]


def test_a_range_needs_random_and_a_huge_grid_is_refused():
    with pytest.raises(SweepSpecError, match="needs --random"):
        expand_grid(parse_params(["a.x=0.1..0.2"]))
    with pytest.raises(SweepSpecError, match="at most"):
        expand_grid(parse_params([f"a.k{i}=" + ",".join(str(v) for v in range(10)) for i in range(5)]))


def test_random_points_are_drawn_in_range_and_the_same_seed_draws_the_same():
    params = parse_params(["a.x=0.004..0.01", "a.n=1..5", "a.m=ema,off"])
    pts = sample_random(params, 50, seed=3)
    assert pts == sample_random(params, 50, seed=3) and pts != sample_random(params, 50, seed=4)
    assert all(0.004 <= p["a.x"] <= 0.01 and p["a.n"] in range(1, 6) and p["a.m"] in ("ema", "off") for p in pts)


def test_points_today_first_base_values_dropped_and_each_checked_as_a_config():
    base = read_yaml(open(CONFIG, encoding="utf-8").read())
    assert canonical(base, {"rebalancer.thresholds.soft": 0.006}) == {}  # today's value
    pts = make_points(base, CONFIG, expand_grid(parse_params(SPECS)), {"k": 1})
    assert pts[0].params == {} and pts[0].label == TODAY
    assert len(pts) == 6 and len({p.id for p in pts}) == 6  # (0.006, 0.5) is today: not run twice
    with pytest.raises(SweepSpecError, match="sofft"):
        make_points(base, CONFIG, [{"rebalancer.thresholds.sofft": 0.004}], {"k": 1})
    with pytest.raises(SweepSpecError, match="not a valid config"):
        make_points(base, CONFIG, [{"rebalancer.thresholds.soft": -1}], {"k": 1})
    with pytest.raises(SweepSpecError, match="is a value, not a block"):
        make_points(base, CONFIG, [{"rebalancer.thresholds.soft.x": 1}], {"k": 1})
    # the ids depend on what the run is over: another market or band is never taken as done
    other = make_points(base, CONFIG, [{"rebalancer.thresholds.soft": 0.004}], {"k": 2})
    assert other[1].id != pts[1].id


# ------------------------------------------------------------------ the frontier


def test_pareto_front_on_hand_made_points():
    pts = [(1.0, 9.0), (2.0, 5.0), (2.5, 6.0), (3.0, 5.0), (4.0, 1.0), (5.0, 1.0), None, (0.5, 20.0), (2.0, 5.0)]
    # (2.5, 6) is beaten by (2, 5); (3, 5) ties on cost but tracks worse; (5, 1) by (4, 1);
    # the exact twin (2, 5) is on the frontier with its twin; None takes no part
    assert pareto_front(pts) == [7, 0, 1, 8, 4]
    assert pareto_front([]) == [] and pareto_front([None]) == []


def test_frontiers_on_each_pair_of_axes_and_a_run_that_never_traded():
    rows = [
        {"mean_abs_gap_base": 0.001, "pct_time_over_band": 0.0, "cost_quote": 500.0, "cost_bps": 14.0, "fills": 9},
        {"mean_abs_gap_base": 0.002, "pct_time_over_band": 0.0, "cost_quote": 300.0, "cost_bps": 12.0, "fills": 9},
        {"mean_abs_gap_base": 0.004, "pct_time_over_band": 5.0, "cost_quote": 320.0, "cost_bps": 11.0, "fills": 9},
        {"mean_abs_gap_base": 0.01, "pct_time_over_band": 30.0, "cost_quote": None, "cost_bps": None, "fills": 0},
    ]
    f = frontiers(rows)
    assert f["usdt_vs_mean_gap"] == [0, 1, 3]     # the no-trade run cost 0 USDT
    assert f["bps_vs_mean_gap"] == [0, 1, 2]      # its cost in bps does not exist
    assert f["usdt_vs_over_band"] == [1, 3]
    assert f["bps_vs_over_band"] == [1, 2]


# ------------------------------------------------------------------ the lazy-hedge bound


def test_lazy_hedge_on_a_hand_made_path():
    # gap 0 at t=0; +0.03 at t=10 (price 100); -0.05 at t=20 (price 200); ends at t=40
    path = GapPath(t0=0, t1=40, gap0=0.0, price0=100.0, steps=((10, 0.03, 100.0), (20, -0.02, 200.0)),
                   taker_fee_rate=0.001, default_band=0.02)
    p = lazy_hedge(path, band=0.02, common_band=0.025)
    # t=10: gap 0.03 > 0.02 -> sell 0.01 back to the edge; t=20: raw -0.02 - 0.01 = -0.03 -> buy 0.01
    assert p.trades == 2 and p.volume_base == pytest.approx(0.02)
    assert p.cost_quote == pytest.approx(0.01 * 100 * 0.001 + 0.01 * 200 * 0.001)
    assert p.cost_bps == pytest.approx(10.0)
    assert p.mean_abs_gap_base == pytest.approx((0 * 10 + 0.02 * 10 + 0.02 * 20) / 40)
    assert p.pct_time_over_band == 0.0
    none = lazy_hedge(path, band=float("inf"), common_band=0.025)
    assert none.trades == 0 and none.mean_abs_gap_base == pytest.approx((0.03 * 10 + 0.02 * 20) / 40)
    assert none.pct_time_over_band == pytest.approx(25.0)  # 0.03 >= 0.025 for 10 of 40 ms


def test_lazy_hedge_with_no_band_is_exactly_the_replays_unhedged_run(excerpt):
    market = load_market(excerpt(EXCERPT))
    cfg = load_config(CONFIG, need_secrets=False)
    path = unhedged_path(cfg, market)
    assert path.steps, "the grid fills on this excerpt"
    rep = run_replay(cfg, market, band=0.012, unhedged=True).report["unhedged"]
    none = lazy_hedge(path, float("inf"), 0.012)
    assert none.mean_abs_gap_base == pytest.approx(rep["mean_abs_gap_base"], abs=1e-8)
    assert none.pct_time_over_band == pytest.approx(rep["pct_time_over_band"], abs=1e-3)
    # a band that holds costs the taker fee and keeps the gap inside it
    held = lazy_hedge(path, 0.004, 0.012)
    assert held.trades > 0 and held.pct_time_over_band == 0.0 and held.mean_abs_gap_base <= 0.004
    assert held.cost_bps == pytest.approx(path.taker_fee_rate * 1e4)


# ------------------------------------------------------------------ runs: resumable, end to end


@pytest.fixture(scope="module")
def tiny_plan():
    from tests.builders import FIXTURES_DIR

    f = str(FIXTURES_DIR / EXCERPT)
    return plan_sweep(CONFIG, load_market(f), [f], SPECS, timer=time.perf_counter)


def _strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("wall_s", "cpu_s")}


def test_a_killed_sweep_resumes_running_only_the_missing_configs(tiny_plan, tmp_path):
    full = ResultsLog(tmp_path / "full.jsonl")
    assert run_sweep(tiny_plan, full, jobs=1) == (0, 6)
    lines = full.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    # killed mid-way: two rows written, the third torn half-way through its line
    part = ResultsLog(tmp_path / "part.jsonl")
    part.path.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][: len(lines[2]) // 2], encoding="utf-8")
    assert len(part.read()) == 2
    ran: list[str] = []
    skipped, run_now = run_sweep(tiny_plan, part, jobs=1, on_row=lambda r, n, t: ran.append(r["id"]))
    assert (skipped, run_now) == (2, 4)
    done_before = {json.loads(x)["id"] for x in lines[:2]}
    assert set(ran) == {p.id for p in tiny_plan.points} - done_before
    again = part.path.read_text(encoding="utf-8").splitlines()
    assert len(again) == 6 and all(json.loads(x) for x in again)  # the torn line is gone, not glued
    assert sorted(map(_strip, part.read()), key=lambda r: r["id"]) == sorted(map(_strip, full.read()),
                                                                            key=lambda r: r["id"])
    # and a third run has nothing left to do
    assert run_sweep(tiny_plan, part, jobs=1) == (6, 0)


def test_the_pool_gives_the_rows_a_single_process_gives(tiny_plan, tmp_path):
    one, two = ResultsLog(tmp_path / "one.jsonl"), ResultsLog(tmp_path / "two.jsonl")
    run_sweep(tiny_plan, one, jobs=1)
    run_sweep(tiny_plan, two, jobs=2)
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(map(_strip, one.read()), key=key) == sorted(map(_strip, two.read()), key=key)


def test_summary_marks_today_the_frontier_and_the_lazy_bound(tiny_plan, tmp_path):
    log = ResultsLog(tmp_path / "r.jsonl")
    run_sweep(tiny_plan, log, jobs=1)
    s = summarise(tiny_plan, log)
    assert s["done"] == s["points"] == 6 and s["today_id"] == tiny_plan.points[0].id
    ids = {r["id"] for r in s["rows"]}
    assert all(set(f) <= ids and f for f in s["frontier"].values())
    assert len(s["lazy"]) >= 20 and all(p["cost_bps"] == pytest.approx(10.0) for p in s["lazy"])
    lazy = sorted(s["lazy"], key=lambda p: p["band"])
    assert lazy[0]["cost_quote"] >= lazy[-1]["cost_quote"]  # a narrower band costs more to hold
    assert s["unhedged"]["mean_abs_gap_base"] > max(r["mean_abs_gap_base"] for r in s["rows"])


def test_sweep_command_end_to_end(excerpt, tmp_path, capsys):
    from tui.cli import main

    out = tmp_path / "sweep"
    argv = ["sweep", "--config", CONFIG, "--market", str(excerpt(EXCERPT)), "--param", SPECS[0], "--param", SPECS[1],
            "--jobs", "2", "--out", str(out)]
    assert main(argv) == 0
    cap = capsys.readouterr()
    assert "frontier" in cap.out and "T " in cap.out
    assert "sweep 6/6" in cap.err and "ETA" in cap.err
    for name in ("results.jsonl", "results.csv", "frontier.json", "frontier.html"):
        assert (out / name).is_file(), name
    csv_lines = (out / "results.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_lines) == 7 and "on_frontier" in csv_lines[0] and "rebalancer.thresholds.soft" in csv_lines[0]
    # the re-run finds them all done and runs nothing
    assert main(argv) == 0
    assert "6 configs, 6 already done" in capsys.readouterr().err


@pytest.mark.parametrize("extra, words", [
    (["--param", "rebalancer.thresholds.sofft=0.004"], "sofft"),
    (["--param", "rebalancer.thresholds.soft=0.004..0.01"], "needs --random"),
    (["--random", "5"], "needs at least one --param"),
    (["--band", "-1"], "--band must be"),
    (["--scheduler", "localhost:8786"], "tcp://"),
    (["--param", "mode=watch,semi"], "a replay does not read mode"),
    (["--random", "0", "--param", "rebalancer.thresholds.soft=0.004..0.01"], "--random must be 1..10,000, got 0"),
])
def test_sweep_command_refuses_bad_input_with_exit_2(excerpt, tmp_path, capsys, extra, words):
    from tui.cli import main

    argv = ["sweep", "--config", CONFIG, "--market", str(excerpt(EXCERPT)), "--out", str(tmp_path), *extra]
    assert main(argv) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "results.jsonl").exists()


def test_a_market_with_no_trades_is_refused_with_exit_2(excerpt, tmp_path, capsys):
    from tui.cli import main

    quotes_only = str(excerpt("bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-0600.csv.gz"))
    assert main(["sweep", "--config", CONFIG, "--market", quotes_only, "--out", str(tmp_path)]) == 2
    assert f"no trades to replay: {quotes_only} holds quotes only" in capsys.readouterr().err


def test_missing_dask_extra_is_a_clear_error(tiny_plan, monkeypatch):
    import builtins

    from core.sweep import SweepRunError
    from core.sweep.runner import run_dask

    real = builtins.__import__

    def no_distributed(name, *a, **kw):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError("No module named 'distributed'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(SweepRunError, match=r"pip install 'spot-rebalancer\[distributed\]'"):
        run_dask(tiny_plan.ctx, tiny_plan.points, "tcp://127.0.0.1:1", lambda r: None)


def test_ctrl_c_keeps_the_finished_configs_and_says_how_to_resume(excerpt, tmp_path):
    """The real program on a local pool, interrupted as a terminal's Ctrl-C does (SIGINT to the
    whole process group) once a few configs are in: exit 130, the rows kept, one clear line, and
    no worker noise (a traceback, or the parent's 'stopped while starting' from a worker)."""
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "tui.cli", "sweep", "--config", CONFIG, "--market", str(excerpt(EXCERPT)),
           "--param", "rebalancer.thresholds.soft=" + ",".join(f"{0.002 + 0.0002 * i:.4f}" for i in range(20)),
           "--param", "rebalancer.partial_rebalance_ratio=" + ",".join(f"{0.2 + 0.04 * i:.2f}" for i in range(20)),
           "--jobs", "2", "--out", str(out), "--no-chart"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_text(encoding="utf-8").count("\n") >= 3:
            break
        time.sleep(0.02)  # polling a file another process writes, with a deadline
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    kept = results.read_text(encoding="utf-8").splitlines()
    assert 3 <= len(kept) < 401 and all(json.loads(x)["id"] for x in kept)
    assert f"interrupted: {len(kept)} of 401 configs are in" in stderr and "the same command resumes" in stderr
    assert "Traceback" not in stderr and "SIGTERM" not in stderr and "while starting" not in stderr
