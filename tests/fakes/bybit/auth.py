"""API keys and signature checks, done the way Bybit does them.

REST: HMAC-SHA256(secret, timestamp + api_key + recv_window + payload) where payload is the
RAW query string (GET) or the RAW body bytes (POST) exactly as received; never a
re-serialised dict, or a client bug in ordering/encoding would go unnoticed.
WebSocket: HMAC-SHA256(secret, "GET/realtime" + expires) with ``expires`` in the future.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

DEFAULT_KEY = "fake-trade-key"
DEFAULT_SECRET = "fake-trade-secret"
READONLY_KEY = "fake-readonly-key"
READONLY_SECRET = "fake-readonly-secret"
DEFAULT_RECV_WINDOW = 5000


@dataclass(frozen=True)
class ApiKey:
    key: str
    secret: str
    can_trade: bool = True


class AuthFailure(Exception):
    """Carries the Bybit retCode/retMsg for a refused request."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def check_rest(keys: dict[str, ApiKey], headers: dict[str, str], payload: bytes,
               server_ms: int) -> ApiKey:
    """Validate the X-BAPI-* headers of one request; raise AuthFailure with Bybit's code.

    Order of checks: key (10003), timestamp/recv window (10002), signature (10004).
    """
    key_name = headers.get("x-bapi-api-key", "")
    key = keys.get(key_name)
    if key is None:
        raise AuthFailure(10003, "API key is invalid.")
    ts_raw = headers.get("x-bapi-timestamp", "")
    window_raw = headers.get("x-bapi-recv-window", "")
    try:
        ts = int(ts_raw)
        window = int(window_raw) if window_raw else DEFAULT_RECV_WINDOW
    except ValueError:
        raise AuthFailure(10001, "params error: X-BAPI-TIMESTAMP or X-BAPI-RECV-WINDOW invalid") from None
    if not (server_ms - window <= ts < server_ms + 1000):
        raise AuthFailure(
            10002,
            "invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{ts}],server_timestamp[{server_ms}],recv_window[{window}]",
        )
    expected = sign(key.secret, ts_raw.encode() + key_name.encode() + window_raw.encode() + payload)
    if not hmac.compare_digest(expected, headers.get("x-bapi-sign", "")):
        origin = (ts_raw + key_name + window_raw).encode() + payload
        raise AuthFailure(10004, f"error sign! origin_string[{origin.decode(errors='replace')}]")
    return key


def check_ws(keys: dict[str, ApiKey], args: list, server_ms: int) -> ApiKey:
    """Validate a private-stream ``auth`` op: [api_key, expires_ms, signature]."""
    if not isinstance(args, list) or len(args) != 3:
        raise AuthFailure(10001, "Params Error")
    key_name, expires, signature = args
    key = keys.get(str(key_name))
    if key is None:
        raise AuthFailure(10003, "Invalid apikey")
    try:
        expires_ms = int(expires)
    except (TypeError, ValueError):
        raise AuthFailure(10001, "Params Error") from None
    if expires_ms <= server_ms:
        raise AuthFailure(10002, "Params Error: request expired")
    if not hmac.compare_digest(sign(key.secret, f"GET/realtime{expires}".encode()), str(signature)):
        raise AuthFailure(10004, "Invalid sign")
    return key
