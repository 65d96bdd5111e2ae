"""A deterministic, synchronous, Bybit-like simulated exchange (the paper venue's engine).

Why it exists: the same rebalancer runs live, on paper and in replay; this is the exchange for
the last two. It holds spot balances, our spot orders and a linear futures position, matches
our orders against a market tape, and emits the same events a real venue would.

Design rules:
- pure and deterministic: no wall clock, no sleeps, no randomness. Time is the timestamp of
  the market event being processed (or the ``ts_ms`` handed to ``submit``); ids come from
  counters, so the same inputs always give the same event sequence;
- exact ``Decimal`` for everything about orders, balances and fills; market data stays float;
- the market-data path is O(1) and allocation-free while nothing fills.

One class, ``PaperExchange``, its parts one idea per module (the state is declared once, in
``exchange.py``; each part says which of it it keeps):

    exchange.py   PaperExchange: state, the market-data hot path, replay's quiet-band helpers, grid hook
    matching.py   Matching: the slow path, the fill rules, the resting book, order and fill history
    fill_model.py FillModel: honest (spread, queue, bars trade through) or optimistic, and why
    commands.py   CommandDesk: submit, gateway checks, latency queue, place / amend / cancel
    ledger.py     Ledger: balances, the linear position, fees, equity; FeeSchedule
    state.py      Persistence: to_state / from_state / save / load
    orders.py     the book entry of one order, one action's batch, a refusal with Bybit's code

Import from here (``from core.venues.paper_exchange import PaperExchange``).
"""

from __future__ import annotations

from core.venues.paper_exchange.exchange import GridLike, PaperExchange
from core.venues.paper_exchange.fill_model import FILL_MODELS, OPTIMISTIC, FillModel
from core.venues.paper_exchange.ledger import FeeSchedule
from core.venues.paper_exchange.orders import ZERO
from core.venues.paper_exchange.state import STATE_VERSION

__all__ = ["FILL_MODELS", "FeeSchedule", "FillModel", "GridLike", "OPTIMISTIC", "PaperExchange", "STATE_VERSION",
           "ZERO"]
