"""Instrument rounding and order checks, fill base deltas, Decision serialisation."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.model import (
    BTCUSDT_LINEAR,
    BTCUSDT_SPOT,
    Action,
    Decision,
    Fill,
    Leg,
    Side,
)
from tests.builders import examples


@pytest.mark.parametrize(
    "price, side, passive, expected",
    [
        # tick 0.01: a passive buy rounds down, a passive sell up (away from the touch)
        ("60000.005", Side.BUY, True, "60000.00"),
        ("60000.005", Side.SELL, True, "60000.01"),
        # aggressive: a buy rounds up, a sell down
        ("60000.005", Side.BUY, False, "60000.01"),
        ("60000.005", Side.SELL, False, "60000.00"),
        # on the grid: unchanged either way
        ("60000.13", Side.BUY, True, "60000.13"),
        ("60000.13", Side.SELL, False, "60000.13"),
        # just above a tick
        ("100.0000001", Side.SELL, True, "100.01"),
        ("100.0000001", Side.BUY, True, "100.00"),
    ],
)
def test_round_price_spot(price, side, passive, expected):
    assert BTCUSDT_SPOT.round_price(D(price), side, passive=passive) == D(expected)


def test_round_price_from_float_and_linear_tick():
    # float input goes through its shortest repr: 60000.13 stays on the grid
    assert BTCUSDT_SPOT.round_price(60000.13, Side.BUY) == D("60000.13")
    # linear tick 0.1: 60000.15 passive buy -> 60000.1, passive sell -> 60000.2
    assert BTCUSDT_LINEAR.round_price(D("60000.15"), Side.BUY) == D("60000.1")
    assert BTCUSDT_LINEAR.round_price(D("60000.15"), Side.SELL) == D("60000.2")
    # the result carries exactly the tick's exponent (a decimal string for the venue)
    assert str(BTCUSDT_SPOT.round_price(D("60000"), Side.BUY)) == "60000.00"


@pytest.mark.parametrize(
    "qty, expected",
    [
        ("0.0123459", "0.012345"),  # step 0.000001, toward zero
        ("0.0123451", "0.012345"),
        ("0.000001", "0.000001"),
        ("0.0000009", "0.000000"),
        ("-0.0000015", "-0.000001"),  # toward zero for negatives too
        ("1.9999999", "1.999999"),
    ],
)
def test_round_qty_toward_zero(qty, expected):
    assert BTCUSDT_SPOT.round_qty(D(qty)) == D(expected)
    assert str(BTCUSDT_SPOT.round_qty(D(qty))) == expected


def test_round_qty_float_input():
    # 0.1 + 0.2 = 0.30000000000000004 -> 0.300000, never 0.300001
    assert BTCUSDT_SPOT.round_qty(0.1 + 0.2) == D("0.3")
    assert BTCUSDT_LINEAR.round_qty(0.0129) == D("0.012")


@pytest.mark.parametrize(
    "qty, price, problem",
    [
        ("0", "60000", "size rounds to zero"),
        ("0.000047", "60000", "below min qty"),  # min qty 0.000048
        ("72", "60000", "above max qty"),  # max 71.73956243
        # min notional 5 USDT: 0.00005 × 60000 = 3 < 5
        ("0.00005", "60000", "below min order value"),
        # 0.0001 × 49999 = 4.9999 < 5
        ("0.0001", "49999", "below min order value"),
    ],
)
def test_order_problem_reasons(qty, price, problem):
    reason = BTCUSDT_SPOT.order_problem(D(qty), D(price))
    assert reason is not None and problem in reason


@pytest.mark.parametrize("qty, price", [("0.0001", "50000"), ("0.000048", "200000"), ("1", "60000")])
def test_order_problem_none_when_valid(qty, price):
    # 0.0001 × 50000 = 5 (== min notional: allowed); 0.000048 × 200000 = 9.6
    assert BTCUSDT_SPOT.order_problem(D(qty), D(price)) is None


def _fill(side, qty="0.01", fee="0.00001", fee_coin="BTC", leg=Leg.SPOT, price="60000"):
    return Fill(ts_ms=1, exec_id="e", symbol="BTCUSDT", side=side, price=D(price), qty=D(qty), fee=D(fee),
                fee_coin=fee_coin, is_maker=True, leg=leg)


@pytest.mark.parametrize(
    "side, fee, fee_coin, leg, expected",
    [
        (Side.BUY, "0.00001", "BTC", Leg.SPOT, "0.00999"),  # 0.01 − 0.00001 (fee in base)
        (Side.BUY, "0.6", "USDT", Leg.SPOT, "0.01"),  # quote fee: the full qty arrives
        (Side.SELL, "0.6", "USDT", Leg.SPOT, "-0.01"),
        (Side.BUY, "0.6", "USDC", Leg.SPOT, "0.01"),
        (Side.SELL, "0.00001", "BTC", Leg.SPOT, "-0.01001"),  # a base fee on a sell leaves too
        (Side.BUY, "0.00001", "BTC", Leg.LINEAR, "0.01"),  # futures fees never touch the position
        (Side.BUY, "0", "", Leg.SPOT, "0.01"),
    ],
)
def test_fill_base_delta(side, fee, fee_coin, leg, expected):
    assert _fill(side, fee=fee, fee_coin=fee_coin, leg=leg).base_delta == D(expected)


def test_fee_in_a_third_coin_does_not_reduce_base():
    """Regression: only a fee in the base coin changes base holdings."""
    # BTCUSDT buy of 0.01, fee 0.5 MNT -> base holdings change by exactly +0.01 BTC
    assert _fill(Side.BUY, fee="0.5", fee_coin="MNT").base_delta == D("0.01")


def test_fill_notional():
    assert _fill(Side.BUY, qty="0.002", price="60000.5").notional == D("120.001")


def test_side_helpers():
    assert Side.BUY.sign == 1 and Side.SELL.sign == -1
    assert Side.BUY.opposite is Side.SELL and Side.SELL.opposite is Side.BUY
    assert Side.parse(" Sell ") is Side.SELL and Side.parse("b") is Side.BUY
    with pytest.raises(ValueError):
        Side.parse("long")


def test_decision_trades_and_to_dict():
    d = Decision(ts_ms=5, policy="anchor", action=Action.PARTIAL, side=Side.SELL, qty_base=0.004,
                 gap_base=0.008, net_base=0.008, target_base=0.0, price=60000.0, effective_soft=0.0048,
                 effective_hard=0.0144, reason="r")
    assert d.trades is True
    out = d.to_dict()
    assert out["action"] == "partial" and out["side"] == "Sell"
    assert out["qty_base"] == 0.004 and out["effective_soft"] == 0.0048 and out["effective_hard"] == 0.0144
    assert out["gate"]["applies"] is False and out["bias"]["scale"] == 1.0
    hold = Decision(ts_ms=5, policy="anchor", action=Action.HOLD, side=Side.SELL, qty_base=0.0,
                    gap_base=0.001, net_base=0.001, target_base=0.0, price=60000.0)
    assert hold.trades is False


# -- rounding onto any grid: the one-quantize path for powers of ten equals divide-round-multiply

STEPS = ["1", "10", "0.1", "0.01", "0.000001", "1E-6", "1E+1", "0.0100", "0.5", "0.25", "5", "0.0025", "0.00001000"]


def _reference(value: D, step: D, rounding: str) -> D:
    return ((value / step).to_integral_value(rounding=rounding) * step).quantize(step)


@settings(max_examples=examples(400), deadline=None)
@given(step=st.sampled_from(STEPS),
       value=st.one_of(st.floats(min_value=0, max_value=1e6, allow_nan=False),
                       st.decimals(min_value=0, max_value=10**6, allow_nan=False, allow_infinity=False, places=9)))
def test_rounding_equals_divide_round_multiply_on_every_grid(step, value):
    ins = replace(BTCUSDT_SPOT, tick_size=D(step), qty_step=D(step))
    exact = D(str(value)) if isinstance(value, float) else value
    got_qty = ins.round_qty(value)
    assert got_qty == _reference(exact, D(step), ROUND_DOWN)
    assert str(got_qty) == str(_reference(exact, D(step), ROUND_DOWN))  # same exponent: same string sent
    for side, passive, rounding in [(Side.BUY, True, ROUND_FLOOR), (Side.SELL, True, ROUND_CEILING),
                                    (Side.BUY, False, ROUND_CEILING), (Side.SELL, False, ROUND_FLOOR)]:
        got = ins.round_price(value, side, passive=passive)
        assert str(got) == str(_reference(exact, D(step), rounding)), (side, passive)
