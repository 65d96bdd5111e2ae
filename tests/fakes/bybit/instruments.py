"""The instruments the fake knows: BTCUSDT with Bybit's real filters, plus ETHUSDT and SOLUSDT
(representative filters) for sessions trading several symbols on one account; and fee rates.

Kept as data (the exact JSON ``/v5/market/instruments-info`` returns) plus the few parsed
numbers the matching engine needs for validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

SYMBOL = "BTCUSDT"
BASE = "BTC"
QUOTE = "USDT"

SPOT_INFO: dict = {
    "symbol": SYMBOL,
    "symbolId": 9,
    "baseCoin": BASE,
    "quoteCoin": QUOTE,
    "innovation": "0",
    "status": "Trading",
    "marginTrading": "utaOnly",
    "stTag": "0",
    "symbolType": "",
    "lotSizeFilter": {
        "basePrecision": "0.000001",
        "quotePrecision": "0.0000001",
        "minOrderQty": "0.000048",
        "maxOrderQty": "83",
        "minOrderAmt": "5",
        "maxOrderAmt": "8000000",
        "maxLimitOrderQty": "83",
        "maxMarketOrderQty": "41.5",
        "postOnlyMaxLimitOrderSize": "60000",
    },
    "priceFilter": {"tickSize": "0.01"},
    "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
}

LINEAR_INFO: dict = {
    "symbol": SYMBOL,
    "contractType": "LinearPerpetual",
    "status": "Trading",
    "baseCoin": BASE,
    "quoteCoin": QUOTE,
    "settleCoin": QUOTE,
    "launchTime": "1585526400000",
    "deliveryTime": "0",
    "deliveryFeeRate": "",
    "priceScale": "2",
    "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
    "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
    "lotSizeFilter": {
        "minOrderQty": "0.001",
        "maxOrderQty": "1190.000",
        "maxMktOrderQty": "500.000",
        "qtyStep": "0.001",
        "minNotionalValue": "5",
        "postOnlyMaxOrderQty": "1190.000",
    },
    "unifiedMarginTrade": True,
    "fundingInterval": 480,
    "copyTrading": "both",
    "upperFundingRate": "0.005",
    "lowerFundingRate": "-0.005",
    "isPreListing": False,
    "preListingInfo": None,
}

INSTRUMENTS: dict[str, dict] = {"spot": SPOT_INFO, "linear": LINEAR_INFO}


def _variant(info: dict, symbol: str, base: str, price_tick: str, lot: dict) -> dict:
    """``info`` for another symbol: its name, base coin, tick and lot filters."""
    out = {**info, "symbol": symbol, "baseCoin": base,
           "priceFilter": {**info["priceFilter"], "tickSize": price_tick},
           "lotSizeFilter": {**info["lotSizeFilter"], **lot}}
    if "symbolId" in out:
        out["symbolId"] = {"ETHUSDT": 10, "SOLUSDT": 29}.get(symbol, 99)
    return out


# symbol -> category -> instruments-info item (BTCUSDT first: the fake's default symbol)
SYMBOLS: dict[str, dict[str, dict]] = {
    SYMBOL: INSTRUMENTS,
    "ETHUSDT": {
        "spot": _variant(SPOT_INFO, "ETHUSDT", "ETH", "0.01", {
            "basePrecision": "0.00001", "minOrderQty": "0.00062", "maxOrderQty": "1229.2336343",
            "maxLimitOrderQty": "1229.2336343", "maxMarketOrderQty": "614.6168171"}),
        "linear": _variant(LINEAR_INFO, "ETHUSDT", "ETH", "0.01", {
            "minOrderQty": "0.01", "qtyStep": "0.01", "maxOrderQty": "7240.00", "maxMktOrderQty": "3620.00",
            "postOnlyMaxOrderQty": "7240.00"}),
    },
    "SOLUSDT": {
        "spot": _variant(SPOT_INFO, "SOLUSDT", "SOL", "0.01", {
            "basePrecision": "0.001", "minOrderQty": "0.054", "maxOrderQty": "25000",
            "maxLimitOrderQty": "25000", "maxMarketOrderQty": "12500"}),
        "linear": _variant(LINEAR_INFO, "SOLUSDT", "SOL", "0.010", {
            "minOrderQty": "0.1", "qtyStep": "0.1", "maxOrderQty": "79770.0", "maxMktOrderQty": "39885.0",
            "postOnlyMaxOrderQty": "79770.0"}),
    },
}

# Non-VIP base rates (reference section 5).
FEE_RATES: dict[str, dict[str, str]] = {
    "spot": {"makerFeeRate": "0.001", "takerFeeRate": "0.001"},
    "linear": {"makerFeeRate": "0.0002", "takerFeeRate": "0.00055"},
}


@dataclass(frozen=True)
class SpotFilters:
    """Parsed spot filters used by order validation."""

    tick: Decimal
    base_step: Decimal
    quote_step: Decimal
    min_qty: Decimal
    min_amt: Decimal
    max_limit_qty: Decimal
    max_market_qty: Decimal
    maker_rate: Decimal
    taker_rate: Decimal

    @classmethod
    def from_info(cls, info: dict, fees: dict[str, str]) -> "SpotFilters":
        lot = info["lotSizeFilter"]
        return cls(
            tick=Decimal(info["priceFilter"]["tickSize"]),
            base_step=Decimal(lot["basePrecision"]),
            quote_step=Decimal(lot["quotePrecision"]),
            min_qty=Decimal(lot["minOrderQty"]),
            min_amt=Decimal(lot["minOrderAmt"]),
            max_limit_qty=Decimal(lot["maxLimitOrderQty"]),
            max_market_qty=Decimal(lot["maxMarketOrderQty"]),
            maker_rate=Decimal(fees["makerFeeRate"]),
            taker_rate=Decimal(fees["takerFeeRate"]),
        )


SPOT_FILTERS = SpotFilters.from_info(SPOT_INFO, FEE_RATES["spot"])


def spot_filters(symbol: str) -> SpotFilters:
    return SpotFilters.from_info(SYMBOLS[symbol]["spot"], FEE_RATES["spot"])


def base_coin(symbol: str) -> str:
    return SYMBOLS[symbol]["spot"]["baseCoin"]
