"""Smoke test of the benchmark scripts: each one runs at a minimal size and prints its JSON.

The real benchmarks (``python bench/run_all.py``) are not tests and never run in CI; this only
makes sure the scripts still start, drive the current code and report the keys ``run_all``
reads. The scripts run concurrently (they are tiny) so the whole module stays well under 20 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.venues.market import default_data_dir

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
SMALL = REPO / "tests" / "fixtures" / "bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"  # real rows, always here

RESULT_KEYS = {"benchmark", "params", "figures", "checks"}
CHECK_KEYS = {"name", "value", "op", "target", "unit", "pass"}

# scripts that read the recorded data (../shared/data) whatever their arguments, and why
NEEDS_RECORDED_DATA = {
    "core_throughput": "its 'tiled' stream repeats the Binance USD-M recording",
    "cockpit_feed": "the cockpit state it shows comes from a replay of the Bybit spot day",
}

# script -> (minimal arguments, figure keys that must be present)
SMOKE = {
    "core_throughput": (["--events", "3000"],
                        {"synthetic", "tiled"}),
    "replay_vs_parse": (["--file", str(SMALL)],
                        {"plain_parse_s", "replay_total_s", "ratio_total_vs_parse", "events_processed"}),
    "live_latency": (["--orders", "2", "--max-seconds", "6", "--rate", "200", "--symbols", "3", "--symbols-seconds",
                      "2", "--symbols-rate", "600"],
                     {"p50_ms", "p99_ms", "max_ms", "orders_measured", "with_journal", "symbols"}),
    "memory_24h": (["--hours", "0.05", "--warmup-hours", "0.02", "--sample-minutes", "1", "--rate", "5"],
                   {"rss_after_warmup_mb", "rss_end_mb", "growth_after_warmup_mb", "samples"}),
    "cockpit_feed": (["--scenarios", "feed,feed10", "--seconds", "1", "--rate", "500", "--warmup", "0.5"],
                     {"feed", "feed_10_symbols"}),
    "replay_floor": (["--file", str(SMALL), "--quick"],
                     {"decision_p50_us", "booking_p50_us", "sets"}),
    "decision_path": (["--trials", "8", "--idle-ms", "1"],
                      {"warm", "after_idle", "p50_after_idle_over_warm"}),
    "sweep": (["--file", str(SMALL), "--configs", "4"],
              {"total_s", "run_s", "config_cpu_s", "worker_private_mb_max", "market_in_memory_mb"}),
}


@pytest.fixture(scope="module")
def outputs() -> dict[str, tuple[int, str, str, float]]:
    """Start every script at once; collect (exit code, stdout, stderr, wall seconds). Without the
    recorded data the scripts that need it are left out (their tests skip, saying why)."""
    have_data = any(default_data_dir().glob("*.csv.gz"))
    procs = {}
    for name, (args, _keys) in SMOKE.items():
        if name in NEEDS_RECORDED_DATA and not have_data:
            continue
        if name == "cockpit_feed":
            try:
                import pexpect  # noqa: F401
                import pyte  # noqa: F401
            except ImportError:
                continue
        procs[name] = (subprocess.Popen([sys.executable, str(BENCH / f"{name}.py"), *args], cwd=REPO,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                       time.monotonic())
    out = {}
    for name, (proc, t0) in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        out[name] = (proc.returncode, stdout, stderr, time.monotonic() - t0)
    return out


def skip_unless_ran(outputs, name: str) -> None:
    if name in outputs:
        return
    if name in NEEDS_RECORDED_DATA:
        pytest.skip(f"recorded market data not found at {default_data_dir()}: {NEEDS_RECORDED_DATA[name]}")
    pytest.skip("pexpect / pyte not installed")


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_benchmark_script_prints_its_json(outputs, name):
    skip_unless_ran(outputs, name)
    code, stdout, stderr, _wall = outputs[name]
    assert code == 0, stderr[-3000:]
    res = json.loads(stdout.strip().splitlines()[-1])
    assert RESULT_KEYS <= set(res), res.keys()
    assert res["benchmark"] == name
    assert res["checks"], "every benchmark reports at least one target"
    for c in res["checks"]:
        assert CHECK_KEYS <= set(c), c
        assert isinstance(c["pass"], bool)
    missing = SMOKE[name][1] - set(res["figures"])
    assert not missing, f"figures lack {missing}: {sorted(res['figures'])}"


def test_live_latency_with_journal_writes_the_session_to_disk(outputs):
    code, stdout, stderr, _ = outputs["live_latency"]
    assert code == 0, stderr[-3000:]
    res = json.loads(stdout.strip().splitlines()[-1])
    on = res["figures"]["with_journal"]
    assert on["journal"] is True and res["figures"]["journal"] is False
    assert on["orders_measured"] >= 1
    # every measured order call left its order row in the journal, after a decision row
    # (one decision may place more than one order: a chase re-places, a taker follows a maker)
    assert on["journal_rows"]["order_events"] >= on["orders_measured"]
    assert on["journal_rows"]["decisions"] >= 1
    assert [c["name"] for c in res["checks"]][:3] == ["event -> order call p99", "event -> order call p99, journal on",
                                                      "event -> order call p99, alert service hanging"]
    hang = res["figures"]["alerts_hanging"]
    assert hang["orders_measured"] >= 1 and hang["alerts_queued_or_dropped"] >= 1  # the alerts were there


def test_live_latency_runs_several_symbols_in_one_loop_and_checks_the_worst(outputs):
    code, stdout, stderr, _ = outputs["live_latency"]
    assert code == 0, stderr[-3000:]
    res = json.loads(stdout.strip().splitlines()[-1])
    many = res["figures"]["symbols"]
    assert list(many["per_symbol"]) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert all(v["market_messages"] > 0 for v in many["per_symbol"].values())
    p99s = [v["p99_ms"] for v in many["per_symbol"].values() if v["p99_ms"] is not None]
    assert many["worst_symbol_p99_ms"] == max(p99s)
    assert res["checks"][-1]["name"].startswith("event -> order call p99, worst of 3 symbols")


def test_cockpit_smoke_shows_the_final_state(outputs):
    skip_unless_ran(outputs, "cockpit_feed")
    code, stdout, stderr, _ = outputs["cockpit_feed"]
    assert code == 0, stderr[-3000:]
    figures = json.loads(stdout.strip().splitlines()[-1])["figures"]
    for feed in (figures["feed"], figures["feed_10_symbols"]):  # one symbol; ten on the overview (issue 18)
        assert feed["messages_received"] == feed["messages_sent"] > 0
        assert feed["final_state_shown"], feed
        assert feed["first_paint_s"] is not None and feed["ui_errors"] == 0


def test_run_all_table_and_json(tmp_path):
    """``run_all`` formats results and knows every script (no benchmark is run here)."""
    sys.path.insert(0, str(BENCH))
    try:
        import run_all
    finally:
        sys.path.remove(str(BENCH))
    assert set(run_all.BENCHMARKS) == set(SMOKE)
    fake = [{"benchmark": "x", "checks": [{"name": "n", "value": 1.5, "op": "<=", "target": 3, "unit": "x",
                                           "pass": True}]},
            {"benchmark": "y", "error": "exit code 1"}]
    text = run_all.table(fake)
    assert "pass" in text and "ERROR" in text
