"""Property test on the pure ledger: whatever the sequence, the books balance.

Invariants: balances move exactly by the recorded fills and fees; locked funds equal what
open orders hold; free balances never go negative; closed orders hold nothing.
"""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.bybit.ledger import Ledger, OrderError
from tests.fakes.bybit.market import Market
from tests.builders import examples

START = {"USDT": D("10000"), "BTC": D("0.1")}

prices = st.integers(min_value=49_900_00, max_value=50_100_00).map(lambda c: D(c) / 100)
qtys = st.integers(min_value=100, max_value=30_000).map(lambda n: D(n) / 1_000_000)
ops = st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(["Buy", "Sell"]), qtys, prices,
              st.sampled_from(["GTC", "IOC", "PostOnly"])),
    st.tuples(st.just("market"), st.sampled_from(["Buy", "Sell"]), qtys),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("amend"), st.integers(0, 20), prices),
    st.tuples(st.just("trade"), prices, qtys),
    st.tuples(st.just("partial"), st.integers(0, 20), st.integers(1, 100)),
    st.tuples(st.just("book"), prices, qtys, qtys),
)


def new_ledger() -> Ledger:
    clock = iter(range(1_700_000_000_000, 1_800_000_000_000)).__next__
    market = Market(clock=clock)
    market.set_book("spot", "50000", "1", "50000.10", "1")
    ledger = Ledger(market, clock)
    for coin, amount in START.items():
        ledger.set_balance(coin, amount)
    return ledger


def apply(ledger: Ledger, op: tuple) -> None:
    spot = {"category": "spot", "symbol": "BTCUSDT"}
    orders = ledger.orders
    pick = (lambda i: orders[i % len(orders)]) if orders else None
    kind = op[0]
    if kind == "limit":
        _, side, qty, price, tif = op
        ledger.place({**spot, "side": side, "orderType": "Limit", "qty": str(qty), "price": str(price),
                      "timeInForce": tif})
    elif kind == "market":
        _, side, qty = op
        ledger.place({**spot, "side": side, "orderType": "Market", "qty": str(qty), "marketUnit": "baseCoin"})
    elif kind == "cancel" and pick:
        ledger.cancel({**spot, "orderId": pick(op[1]).order_id})
    elif kind == "amend" and pick:
        ledger.amend({**spot, "orderId": pick(op[1]).order_id, "price": str(op[2])})
    elif kind == "trade":
        ledger.on_trade(op[1], op[2], "Sell")
    elif kind == "partial" and pick:
        order = pick(op[1])
        if order.is_open and order.leaves_qty > 0:
            qty = max(D("0.000001"), (order.leaves_qty * op[2] / 100).quantize(D("0.000001")))
            ledger.partial_fill(min(qty, order.leaves_qty), order_id=order.order_id)
    elif kind == "book":
        _, bid, bid_qty, ask_qty = op
        ledger.market.set_book("spot", bid, bid_qty, bid + D("0.10"), ask_qty)
        ledger.on_book_change()


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(ops, max_size=25))
def test_balances_move_exactly_by_fills(sequence):
    ledger = new_ledger()
    for op in sequence:
        try:
            apply(ledger, op)
        except OrderError:
            pass  # refusals (balance, min size, unknown order) must leave state untouched
        bal = ledger.balances
        assert bal["USDT"].free >= 0 and bal["BTC"].free >= 0
        open_orders = ledger.open_orders
        assert bal["USDT"].locked == sum((o.locked for o in open_orders if o.side == "Buy"), D(0))
        assert bal["BTC"].locked == sum((o.locked for o in open_orders if o.side == "Sell"), D(0))
        assert all(o.locked == 0 for o in ledger.orders if not o.is_open)

    btc, usdt = START["BTC"], START["USDT"]
    for f in ledger.fills:
        if f.side == "Buy":
            btc += f.exec_qty - f.exec_fee
            usdt -= f.exec_value
        else:
            btc -= f.exec_qty
            usdt += f.exec_value - f.exec_fee
    bal = ledger.balances
    assert (bal["BTC"].wallet, bal["USDT"].wallet) == (btc, usdt)
    for order in ledger.orders:
        mine = [f for f in ledger.fills if f.order_id == order.order_id]
        assert order.cum_exec_qty == sum((f.exec_qty for f in mine), D(0))
        if order.qty_in_base:
            assert order.cum_exec_qty <= order.qty
