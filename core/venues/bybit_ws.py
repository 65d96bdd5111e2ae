"""A pybit ``WebSocket`` that nothing can kill from the inside.

pybit stops a stream for good (``exit()``, no reconnect) when anything raises on its socket
thread: a callback, a frame that is not JSON, a topic without a registered callback, a
failed subscribe or auth reply (reference 1.4). ``GuardedWebSocket`` replaces the message
entry point: it parses the frame itself, answers control frames (pong, auth, subscribe
acks) here, and hands data frames to a *listener*; every exception is caught, counted as
a bad message and logged. The listener is told when a connection opens, when all its
subscriptions are acknowledged (``ws_ready``: the stream is live again, e.g. after
pybit's own reconnect) and when it drops.

It also keeps base-URL overrides across pybit's reconnects (``_connect`` receives the
template the first time and the formatted endpoint later; both contain ``/v5/``) and signs
the private ``auth`` with the server-corrected clock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Protocol

from pybit._http_manager import generate_signature
from pybit.unified_trading import WebSocket

log = logging.getLogger("rebalancer.bybit.ws")


class SocketListener(Protocol):
    """Called on the socket's thread: implementations must only hand over, never block."""

    def ws_data(self, ws: "GuardedWebSocket", message: dict) -> None: ...
    def ws_ready(self, ws: "GuardedWebSocket", opens: int) -> None: ...
    def ws_drop(self, ws: "GuardedWebSocket", opens: int, error: BaseException | str) -> None: ...
    def ws_bad(self, ws: "GuardedWebSocket", why: str, raw: object) -> None: ...
    def ws_refused(self, ws: "GuardedWebSocket", what: str, message: dict) -> None: ...


def rebase(base_url: str, url: str) -> str:
    """Keep the ``/v5/...`` path of ``url`` on ``base_url`` (``ws://127.0.0.1:PORT``)."""
    i = url.find("/v5/")
    return base_url + (url[i:] if i >= 0 else "")


class GuardedWebSocket(WebSocket):
    def __init__(self, channel_type: str, *, name: str, token: int, listener: SocketListener,
                 expected_subs: int, base_url: str | None = None,
                 clock_ms: Callable[[], int] | None = None, **kw) -> None:
        # set before super().__init__: it connects (and may call our hooks) right away
        self.name = name
        self.token = token
        self._listener = listener
        self._base_url = base_url
        self._clock_ms = clock_ms
        self.expected_subs = expected_subs
        self._acks_left = expected_subs
        self.opens = 0
        self.closing = False
        self.local: dict = {}  # per-connection parse state (merged ticker, position rows)
        super().__init__(channel_type, **kw)

    # ------------------------------------------------------------------ pybit hooks

    def _connect(self, url):
        if self._base_url:
            url = rebase(self._base_url, url)
        return super()._connect(url)

    def _auth(self):
        """pybit's private auth, with ``expires`` from the server-corrected clock."""
        now = self._clock_ms() if self._clock_ms is not None else None
        if now is None:
            return super()._auth()
        expires = int(now) + int(self.private_auth_expire * 1000)
        signature = generate_signature(self.rsa_authentication, self.api_secret, f"GET/realtime{expires}")
        self.ws.send(json.dumps({"op": "auth", "args": [self.api_key, expires, signature]}))

    def _on_open(self):
        if self.closing:
            # pybit's connect loop can outlive exit(): a late connection of a closed socket
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001
                pass
            return
        self.opens += 1
        self._acks_left = self.expected_subs
        self.local.pop("ticker", None)  # a fresh snapshot follows the (re)subscribe
        log.debug("%s stream connected (#%d)", self.name, self.opens)

    def _on_error(self, error):
        if self.closing:
            return  # our own shutdown: never reconnect
        try:
            self._listener.ws_drop(self, self.opens, error)
        except Exception:  # noqa: BLE001 - a hook must not stop the reconnect below
            log.exception("%s: drop hook failed", self.name)
        # The connection is abandoned either way. After a server close frame websocket-client
        # already counts it as closed, so pybit's exit() skips the shutdown and the OS socket
        # would leak: shut it down here.
        core = getattr(getattr(self, "ws", None), "sock", None)
        if core is not None:
            try:
                core.shutdown()
            except Exception:  # noqa: BLE001 - already gone
                pass
        try:
            super()._on_error(error)  # pybit reconnects on disconnect-type errors, else exit()s
        except Exception as e:  # noqa: BLE001 - pybit re-raises; the watchdog takes over
            log.warning("%s stream stopped by pybit (%s); the watchdog will rebuild it", self.name,
                        type(e).__name__)

    def _on_message(self, message):
        if self.closing:
            return
        try:
            msg = json.loads(message)
        except Exception:  # noqa: BLE001 - not JSON (or not text)
            self._bad("not JSON", message)
            return
        try:
            if not isinstance(msg, dict):
                self._bad("not a JSON object", msg)
                return
            op = msg.get("op")
            if op in ("pong", "ping") or msg.get("ret_msg") == "pong":
                return
            if op == "auth" or msg.get("type") == "AUTH_RESP":
                if msg.get("success") is False or msg.get("retCode") not in (None, 0):
                    self._listener.ws_refused(self, "auth", msg)
                return
            if op == "subscribe" or msg.get("type") == "COMMAND_RESP":
                self._on_ack(msg)
                return
            if op == "unsubscribe":
                return
            if "topic" not in msg:
                self._bad("no topic", msg)
                return
            self._listener.ws_data(self, msg)
        except Exception as e:  # noqa: BLE001 - never let it reach pybit
            self._bad(f"handler raised {type(e).__name__}: {e}", msg)

    # ------------------------------------------------------------------ ours

    def _on_ack(self, msg: dict) -> None:
        ok = msg.get("success")
        if ok is False or (isinstance(msg.get("data"), dict) and msg["data"].get("failTopics")):
            self._listener.ws_refused(self, "subscribe", msg)
            return
        self._acks_left -= 1
        if self._acks_left == 0:
            self._listener.ws_ready(self, self.opens)

    def _bad(self, why: str, raw: object) -> None:
        try:
            self._listener.ws_bad(self, why, raw)
        except Exception:  # noqa: BLE001
            log.exception("%s: bad-message hook failed", self.name)

    def close(self) -> None:
        """Shut down for good (no reconnect), waiting until the socket is gone."""
        self.closing = True
        self.handle_error = False
        try:
            self.exit()
        except Exception:  # noqa: BLE001 - closing a broken socket
            log.debug("%s: exit failed", self.name, exc_info=True)

    @property
    def healthy(self) -> bool:
        try:
            return not self.exited and self.is_connected()
        except Exception:  # noqa: BLE001
            return False


__all__ = ["GuardedWebSocket", "SocketListener", "rebase"]
