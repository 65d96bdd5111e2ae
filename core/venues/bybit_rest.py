"""pybit ``HTTP`` behind one door: off the loop, serialised, budgeted, errors classified.

Why a wrapper:

- pybit is blocking and one ``requests.Session`` is not thread-safe, so every call runs in
  ``asyncio.to_thread`` under one lock; waiting (rate budget, back-off, 10006 reset) happens
  on the loop with ``asyncio.sleep``, never inside a worker thread.
- pybit's own retries are switched off (``retry_codes={-1}``: an empty set would mean "the
  defaults", ``max_retries=1``): a place order must never be re-sent blindly, and pybit's
  10006 handling can ``time.sleep`` a negative number. This module decides instead:

  ===========================================  =========================================
  what came back (``bybit_codes`` name)        what happens
  ===========================================  =========================================
  10006 ``RATE_LIMITED``                       wait until X-Bapi-Limit-Reset-Timestamp
                                               (a past/missing reset -> short wait), retry
                                               (the request was refused, not executed)
  10002 ``TIMESTAMP_OUT_OF_WINDOW``            re-sync the server-time offset; a read is
                                               retried once, a write raises
  10003 / 10004 / 10005 / 10010                ``AuthError`` (never retried; the message
  (``AUTH_MESSAGES`` below), HTTP 401          names the problem, never the key/secret)
  HTTP 403                                     ``VenueError`` (IP rate limit or a restricted
                                               region): nothing is sent for 10 minutes, each
                                               call refused at once (a request lengthens a ban)
  other HTTP 4xx                               ``VenueError``
  10016 / 10019 / 429 ``TRANSIENT``,           reads: bounded retry with back-off;
  HTTP 5xx / 409 / 429, bad JSON,              writes: ``TransportError`` (state unknown)
  connection error, timeout
  any other retCode                            ``ApiError`` with Bybit's code and message
  ===========================================  =========================================

- Requests are signed with the local clock corrected by the measured server offset
  (``ClockedHTTP``), so a drifting host clock does not turn every call into a 10002.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping

import requests
from pybit.exceptions import FailedRequestError, InvalidRequestError
from pybit.unified_trading import HTTP

from core.venues import bybit_codes as codes
from core.venues.base import AuthError, VenueError
from core.venues.bybit_fair import FairShare
from core.venues.bybit_rate import ENDPOINT_CLASS, RateBudget

log = logging.getLogger("rebalancer.bybit.rest")
IP_BAN_S = 600.0  # Bybit: after an HTTP 403, wait at least 10 minutes

AUTH_MESSAGES = {
    codes.INVALID_API_KEY: "Bybit rejected the API key (10003): invalid key, or a key for another environment "
                           "(mainnet, testnet and demo keys are separate)",
    codes.BAD_SIGNATURE: "Bybit rejected the request signature (10004): check the API secret",
    codes.PERMISSION_DENIED: "the API key lacks the permission for this call (10005)",
    codes.IP_NOT_WHITELISTED: "the request IP is not in the API key's IP whitelist (10010)",
}


class ApiError(VenueError):
    """Bybit answered with a business ``retCode`` (not auth, not transient)."""


class TransportError(VenueError):
    """No usable reply (connection error, timeout, HTTP 5xx, garbled body): for a write the
    request may or may not have been executed."""


def scrub(text: str, *secrets: str | None) -> str:
    """Remove credentials (and Bybit's ``origin_string[...]`` echo, which holds the key)."""
    out = str(text)
    cut = out.find("origin_string")
    if cut >= 0:
        out = out[:cut].rstrip(" ,;:") + " (signature details withheld)"
    for s in secrets:
        if s:
            out = out.replace(s, "***")
    return out


class ClockedHTTP(HTTP):
    """pybit HTTP that signs with ``local clock + clock_offset_ms`` (per session, not global)."""

    clock_offset_ms: int = 0

    def _prepare_headers(self, payload, recv_window, content_type="application/json"):  # noqa: D401 - pybit hook
        timestamp = int(time.time() * 1000) + int(self.clock_offset_ms)
        signature = self._auth(payload=payload, recv_window=recv_window, timestamp=timestamp)
        return {
            "Content-Type": content_type,
            "X-BAPI-API-KEY": self.api_key,
            "X-BAPI-SIGN": signature,
            "X-BAPI-SIGN-TYPE": "2",
            "X-BAPI-TIMESTAMP": str(timestamp),
            "X-BAPI-RECV-WINDOW": str(recv_window),
        }


def make_http(*, testnet: bool, demo: bool, domain: str, tld: str, api_key: str | None, api_secret: str | None,
              recv_window_ms: int, timeout_s: float, rest_url: str | None) -> ClockedHTTP:
    http = ClockedHTTP(
        testnet=testnet, demo=demo, domain=domain or "bybit", tld=tld or "com", api_key=api_key,
        api_secret=api_secret, recv_window=int(recv_window_ms), timeout=timeout_s, retry_codes={-1},
        max_retries=1, force_retry=False, return_response_headers=True, logging_level=logging.WARNING,
        log_requests=False,
    )
    if rest_url:
        http.endpoint = base_url(rest_url)
    return http


def base_url(url: str) -> str:
    """``http://h:p``, ``http://h:p/`` or ``http://h:p/v5/...`` -> ``http://h:p``."""
    url = url.strip()
    if "/v5" in url:
        url = url[: url.index("/v5")]
    return url.rstrip("/")


class BybitRest:
    """Async, budgeted, classified access to one pybit ``HTTP`` session."""

    def __init__(self, http: HTTP, *, budget: RateBudget | None = None, read_retries: int = 3,
                 backoff_s: float = 0.25, max_backoff_s: float = 4.0, rate_limit_retries: int = 3,
                 secrets: tuple[str | None, ...] = (),
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 on_clock: Callable[[int], None] | None = None, fair: FairShare | None = None) -> None:
        self.http = http
        self.budget = budget or RateBudget()
        self.fair = fair  # several symbols on one account: their share of the budget, in turn
        self.read_retries = read_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.rate_limit_retries = rate_limit_retries
        self._secrets = tuple(s for s in secrets if s)
        self._sleep = sleep
        self._lock = threading.Lock()
        self.on_clock = on_clock
        self.calls = 0
        self.errors = 0
        self.refused_until: float | None = None  # budget clock: after an HTTP 403, nothing is sent before it

    def _refuse_while_banned(self, method: str) -> None:
        """After a 403 Bybit bans the IP for at least 10 minutes, and every request inside the
        ban lengthens it: refuse here, at once, without sending."""
        until = self.refused_until
        if until is None:
            return
        left = until - self.budget.now()
        if left <= 0:
            self.refused_until = None
            return
        raise VenueError(f"{method}: not sent: Bybit refused this IP (HTTP 403); requests resume in {left:.0f} s",
                         code=codes.HTTP_FORBIDDEN)

    # ---------------------------------------------------------------- clock

    @property
    def offset_ms(self) -> int:
        return int(getattr(self.http, "clock_offset_ms", 0))

    def server_now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    async def sync_clock(self) -> int:
        """Measure ``server - local`` (midpoint of the round trip) and sign with it from now on."""
        def measure() -> int:
            with self._lock:
                t0 = time.time() * 1000
                body, _elapsed, _headers = self.http.get_server_time()
                t1 = time.time() * 1000
            result = body.get("result") or {}
            if result.get("timeNano"):
                server = int(result["timeNano"]) / 1e6
            elif result.get("timeSecond"):
                server = int(result["timeSecond"]) * 1000.0
            else:
                server = float(body["time"])
            return int(round(server - (t0 + t1) / 2))

        offset = await self._transient_retry(measure, "server time")
        self.http.clock_offset_ms = offset  # type: ignore[attr-defined]
        if self.on_clock is not None:
            self.on_clock(offset)
        return offset

    async def _transient_retry(self, fn: Callable[[], int], what: str) -> int:
        delay = self.backoff_s
        for attempt in range(self.read_retries + 1):
            try:
                return await asyncio.to_thread(fn)
            except (requests.RequestException, FailedRequestError, ValueError, KeyError) as e:
                if attempt >= self.read_retries:
                    raise TransportError(f"{what}: no usable reply from Bybit ({type(e).__name__})",
                                         retryable=True) from None
                await self._sleep(delay)
                delay = min(self.max_backoff_s, delay * 2)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the HTTP session's pooled connections (blocking; call via ``to_thread``)."""
        with self._lock:
            client = getattr(self.http, "client", None)
            if client is not None:
                client.close()

    # ---------------------------------------------------------------- calls

    def _blocking(self, method: str, params: dict) -> tuple[dict, Mapping[str, str] | None]:
        with self._lock:
            out = getattr(self.http, method)(**params)
        if isinstance(out, tuple):
            body = out[0]
            headers = out[2] if len(out) > 2 else None
        else:
            body, headers = out, None
        return body, headers

    async def call(self, method: str, *, write: bool = False, retries: int | None = None, lane: str = "",
                   **params) -> dict:
        """Run ``http.<method>(**params)`` and return ``result`` (a dict), or raise a ``VenueError``.

        ``write``: an order endpoint: never re-sent after a request that may have executed.
        ``retries``: transient-error retries for a read (default ``read_retries``).
        ``lane``: whose request (a symbol) when the budget is shared ``fair``-ly.
        """
        cls = ENDPOINT_CLASS.get(method)
        transient_left = 0 if write else (self.read_retries if retries is None else retries)
        rate_left = self.rate_limit_retries
        resynced = False
        delay = self.backoff_s
        while True:
            self._refuse_while_banned(method)
            if self.fair is not None:
                await self.fair.acquire(cls, lane)
            else:
                await self.budget.acquire(cls)
            self.calls += 1
            problem: str
            try:
                body, headers = await asyncio.to_thread(self._blocking, method, dict(params))
            except InvalidRequestError as e:
                self.errors += 1
                code = _int(e.status_code)
                message = scrub(getattr(e, "message", ""), *self._secrets)
                headers = getattr(e, "resp_headers", None)
                self.budget.observe(cls, headers, self.server_now_ms())
                if code == codes.RATE_LIMITED:
                    wait = self.budget.block_until_reset(cls, headers, self.server_now_ms())
                    if rate_left > 0:
                        rate_left -= 1
                        log.warning("%s: rate limited (10006); waiting %.0f ms for the reset", method, wait * 1000)
                        continue  # acquire() waits for the block to pass
                    raise VenueError(f"{method}: still rate limited after {self.rate_limit_retries} waits (10006)",
                                     code=codes.RATE_LIMITED, retryable=True) from None
                if code == codes.TIMESTAMP_OUT_OF_WINDOW:
                    try:
                        offset = await self.sync_clock()
                    except VenueError:
                        offset = self.offset_ms
                    if not write and not resynced:
                        resynced = True
                        log.warning("%s: timestamp outside recv_window (10002); clock re-synced "
                                    "(offset %d ms), retrying once", method, offset)
                        continue
                    raise VenueError(f"{method}: request timestamp outside recv_window (10002); clock re-synced "
                                     f"(server - local = {offset} ms); not executed", code=codes.TIMESTAMP_OUT_OF_WINDOW,
                                     retryable=True) from None
                if code in AUTH_MESSAGES:
                    raise AuthError(f"{AUTH_MESSAGES[code]} [{method}]", code=code) from None
                if code in codes.TRANSIENT:
                    problem = f"Bybit busy/server error {code}: {message}"
                else:
                    raise ApiError(f"{message} ({code})", code=code) from None
            except FailedRequestError as e:
                self.errors += 1
                status = _int(e.status_code)
                if status == codes.HTTP_FORBIDDEN:
                    self.refused_until = self.budget.now() + IP_BAN_S
                    raise VenueError(f"{method}: HTTP 403 from Bybit: IP rate limit breached or access from a "
                                     f"restricted region; no request is sent for {IP_BAN_S / 60:.0f} minutes "
                                     "(each one would lengthen the ban)", code=codes.HTTP_FORBIDDEN) from None
                if status == codes.HTTP_UNAUTHORISED:
                    raise AuthError(f"HTTP 401 from Bybit: unauthorised [{method}]", code=codes.HTTP_UNAUTHORISED) from None
                if status >= 500 or status in (409, 429):
                    problem = f"HTTP {status} ({scrub(getattr(e, 'message', ''), *self._secrets)})"
                else:
                    raise VenueError(f"{method}: HTTP {status} from Bybit", code=status) from None
            except requests.RequestException as e:
                self.errors += 1
                problem = f"{type(e).__name__}"
            except PermissionError:
                raise AuthError("no API key/secret configured for an authenticated Bybit call") from None
            except ValueError as e:  # pybit's negative-sleep trap or a body that is not an object
                self.errors += 1
                problem = f"unusable reply ({type(e).__name__})"
            else:
                self.budget.observe(cls, headers, self.server_now_ms())
                if not isinstance(body, dict):
                    problem = "reply is not a JSON object"
                else:
                    result = body.get("result")
                    return result if isinstance(result, dict) else {}
            # a transient problem
            if write:
                raise TransportError(f"{method}: {problem}; the request may or may not have been executed",
                                     retryable=True)
            if transient_left <= 0:
                raise TransportError(f"{method}: {problem}; gave up after retries", retryable=True)
            transient_left -= 1
            log.warning("%s: %s; retrying in %.2f s", method, problem, delay)
            await self._sleep(delay)
            delay = min(self.max_backoff_s, delay * 2)


class LaneRest:
    """One symbol's door to a shared ``BybitRest``: its calls wait in its own lane of the
    account's budget; everything else (clock, budget, counters) is the shared client's."""

    def __init__(self, rest: BybitRest, lane: str) -> None:
        self.shared = rest
        self.lane = lane

    async def call(self, method: str, **kw) -> dict:
        return await self.shared.call(method, lane=self.lane, **kw)

    def close(self) -> None:
        """Nothing: the hub closes the shared session when its last symbol stops."""

    def __getattr__(self, name: str):
        return getattr(self.shared, name)


def _int(x: object) -> int:
    try:
        return int(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1


__all__ = ["ApiError", "BybitRest", "LaneRest", "ClockedHTTP", "TransportError", "base_url", "make_http", "scrub"]
