"""What a journal says about how the rebalancer did: ``rebalancer report --journal PATH``.

``summarize(journal)`` returns a JSON-serialisable dict (exact sums as decimal strings, ratios
and bps as floats); ``format_report(summary)`` renders it as aligned text.

Definitions (only fills of source ``"rebalancer"`` count as ours):

- volume: sum of qty (base) and of price x qty (quote).
- maker share: maker fills / fills, and maker base qty / base qty.
- fees in quote: a fee in the quote coin as is; a fee in the base coin x the fill price;
  a fee in any other coin is not converted and is listed under ``fees_other``.
- cost (bps), per fill: ``fee_quote + sign x (fill price - ref) x qty`` over ``ref x qty``,
  summed over fills (volume weighted). ``sign`` is +1 for a buy, -1 for a sell, so paying
  above the reference on a buy (or selling below it) is a cost. ``ref`` is the price of the
  decision behind the fill's order: the decision linked with ``record_order(decision_id=)``,
  else the latest trading decision on the same side at or before the order was first seen
  (or the fill, if the order is unknown). Without a decision the reference is the fill price
  itself, so only the fee counts; ``referenced_fills`` says how many had one.
- tracking: gap = net_base - target_base per snapshot that stored a target; the mean |gap|
  is time weighted (each snapshot holds until the next one), the max is over snapshots.
"""

from __future__ import annotations

import bisect
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from core.journal import JournalError
from core.journal.reader import JournalReader, open_reader
from core.model import Fill, Side

OURS = "rebalancer"
# Longest first, so BTCFDUSD splits as BTC/FDUSD, not BTCFD/USD.
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "USDE", "USD", "DAI", "EUR", "BTC", "ETH")


def _split_symbol(symbol: str) -> tuple[str, str]:
    """BTCUSDT -> (BTC, USDT); unknown shapes give (symbol, "")."""
    for q in _QUOTES:
        if symbol.endswith(q) and len(symbol) > len(q):
            return symbol[: -len(q)], q
    return symbol, ""


def fee_in_quote(fill: Fill) -> Decimal | None:
    """The fill's fee in the quote coin, or None when it is paid in a third coin."""
    if fill.fee == 0:
        return Decimal(0)
    base, quote = _split_symbol(fill.symbol)
    coin = fill.fee_coin.upper()
    if coin == "" or coin == quote:
        return fill.fee
    if coin == base:
        return fill.fee * fill.price
    return None


def _plain(x: Decimal) -> str:
    """Exact decimal text without the trailing zeros a product leaves (250.520 -> 250.52)."""
    return format(x.normalize(), "f") if x else "0"


def _ratio(num: Decimal | int, den: Decimal | int) -> float | None:
    return None if not den else float(Decimal(num) / Decimal(den))


def _open(journal: JournalReader | str | Path) -> tuple[JournalReader, bool]:
    if isinstance(journal, JournalReader):
        return journal, False
    return open_reader(journal), True


def summarize(journal: JournalReader | str | Path) -> dict:
    """Numbers of one journal (a ``Journal``, a ``JournalReader`` or a path; a path is never
    created, and a file that is not a journal is left untouched). Raises ``JournalError``
    naming the file."""
    j, owned = _open(journal)
    try:
        return _summarize(j)
    finally:
        if owned:
            j.close()


def _reference_finder(j: JournalReader):
    """``ref(fill) -> decision price | None``, per the module docstring's rule."""
    trades = j.trade_decisions()
    price_by_id = {d[0]: d[3] for d in trades}
    by_side: dict[str, tuple[list[int], list[float]]] = {}
    for _id, ts, side, price in trades:
        ts_list, prices = by_side.setdefault(side, ([], []))
        ts_list.append(ts)
        prices.append(price)

    def latest(side: Side, ts: int) -> float | None:
        entry = by_side.get(side.value)
        if entry is None:
            return None
        i = bisect.bisect_right(entry[0], ts)
        return entry[1][i - 1] if i else None

    by_order: dict[str, float | None] = {}
    for row in j.orders():
        o = row["order"]
        ref = price_by_id.get(row["decision_id"]) if row["decision_id"] is not None else None
        if ref is None:
            ref = latest(o.side, o.created_ms or row["first_ts_ms"])
        by_order[o.client_id] = ref

    def ref(fill: Fill) -> float | None:
        if fill.client_id and fill.client_id in by_order:
            return by_order[fill.client_id]
        return latest(fill.side, fill.ts_ms)

    return ref


def _summarize(j: JournalReader) -> dict:
    ref_of = _reference_finder(j)
    all_fills = j.fills()
    ours = [f for f in all_fills if f.source == OURS]
    other_sources: dict[str, int] = {}
    for f in all_fills:
        if f.source != OURS:
            other_sources[f.source] = other_sources.get(f.source, 0) + 1

    vol_base = vol_quote = maker_base = fees_quote = Decimal(0)
    cost_quote = ref_notional = Decimal(0)
    buy_base = sell_base = Decimal(0)
    fees_other: dict[str, Decimal] = {}
    maker_count = referenced = 0
    for f in ours:
        vol_base += f.qty
        vol_quote += f.notional
        if f.side is Side.BUY:
            buy_base += f.qty
        else:
            sell_base += f.qty
        if f.is_maker:
            maker_count += 1
            maker_base += f.qty
        fee_q = fee_in_quote(f)
        if fee_q is None:
            fees_other[f.fee_coin] = fees_other.get(f.fee_coin, Decimal(0)) + f.fee
            fee_q = Decimal(0)
        fees_quote += fee_q
        ref_f = ref_of(f)
        if ref_f is not None:
            referenced += 1
            ref = Decimal(repr(ref_f))  # the float's shortest text: 100.0 -> 100.0, no binary noise
        else:
            ref = f.price
        cost_quote += fee_q + f.side.sign * (f.price - ref) * f.qty
        ref_notional += ref * f.qty

    snaps = [s for s in j.snapshots() if s.target_base is not None]
    mean_gap = max_gap = None
    if snaps:
        gaps = [abs(s.gap_base) for s in snaps]  # type: ignore[arg-type]
        max_gap = max(gaps)
        span_ms = snaps[-1].ts_ms - snaps[0].ts_ms
        if span_ms > 0:
            weighted = sum(
                (g * (nxt.ts_ms - s.ts_ms) for g, s, nxt in zip(gaps, snaps, snaps[1:])),
                Decimal(0),
            )
            mean_gap = weighted / span_ms
        else:
            mean_gap = sum(gaps, Decimal(0)) / len(gaps)

    span = j.time_span()
    return {
        "journal": j.path,
        "schema_version": j.schema_version,
        "meta": {k: v for k, v in j.meta().items() if k != "schema_version"},
        "span": {
            "start_ms": span[0] if span else None,
            "end_ms": span[1] if span else None,
            "seconds": (span[1] - span[0]) / 1000.0 if span else 0.0,
        },
        "fills": {
            "count": len(ours),
            "maker_count": maker_count,
            "taker_count": len(ours) - maker_count,
            "volume_base": _plain(vol_base),
            "volume_quote": _plain(vol_quote),
            "buy_base": _plain(buy_base),
            "sell_base": _plain(sell_base),
            "maker_share_count": _ratio(maker_count, len(ours)),
            "maker_share_volume": _ratio(maker_base, vol_base),
            "fees_quote": _plain(fees_quote),
            "fees_other": {k: _plain(v) for k, v in sorted(fees_other.items())},
            "fee_bps": None if not vol_quote else float(fees_quote / vol_quote * 10_000),
            "cost_quote": _plain(cost_quote),
            "cost_bps": None if not ref_notional else float(cost_quote / ref_notional * 10_000),
            "referenced_fills": referenced,
            "other_sources": dict(sorted(other_sources.items())),
        },
        "tracking": {
            "snapshots": len(snaps),
            "mean_abs_gap_base": None if mean_gap is None else float(mean_gap),
            "max_abs_gap_base": None if max_gap is None else float(max_gap),
        },
        "decisions": {
            "total": j.count("decisions"),
            "by_action": j.counts_by("decisions", "action"),
        },
        "orders": {
            "total": j.count("orders"),
            "by_status": j.counts_by("orders", "status"),
        },
        "errors": j.count("errors"),
    }


# ---------------------------------------------------------------- text


def _utc(ts_ms: int | None) -> str:
    if ts_ms is None:
        return "-"
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h {m:02d}m {sec:02d}s"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _bps(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} bps"


def _g(x: float | None) -> str:
    return "-" if x is None else f"{x:.8g}"


def format_report(summary: dict) -> str:
    """Human text: one label column, padded so every value starts in the same column."""
    f = summary["fills"]
    t = summary["tracking"]
    span = summary["span"]
    rows: list[tuple[str, str]] = []  # ("", "") is a blank line; a label ending ":" a section

    meta = summary.get("meta") or {}
    ident = " / ".join(meta[k] for k in ("account", "venue", "symbol") if k in meta)
    rows.append(("Journal", summary["journal"] + (f"  ({ident})" if ident else "")))
    rows.append(("Span", f"{_utc(span['start_ms'])} -> {_utc(span['end_ms'])}"
                         f"  ({_duration(span['seconds'])})"))
    rows.append(("", ""))
    rows.append(("Rebalancer fills", str(f["count"])))
    rows.append(("  maker / taker", f"{f['maker_count']} / {f['taker_count']}"))
    rows.append(("  volume base", f"{f['volume_base']}  (buy {f['buy_base']}, sell {f['sell_base']})"))
    rows.append(("  volume quote", f["volume_quote"]))
    rows.append(("  maker share", f"{_pct(f['maker_share_count'])} by count, "
                                  f"{_pct(f['maker_share_volume'])} by volume"))
    rows.append(("  fees (quote)", f"{f['fees_quote']}  ({_bps(f['fee_bps'])})"))
    for coin, amount in f["fees_other"].items():
        rows.append((f"  fees ({coin})", f"{amount}  (not converted)"))
    rows.append(("  avg cost", f"{_bps(f['cost_bps'])}  (fees + price vs decision; "
                               f"{f['referenced_fills']}/{f['count']} fills referenced)"))
    if f["other_sources"]:
        rows.append(("  other fills", ", ".join(f"{k} {v}" for k, v in f["other_sources"].items())))
    rows.append(("", ""))
    rows.append(("Tracking snapshots", str(t["snapshots"])))
    rows.append(("  mean |gap| base", f"{_g(t['mean_abs_gap_base'])}  (time weighted)"))
    rows.append(("  max |gap| base", _g(t["max_abs_gap_base"])))
    rows.append(("", ""))
    rows.append(("Decisions", str(summary["decisions"]["total"])))
    for action, n in summary["decisions"]["by_action"].items():
        rows.append((f"  {action}", str(n)))
    rows.append(("Orders", str(summary["orders"]["total"])))
    for status, n in summary["orders"]["by_status"].items():
        rows.append((f"  {status}", str(n)))
    rows.append(("Errors", str(summary["errors"])))

    width = max(len(label) for label, _ in rows)
    lines = [f"{label.ljust(width)}  {value}".rstrip() if label else "" for label, value in rows]
    return "\n".join(lines) + "\n"


def report(path: str | Path, *, as_json: bool = False) -> str:
    """What ``rebalancer report --journal PATH [--json]`` prints."""
    summary = summarize(path)
    return json.dumps(summary, indent=2) + "\n" if as_json else format_report(summary)


__all__ = ["JournalError", "fee_in_quote", "format_report", "report", "summarize"]
