"""What a journal says about how the rebalancer did: ``rebalancer report --journal PATH``.

``summarize(journal)`` returns a JSON-serialisable dict (exact sums as decimal strings, ratios
and bps as floats); ``format_report(summary)`` renders it as aligned text.

Definitions (only fills of source ``"rebalancer"`` count as ours):

- volume: sum of qty (base) and of price x qty (quote).
- maker share: maker fills / fills, and maker base qty / base qty.
- fees in quote: a fee in the quote coin as is; a fee in the base coin x the fill price;
  a fee in any other coin is not converted and is listed under ``fees_other``.
- cost: ``core.costs``, the definition the live session and replay use: each fill against
  the arrival (the market at the decision that started its rebalance), read from the
  ``arrivals`` rows by the rebalance its client id names; split into fee, spread and drift,
  with the 60-second markout of maker fills from the ``markouts`` rows. A journal written
  before arrivals were kept falls back to the price of the decision behind the order (the
  one linked with ``record_order(decision_id=)``, else the latest trading decision on the same
  side at or before it), with no spread part; a fill with no decision costs its fee only
  (``unreferenced_fills``).
- tracking: gap = net_base - target_base per snapshot that stored a target; time weighted
  (each snapshot holds until the next one; one that held no time counts for nothing), the
  time over ``band_base`` as a percentage. The snapshot rows are written at every account
  change and every 10 s, so this is the replay's measure.
- The keys shared with the replay JSON (``fills``, ``cost_bps``, ``pct_time_over_band``...)
  mean the same there and here; ``detail`` holds what only a journal knows.
"""

from __future__ import annotations

import bisect
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from core.costs import Arrival, CostParts, Markouts, rebalance_of
from core.instruments import split_symbol
from core.journal import JournalError
from core.journal.reader import BAD_VALUE, JournalReader, open_reader
from core.model import Fill, Side
from core.figures import iso_utc
from core.stats import TRACKING_KEYS

OURS = "rebalancer"


def fee_in_quote(fill: Fill) -> Decimal | None:
    """The fill's fee in the quote coin, or None when it is paid in a third coin."""
    if fill.fee == 0:
        return Decimal(0)
    base, quote = split_symbol(fill.symbol)
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


def summarize(journal: JournalReader | str | Path, *, band: float | None = None) -> dict:
    """Numbers of one journal (a ``Journal``, a ``JournalReader`` or a path; a path is never
    created, and a file that is not a journal is left untouched). Raises ``JournalError``
    naming the file. ``band``: the |gap| (base) time over it is measured against (default: the
    band a replay recorded, else the first decision's hard threshold)."""
    j, owned = _open(journal)
    try:
        return _summarize(j, band)
    except BAD_VALUE as e:  # past the reader's row checks: a value no run writes (a time in the year 3000000)
        raise JournalError(f"{j.path}: a value no journal writes ({type(e).__name__} {str(e)[:80]}); the file was "
                           "edited or is damaged: restore a backup or move it aside") from None
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


def _band_default(j: JournalReader) -> float | None:
    """The band a replay measured against (its ``band_base`` state row), else the first
    trading decision's hard threshold in base."""
    rows = j.states("band_base")
    if rows:
        try:
            return float(rows[-1][2])
        except ValueError:
            pass
    for d in j.decisions(limit=None):
        body = d["decision"]
        hard, price = body.get("base_hard"), body.get("price")
        if hard:
            return hard / price if body.get("unit") == "usdt" and price else hard
    return None


def _tracking(j: JournalReader, band: float | None) -> dict:
    """Time weighted over snapshots with a target: each gap holds until the next snapshot, and
    one that held no time (two rows of one instant) counts for nothing, as in a replay."""
    snaps = [s for s in j.snapshots() if s.target_base is not None]
    held: list[tuple[float, int]] = [(abs(float(s.gap_base)), nxt.ts_ms - s.ts_ms)  # type: ignore[arg-type]
                                     for s, nxt in zip(snaps, snaps[1:])]
    total = sum(dt for _, dt in held)
    lasting = [g for g, dt in held if dt > 0]
    return {
        "band_base": band,
        "mean_abs_gap_base": sum(g * dt for g, dt in held) / total if total else None,
        "max_abs_gap_base": max(lasting) if lasting else None,
        "pct_time_over_band": (sum(dt for g, dt in held if band is not None and g >= band) / total * 100.0
                               if total and band is not None else None),
        "snapshots": len(snaps),
    }


def _summarize(j: JournalReader, band: float | None = None) -> dict:
    ref_of = _reference_finder(j)
    arrivals = {k: a for k, (_did, a) in j.arrivals().items()}
    mids_after = j.markouts()
    all_fills = j.fills()
    ours = [f for f in all_fills if f.source == OURS]
    other_sources: dict[str, int] = {}
    for f in all_fills:
        if f.source != OURS:
            other_sources[f.source] = other_sources.get(f.source, 0) + 1

    vol_base = vol_quote = maker_base = fees_quote = Decimal(0)
    buy_base = sell_base = Decimal(0)
    fees_other: dict[str, Decimal] = {}
    maker_count = 0
    costs = CostParts()
    markouts = Markouts()
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
        price, qty = float(f.price), float(f.qty)
        arrival = arrivals.get(rebalance_of(f.client_id)) if f.client_id else None
        if arrival is None:  # a journal from before arrivals were kept: the decision's price
            ref = ref_of(f)
            arrival = None if ref is None else Arrival(f.ts_ms, ref, ref, ref)
        costs.add(f.side, price, qty, float(fee_q), arrival)
        if f.is_maker and f.exec_id in mids_after:
            markouts.measure(f.side.sign, price, qty, mids_after[f.exec_id])

    band = band if band is not None else _band_default(j)
    tracking = _tracking(j, band)
    span = j.time_span()
    meta = {k: v for k, v in j.meta().items() if k != "schema_version"}
    return {
        "journal": j.path,
        "schema_version": j.schema_version,
        "meta": meta,
        "span": {
            "start_ms": span[0] if span else None,
            "end_ms": span[1] if span else None,
            "seconds": (span[1] - span[0]) / 1000.0 if span else 0.0,
        },
        # -- the replay report's keys, with the replay's definitions
        "symbol": meta.get("symbol"),
        "start": iso_utc(span[0]) if span else None,
        "end": iso_utc(span[1]) if span else None,
        "orders": j.count("orders"),
        "fills": len(ours),
        "maker_fills": maker_count,
        "taker_fills": len(ours) - maker_count,
        "rebalances": j.count("rebalances"),
        "rebalance_volume_base": float(vol_base),
        "rebalance_volume_quote": round(float(vol_quote), 2),
        "fees_quote": round(float(fees_quote), 4),
        **costs.figures(),
        **markouts.figures(),
        **{k: tracking[k] for k in TRACKING_KEYS},
        # -- what only a journal knows
        "detail": {
            "volume_base": _plain(vol_base),
            "volume_quote": _plain(vol_quote),
            "buy_base": _plain(buy_base),
            "sell_base": _plain(sell_base),
            "maker_share_count": _ratio(maker_count, len(ours)),
            "maker_share_volume": _ratio(maker_base, vol_base),
            "fees_quote": _plain(fees_quote),
            "fees_other": {k: _plain(v) for k, v in sorted(fees_other.items())},
            "fee_bps": None if not vol_quote else float(fees_quote / vol_quote * 10_000),
            "other_sources": dict(sorted(other_sources.items())),
            "snapshots": tracking["snapshots"],
        },
        "decision_rows": j.count("decisions"),
        "decisions_by_action": j.counts_by("decisions", "action"),
        "orders_by_status": j.counts_by("orders", "status"),
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
    return "-" if x is None else f"{round(x, 2) or 0.0:.2f} bps"  # no "-0.00"


def _num(x, unit: str = "") -> str:
    return "-" if x is None else f"{x:.8g}{unit}"


def format_report(summary: dict) -> str:
    """Human text: one label column, padded so every value starts in the same column."""
    s = summary
    d = s["detail"]
    span = s["span"]
    rows: list[tuple[str, str]] = []  # ("", "") is a blank line

    meta = s.get("meta") or {}
    ident = " / ".join(meta[k] for k in ("account", "venue", "symbol") if k in meta)
    rows.append(("Journal", s["journal"] + (f"  ({ident})" if ident else "")))
    rows.append(("Span", f"{_utc(span['start_ms'])} -> {_utc(span['end_ms'])}"
                         f"  ({_duration(span['seconds'])})"))
    rows.append(("", ""))
    rows.append(("Rebalancer fills", str(s["fills"])))
    rows.append(("  maker / taker", f"{s['maker_fills']} / {s['taker_fills']}"))
    rows.append(("  volume base", f"{d['volume_base']}  (buy {d['buy_base']}, sell {d['sell_base']})"))
    rows.append(("  volume quote", d["volume_quote"]))
    rows.append(("  maker share", f"{_pct(d['maker_share_count'])} by count, "
                                  f"{_pct(d['maker_share_volume'])} by volume"))
    rows.append(("  fees (quote)", f"{d['fees_quote']}  ({_bps(d['fee_bps'])} of volume)"))
    for coin, amount in d["fees_other"].items():
        rows.append((f"  fees ({coin})", f"{amount}  (not converted)"))
    if d["other_sources"]:
        rows.append(("  other fills", ", ".join(f"{k} {v}" for k, v in d["other_sources"].items())))
    rows.append(("", ""))
    rows.append(("Cost (vs arrival)", f"{_bps(s['cost_bps'])}  all-in"))
    rows.append(("  fee", _bps(s["cost_fee_bps"])))
    rows.append(("  spread", f"{_bps(s['cost_spread_bps'])}  (touch vs mid at the decision)"))
    rows.append(("  drift", f"{_bps(s['cost_drift_bps'])}  (waiting, chasing, moves)"))
    if s["unreferenced_fills"]:
        rows.append(("  no arrival", f"{s['unreferenced_fills']} fill(s) costed at their fee only"))
    rows.append(("  maker markout 60 s", f"{_bps(s['maker_markout_60s_bps'])}  (+ = the mid moved against us; "
                                         f"{s['markouts']} fills)"))
    rows.append(("", ""))
    rows.append(("Tracking", f"{d['snapshots']} snapshots, time weighted"))
    rows.append(("  band (base)", _num(s["band_base"])))
    rows.append(("  mean |gap| (base)", _num(s["mean_abs_gap_base"])))
    rows.append(("  max |gap| (base)", _num(s["max_abs_gap_base"])))
    rows.append(("  time over band", "-" if s["pct_time_over_band"] is None else f"{s['pct_time_over_band']:.3f} %"))
    rows.append(("", ""))
    rows.append(("Decision rows", str(s["decision_rows"])))
    for action, n in s["decisions_by_action"].items():
        rows.append((f"  {action}", str(n)))
    rows.append(("Orders", str(s["orders"])))
    for status, n in s["orders_by_status"].items():
        rows.append((f"  {status}", str(n)))
    rows.append(("Errors", str(s["errors"])))

    width = max(len(label) for label, _ in rows)
    lines = [f"{label.ljust(width)}  {value}".rstrip() if label else "" for label, value in rows]
    return "\n".join(lines) + "\n"


def report(path: str | Path, *, as_json: bool = False, band: float | None = None) -> str:
    """What ``rebalancer report --journal PATH [--json] [--band B]`` prints."""
    summary = summarize(path, band=band)
    return json.dumps(summary, indent=2) + "\n" if as_json else format_report(summary)


__all__ = ["JournalError", "fee_in_quote", "format_report", "report", "summarize"]
