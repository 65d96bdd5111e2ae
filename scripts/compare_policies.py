#!/usr/bin/env python3
"""Replay the three policies over the recorded data sets and write the comparison table.

    python scripts/compare_policies.py --config config.yaml --out docs/policy-comparison.md

Each row is one `rebalancer replay` run (same engine, paper exchange and simulated grid as the
cockpit); the JSON reports are written next to the table for inspection.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import load_config  # noqa: E402
from core.replay import run_replay  # noqa: E402
from core.venues.market import load_market  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SETS = {
    "Bybit BTCUSDT perp, 1m, 2025-01 (44,820 bars)": ["bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz"],
    "Binance BTCUSDT perp, 1m, 2022-05..12 (352,800 bars)": ["binance_usdm_BTCUSDT_1m_2022-05-01_2022-12-31.csv.gz"],
}
POLICIES = ("anchor", "simple", "baseline")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "examples" / "replay.yaml"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "policy-comparison.md"))
    args = ap.parse_args()
    cfg = load_config(args.config)
    rows, reports = [], {}
    for name, files in SETS.items():
        market = load_market([DATA / f for f in files])
        for policy in POLICIES:
            t0 = time.perf_counter()
            r = run_replay(cfg, market, policy=policy, timer=time.perf_counter).report
            reports[f"{name} / {policy}"] = r
            p = r["pnl_quote"]
            rows.append(f"| {name} | {policy} | {r['orders']} | {r['fills']} ({r['maker_fills']} maker) | "
                        f"{r['rebalance_volume_base']:.4f} | {r['cost_bps']:.2f} | {r['mean_abs_gap_base']:.5f} | "
                        f"{r['max_abs_gap_base']:.4f} | {r['pct_time_over_hard']:.2f} | {r['flip_flops']} | "
                        f"{r['wrong_direction_orders']} | {p['hedge']:,.2f} | {p['fees']:,.2f} | {p['total']:,.2f} |")
            print(f"{name} / {policy}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Policy comparison on recorded data\n\n"
        f"Reproduce: `python scripts/compare_policies.py --config examples/{Path(args.config).name}` "
        "(data from `../shared/data`; each row is one full-speed replay with the paper exchange and "
        "the simulated grid of the config's `paper:` block).\n\n"
        "- cost bps = (fees + execution price vs price at decision) / rebalanced notional\n"
        "- mean/max |gap| in BTC, time weighted; % over hard = share of time |gap| ≥ the hard threshold\n"
        "- flip-flops = consecutive rebalances on opposite sides within the hysteresis window\n"
        "- P&L in USDT: hedge = spot and initial futures marked to market (before fees), fees = rebalance fees, "
        "total = equity change including the grid\n\n"
        "| data | policy | orders | fills | volume BTC | cost bps | mean abs gap | max abs gap | % over hard | "
        "flip-flops | wrong-direction | hedge P&L | fees | total P&L |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    out.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(reports, indent=1) + "\n", encoding="utf-8")
    print(f"written {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
