"""Write-ahead order rows (issue 13, item 3): the order's row is durable before the create call.

Found by killing the program 113-127 ms after it placed an order that then filled while it was
down: the fill was back-filled, but there was no ``orders`` / ``order_events`` row for its client
id (order rows were committed at most once a second of market time). Now the engine commits a
``sending`` row (client id, side, qty, price, time in force; status New, no venue id yet) before
the create call goes out; the venue's answer and the decision link follow in the rows after the
call. A restart reconciles such a row with the venue by client id, like any open order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal

from core.engine import Engine
from core.events import PlaceOrder
from core.journal import Journal
from core.journal.recorder import JournalRecorder
from core.model import BTCUSDT_SPOT, Mode, OrderRequest, OrderStatus, Side, TimeInForce, TradingState
from core.rebalancer import Rebalancer
from core.venues.paper import PaperVenue
from core.venues.paper_exchange import PaperExchange
from tests.core.helpers_engine import T0, initial_position_fill, rcfg
from tests.core.test_engine import ASK, BID, Quote, Rig, Trade
from tests.core.test_engine_journal_fault import FlakyConnection

D = Decimal


def committed_order(path, client_id: str):
    """The order's row as another process (a restart) would read it now."""
    with sqlite3.connect(path) as db:
        return db.execute("SELECT status, last_event, side, qty, price FROM orders WHERE client_id = ?",
                          (client_id,)).fetchone()


async def test_the_order_row_is_committed_before_the_create_call_goes_out(tmp_path):
    path = tmp_path / "journal.sqlite"
    rig = Rig(spot="0.52", journal=Journal(path))  # gap +0.02 >= hard: a taker sell
    await rig.start()
    at_call: list = []
    submit = rig.ex.submit

    def observed(command, ts_ms=None):
        if type(command) is PlaceOrder:
            at_call.append(committed_order(path, command.request.client_id))
        return submit(command, ts_ms)

    rig.ex.submit = observed
    rig.feed([Quote(T0, BID, 1.0, ASK, 1.0), Trade(T0, 60_000.00, 0.001, Side.BUY)])
    assert at_call == [("New", "sending", "Sell", "0.020000", "59940.00")]
    assert committed_order(path, "rb1-1")[0] == "Filled"  # the answer followed
    await rig.stop()


async def test_an_order_whose_row_cannot_be_written_is_not_sent(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite")
    conn = FlakyConnection(journal._conn)
    journal._conn = conn
    rig = Rig(spot="0.52", journal=journal)
    await rig.start()
    conn.failing = True
    rig.feed([Quote(T0, BID, 1.0, ASK, 1.0), Trade(T0, 60_000.00, 0.001, Side.BUY)])
    await rig.drain()
    assert rig.ex.placed == [] and rig.reb.risk.state is TradingState.HALTED
    await rig.stop(cancel_orders=False)


async def test_a_restart_reconciles_an_order_known_only_by_its_write_ahead_row(tmp_path):
    """Killed just after the call: the journal has only the ``sending`` row; the order filled
    while the program was down. The restart closes the row with the venue's state and
    back-fills the fill."""
    path = tmp_path / "journal.sqlite"
    req = OrderRequest("rbk-1", "BTCUSDT", Side.SELL, D("0.004"), D("60000.01"), TimeInForce.POST_ONLY)
    with Journal(path) as j:
        j.record_order_sent(T0, req)
    ex = PaperExchange(balances={"BTC": D("0.5"), "USDT": D("50000")})
    ex.apply_grid_fill(initial_position_fill(T0, D("-0.5"), D("60000")))
    ex.on_quote(T0, BID, 1.0, ASK, 1.0)
    ex.submit(PlaceOrder(req), T0)
    ex.on_trade(T0 + 100, 60_000.50, 0.01, True)  # filled while down
    (fill,) = ex.fills()
    journal = Journal(path)
    reb = Rebalancer(rcfg(), BTCUSDT_SPOT, mode=Mode.AUTO, recorder=JournalRecorder(journal))
    engine = Engine(reb, PaperVenue(ex, market=None), tick_s=3600, journal=journal)
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.started.wait(), 5)
    assert journal.order("rbk-1").status is OrderStatus.FILLED
    assert fill.exec_id in journal.exec_ids()
    await engine.shutdown(cancel_orders=False)
    await asyncio.wait_for(task, 5)
