"""Fingerprint every replay of ../shared/data: the report, every spot fill at the paper exchange
and every record the rebalancer writes, per (data set, config, policy, mode).

Why: a refactor must not change behaviour. Run this before and after and compare:

    python scripts/replay_digest.py --out before.json          # on the old commit
    python scripts/replay_digest.py --out after.json --compare before.json

Only the wall-time fields and ``events_processed`` (the bulk path's own count) are left out.
Records are compared by their ``repr`` (value types print every field).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import load_config  # noqa: E402
from core.venues.market import load_market  # noqa: E402
import core.replay as replay_module  # noqa: E402
from core.replay import run_replay  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CONFIGS = ("config.yaml", "examples/replay.yaml")
POLICIES = ("anchor", "simple", "baseline")
SETS = {
    "bybit-spot-day": ("bybit_spot_BTCUSDT_1m_2022-12-13.csv.gz",),
    "bybit-linear-12h+quotes": ("bybit_linear_BTCUSDT_1m_2022-12-13_0000-1200.csv.gz",
                                "bybit_linear_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"),
    "bybit-spot-12h-quotes": ("bybit_spot_BTCUSDT_1m_2022-12-13.csv.gz",
                              "bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"),
    "bybit-month": ("bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz",),
    "binance-8-months": ("binance_usdm_BTCUSDT_1m_2022-05-01_2022-12-31.csv.gz",),
    "binance-spot-ticks": ("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz",
                           "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_235959Z.csv.gz"),
    "binance-usdm-ticks": ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_235959Z.csv.gz",
                           "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_235959Z.csv.gz"),
}
SKIP = {"wall_s", "events_per_s", "events_processed"}


class _Rows:
    """Every record written, as text (works with any recorder interface: unknown calls are kept too)."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.n = 0

    def __getattr__(self, name):
        if name.startswith("__") or name in ("hold", "release", "tick", "snapshot"):
            raise AttributeError(name)

        def write(*args, **kw):
            self.n += 1
            self.h.update(repr((name, args, sorted(kw.items()))).encode())
        return write


def _recorder():
    from core.rebalancer import Recorder  # where it lives may move; the interface is what counts
    rows = _Rows()

    class Rec(Recorder):
        pass
    for name in [n for n in dir(Recorder) if not n.startswith("_") and n not in ("hold", "release", "tick", "snapshot")]:
        setattr(Rec, name, (lambda n: lambda self, *a, **k: getattr(rows, n)(*a, **k))(name))
    return Rec(), rows


def digest_one(cfg_path: str, files: tuple[str, ...], policy: str, mode: str) -> dict:
    cfg = load_config(str(ROOT / cfg_path))
    market = load_market([str(DATA / f) for f in files])
    rec, rows = _recorder()
    paper_module = sys.modules[replay_module.build_paper.__module__]  # where the replay builds its exchange
    exchange_cls = paper_module.PaperExchange

    class Full(exchange_cls):
        def __init__(self, **kw):
            kw["history_limit"] = 10 ** 9
            super().__init__(**kw)
    paper_module.PaperExchange = Full
    try:
        res = run_replay(cfg, market, policy=policy, mode=mode, recorder=rec)
    finally:
        paper_module.PaperExchange = exchange_cls
    fills = hashlib.sha256(repr(list(res.exchange.fills())).encode()).hexdigest()[:16]
    report = {k: v for k, v in res.report.items() if k not in SKIP}
    return {"report": report, "fills_sha": fills, "fills": len(res.exchange.fills()),
            "records_sha": rows.h.hexdigest()[:16], "records": rows.n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--compare", help="an earlier --out to compare with")
    ap.add_argument("--quick", action="store_true", help="leave out the 8-month file")
    ap.add_argument("--fills-only", action="store_true",
                    help="compare only the exchange's fills (a change that adds report keys or records, "
                         "but must not change what was traded)")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"no data at {DATA}", file=sys.stderr)
        return 2
    out: dict[str, dict] = {}
    for name, files in SETS.items():
        if args.quick and name == "binance-8-months":
            continue
        for cfg_path in CONFIGS:
            for policy in POLICIES:
                for mode in ("auto", "watch"):
                    key = f"{name} | {cfg_path} | {policy} | {mode}"
                    t0 = time.perf_counter()
                    out[key] = digest_one(cfg_path, files, policy, mode)
                    print(f"{time.perf_counter() - t0:6.1f}s  {key}  fills {out[key]['fills']} "
                          f"records {out[key]['records']}", flush=True)
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True))
    if not args.compare:
        return 0
    before = json.loads(Path(args.compare).read_text())
    def view(d):
        return d if d is None or not args.fills_only else (d["fills_sha"], d["fills"])
    diffs = [k for k in before.keys() | out.keys() if view(before.get(k)) != view(out.get(k))]
    for k in sorted(diffs):
        print(f"DIFFERENT: {k}\n  before {before.get(k)}\n  after  {out.get(k)}")
    print(f"{len(out)} replays, {len(diffs)} different")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
