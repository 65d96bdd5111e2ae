"""The account book: positions, the sign rule (DESIGN.md) and net / gap / target / equity.

Sign convention: futures long +size, short -size; net = spot - reserve + futures;
gap = net - target; a positive gap (long drift) is closed by SELLING, a negative one by BUYING.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.account import (
    AccountBook, closing_room, finite, gap_after, grows_gap, side_to_close, spot_exposure,
)
from core.model import Balance, Position, Side

D = Decimal


def book(spot: float = 0.0, futures: float = 0.0, target: float | None = 0.0, reserve: float = 0.0,
         target_at=None) -> AccountBook:
    b = AccountBook(reserve_base=reserve, fixed_target=target, target_at=target_at)
    b.spot_total = spot
    b.futures_size = futures
    return b


@pytest.mark.parametrize(
    "spot, fut, target, net, gap, side",
    [
        # short hedge, long drift: 0.55 + (-0.5) = 0.05; gap = 0.05 - 0 -> SELL
        (0.55, -0.5, 0.0, 0.05, 0.05, Side.SELL),
        # short drift: 0.45 + (-0.5) = -0.05 -> BUY
        (0.45, -0.5, 0.0, -0.05, -0.05, Side.BUY),
        # long futures add exposure: 0.2 + 0.3 = 0.5; target 0.5 -> on target, no side
        (0.2, 0.3, 0.5, 0.5, 0.0, None),
        # non-zero target: net 0.05, target 0.1 -> gap -0.05 -> BUY
        (0.55, -0.5, 0.1, 0.05, -0.05, Side.BUY),
        # flat futures, spot only: net 0.01 -> SELL
        (0.01, 0.0, 0.0, 0.01, 0.01, Side.SELL),
    ],
)
def test_net_gap_and_the_side_that_closes_it(spot, fut, target, net, gap, side):
    b = book(spot, fut, target)
    assert b.net_base == pytest.approx(net, abs=1e-12)
    assert b.gap_base(60_000.0) == pytest.approx(gap, abs=1e-12)
    assert side_to_close(b.gap_base(60_000.0)) is side


def test_the_reserve_stays_out_of_the_hedge():
    # wallet 0.7 (free + locked) minus reserve 0.2 = 0.5 in the hedge; futures -0.5: net 0
    b = book(spot=0.7, futures=-0.5, reserve=0.2)
    assert b.spot_base == pytest.approx(0.5)
    assert b.net_base == pytest.approx(0.0, abs=1e-12)
    assert b.gap_base(None) == pytest.approx(0.0, abs=1e-12)
    assert spot_exposure(0.7, 0.2) == pytest.approx(0.5)
    assert spot_exposure(0.7) == 0.7


def test_a_target_in_quote_moves_with_price():
    """Seed 001's example: spot +$500, futures $0 at 50,000 -> 0.01 BTC; a target of 100 USDT
    is 0.002 BTC at 50,000 and 0.001 BTC at 100,000 (no price yet: 0)."""
    b = book(spot=0.01, target=None, target_at=lambda px: 100.0 / px if px else 0.0)
    assert b.net_base * 50_000.0 == pytest.approx(500.0)
    assert b.target_base(50_000.0) == pytest.approx(0.002)
    assert b.gap_base(50_000.0) == pytest.approx(0.008)
    assert b.gap_base(100_000.0) == pytest.approx(0.009)
    assert b.target_base(None) == 0.0


def test_a_moving_target_needs_a_way_to_compute_it():
    with pytest.raises(ValueError):
        AccountBook(fixed_target=None)


@pytest.mark.parametrize(
    "gap, side, qty, after, grows",
    [
        (0.05, Side.SELL, 0.03, 0.02, False),  # 0.05 - 0.03
        (0.05, Side.SELL, 0.05, 0.0, False),  # exactly to target
        (0.05, Side.SELL, 0.10, -0.05, False),  # |−0.05| == |0.05|: not larger
        (0.05, Side.SELL, 0.11, -0.06, True),  # overshoot past the mirror
        (0.05, Side.BUY, 0.01, 0.06, True),  # wrong direction
        (-0.05, Side.BUY, 0.05, 0.0, False),
        (-0.05, Side.SELL, 0.001, -0.051, True),
        (0.0, Side.BUY, 0.001, 0.001, True),  # on target: any trade grows |gap|
    ],
)
def test_gap_after_and_grows_gap(gap, side, qty, after, grows):
    assert gap_after(gap, side, qty) == pytest.approx(after, abs=1e-12)
    assert grows_gap(gap, side, qty) is grows


@pytest.mark.parametrize("gap, side, room", [(0.05, Side.SELL, 0.05), (0.05, Side.BUY, -0.05),
                                             (-0.02, Side.BUY, 0.02), (-0.02, Side.SELL, -0.02)])
def test_closing_room_is_positive_only_on_the_side_that_closes(gap, side, room):
    assert closing_room(gap, side) == pytest.approx(room)


def test_net_after_a_trade():
    b = book(spot=0.55, futures=-0.5)
    assert b.net_after(Side.SELL, 0.05) == pytest.approx(0.0, abs=1e-12)
    assert b.net_after(Side.BUY, 0.01) == pytest.approx(0.06)


def test_equity_counts_the_spot_at_price_both_quote_balances_and_upnl():
    b = book(spot=0.5)
    b.quote_free, b.quote_locked, b.upnl = 10_000.0, 2_000.0, -150.0
    # 0.5 x 60,000 + 10,000 + 2,000 - 150
    assert b.equity_quote(60_000.0) == pytest.approx(41_850.0)
    assert b.equity_quote(None) == pytest.approx(11_850.0)  # no price yet: the spot counts 0


@pytest.mark.parametrize("spot", [0.5, 0.0, -0.1])
def test_equity_range_bounds_every_price_in_between(spot):
    b = book(spot=spot)
    b.quote_free, b.upnl = 10_000.0, 25.0
    lo, hi = b.equity_range(59_000.0, 61_000.0)
    assert lo <= hi
    for px in (59_000.0, 59_500.0, 60_000.0, 61_000.0):
        assert lo <= b.equity_quote(px) <= hi
    assert {lo, hi} == {b.equity_quote(59_000.0), b.equity_quote(61_000.0)}


def test_balances_set_the_wallet_and_leave_other_coins_aside():
    b = book()
    assert not b.balances_ok
    b.apply_balances((Balance("BTC", D("0.4"), D("0.1")), Balance("USDT", D("1000"), D("250")),
                      Balance("MNT", D("77"), D("0"))), "BTC", "USDT")
    assert (b.spot_free, b.spot_locked, b.spot_total) == (0.4, 0.1, pytest.approx(0.5))
    assert (b.quote_free, b.quote_locked) == (1000.0, 250.0)
    assert b.balances_ok


def test_a_position_update_sets_size_entry_mark_liquidation_and_upnl():
    b = book(spot=0.5)
    b.apply_position(Position("BTCUSDT", D("-0.5"), D("60000"), D("60100"), D("-50"), D("90000")), 60_050.0)
    assert (b.futures_size, b.futures_entry, b.mark_price, b.liq_price, b.upnl) == (-0.5, 60_000.0, 60_100.0,
                                                                                    90_000.0, -50.0)
    # no uPnL from the venue: size x (mark - entry); no mark in the push: the last one is kept
    b.apply_position(Position("BTCUSDT", D("-0.5"), D("60000"), D("0"), D("0"), None), 60_050.0)
    assert b.mark_price == 60_100.0 and b.liq_price is None
    assert b.upnl == pytest.approx(-0.5 * 100.0)


def test_upnl_from_the_last_price_when_no_mark_is_known():
    b = book()
    b.apply_position(Position("BTCUSDT", D("0.2"), D("60000")), 59_000.0)
    assert b.mark_price is None
    assert b.upnl == pytest.approx(0.2 * -1_000.0)
    b.apply_ticker(61_000.0, 0.0001, 0, 59_000.0)  # a mark now: it wins over the last price
    assert (b.mark_price, b.funding_rate, b.next_funding_ms) == (61_000.0, 0.0001, None)
    assert b.upnl == pytest.approx(0.2 * 1_000.0)


def test_running_estimates_follow_the_sign_rule():
    b = book(spot=0.5, futures=-0.5)
    b.spot_traded(Side.SELL, 0.01)
    b.futures_traded(Side.BUY, 0.002)
    assert (b.spot_total, b.futures_size) == (pytest.approx(0.49), pytest.approx(-0.498))
    b.spot_traded(Side.BUY, 0.02)
    b.futures_traded(Side.SELL, 0.004)
    assert (b.spot_total, b.futures_size) == (pytest.approx(0.51), pytest.approx(-0.502))


@pytest.mark.parametrize("coin, change", [("BTC", -0.00001), ("USDT", 0.0), ("MNT", 0.0), ("", 0.0)])
def test_only_a_fee_in_the_base_coin_leaves_the_spot_wallet(coin, change):
    b = book(spot=0.5)
    b.fee_paid(coin, 0.00001, "BTC")
    assert b.spot_total == pytest.approx(0.5 + change, abs=1e-15)


def test_finite():
    assert finite(D("1"), D("0"))
    assert not finite(D("1"), None)
    assert not finite(D("NaN"))
    assert not finite(D("Infinity"))


def test_wallet_room_keeps_the_reserve_and_counts_our_own_locks_as_free():
    """A sell stops at the reserve; a buy at the quote free of other programs' orders. Our own
    locks count as free: right after a chase cancels its order, the wallet still shows it locked
    until its next push, and the replacement must not be clipped by its own cancelled order. The
    trader's own resting order is not ours to spend (counted, every buy was refused, forever)."""
    b = AccountBook(reserve_base=0.45)
    assert b.wallet_room(Side.SELL, 60_000.0) == float("inf")  # no balances yet: nothing is sent anyway
    wallet = (Balance("BTC", D("0.1"), D("0.4")), Balance("USDT", D("600"), D("600")))
    b.apply_balances(wallet, "BTC", "USDT", own_locked=(0.4, 600.0))  # all locked by our orders
    assert b.wallet_room(Side.SELL, 60_000.0) == pytest.approx(0.05)  # 0.5 held, 0.45 kept out
    assert b.wallet_room(Side.BUY, 60_000.0) == pytest.approx(0.02)  # 1,200 USDT
    b.apply_balances(wallet, "BTC", "USDT")  # locked by another program's orders
    assert b.wallet_room(Side.SELL, 60_000.0) == pytest.approx(0.05)
    assert b.wallet_room(Side.BUY, 60_000.0) == pytest.approx(0.01)  # 600 USDT free
    b.reserve = 0.6
    assert b.wallet_room(Side.SELL, 60_000.0) == 0.0
