"""Alerts never in the trading path (``core.alerts.sender``): submit never waits for a
service; retries with backoff, a rate limit per service, dropped alerts counted; and a real
Apprise ``json://`` delivery to a loopback receiver."""

from __future__ import annotations

import threading
import time

import pytest

from core.alerts.rules import Alert
from core.alerts.sender import AlertSender, message, resolve, with_timeouts
from core.config.url_secrets import shown
from tests.fakes.webhook import Webhook

A = Alert("halt", "[BTCUSDT] HALTED: test", "Trading halted.", {"event": "halt", "symbol": "BTCUSDT"})
M = Alert("mode", "[BTCUSDT] mode semi", "Mode semi.", {"event": "mode", "symbol": "BTCUSDT"})  # an ordinary one


@pytest.fixture
def hook():
    h = Webhook()
    yield h
    h.close()


def test_submit_returns_at_once_while_the_service_hangs():
    gate = threading.Event()
    calls = []

    def hanging(url, title, body):
        calls.append(title)
        gate.wait(10)
        return True

    s = AlertSender([("hang", "json://x")], notify=hanging)
    try:
        worst = 0.0
        for _ in range(50):
            t0 = time.perf_counter()
            s.submit(A)
            worst = max(worst, time.perf_counter() - t0)
        assert worst < 0.005  # a queue put, never the send
    finally:
        gate.set()
        s.close()


def test_a_failing_service_is_retried_with_backoff_then_counted_dropped():
    sleeps = []
    s = AlertSender([("bad", "json://x")], notify=lambda u, t, b: False, retries=2, backoff_s=1.0,
                    sleep=sleeps.append)
    s.submit(A)
    assert s.wait_idle(5)
    assert sleeps == [1.0, 2.0] and s.services[0].stats.failed == 3 and s.dropped == 1
    s.close()


def test_the_rate_limit_per_service_drops_the_excess_and_counts_it():
    sent = []
    now = [0.0]
    s = AlertSender([("svc", "json://x")], notify=lambda u, t, b: sent.append(t) or True, per_minute=3,
                    clock=lambda: now[0])
    for _ in range(5):
        s.submit(M)
    assert s.wait_idle(5)
    assert len(sent) == 3 and s.dropped == 2
    now[0] = 61.0
    s.submit(M)
    assert s.wait_idle(5) and len(sent) == 4
    s.close()


def test_one_hanging_service_does_not_hold_another():
    gate = threading.Event()
    fast = []

    def notify(url, title, body):
        if url.startswith("json://slow"):
            gate.wait(10)
        else:
            fast.append(title)
        return True

    s = AlertSender([("slow", "json://slow"), ("fast", "json://fast")], notify=notify)
    s.submit(A)
    deadline = time.monotonic() + 5
    while not fast and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fast == [A.title]
    gate.set()
    s.close()


def test_urls_secrets_and_timeouts():
    url, secrets = resolve("tgram://${TOKEN}/${CHAT}", {"TOKEN": "123:abc", "CHAT": "42"})
    assert url == "tgram://123:abc/42" and secrets == ("123:abc", "42")
    with pytest.raises(KeyError):
        resolve("tgram://${MISSING}/1", {})
    assert shown("json://user:pa55word@host/x") == "json://user:***@host/x"
    assert "***" in shown("tgram://1234567890abcdefghijklmnopqrstuv/42")
    assert with_timeouts("json://h/x", 3) == "json://h/x?cto=3&rto=3"
    assert with_timeouts("json://h/x?cto=1", 3) == "json://h/x?cto=1"
    assert message(A).endswith("event=halt; symbol=BTCUSDT")


def test_a_real_apprise_json_post_reaches_the_loopback_receiver(hook):
    s = AlertSender([("hook", hook.url)], timeout_s=5)
    s.submit(A)
    post = hook.wait_for(lambda p: "HALTED" in p.get("title", ""))
    assert post["path"].startswith("/hook") and "event=halt" in post["message"]
    assert s.dropped == 0
    s.close()


def test_a_halt_is_never_dropped_for_the_rate_limit_or_a_full_queue():
    gate = threading.Event()
    sent = []

    def notify(url, title, body):
        gate.wait(10)
        sent.append(title)
        return True

    s = AlertSender([("svc", "json://x")], notify=notify, per_minute=2)
    proposal = Alert("proposal", "p", "b", {"event": "proposal"})
    for _ in range(150):  # a flood: the queue (100) overflows
        s.submit(proposal)
    s.submit(A)  # the halt
    gate.set()
    assert s.wait_idle(10)
    assert A.title in sent  # sent, past the rate limit and the full queue
    assert len(sent) == 3 and s.dropped == 150 - 2
    s.close()
