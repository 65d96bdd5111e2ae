"""Cut the small recorded-data excerpts under tests/fixtures/ from the files in ../shared/data.

Why: a clone without ../shared/data must still test replay, market parsing and the journal on
real rows. Each excerpt is the source header plus every row whose ``ts_ms`` is in a window,
byte for byte (nothing re-formatted), gzip-compressed reproducibly (mtime 0), so re-running
this gives identical files. ``tests/core/venues/test_market.py`` checks each excerpt against
its source whenever the source is present.

    python scripts/cut_test_excerpts.py            # (re)write tests/fixtures/*.csv.gz
    python scripts/cut_test_excerpts.py --check    # exit 1 if a file would change
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.venues.market import default_data_dir  # noqa: E402

OUT = ROOT / "tests" / "fixtures"
HOUR_MS = 3_600_000
D2022_12_13 = 1_670_889_600_000   # 2022-12-13 00:00 UTC
D2025_01_20 = 1_737_331_200_000   # 2025-01-20 00:00 UTC (the month's all-time high)
D2022_05_01 = 1_651_363_200_000   # 2022-05-01 00:00 UTC
SPOT_TICKS = 1_723_161_255_000    # 2024-08-08 23:54:15 UTC: start of the Binance tick recordings
USDM_TICKS = 1_723_161_256_000

# excerpt name -> (source file, first ts_ms, end ts_ms (exclusive))
EXCERPTS: dict[str, tuple[str, int, int]] = {
    "bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz":
        ("bybit_spot_BTCUSDT_1m_2022-12-13.csv.gz", D2022_12_13, D2022_12_13 + 6 * HOUR_MS),
    "bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-0600.csv.gz":
        ("bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz", D2022_12_13, D2022_12_13 + 6 * HOUR_MS),
    "bybit_linear_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz":
        ("bybit_linear_BTCUSDT_1m_2022-12-13_0000-1200.csv.gz", D2022_12_13, D2022_12_13 + 6 * HOUR_MS),
    "bybit_linear_BTCUSDT_1m_quotes_2022-12-13_0000-0600.csv.gz":
        ("bybit_linear_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz", D2022_12_13, D2022_12_13 + 6 * HOUR_MS),
    "bybit_linear_BTCUSDT_1m_2025-01-20.csv.gz":
        ("bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz", D2025_01_20, D2025_01_20 + 24 * HOUR_MS),
    "binance_usdm_BTCUSDT_1m_2022-05-01_0000-0600.csv.gz":
        ("binance_usdm_BTCUSDT_1m_2022-05-01_2022-12-31.csv.gz", D2022_05_01, D2022_05_01 + 6 * HOUR_MS),
    "binance_spot_BTCUSDT_trades_2024-08-08T235415Z_30s.csv.gz":
        ("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz", SPOT_TICKS, SPOT_TICKS + 30_000),
    "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_30s.csv.gz":
        ("binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_235959Z.csv.gz", SPOT_TICKS, SPOT_TICKS + 30_000),
    "binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_15s.csv.gz":
        ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_235959Z.csv.gz", USDM_TICKS, USDM_TICKS + 15_000),
    "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_15s.csv.gz":
        ("binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_235959Z.csv.gz", USDM_TICKS, USDM_TICKS + 15_000),
}


def cut_text(source_text: str, start_ms: int, end_ms: int) -> str:
    """The header and the rows with ``start_ms <= ts_ms < end_ms`` (ts_ms is the first column)."""
    lines = source_text.split("\n")
    rows = [line for line in lines[1:] if line and start_ms <= int(line.split(",", 1)[0]) < end_ms]
    return "\n".join([lines[0], *rows]) + "\n"


def compressed(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only say whether the files are up to date")
    args = ap.parse_args()
    data = default_data_dir()
    if not data.is_dir():
        print(f"no recorded data at {data}", file=sys.stderr)
        return 2
    stale = []
    for name, (source, start, end) in EXCERPTS.items():
        text = cut_text(gzip.decompress((data / source).read_bytes()).decode("utf-8"), start, end)
        blob = compressed(text)
        path = OUT / name
        if path.exists() and path.read_bytes() == blob:
            continue
        stale.append(name)
        if not args.check:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob)
        print(f"{'stale' if args.check else 'wrote'} {name}: {text.count(chr(10)) - 1} rows, {len(blob)} bytes")
    total = sum(p.stat().st_size for p in OUT.glob("*.csv.gz"))
    print(f"{len(EXCERPTS)} excerpts, {total / 1024:.1f} KB in tests/fixtures")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
