"""Bybit v5 return codes and order reject reasons, by name: the one place their numbers live.

Why: the REST wrapper, the venue adapter, the paper exchange (which answers like Bybit) and
the execution all branch on these; a name says what the branch is about, and one table keeps
the paper exchange from drifting away from the real venue. Source: the reference
(``shared/reference/bybit-v5.md`` section 4.1); codes it does not list say so.

``retCode`` values come back in a REST reply (or a WebSocket order-entry reply); a reject
reason is the ``rejectReason`` text on an order that was accepted (retCode 0) and then
refused by the matcher. The loopback fake under ``tests/fakes`` keeps its own literal codes
on purpose: an independent copy of the reference catches a wrong number here.
"""

from __future__ import annotations

# ---------------------------------------------------------------- request, key and rate (10xxx)

OK = 0
PARAM_ERROR = 10001                 # request parameter error: a bug on our side, never retried
TIMESTAMP_OUT_OF_WINDOW = 10002     # request time outside recv_window: re-sync the clock
INVALID_API_KEY = 10003             # invalid key, or a key for another environment
BAD_SIGNATURE = 10004               # the secret does not match the key
PERMISSION_DENIED = 10005           # the key lacks the permission (a read-only key placing orders)
RATE_LIMITED = 10006                # too many visits: wait for X-Bapi-Limit-Reset-Timestamp
IP_NOT_WHITELISTED = 10010          # the request IP is not in the key's whitelist
SERVER_ERROR = 10016                # server error / service restarting: retry later
SERVICE_RESTARTING = 10019          # not in the reference; treated like SERVER_ERROR
SERVICE_OVERLOADED = 429            # a retCode (not the HTTP status): trading service overloaded

# HTTP statuses that arrive in the same ``code`` field when no JSON reply came back
HTTP_UNAUTHORISED = 401
HTTP_FORBIDDEN = 403                # IP rate limit or a restricted region: wait >= 10 minutes

# ---------------------------------------------------------------- orders (110xxx UTA, 170xxx spot)

ORDER_NOT_FOUND = 110001            # order does not exist: a cancel is already done
INSUFFICIENT_BALANCE = 110007       # available balance insufficient (unified account)
ORDER_ALREADY_CLOSED = 110008       # order already filled or cancelled
DUPLICATE_ORDER_LINK_ID = 110072    # orderLinkId already used (an idempotency hit)
INVALID_SYMBOL = 170121
QTY_TOO_LARGE = 170124              # order amount above the maximum
INVALID_PARAMETER = 170130          # the data sent for a parameter is not valid
INSUFFICIENT_BALANCE_SPOT = 170131
PRICE_TOO_HIGH = 170132
PRICE_TOO_LOW = 170133
PRICE_OFF_TICK = 170134             # too many decimals for tickSize
QTY_TOO_SMALL = 170136              # below minOrderQty
QTY_OFF_STEP = 170137               # too many decimals for basePrecision
VALUE_TOO_SMALL = 170140            # below minOrderAmt
DUPLICATE_CLIENT_ID = 170141        # duplicate clientOrderId (spot)
ORDER_ALREADY_CANCELLED_SPOT = 170142  # not in the reference; read as "the order is gone"
BUY_PRICE_ABOVE_BAND = 170193
SELL_PRICE_BELOW_BAND = 170194
ORDER_NOT_FOUND_SPOT = 170213       # order does not exist (spot)
LIMIT_MAKER_ONLY = 170217           # only LIMIT-MAKER orders allowed for this pair
LIMIT_MAKER_REJECTED = 170218       # LIMIT-MAKER order rejected at this price
TOO_MANY_OPEN_ORDERS = 170810       # more than 500 open orders

# ---------------------------------------------------------------- groups the code branches on

ORDER_GONE = frozenset({ORDER_NOT_FOUND_SPOT, ORDER_NOT_FOUND, ORDER_ALREADY_CLOSED, ORDER_ALREADY_CANCELLED_SPOT})
"""A cancel or amend answered with one of these: the order is no longer open (nothing to do)."""

KEY_REJECTED = frozenset({INVALID_API_KEY, BAD_SIGNATURE, IP_NOT_WHITELISTED, HTTP_UNAUTHORISED})
"""The key itself is refused (unlike PERMISSION_DENIED, which only rules out some calls)."""

TRANSIENT = frozenset({SERVER_ERROR, SERVICE_RESTARTING, SERVICE_OVERLOADED})
"""Busy or restarting: a read may be retried after a back-off; a write's outcome is unknown."""

# ---------------------------------------------------------------- reject reasons (orderStatus text)

NO_ERROR = "EC_NoError"
POST_ONLY_WOULD_TAKE = "EC_PostOnlyWillTakeLiquidity"
"""A PostOnly order that would cross: accepted (retCode 0), then ``Rejected`` (spot) or
``Cancelled`` (linear) with this reason and nothing filled."""
IOC_NO_FILL = "EC_NoImmediateQtyToFill"
"""An IOC order that found nothing to take at its limit (cancelled, nothing filled)."""
