"""``report`` over several journals: one line per symbol and a total.

One process writes one journal per symbol (``<account>-<venue>-<symbol>.sqlite``, see
``core.session.journal_path``), so ``report --journal DIR`` reads every journal in the folder,
keeps those of ``--symbol`` when given, and sums them: per symbol its fills, volume, cost in
USDT and bps, tracking; the total's cost is the sum in USDT and its bps the symbols' bps
weighted by their traded notional (``rebalance_volume_quote``). Tracking is per symbol only:
gaps in different coins do not add up.

A journal's symbol is the one its rows name (``meta``; a journal from before rows named it:
the symbol its fills name, else the file name's last part).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.journal import JournalError
from core.journal.reader import JournalReader, open_reader
from core.report import summarize

SUFFIXES = (".sqlite", ".sqlite3", ".db")


def journal_files(paths: Iterable[str | Path]) -> list[Path]:
    """Each path a journal file or a folder of them (its ``*.sqlite`` files, sorted). Raises
    ``JournalError`` for a path that is neither, or a folder with no journal."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in SUFFIXES)
            if not found:
                raise JournalError(f"{p}: no journal files (*.sqlite) in this folder")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise JournalError(f"{p}: no such journal file or folder")
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]


def journal_symbol(j: JournalReader) -> str:
    """The symbol a journal is of (``""`` when nothing in it says)."""
    symbol = j.meta().get("symbol")
    if symbol:
        return symbol
    symbol = j.fills_symbol()
    if symbol:
        return symbol
    stem = Path(j.path).stem  # <account>-<venue>-<symbol>
    return stem.rsplit("-", 1)[-1].upper() if stem.count("-") >= 2 else ""


def summarize_many(paths: Iterable[str | Path], *, symbol: str | None = None, band: float | None = None) -> dict:
    """Every journal's summary (``core.report.summarize``) with its symbol, those of ``symbol``
    only when given, then one row per symbol and the total."""
    want = symbol.upper() if symbol else None
    journals = []
    copies: dict[str, Path] = {}  # the fills' fingerprint -> the journal it was first seen in
    for path in journal_files(paths):
        with open_reader(path) as j:
            sym = journal_symbol(j)
            if want is not None and sym != want:
                continue
            _refuse_a_copy(path, j.fills_fingerprint(), copies)
            s = summarize(j, band=band)
        s["symbol"] = s.get("symbol") or sym or None
        journals.append(s)
    if want is not None and not journals:
        raise JournalError(f"no journal of {want} among the ones given")
    by_symbol: dict[str, list[dict]] = {}
    for s in journals:
        by_symbol.setdefault(s["symbol"] or "?", []).append(s)
    rows = [_symbol_row(sym, group) for sym, group in sorted(by_symbol.items())]
    return {"journals": journals, "symbols": rows, "total": _total(rows)}


def _refuse_a_copy(path: Path, fingerprint: str | None, seen: dict[str, Path]) -> None:
    """Two journals with the very same fills are copies of one (a backup beside the journal in
    its folder): summing them would count every fill twice. (Exec ids alone cannot tell: a
    replay's paper exchange numbers its fills from 1 in every run.)"""
    if fingerprint is None:
        return
    if fingerprint in seen:
        raise JournalError(f"{path} and {seen[fingerprint]} hold the very same fills: copies of one journal? "
                           "give each journal once (move a backup out of the folder)")
    seen[fingerprint] = path


def _sum(values: Iterable[float | int | None]) -> float:
    return sum(v for v in values if v is not None)


def _weighted_bps(rows: list[dict], key: str) -> float | None:
    """``key`` (bps) weighted by traded notional; None when nothing traded."""
    pairs = [(r[key], r["rebalance_volume_quote"]) for r in rows
             if r.get(key) is not None and r["rebalance_volume_quote"]]
    notional = sum(n for _, n in pairs)
    return round(sum(b * n for b, n in pairs) / notional, 3) if notional else None


def _symbol_row(symbol: str, group: list[dict]) -> dict:
    row = {
        "symbol": symbol,
        "journals": [s["journal"] for s in group],
        "fills": int(_sum(s["fills"] for s in group)),
        "rebalances": int(_sum(s["rebalances"] for s in group)),
        "rebalance_volume_base": _sum(s["rebalance_volume_base"] for s in group),
        "rebalance_volume_quote": round(_sum(s["rebalance_volume_quote"] for s in group), 2),
        "fees_quote": round(_sum(s["fees_quote"] for s in group), 4),
        "cost_quote": round(_sum(s["cost_quote"] for s in group), 4) if any(s["cost_quote"] is not None
                                                                            for s in group) else None,
    }
    row["cost_bps"] = _weighted_bps(group, "cost_bps")
    if len(group) == 1:  # tracking: a journal's own (two runs of one symbol are not one time line)
        g = group[0]
        row.update(band_base=g["band_base"], mean_abs_gap_base=g["mean_abs_gap_base"],
                   pct_time_over_band=g["pct_time_over_band"])
    else:
        row.update(band_base=None, mean_abs_gap_base=None, pct_time_over_band=None)
    return row


def _total(rows: list[dict]) -> dict:
    return {
        "symbols": len(rows),
        "fills": int(_sum(r["fills"] for r in rows)),
        "rebalances": int(_sum(r["rebalances"] for r in rows)),
        "rebalance_volume_quote": round(_sum(r["rebalance_volume_quote"] for r in rows), 2),
        "fees_quote": round(_sum(r["fees_quote"] for r in rows), 4),
        "cost_quote": round(_sum(r["cost_quote"] for r in rows), 4) if any(r["cost_quote"] is not None
                                                                           for r in rows) else None,
        "cost_bps": _weighted_bps(rows, "cost_bps"),
    }


def format_many(summary: dict) -> str:
    """One aligned line per symbol, then the total."""
    head = ("symbol", "fills", "rebal", "volume (quote)", "cost (quote)", "cost bps", "mean |gap| (base)",
            "over band")

    def fmt(x, spec: str) -> str:
        return "-" if x is None else format(x, spec)

    lines = [head]
    for r in summary["symbols"]:
        lines.append((r["symbol"], str(r["fills"]), str(r["rebalances"]), fmt(r["rebalance_volume_quote"], ",.2f"),
                      fmt(r["cost_quote"], ",.2f"), fmt(r["cost_bps"], ".2f"), fmt(r["mean_abs_gap_base"], ".6g"),
                      "-" if r["pct_time_over_band"] is None else f"{r['pct_time_over_band']:.2f} %"))
    t = summary["total"]
    lines.append((f"total ({t['symbols']})", str(t["fills"]), str(t["rebalances"]),
                   fmt(t["rebalance_volume_quote"], ",.2f"), fmt(t["cost_quote"], ",.2f"), fmt(t["cost_bps"], ".2f"),
                   "", ""))
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    out = []
    for n, row in enumerate(lines):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        out.append("  ".join(cells).rstrip())
        if n == 0 or n == len(lines) - 2:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n" + f"{len(summary['journals'])} journal(s); cost bps of the total: weighted by " \
                                    f"traded notional\n"


__all__ = ["format_many", "journal_files", "journal_symbol", "summarize_many"]
