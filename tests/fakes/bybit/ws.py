"""Bybit v5 WebSocket endpoints: public spot/linear, private, trade; plus WS fault injection.

Paths: ``/v5/public/spot``, ``/v5/public/linear``, ``/v5/private``, ``/v5/trade``.

Why the replies are delayed a few ms (``ack_delay_s``): pybit sends a subscribe (or a
trade op) *before* it registers the callback/req_id. A zero-latency server can answer
first and pybit then dies on a KeyError. Real network latency hides that race; the
delay stands in for it. A topic becomes active (pushes flow) only when its ack and
initial snapshot have been queued, so a delta can never precede its snapshot.

Each connection has one outbox queue and one writer task, so frames reach a client in the
order they were published (order -> execution -> wallet).

Like Bybit, ``orderbook.1`` sends its snapshot again when the book has not changed for
``book_repeat_s`` (3 s on Bybit: "Level 1 data, if 3 seconds have elapsed without a change
in the orderbook, a snapshot message will be pushed again"), so a live spot stream is never
silent for longer; ``mute`` makes a connection stall (pings answered, nothing else sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

from . import auth
from .events import PrivatePush, PublicPush, Push
from .ledger import Ledger, OrderError
from .market import Market
from .observe import WS_TRADE_PREFIX, Observer, SeenRequest

log = logging.getLogger(__name__)

CHANNEL_PATHS = {
    "/v5/public/spot": "spot",
    "/v5/public/linear": "linear",
    "/v5/private": "private",
    "/v5/trade": "trade",
}
PUBLIC_TOPIC_RE = re.compile(
    r"^(orderbook\.(1|50|200|500|1000)|publicTrade|tickers|kline\.(1|3|5|15|30|60|120|240|360|720|D|W|M))"
    r"\.([A-Z0-9]+)$")
PRIVATE_TOPICS = {"order", "execution", "position", "wallet", "order.spot", "order.linear",
                  "execution.spot", "execution.linear", "position.linear", "execution.fast",
                  "execution.fast.spot", "execution.fast.linear"}
TRADE_OPS = {"order.create": "place", "order.amend": "amend", "order.cancel": "cancel"}


@dataclass(eq=False)
class WsClient:
    conn: ServerConnection
    channel: str
    conn_id: str
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    topics: set[str] = field(default_factory=set)
    key: auth.ApiKey | None = None
    closed: bool = False
    muted: bool = False  # a stalled connection: pongs only

    def send(self, message: dict | str | bytes, *, control: bool = False) -> None:
        if not self.closed and (control or not self.muted):
            self.outbox.put_nowait(json.dumps(message) if isinstance(message, dict) else message)


class WsHub:
    def __init__(self, *, market: Market, ledger: Ledger, keys: dict[str, auth.ApiKey],
                 observer: Observer, clock: Callable[[], int], publish: Callable[[list[Push]], None],
                 ack_delay_s: float = 0.005, trade_ack_delay_s: float = 0.005,
                 book_repeat_s: float = 3.0, markets: dict[str, Market] | None = None) -> None:
        self.market = market
        self.markets = markets or {market.symbol: market}  # symbol -> its market
        self.ledger = ledger
        self.keys = keys
        self.observer = observer
        self.clock = clock
        self._publish_back = publish
        self.ack_delay_s = ack_delay_s
        self.trade_ack_delay_s = trade_ack_delay_s
        self.clients: set[WsClient] = set()
        self._server: Server | None = None
        self._stall_until = 0.0
        self.book_repeat_s = book_repeat_s
        self._book1_sent: dict[str, float] = {}  # "channel:topic" -> monotonic time of the last orderbook.1 push
        self._repeater: asyncio.Task | None = None
        self.port = 0

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1") -> int:
        self._server = await serve(self._handler, host, 0, process_request=self._check_path,
                                   ping_interval=None, compression=None, close_timeout=0.25)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.book_repeat_s > 0:
            self._repeater = asyncio.create_task(self._repeat_book1())
        return self.port

    async def _repeat_book1(self) -> None:
        """Bybit's level-1 heartbeat: an unchanged book is snapshotted again every ``book_repeat_s``."""
        while True:
            await asyncio.sleep(self.book_repeat_s / 4 if self.book_repeat_s > 0 else 0.25)
            if self.book_repeat_s <= 0:
                continue  # switched off by a test
            now = time.monotonic()
            for market in self.markets.values():
                for channel in ("spot", "linear"):
                    if now - self._book1_sent.get(f"{channel}:orderbook.1.{market.symbol}", 0.0) >= self.book_repeat_s:
                        frame = market.orderbook_frame(channel, "1")
                        frame.message["ts"] = self.clock()  # generated now; cts and u stay the book's
                        self._publish_public(frame)

    async def close(self) -> None:
        if self._repeater is not None:
            self._repeater.cancel()
        if self._server is None:
            return
        for client in list(self.clients):
            client.conn.transport.abort()
        self._server.close(close_connections=False)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    @staticmethod
    def _check_path(conn: ServerConnection, request):
        if request.path.partition("?")[0] not in CHANNEL_PATHS:
            return conn.respond(404, "unknown path\n")
        return None

    async def _handler(self, conn: ServerConnection) -> None:
        channel = CHANNEL_PATHS[conn.request.path.partition("?")[0]]
        client = WsClient(conn, channel, str(uuid.uuid4()))
        self._install_pong_stall(conn)
        self.clients.add(client)
        self.observer.ws_opened(channel)
        writer = asyncio.create_task(self._writer(client))
        try:
            async for raw in conn:
                self._on_frame(client, raw)
        except ConnectionClosed:
            pass
        finally:
            client.closed = True
            self.clients.discard(client)
            writer.cancel()
            self.observer.ws_closed(channel, set(client.topics))

    @staticmethod
    async def _writer(client: WsClient) -> None:
        while True:
            message = await client.outbox.get()
            try:
                await client.conn.send(message)
            except ConnectionClosed:
                return

    # ---- faults -------------------------------------------------------------------------

    def _install_pong_stall(self, conn: ServerConnection) -> None:
        """Drop protocol PONG frames while stalled (websockets answers PINGs in its protocol)."""
        protocol = conn.protocol
        original = protocol.send_frame

        def send_frame(frame):
            if frame.opcode is Opcode.PONG and self.stalled:
                return
            original(frame)

        protocol.send_frame = send_frame

    @property
    def stalled(self) -> bool:
        return time.monotonic() < self._stall_until

    def stall_pongs(self, seconds: float) -> None:
        """For ``seconds``: no protocol PONG frames and no JSON pongs; data still flows."""
        self._stall_until = time.monotonic() + seconds

    def mute(self, channels: set[str] | None = None) -> int:
        """Stall the connections open now: they stay open and answer pings, and send nothing
        else (no data, no acks). A new connection (a reconnect) is healthy."""
        muted = 0
        for client in self.clients:
            if not channels or client.channel in channels:
                client.muted = True
                muted += 1
        return muted

    def drop(self, abrupt: bool = True, channels: set[str] | None = None) -> int:
        """Close client connections: abrupt = TCP RST with no close frame; else close 1001."""
        dropped = 0
        for client in list(self.clients):
            if channels and client.channel not in channels:
                continue
            dropped += 1
            client.closed = True
            if abrupt:
                sock = client.conn.transport.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.conn.transport.abort()
            else:
                asyncio.ensure_future(client.conn.close(1001, "fake bybit: going away"))
        return dropped

    def push_raw(self, payload: dict | str | bytes, *, topic: str | None = None,
                 channels: set[str] | None = None) -> int:
        """Send ``payload`` verbatim to every live client (ignoring subscriptions)."""
        if isinstance(payload, dict) and topic is not None and "topic" not in payload:
            payload = {"topic": topic, **payload}
        sent = 0
        for client in self.clients:
            if channels and client.channel not in channels:
                continue
            client.send(payload)
            sent += 1
        return sent

    # ---- publishing ---------------------------------------------------------------------

    def publish(self, pushes: list[Push]) -> None:
        for push in pushes:
            if isinstance(push, PublicPush):
                self._publish_public(push)
            else:
                self._publish_private(push)

    def _publish_public(self, push: PublicPush) -> None:
        if push.topic.startswith("orderbook.1."):
            self._book1_sent[f"{push.channel}:{push.topic}"] = time.monotonic()
        text = None
        for client in self.clients:
            if client.channel == push.channel and push.topic in client.topics:
                text = text or json.dumps(push.message)
                client.send(text)

    def _publish_private(self, push: PrivatePush) -> None:
        now = self.clock()
        for client in self.clients:
            if client.channel != "private" or client.key is None:
                continue
            for name in client.topics:
                if name == push.topic:
                    items = push.data
                elif name in (f"{push.topic}.spot", f"{push.topic}.linear"):
                    category = name.rsplit(".", 1)[1]
                    items = [i for i in push.data if i.get("category") == category]
                else:
                    continue
                if items:
                    client.send({"id": uuid.uuid4().hex, "topic": name, "creationTime": now,
                                 "data": items})

    # ---- inbound frames -----------------------------------------------------------------

    def _on_frame(self, client: WsClient, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("fake bybit ws: non-JSON frame %r", raw[:200])
            return
        if not isinstance(message, dict):
            return
        self.observer.ws_message(client.channel, message)
        op = message.get("op")
        if op == "ping":
            if not self.stalled:
                client.send(self._pong(client, message), control=True)
        elif op == "auth" and client.channel in ("private", "trade"):
            self._auth(client, message)
        elif op in ("subscribe", "unsubscribe") and client.channel != "trade":
            self._subscription(client, message, op)
        elif client.channel == "trade" and op in TRADE_OPS:
            self._trade_op(client, message)
        elif client.channel == "trade":
            self._later(self.trade_ack_delay_s, client, {
                "reqId": message.get("reqId", ""), "retCode": 10404,
                "retMsg": f"op {op!r} not supported", "op": op, "connId": client.conn_id})
        else:
            log.warning("fake bybit ws: unhandled frame %r", message)

    def _pong(self, client: WsClient, message: dict) -> dict:
        req_id = message.get("req_id", "")
        if client.channel == "spot":
            out = {"success": True, "ret_msg": "pong", "conn_id": client.conn_id, "op": "ping"}
            if req_id:
                out["req_id"] = req_id
            return out
        if client.channel == "linear":
            return {"success": True, "ret_msg": "pong", "conn_id": client.conn_id, "req_id": req_id,
                    "op": "ping"}
        if client.channel == "private":
            return {"req_id": req_id, "op": "pong", "args": [str(self.clock())], "conn_id": client.conn_id}
        return {"reqId": message.get("reqId", ""), "retCode": 0, "retMsg": "OK", "op": "pong",
                "data": [str(self.clock())], "connId": client.conn_id}

    def _auth(self, client: WsClient, message: dict) -> None:
        trade = client.channel == "trade"
        if trade and client.key is not None:
            client.send({"retCode": 20001, "retMsg": "Repeat auth", "op": "auth", "connId": client.conn_id})
            return
        try:
            client.key = auth.check_ws(self.keys, message.get("args"), self.clock())
        except auth.AuthFailure as exc:
            if trade:
                client.send({"retCode": exc.code, "retMsg": exc.message, "op": "auth",
                             "connId": client.conn_id})
            else:
                client.send({"success": False, "ret_msg": exc.message, "op": "auth",
                             "conn_id": client.conn_id})
            return
        self.observer.ws_auth(client.channel)
        if trade:
            client.send({"retCode": 0, "retMsg": "OK", "op": "auth", "connId": client.conn_id})
        else:
            out = {"success": True, "ret_msg": "", "op": "auth", "conn_id": client.conn_id}
            if message.get("req_id"):
                out["req_id"] = message["req_id"]
            client.send(out)

    def _subscription(self, client: WsClient, message: dict, op: str) -> None:
        req_id = message.get("req_id", "")
        args = message.get("args") or []
        error = self._subscription_error(client, args) if op == "subscribe" else ""
        ack = {"success": not error,
               "ret_msg": error or ("subscribe" if client.channel == "spot" and op == "subscribe" else ""),
               "conn_id": client.conn_id, "req_id": req_id, "op": op}
        if op == "unsubscribe":
            for topic in args:
                if topic in client.topics:
                    client.topics.discard(topic)
                    self.observer.unsubscribed(client.channel, topic)
            client.send(ack)
            return

        def activate() -> None:
            if client.closed:
                return
            client.send(ack)
            if error:
                return
            for topic in args:
                if topic in client.topics:
                    continue
                if client.channel in ("spot", "linear"):
                    market = self.markets[topic.rsplit(".", 1)[1]]
                    for frame in market.initial_frames(client.channel, topic):
                        client.send(frame.message)
                client.topics.add(topic)
                self.observer.subscribed(client.channel, topic)

        asyncio.get_running_loop().call_later(self.ack_delay_s, activate)

    def _subscription_error(self, client: WsClient, args: list) -> str:
        if not isinstance(args, list) or not args:
            return "error:args is empty"
        if client.channel == "private":
            if client.key is None:
                return "Request not authorized"
            bad = [t for t in args if t not in PRIVATE_TOPICS]
        else:
            bad = [t for t in args if not isinstance(t, str) or not PUBLIC_TOPIC_RE.match(t)
                   or PUBLIC_TOPIC_RE.match(t).group(4) not in self.markets]
        if bad:
            return f"Invalid topic :[{','.join(map(str, bad))}]"
        return ""

    # ---- trade socket -------------------------------------------------------------------

    def _trade_op(self, client: WsClient, message: dict) -> None:
        op = message["op"]
        req_id = message.get("reqId", "")
        self.observer.request(SeenRequest("WS", f"{WS_TRADE_PREFIX}{op}", "", json.dumps(message).encode(),
                                          client.key.key if client.key else ""))
        now = self.clock()
        reply = {"reqId": req_id, "retCode": 0, "retMsg": "OK", "op": op, "data": {},
                 "retExtInfo": {}, "header": {"X-Bapi-Limit": "20", "X-Bapi-Limit-Status": "19",
                                              "X-Bapi-Limit-Reset-Timestamp": str(now),
                                              "Traceid": uuid.uuid4().hex, "Timenow": str(now)},
                 "connId": client.conn_id}
        args = message.get("args")
        if client.key is None:
            reply.update(retCode=10003, retMsg="Request not authorized")
        elif not client.key.can_trade:
            reply.update(retCode=10005, retMsg="Permission denied, please check your API key permissions.")
        elif not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
            reply.update(retCode=10001, retMsg="params error: args must hold one order")
        else:
            try:
                result, pushes = getattr(self.ledger, TRADE_OPS[op])(args[0])
                reply["data"] = result
                self._publish_back(pushes)
            except OrderError as exc:
                reply.update(retCode=exc.code, retMsg=exc.message)
        self._later(self.trade_ack_delay_s, client, reply)

    @staticmethod
    def _later(delay: float, client: WsClient, message: dict) -> None:
        asyncio.get_running_loop().call_later(delay, client.send, message)
