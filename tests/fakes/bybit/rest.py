"""Bybit v5 REST routes over the ledger and market, with Bybit's auth, envelope and headers.

One request goes through: count -> injected fault (HTTP status / error envelope) ->
auth (10003/10002/10004) -> permission (10005) -> rate limit -> execute -> publish pushes
-> maybe lose the reply. Business errors are HTTP 200 with ``retCode != 0``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from . import auth
from .events import Push
from .faults import DEFAULT_MESSAGES, FaultPlan, HttpStatus, LoseReply, RestError
from .httpserver import DROP, HttpRequest, HttpResponse
from .instruments import FEE_RATES, SYMBOLS
from .ledger import Ledger, OrderError
from .market import KLINE_INTERVALS_MIN, Market
from .observe import ORDER_PATHS, Observer, SeenRequest

SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000

# Published per-second limits for a non-VIP UTA account (reference section 4.2).
RATE_LIMITS = {
    "/v5/order/create": 20, "/v5/order/amend": 10, "/v5/order/cancel": 20,
    "/v5/order/cancel-all": 20, "/v5/order/realtime": 50, "/v5/order/history": 50,
    "/v5/execution/list": 50, "/v5/account/wallet-balance": 50, "/v5/position/list": 50,
    "/v5/account/fee-rate": 5,
}


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RateLimiter:
    """Rolling one-second window per (api key, path), as Bybit counts UID limits."""

    def __init__(self) -> None:
        self._hits: dict[tuple[str, str], deque[int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, path: str, now: int) -> tuple[int, int, int]:
        """Record a hit; return (limit, remaining, reset_ms). remaining < 0 = over the limit."""
        limit = RATE_LIMITS.get(path, 50)
        with self._lock:
            window = self._hits.setdefault((key, path), deque())
            while window and window[0] <= now - 1000:
                window.popleft()
            window.append(now)
            remaining = limit - len(window)
            reset = window[0] + 1000 if remaining < 0 else now
        return limit, remaining, reset


@dataclass
class RestApi:
    ledger: Ledger
    market: Market
    keys: dict[str, auth.ApiKey]
    faults: FaultPlan
    observer: Observer
    clock: Callable[[], int]
    publish: Callable[[list[Push]], None]
    enforce_rate_limits: bool = False
    ledgers: dict[str, Ledger] | None = None  # symbol -> its ledger (default: ``ledger`` alone)

    def __post_init__(self) -> None:
        if self.ledgers is None:
            self.ledgers = {self.ledger.symbol: self.ledger}
        self.limiter = RateLimiter()
        self.fee_rates: dict[str, dict[str, str]] = {k: dict(v) for k, v in FEE_RATES.items()}  # this account's
        self.public_routes: dict[str, Callable[[dict], dict]] = {
            "/v5/market/time": self._time,
            "/v5/market/instruments-info": self._instruments,
            "/v5/market/tickers": self._tickers,
            "/v5/market/kline": self._kline,
            "/v5/market/orderbook": self._orderbook,
        }
        self.private_get: dict[str, Callable[[dict], dict]] = {
            "/v5/account/wallet-balance": self._wallet,
            "/v5/account/fee-rate": self._fee_rate,
            "/v5/position/list": self._positions,
            "/v5/order/realtime": self._realtime,
            "/v5/order/history": self._history,
            "/v5/execution/list": self._executions,
        }
        self.private_post: dict[str, Callable[[dict], tuple[dict, list[Push]]]] = {
            "/v5/order/create": lambda p: self._desk(p).place(p),
            "/v5/order/amend": lambda p: self._desk(p).amend(p),
            "/v5/order/cancel": lambda p: self._desk(p).cancel(p),
            "/v5/order/cancel-all": self._cancel_all,
        }

    # ---- symbols ------------------------------------------------------------------------

    def _desk(self, p: dict) -> Ledger:
        """The ledger of ``p["symbol"]``; an unknown symbol goes to the default one, which
        refuses it the way Bybit does (170121)."""
        return self.ledgers.get(p.get("symbol") or "", self.ledger)

    def _chosen(self, p: dict) -> list[Ledger]:
        """``symbol`` given: its ledger (none if unknown); else every symbol's."""
        symbol = p.get("symbol")
        if symbol in (None, ""):
            return list(self.ledgers.values())
        return [self.ledgers[symbol]] if symbol in self.ledgers else []

    def _cancel_all(self, p: dict) -> tuple[dict, list[Push]]:
        listed: list[dict] = []
        pushes: list[Push] = []
        for ledger in self._chosen(p) or [self.ledger]:
            result, more = ledger.cancel_all(p)
            listed += result["list"]
            pushes += more
        return {"list": listed, "success": "1"}, pushes

    # ---- pipeline -----------------------------------------------------------------------

    def handle(self, req: HttpRequest) -> HttpResponse | object:
        path = req.path
        self.observer.request(SeenRequest(req.method, path, req.raw_query, req.body,
                                          req.headers.get("x-bapi-api-key", "")))
        now = self.clock()
        fault = self.faults.take_before(path)
        if isinstance(fault, HttpStatus):
            return HttpResponse(fault.status, fault.body or _gateway_page(fault.status),
                                {"Content-Type": "text/html"})
        if isinstance(fault, RestError):
            headers = dict(self._limit_headers(RATE_LIMITS.get(path, 50), 0, now))
            if fault.reset_after_ms is not None:
                headers["X-Bapi-Limit-Reset-Timestamp"] = str(now + fault.reset_after_ms)
            headers.update(fault.headers)
            return self._envelope(fault.ret_code, fault.ret_msg, {}, now, headers)

        is_public = path in self.public_routes and req.method == "GET"
        is_get = path in self.private_get and req.method == "GET"
        is_post = path in self.private_post and req.method == "POST"
        if not (is_public or is_get or is_post):
            body = json.dumps({"retCode": 10017, "retMsg": "route not found", "result": {},
                               "retExtInfo": {}, "time": now}).encode()
            return HttpResponse(404, body, {"Content-Type": "application/json"})

        headers: dict[str, str] = {}
        try:
            params = self._params(req, is_post)
            if is_public:
                result, pushes = self.public_routes[path](params), []
            else:
                payload = req.body if is_post else req.raw_query.encode("latin-1")
                key = auth.check_rest(self.keys, req.headers, payload, now)
                limit, remaining, reset = self.limiter.hit(key.key, path, now)
                headers = self._limit_headers(limit, max(remaining, 0), reset)
                if path in ORDER_PATHS and not key.can_trade:
                    raise ApiError(10005, DEFAULT_MESSAGES[10005])
                if self.enforce_rate_limits and remaining < 0:
                    raise ApiError(10006, DEFAULT_MESSAGES[10006])
                if is_post:
                    result, pushes = self.private_post[path](params)
                else:
                    result, pushes = self.private_get[path](params), []
        except (ApiError, OrderError, auth.AuthFailure) as exc:
            return self._envelope(exc.code, exc.message, {}, now, headers)

        if pushes:
            self.publish(pushes)
        if isinstance(self.faults.take_after(path), LoseReply):
            return DROP
        return self._envelope(0, "OK", result, now, headers)

    def _params(self, req: HttpRequest, is_post: bool) -> dict:
        if not is_post:
            return dict(parse_qsl(req.raw_query, keep_blank_values=True))
        try:
            params = json.loads(req.body or b"{}")
        except ValueError:
            raise ApiError(10001, "params error: request body is not JSON") from None
        if not isinstance(params, dict):
            raise ApiError(10001, "params error: request body must be an object")
        return params

    def _envelope(self, code: int, msg: str, result: dict, now: int, headers: dict) -> HttpResponse:
        body = {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now}
        return HttpResponse(200, json.dumps(body).encode(), {
            "Content-Type": "application/json; charset=utf-8",
            "Traceid": uuid.uuid4().hex,
            "Timenow": str(now),
            **headers,
        })

    @staticmethod
    def _limit_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
        return {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(remaining),
                "X-Bapi-Limit-Reset-Timestamp": str(reset)}

    # ---- public -------------------------------------------------------------------------

    def _time(self, _p: dict) -> dict:
        now = self.clock()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def _instruments(self, p: dict) -> dict:
        category = _category(p, ("spot", "linear"))
        chosen = [SYMBOLS[ledger.symbol][category] for ledger in self._chosen(p)]
        return {"category": category, "list": chosen, "nextPageCursor": ""}

    def _tickers(self, p: dict) -> dict:
        category = _category(p, ("spot", "linear"))
        chosen = [ledger.market.ticker_item(category) for ledger in self._chosen(p)]
        return {"category": category, "list": chosen}

    def _kline(self, p: dict) -> dict:
        category = p.get("category") or "linear"  # Bybit's default when omitted
        if category not in ("spot", "linear"):
            raise ApiError(10001, "params error: category invalid")
        if p.get("symbol") not in self.ledgers:
            raise ApiError(10001, "params error: symbol invalid")
        interval = p.get("interval", "")
        if interval not in KLINE_INTERVALS_MIN:
            raise ApiError(10001, "params error: interval invalid (the fake has 1..720 and D)")
        limit = _int(p, "limit", 200, 1, 1000)
        market = self.ledgers[p["symbol"]].market
        rows = market.kline_rows(category, interval, _opt_int(p, "start"), _opt_int(p, "end"), limit)
        return {"category": category, "symbol": p["symbol"], "list": rows}

    def _orderbook(self, p: dict) -> dict:
        category = _category(p, ("spot", "linear"))
        if p.get("symbol") not in self.ledgers:
            raise ApiError(10001, "params error: symbol invalid")
        book = self.ledgers[p["symbol"]].market.books[category]
        data = book.data()
        now = self.clock()
        return {"s": p["symbol"], "b": data["b"], "a": data["a"], "ts": now, "u": book.u,
                "seq": book.seq, "cts": book.ts or now}

    # ---- private reads ------------------------------------------------------------------

    def _wallet(self, p: dict) -> dict:
        if p.get("accountType") != "UNIFIED":
            raise ApiError(10001, "accountType only support UNIFIED.")
        coins = [c for c in p.get("coin", "").split(",") if c] or None
        return {"list": [self.ledger.wallet_item(coins)]}

    def _fee_rate(self, p: dict) -> dict:
        category = _category(p, ("spot", "linear"))
        return {"category": category, "list": [{"symbol": ledger.symbol, **self.fee_rates[category]}
                                                for ledger in self._chosen(p)]}

    def _positions(self, p: dict) -> dict:
        if p.get("category") != "linear":
            raise ApiError(10001, "params error: category only support linear in the fake")
        symbol, settle = p.get("symbol"), p.get("settleCoin")
        if not symbol and not settle:
            raise ApiError(10001, "params error: symbol or settleCoin is required")
        items = [ledger.position_rest_item() for ledger in self._chosen({"symbol": symbol})]
        if symbol:
            chosen = items
        else:
            chosen = [item for item in items if settle == "USDT" and item["size"] != "0"]
        return {"category": "linear", "nextPageCursor": "", "list": chosen}

    def _realtime(self, p: dict) -> dict:
        category = _category(p, ("spot", "linear"))
        open_only = _int(p, "openOnly", 0, 0, 2)
        orders = [] if category != "spot" else [
            o for ledger in self._chosen(p)
            for o in ledger.query_orders(open_only=open_only, order_id=p.get("orderId"),
                                         order_link_id=p.get("orderLinkId"))]
        orders.sort(key=lambda o: o.created_ms, reverse=True)  # newest first across symbols
        return self._page(category, [o.rest_item() for o in orders], p, 20, 50)

    def _history(self, p: dict) -> dict:
        category = _category(p, ("spot", "linear"))
        start, end = self._window(p)
        orders = [] if category != "spot" else [
            o for ledger in self._chosen(p)
            for o in ledger.query_orders(history=True, order_id=p.get("orderId"),
                                         order_link_id=p.get("orderLinkId"),
                                         status=p.get("orderStatus") or None, start=start, end=end)]
        orders.sort(key=lambda o: o.created_ms, reverse=True)
        return self._page(category, [o.rest_item() for o in orders], p, 20, 50)

    def _executions(self, p: dict) -> dict:
        category = _category(p, ("spot", "linear"))
        start, end = self._window(p)
        exec_type = p.get("execType")
        fills = [] if category != "spot" or exec_type not in (None, "", "Trade") else [
            f for ledger in self._chosen(p)
            for f in ledger.query_fills(order_id=p.get("orderId"), order_link_id=p.get("orderLinkId"),
                                        start=start, end=end)]
        fills.sort(key=lambda f: f.exec_time, reverse=True)
        return self._page(category, [f.rest_item() for f in fills], p, 50, 100)

    def _window(self, p: dict) -> tuple[int, int]:
        """Bybit's rule: at most 7 days; only one bound given -> 7 days from/to it."""
        start, end = _opt_int(p, "startTime"), _opt_int(p, "endTime")
        if start is None and end is None:
            end = self.clock()
            start = end - SEVEN_DAYS_MS
        elif start is None:
            start = end - SEVEN_DAYS_MS
        elif end is None:
            end = start + SEVEN_DAYS_MS
        if end < start or end - start > SEVEN_DAYS_MS:
            raise ApiError(10001, "params error: startTime/endTime span must be within 7 days")
        return start, end

    @staticmethod
    def _page(category: str, items: list[dict], p: dict, default: int, maximum: int) -> dict:
        limit = _int(p, "limit", default, 1, maximum)
        offset = _int(p, "cursor", 0, 0, 10**9) if p.get("cursor") else 0
        chunk = items[offset:offset + limit]
        more = offset + limit < len(items)
        return {"category": category, "list": chunk, "nextPageCursor": str(offset + limit) if more else ""}


def _category(p: dict, allowed: tuple[str, ...]) -> str:
    category = p.get("category")
    if not category:
        raise ApiError(10001, "params error: category is required")
    if category not in allowed:
        raise ApiError(10001, f"params error: category {category!r} not supported by the fake")
    return category


def _int(p: dict, key: str, default: int, low: int, high: int) -> int:
    raw = p.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError(10001, f"params error: {key} invalid") from None
    if not low <= value <= high:
        raise ApiError(10001, f"params error: {key} out of range [{low}, {high}]")
    return value


def _opt_int(p: dict, key: str) -> int | None:
    raw = p.get(key)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ApiError(10001, f"params error: {key} invalid") from None


def _gateway_page(status: int) -> bytes:
    return f"<html><body><h1>{status}</h1>fake bybit gateway error</body></html>".encode()


__all__ = ["RestApi", "ApiError", "RATE_LIMITS"]
