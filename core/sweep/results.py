"""The results of a sweep on disk: one JSON line per finished config, appended as it finishes.

Why JSON lines, appended and flushed one by one: a sweep killed at any moment keeps every
config that finished, and a re-run reads the ids back and runs only the rest. A line cut short
by the kill is not a result: it is dropped (and cut off the file before new lines follow).
The table (CSV) and the frontier are written from all rows at the end of each run.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

METRICS = (  # the replay JSON's keys a row keeps (core.costs / core.replay.report define them)
    "cost_bps", "cost_quote", "cost_fee_bps", "cost_spread_bps", "cost_drift_bps", "maker_markout_60s_bps",
    "band_base", "mean_abs_gap_base", "max_abs_gap_base", "pct_time_over_band",
    "rebalances", "orders", "fills", "maker_fills", "taker_fills", "rebalance_volume_base",
    "rebalance_volume_quote", "fees_quote", "flip_flops", "wrong_direction_orders", "refused",
)


class ResultsLog:
    """``results.jsonl``: read what is done, append what finishes."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def read(self) -> list[dict]:
        """Every complete row (a torn last line is left out)."""
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "id" in row:
                rows.append(row)
        return rows

    def done_ids(self) -> set[str]:
        return {r["id"] for r in self.read()}

    def _cut_torn_tail(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with open(self.path, "r+b") as f:
                f.truncate(keep)

    def open(self) -> "ResultsLog":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_torn_tail()
        self._fh = open(self.path, "a", encoding="utf-8")
        return self

    def append(self, row: dict) -> None:
        self._fh.write(json.dumps(row, sort_keys=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        fh = getattr(self, "_fh", None)
        if fh is not None:
            fh.close()
            self._fh = None

    def __enter__(self) -> "ResultsLog":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def write_table(path: str | os.PathLike, rows: Sequence[dict], param_keys: Iterable[str],
                flags: dict[str, Sequence[str]] | None = None) -> Path:
    """The table as CSV: id, label, one column per swept key (blank = the base config's value),
    the metrics, wall time, and one yes/no column per flag (e.g. on_frontier)."""
    flags = flags or {}
    keys = list(param_keys)
    out = Path(path)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "label", *keys, *METRICS, "wall_s", "cpu_s", *flags])
        for r in rows:
            p = r.get("params", {})
            w.writerow([r["id"], r.get("label", ""), *(p.get(k, "") for k in keys),
                        *("" if r.get(m) is None else r.get(m) for m in METRICS), r.get("wall_s", ""), r.get("cpu_s", ""),
                        *("yes" if r["id"] in ids else "" for ids in flags.values())])
    return out
