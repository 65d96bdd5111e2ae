"""A loopback HTTP receiver for alert tests: Apprise's ``json://127.0.0.1:PORT/hook`` posts
land here. ``hang`` makes every request wait (a service that never answers)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Webhook:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.arrived = threading.Condition()
        self.hang = threading.Event()  # set: requests block until ``release``
        self._release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hook.hang.is_set():
                    hook._release.wait(30)
                try:
                    payload = json.loads(body or b"{}")
                except ValueError:
                    payload = {"raw": body.decode("utf-8", "replace")}
                with hook.arrived:
                    hook.posts.append({"path": self.path, "at": time.monotonic(), **payload})
                    hook.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def wait_for(self, pred, timeout: float = 10.0) -> dict:
        """The first post ``pred`` accepts, waiting for it under a deadline."""
        end = time.monotonic() + timeout
        with self.arrived:
            while True:
                for p in self.posts:
                    if pred(p):
                        return p
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching post within {timeout} s; got {[p.get('title') for p in self.posts]}")
                self.arrived.wait(left)

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
