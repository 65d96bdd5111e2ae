"""Save and restore a paper exchange: JSON-safe state, atomic file writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from core.events import AmendOrder, CancelAllOurs, CancelOrder, PlaceOrder
from core.model import Fill, Instrument, Leg, OrderRequest, Side, TimeInForce
from core.venues.paper_exchange.fill_model import FillModel
from core.venues.paper_exchange.ledger import FeeSchedule
from core.venues.paper_exchange.orders import INF, BookOrder

if TYPE_CHECKING:
    from core.venues.paper_exchange.exchange import GridLike, PaperExchange

STATE_VERSION = 1


class Persistence:
    """Part of ``PaperExchange``: everything needed to resume it, to and from a file."""

    __slots__ = ()

    def to_state(self) -> dict:
        """Everything needed to resume: JSON-safe, Decimals as strings (the grid too, if it saves)."""
        return {
            "version": STATE_VERSION,
            "spot": _instrument_to_dict(self.spot),
            "linear": _instrument_to_dict(self.linear),
            "fees": {k: str(getattr(self.fees, k)) for k in FeeSchedule.__slots__},
            "latency_ms": self.latency_ms,
            "synthetic_spread_ticks": self.synthetic_spread_ticks,
            "fill_model": self._fill_model.to_dict(),
            "settle_linear_in_quote": self.settle_linear_in_quote,
            "history_limit": self.history_limit,
            "balances": {c: {"free": str(v[0]), "locked": str(v[1])} for c, v in self._bal.items()},
            "position": {
                "size": str(self._pos_size), "entry_price": str(self._pos_entry),
                "realised_pnl": str(self._realised), "fees": str(self._linear_fees),
                "mark": self._mark,
            },
            "orders": [o.to_dict() for o in self._orders.values()],
            "pending": [o.to_dict() for o in self._pending.values()],
            "fills": [_fill_to_dict(f) for f in self._fills],
            "market": {
                "ts_ms": self._ts, "last": self._last, "has_bbo": self._has_bbo, "quote_ts": self._quote_ts,
                "bbo": [self._bid, self._bid_qty, self._ask, self._ask_qty],
            },
            "queue": [[due, _command_to_dict(c), sts, oid] for due, c, sts, oid in self._queue],
            "counters": {"order": self._order_seq, "exec": self._exec_seq, "seq": self._seq},
            # the simulated grid, when it can save itself (GridBot.to_state), resumes with the account
            "grid": self._grid.to_state() if hasattr(self._grid, "to_state") else None,
        }

    @classmethod
    def from_state(cls, state: dict, *, grid: GridLike | None = None,
                   fill_model: FillModel | None = None) -> "PaperExchange":
        """``fill_model`` (the config's) replaces the saved one: the model is a setting, not state."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported paper state version {state.get('version')!r}")
        ex = cls(
            spot=_instrument_from_dict(state["spot"]),
            linear=_instrument_from_dict(state["linear"]),
            balances={},
            fees=FeeSchedule(**{k: Decimal(v) for k, v in state["fees"].items()}),
            latency_ms=state["latency_ms"],
            synthetic_spread_ticks=state["synthetic_spread_ticks"],
            grid=grid,
            settle_linear_in_quote=state["settle_linear_in_quote"],
            history_limit=state["history_limit"],
            fill_model=fill_model or FillModel.from_dict(state.get("fill_model")),
        )
        ex._bal = {c: [Decimal(v["free"]), Decimal(v["locked"])] for c, v in state["balances"].items()}
        pos = state["position"]
        ex._pos_size = Decimal(pos["size"])
        ex._pos_entry = Decimal(pos["entry_price"])
        ex._realised = Decimal(pos["realised_pnl"])
        ex._linear_fees = Decimal(pos["fees"])
        ex._mark = pos["mark"]
        ex._orders = {d["client_id"]: BookOrder.from_dict(d) for d in state["orders"]}
        ex._pending = {d["client_id"]: BookOrder.from_dict(d) for d in state["pending"]}
        ex._buys = [o for o in ex._orders.values() if o.status.is_open and o.side is Side.BUY]
        ex._sells = [o for o in ex._orders.values() if o.status.is_open and o.side is Side.SELL]
        ex._rebuild_book()
        ex._fills = [_fill_from_dict(d) for d in state["fills"]]
        m = state["market"]
        ex._ts = m["ts_ms"]
        ex._last = m["last"]
        ex._has_bbo = m["has_bbo"]
        ex._bid, ex._bid_qty, ex._ask, ex._ask_qty = m["bbo"]
        ex._quote_ts = m.get("quote_ts", m["ts_ms"])
        ex._trade_ts = m["ts_ms"]
        ex._queue = deque((due, _command_from_dict(c), sts, oid) for due, c, sts, oid in state["queue"])
        ex._due_ms = ex._queue[0][0] if ex._queue else INF
        c = state["counters"]
        ex._order_seq, ex._exec_seq, ex._seq = c["order"], c["exec"], c["seq"]
        return ex

    def save(self, path: str | os.PathLike) -> None:
        """Atomic write (temp file in the same folder, fsync, os.replace): never a torn file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.to_state(), indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    @classmethod
    def load(cls, path: str | os.PathLike, *, grid: GridLike | None = None,
             fill_model: FillModel | None = None) -> "PaperExchange":
        with open(path, encoding="utf-8") as fh:
            return cls.from_state(json.load(fh), grid=grid, fill_model=fill_model)

# ---------------------------------------------------------------------- (de)serialisation helpers


def _instrument_to_dict(i: Instrument) -> dict:
    return {
        "symbol": i.symbol, "base": i.base, "quote": i.quote, "tick_size": str(i.tick_size),
        "qty_step": str(i.qty_step), "min_qty": str(i.min_qty), "min_notional": str(i.min_notional),
        "max_qty": str(i.max_qty), "leg": i.leg.value,
    }


def _instrument_from_dict(d: dict) -> Instrument:
    return Instrument(
        symbol=d["symbol"], base=d["base"], quote=d["quote"], tick_size=Decimal(d["tick_size"]),
        qty_step=Decimal(d["qty_step"]), min_qty=Decimal(d["min_qty"]),
        min_notional=Decimal(d["min_notional"]), max_qty=Decimal(d["max_qty"]), leg=Leg(d["leg"]),
    )


def _fill_to_dict(f: Fill) -> dict:
    return {
        "ts_ms": f.ts_ms, "exec_id": f.exec_id, "symbol": f.symbol, "side": f.side.value,
        "price": str(f.price), "qty": str(f.qty), "fee": str(f.fee), "fee_coin": f.fee_coin,
        "is_maker": f.is_maker, "leg": f.leg.value, "client_id": f.client_id,
        "order_id": f.order_id, "source": f.source,
    }


def _fill_from_dict(d: dict) -> Fill:
    return Fill(
        ts_ms=d["ts_ms"], exec_id=d["exec_id"], symbol=d["symbol"], side=Side(d["side"]),
        price=Decimal(d["price"]), qty=Decimal(d["qty"]), fee=Decimal(d["fee"]),
        fee_coin=d["fee_coin"], is_maker=d["is_maker"], leg=Leg(d["leg"]),
        client_id=d["client_id"], order_id=d["order_id"], source=d["source"],
    )


def _command_to_dict(c: object) -> dict:
    if isinstance(c, PlaceOrder):
        r = c.request
        return {"type": "place", "client_id": r.client_id, "symbol": r.symbol, "side": r.side.value,
                "qty": str(r.qty), "price": str(r.price), "tif": r.tif.value, "leg": r.leg.value,
                "reason": r.reason}
    if isinstance(c, CancelOrder):
        return {"type": "cancel", "client_id": c.client_id, "reason": c.reason}
    if isinstance(c, AmendOrder):
        return {"type": "amend", "client_id": c.client_id, "price": str(c.price),
                "qty": None if c.qty is None else str(c.qty)}
    if isinstance(c, CancelAllOurs):
        return {"type": "cancel_all", "reason": c.reason}
    raise TypeError(f"not a command: {c!r}")


def _command_from_dict(d: dict) -> object:
    t = d["type"]
    if t == "place":
        return PlaceOrder(OrderRequest(d["client_id"], d["symbol"], Side(d["side"]), Decimal(d["qty"]),
                                       Decimal(d["price"]), TimeInForce(d["tif"]), Leg(d["leg"]), d["reason"]))
    if t == "cancel":
        return CancelOrder(d["client_id"], d["reason"])
    if t == "amend":
        return AmendOrder(d["client_id"], Decimal(d["price"]), None if d["qty"] is None else Decimal(d["qty"]))
    if t == "cancel_all":
        return CancelAllOurs(d["reason"])
    raise ValueError(f"unknown command type {t!r}")
