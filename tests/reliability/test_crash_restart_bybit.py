"""Crash and restart on the Bybit venue: the real program against the loopback Bybit v5 fake.

The fake (``tests/fakes/bybit``: real pybit, real HTTP and WebSocket frames, 127.0.0.1 only)
runs in the test process; the program is ``rebalancer_main.py --config … --headless`` in a
subprocess on venue ``testnet``, pointed at the fake through ``api.rest_url`` /
``api.ws_public_url`` / ``api.ws_private_url``, keys in ``BYBIT_API_KEY_Tst`` /
``BYBIT_API_SECRET_Tst``, its journal in the test's data dir. Nothing sleeps to wait: the
fake's ledger and the journal are polled between bounded waits on the process (``Program.wait_for``)
under a deadline, the in-process sessions with bounded ``asyncio`` polls.

The account: 0.12 BTC spot against a 0.1 BTC short, a +0.02 gap between soft (0.002) and hard
(0.05): AUTO rests a PostOnly SELL of half the gap at the ask (50000.10); the test moves the ask
5 ticks down and the program chases (cancels, re-quotes at 50000.05). The book then stays put
and the order never escalates to a taker (1 h waits), so it rests for as long as the test needs.

Scenarios:

* the program is SIGKILLed mid-chase, the re-quoted maker order open and partly filled; while it
  is dead the fake fills more of it (a fill the program never saw); the program restarts on the
  same journal with ``api.on_start_open_orders: cancel`` / ``adopt``: the order is found by
  client id (``orderLinkId``) and cancelled / adopted (left open, tracked, its fills not counted
  twice), the missed fill is back-filled, and in the end the journal's fills equal the fake's
  ledger fills field by field;
* the missed fill completes the order: the journal's open row is closed Filled, no cancel;
* the missed fill is the journal's first fill (nothing journaled before it): back-filled from
  the start of the order the journal holds open (``Journal.backfill_since``);
* a HALTED row in the journal survives the restart: the restarted program sends no order, and
  cancels its open order even when configured to adopt (a halted account keeps nothing working);
* a rebalance finished just before the crash: the restarted program holds it as cooling down;
* a clean quit that leaves the order open (``Engine.shutdown(cancel_orders=False)``, the
  cockpit's *Keep & quit*), a fill while down, then a restart: in-process, through
  ``core.session.build_session`` (what ``tui.run.build_engine`` calls).
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import config_from_dict
from core.journal import Journal
from tests.builders import session_engine
from tests.builders import BASE_CONFIG, apply_overrides
from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET
from tests.fakes.conftest_plugin import bybit_fake  # noqa: F401  (fixture)
from tests.reliability.program import Program

ACCOUNT = "Tst"
KEYS = {f"BYBIT_API_KEY_{ACCOUNT}": DEFAULT_KEY, f"BYBIT_API_SECRET_{ACCOUNT}": DEFAULT_SECRET}
JOURNAL_NAME = f"{ACCOUNT}-testnet-BTCUSDT.sqlite"
DEADLINE_S = 20.0
D = Decimal
# quick reconnects and retries for the in-process engines (as the cockpit tests use)
FAST = dict(watchdog_interval_s=0.05, rebuild_after_s=0.4, min_backoff_s=0.1, max_backoff_s=1.0,
            retry_backoff_s=0.02, subscribe_timeout_s=5.0, http_timeout_s=3.0)
OPEN = ("New", "PartiallyFilled")
CANCELLED_AFTER_FILLS = "PartiallyFilledCanceled"  # Bybit spot's status of a partly filled order cancelled


# ---------------------------------------------------------------------------------- set-up


def bybit_config(fake, *, on_start: str = "cancel", cooldown_s: float = 1.0) -> dict:
    """AUTO on testnet at the fake; soft 0.002 / hard 0.05 (base), no bias or anchor edge; the
    maker order is re-quoted at once when the ask moves 2 ticks under it (the chase), and
    never escalates to a taker order (1 h waits)."""
    return apply_overrides(BASE_CONFIG, {
        "venue": "testnet",
        "mode": "auto",
        "api__rest_url": fake.rest_url,
        "api__ws_public_url": fake.ws_base_url,
        "api__ws_private_url": fake.ws_base_url,
        "api__on_start_open_orders": on_start,
        "rebalancer__thresholds": {"soft": 0.002, "hard": 0.05, "units": "base"},
        "rebalancer__bias": {"mode": "off", "strength": 0.0},
        "rebalancer__anchor__edge_bps_soft": 0,
        "rebalancer__execution": {"style": "maker_first", "maker_first": True, "max_chase_s": 3600, "chase_ticks": 2,
                                  "chase_interval_s": 0, "hard_maker_wait_s": 3600},
        "rebalancer__risk": {"cooldown_s": cooldown_s, "hysteresis_pct": 0, "stale_after_s": 120,
                             "max_drawdown_pct": 50},
        "journal": {"enabled": True},
    })


def long_gap(fake) -> None:
    """0.12 BTC spot against a 0.1 short: gap +0.02, between soft and hard."""
    fake.set_balance("BTC", "0.12")
    fake.set_position("-0.1", entry_price="50000")


def our_open(fake) -> list:
    return [o for o in fake.ledger.open_orders if o.order_link_id.startswith("rb")]


def ledger_fills(fake) -> dict[str, tuple]:
    """The fake's executions: exec id -> (time, side, price, qty, fee, fee coin, client id, order id, maker)."""
    return {f.exec_id: (f.exec_time, f.side, f.exec_price, f.exec_qty, f.exec_fee, f.fee_currency,
                        f.order_link_id, f.order_id, f.is_maker) for f in fake.ledger.fills}


def journal_fills(rows: list[tuple]) -> dict[str, tuple]:
    """Journal ``fills`` rows (``FILL_SQL``) in the same shape as ``ledger_fills``."""
    return {r[0]: (r[1], r[2], D(r[3]), D(r[4]), D(r[5]), r[6], r[7], r[8], bool(r[9])) for r in rows}


FILL_SQL = ("SELECT exec_id, ts_ms, side, price, qty, fee, fee_coin, client_id, order_id, is_maker"
            " FROM fills WHERE leg = 'spot'")


def order_requests(fake, since: int, path: str) -> list[dict]:
    """Bodies of the requests on ``path`` the fake received after the first ``since``."""
    return [json.loads(r.body or b"{}") for r in fake.requests[since:] if r.path == path]


def wallet_btc(fake) -> Decimal:
    return fake.ledger.balances["BTC"].wallet


class BybitProgram(Program):
    def __init__(self, tmp: Path, fake, **cfg_kw) -> None:
        super().__init__(tmp, bybit_config(fake, **cfg_kw), journal_name=JOURNAL_NAME, env=KEYS)
        self.fake = fake

    def journal_fills(self) -> dict[str, tuple]:
        return journal_fills(self.rows(FILL_SQL))

    def order_row(self, cid: str) -> tuple | None:
        rows = self.rows("SELECT status, filled_qty FROM orders WHERE client_id = ?", (cid,))
        return rows[0] if rows else None


def kill_mid_chase(prog: BybitProgram, *, fill_first: str | None = "0.004", missed: str = "0.003"):
    """Session 1: our PostOnly SELL rests at the ask; the ask moves 5 ticks down and the
    program chases (cancels it, re-quotes at the new ask); the re-quoted order is journaled open
    (optionally partly filled first, that fill journaled); SIGKILL. Then the fake fills
    ``missed`` of it while the program is dead. Returns (client id, missed fill)."""
    fake = prog.fake
    prog.start()
    try:
        def journaled_open(price: str):
            def pred():
                orders = our_open(fake)
                if len(orders) != 1 or orders[0].price != D(price):
                    return None
                row = prog.order_row(orders[0].order_link_id)
                return orders[0] if row is not None and row[0] in OPEN else None
            return pred

        first_quote = prog.wait_for("our maker order at the ask",
                                    lambda: [o for o in our_open(fake) if o.price == D("50000.10")], DEADLINE_S)[0]
        assert (first_quote.side, first_quote.time_in_force, first_quote.status) == ("Sell", "PostOnly", "New")
        fake.set_book("50000.00", "1", "50000.05", "1")
        order = prog.wait_for("the chase: re-quoted at the new ask, on the fake and in the journal",
                              journaled_open("50000.05"), DEADLINE_S)
        cid = order.order_link_id
        assert fake.ledger.order(order_link_id=first_quote.order_link_id).status == "Cancelled"
        assert (order.side, order.time_in_force, order.status) == ("Sell", "PostOnly", "New")
        if fill_first is not None:
            first = fake.partial_fill(cid, fill_first)
            prog.wait_for("the first partial fill in the journal",
                          lambda: first.exec_id in prog.journal_fills()
                          and prog.order_row(cid) == ("PartiallyFilled", fill_first), DEADLINE_S)
        prog.kill9()
    finally:
        prog.cleanup()
    lost = fake.partial_fill(cid, missed)
    assert lost.exec_id not in prog.journal_fills()  # really missed: nobody was listening
    return cid, lost


# ---------------------------------------------------------------------------------- SIGKILL + restart


def test_sigkill_mid_chase_then_restart_cancels_by_client_id_and_backfills(bybit_fake, tmp_path):
    fake = bybit_fake
    long_gap(fake)
    prog = BybitProgram(tmp_path, fake, on_start="cancel")
    cid, lost = kill_mid_chase(prog)
    assert fake.ledger.order(order_link_id=cid).cum_exec_qty == D("0.007")
    seen = len(fake.requests)
    prog.start()
    try:
        prog.wait_for(f"the start-up cancel of {cid} (fake and journal) and the missed fill in the journal",
                      lambda: fake.ledger.order(order_link_id=cid).status == CANCELLED_AFTER_FILLS
                      and prog.rows("SELECT what FROM reconciles WHERE detail = ?", (cid,))
                      and prog.order_row(cid) == ("Cancelled", "0.007")
                      and lost.exec_id in prog.journal_fills(), DEADLINE_S)
        assert prog.stop() == 0
    finally:
        prog.cleanup()
    # found by client id: the cancel named the orderLinkId of the order the journal held open
    cancels = order_requests(fake, seen, "/v5/order/cancel")
    assert cancels and cancels[0].get("orderLinkId") == cid, cancels
    assert prog.rows("SELECT what FROM reconciles WHERE detail = ?", (cid,)) == [("cancel_open_order",)]
    events = prog.rows("SELECT status, filled_qty FROM order_events WHERE client_id = ? ORDER BY id", (cid,))
    assert events[0] == ("New", "0") and events[-1] == ("Cancelled", "0.007"), events
    # the journal's fills equal the ledger's, exec id and every field (session 2's orders
    # were cancelled by the clean stop; nothing else traded)
    assert prog.journal_fills() == ledger_fills(fake)
    assert len(ledger_fills(fake)) == 2
    assert not our_open(fake)


def test_sigkill_mid_chase_then_restart_adopts_the_order_without_double_counting(bybit_fake, tmp_path):
    fake = bybit_fake
    long_gap(fake)
    prog = BybitProgram(tmp_path, fake, on_start="adopt")
    cid, lost = kill_mid_chase(prog)
    seen = len(fake.requests)
    snaps_before = prog.rows("SELECT COALESCE(MAX(id), 0) FROM snapshots")[0][0]
    prog.start()
    try:
        first_snapshot = prog.wait_for(
            f"the adoption of {cid}, the missed fill and a snapshot in the journal",
            lambda: prog.rows("SELECT what FROM reconciles WHERE detail = ?", (cid,))
            and lost.exec_id in prog.journal_fills()
            and prog.order_row(cid) == ("PartiallyFilled", "0.007")
            and prog.rows("SELECT spot_base FROM snapshots WHERE id > ? ORDER BY id LIMIT 1", (snaps_before,)),
            DEADLINE_S)
        # adopted = left working: still open on the fake, no cancel, and no second order beside it
        assert fake.ledger.order(order_link_id=cid).status == "PartiallyFilled"
        assert order_requests(fake, seen, "/v5/order/cancel") == []
        assert order_requests(fake, seen, "/v5/order/create") == []
        # not double-counted: the restarted engine's spot view is the wallet (which already has
        # both fills), not the wallet minus the fills again
        assert D(first_snapshot[0][0]) == wallet_btc(fake) == D("0.113")
        # tracked: the rest of it fills live and reaches the journal
        rest = fake.fill_order(cid)
        prog.wait_for("the adopted order's last fill in the journal",
                      lambda: rest.exec_id in prog.journal_fills() and prog.order_row(cid)[0] == "Filled",
                      DEADLINE_S)
        assert prog.stop() == 0
    finally:
        prog.cleanup()
    assert prog.rows("SELECT what FROM reconciles WHERE detail = ?", (cid,)) == [("adopt_open_order",)]
    assert prog.order_row(cid) == ("Filled", str(fake.ledger.order(order_link_id=cid).qty))
    assert prog.journal_fills() == ledger_fills(fake)
    assert len(ledger_fills(fake)) == 3


def test_an_order_filled_while_down_is_closed_in_the_journal_and_its_fill_backfilled(bybit_fake, tmp_path):
    """The missed fill completes the order: at restart the venue no longer lists it open, so
    it is not cancelled; the journal's open row is closed with the venue's final state."""
    fake = bybit_fake
    long_gap(fake)
    prog = BybitProgram(tmp_path, fake, on_start="cancel")
    cid, lost = kill_mid_chase(prog, missed="0.005999")  # the rest of 0.009999
    final = fake.ledger.order(order_link_id=cid)
    assert (final.status, final.qty) == ("Filled", D("0.009999"))
    seen = len(fake.requests)
    prog.start()
    try:
        prog.wait_for(f"{cid} closed in the journal and its last fill back-filled",
                      lambda: prog.rows("SELECT detail FROM reconciles WHERE what = 'journal_open_order'")
                      and prog.order_row(cid) == ("Filled", "0.009999")
                      and lost.exec_id in prog.journal_fills(), DEADLINE_S)
        assert prog.stop() == 0
    finally:
        prog.cleanup()
    assert prog.rows("SELECT detail FROM reconciles WHERE what = 'journal_open_order'") == [(f"{cid} -> Filled",)]
    assert [b for b in order_requests(fake, seen, "/v5/order/cancel") if b.get("orderLinkId") == cid] == []
    assert prog.journal_fills() == ledger_fills(fake)


@pytest.mark.parametrize("on_start", ["cancel", "adopt"])
def test_a_missed_first_fill_is_backfilled_into_an_empty_fill_journal(bybit_fake, tmp_path, on_start):
    """Nothing filled before the crash: the fill made while the program was down is the first
    fill the journal would ever hold."""
    fake = bybit_fake
    long_gap(fake)
    prog = BybitProgram(tmp_path, fake, on_start=on_start)
    cid, lost = kill_mid_chase(prog, fill_first=None)
    assert prog.journal_fills() == {}
    prog.start()
    try:
        prog.wait_for(f"the start-up reconcile of {cid} and its order row ({on_start})",
                      lambda: prog.rows("SELECT what FROM reconciles WHERE detail = ?", (cid,))
                      and prog.order_row(cid) == (("Cancelled" if on_start == "cancel" else "PartiallyFilled"),
                                                  "0.003"), DEADLINE_S)
        assert prog.stop() == 0
    finally:
        prog.cleanup()
    assert lost.exec_id in prog.journal_fills(), "the fill made while the program was down was never journaled"
    assert prog.journal_fills() == ledger_fills(fake)


def test_halted_in_the_journal_stays_halted_after_a_sigkill_restart(bybit_fake, tmp_path):
    fake = bybit_fake
    long_gap(fake)
    prog = BybitProgram(tmp_path, fake, on_start="adopt")
    cid, _lost = kill_mid_chase(prog)
    j = Journal(prog.journal_path)
    j.record_state(fake.now_ms(), "trading_state", "HALTED", "kill switch pressed by the user (test)")
    j.close()
    n_decisions = prog.rows("SELECT COALESCE(MAX(id), 0) FROM decisions")[0][0]
    seen = len(fake.requests)
    prog.start()
    try:
        # configured to adopt, but a halted account keeps nothing working: the order is cancelled
        reconciled = prog.wait_for(f"the start-up reconcile of {cid}",
                                   lambda: prog.rows("SELECT what FROM reconciles WHERE detail = ?", (cid,)), DEADLINE_S)
        refused = prog.wait_for(
            "a decision refused because HALTED",
            lambda: prog.rows("SELECT outcome FROM decisions WHERE id > ? AND outcome LIKE 'refused: HALTED%'",
                              (n_decisions,)), DEADLINE_S)
        # before the clean stop (which cancels ours): no order placed or amended
        sent = [(r.path, r.body) for r in fake.requests[seen:]
                if r.path in ("/v5/order/create", "/v5/order/amend") or r.path.startswith("/v5/trade")]
        assert prog.stop() == 0
    finally:
        prog.cleanup()
    assert "kill switch pressed by the user (test)" in refused[0][0]
    assert reconciled == [("cancel_open_order",)]
    assert fake.ledger.order(order_link_id=cid).status in ("Cancelled", "PartiallyFilledCanceled")
    assert sent == []
    executed = prog.rows("SELECT outcome FROM decisions WHERE id > ? AND outcome IN ('executed', 'forced')",
                         (n_decisions,))
    assert executed == []
    assert prog.rows("SELECT value FROM states WHERE kind = 'trading_state' ORDER BY id DESC LIMIT 1") == [("HALTED",)]


def test_a_cooldown_running_at_the_crash_holds_the_restarted_program(bybit_fake, tmp_path):
    fake = bybit_fake
    long_gap(fake)
    prog = BybitProgram(tmp_path, fake, on_start="cancel", cooldown_s=120)
    prog.start()
    try:
        order = prog.wait_for("our maker order", lambda: (our_open(fake) or [None])[0], DEADLINE_S)
        fake.fill_order(order.order_link_id)  # the rebalance completes: a cooldown starts
        done = prog.wait_for("the finished rebalance in the journal",
                             lambda: prog.rows("SELECT ts_ms, side FROM rebalances"), DEADLINE_S)
        prog.kill9()
    finally:
        prog.cleanup()
    assert done == [(done[0][0], "Sell")]
    # what is left of the gap (0.12 - 0.009999 against -0.1) is still past soft
    n_decisions = prog.rows("SELECT COALESCE(MAX(id), 0) FROM decisions")[0][0]
    seen = len(fake.requests)
    prog.start()
    try:
        held = prog.wait_for(
            "the restarted program's first decision",
            lambda: prog.rows("SELECT ts_ms, outcome, reason FROM decisions WHERE id > ? ORDER BY id",
                              (n_decisions,)), DEADLINE_S)
        created = order_requests(fake, seen, "/v5/order/create")
        assert prog.stop() == 0
    finally:
        prog.cleanup()
    ts, outcome, reason = held[0]
    assert ts - done[0][0] < 120_000
    assert outcome == "held" and "cooling down" in reason, held
    assert created == []


# ---------------------------------------------------------------------------------- clean quit, in-process


def app_config(fake, on_start: str):
    return config_from_dict(bybit_config(fake, on_start=on_start), file="<test>", env=KEYS, need_secrets=True)


async def until(predicate, task: asyncio.Task, what: str, seconds: float = DEADLINE_S) -> None:
    """Let the engine run until ``predicate()`` holds (bounded; fails if the engine stops)."""
    end = time.monotonic() + seconds
    while not predicate():
        if task.done():
            raise AssertionError(f"engine stopped while waiting for {what}: {task.exception()!r}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)


async def session(cfg, jpath: Path, body, *, cancel_orders: bool):
    """One program session as ``core.session.build_session`` builds it for a Bybit venue."""
    engine = session_engine(cfg, journal=Journal(jpath), **FAST)
    task = asyncio.create_task(engine.run())
    try:
        await until(engine.started.is_set, task, "the engine to start")
        await body(engine, task)
    finally:
        await engine.shutdown(cancel_orders=cancel_orders)
        await asyncio.wait_for(task, 10)
    return engine


@pytest.mark.parametrize("on_start", ["cancel", "adopt"])
async def test_clean_quit_leaving_the_order_open_then_restart_reconciles_it(bybit_fake, tmp_path, on_start):
    fake = bybit_fake
    long_gap(fake)
    cfg = app_config(fake, on_start)
    jpath = tmp_path / "journal.sqlite"
    state: dict = {}

    async def first(engine, task):
        await until(lambda: len(our_open(fake)) == 1, task, "our maker order")
        state["cid"] = cid = our_open(fake)[0].order_link_id
        fill = fake.partial_fill(cid, "0.004")
        await until(lambda: fill.exec_id in {f.exec_id for f in engine.journal.fills()}, task, "the fill journaled")

    await session(cfg, jpath, first, cancel_orders=False)  # the cockpit's "Keep & quit"
    cid = state["cid"]
    assert [o.order_link_id for o in our_open(fake)] == [cid]
    j = Journal(jpath, create=False)
    assert j.last_state("session")[1] == "clean quit, orders left open"
    assert [o.client_id for o in j.open_orders()] == [cid]
    j.close()
    lost = fake.partial_fill(cid, "0.003")  # while no program runs

    async def second(engine, task):
        def reconciled():
            rows = [(r["what"], r["detail"]) for r in engine.journal.reconciles()]
            return (f"{on_start}_open_order", cid) in rows and lost.exec_id in {f.exec_id for f in engine.journal.fills()}

        await until(reconciled, task, "the start-up reconcile and the back-fill")
        if on_start == "cancel":
            await until(lambda: fake.ledger.order(order_link_id=cid).status == CANCELLED_AFTER_FILLS, task, "the cancel")
            return
        await until(lambda: engine.reb.book.balances_ok, task, "balances")
        assert cid in engine.reb.orders.working  # tracked
        assert fake.ledger.order(order_link_id=cid).status == "PartiallyFilled"
        assert engine.reb.book.spot_total == pytest.approx(float(wallet_btc(fake)), abs=1e-12)  # counted once
        rest = fake.fill_order(cid)
        await until(lambda: rest.exec_id in {f.exec_id for f in engine.journal.fills()}
                    and cid not in engine.reb.orders.working, task, "the adopted order's last fill")
        assert engine.reb.book.spot_total == pytest.approx(float(wallet_btc(fake)), abs=1e-12)

    await session(cfg, jpath, second, cancel_orders=True)
    j = Journal(jpath, create=False)
    try:
        assert j.order(cid).status.value == ("Cancelled" if on_start == "cancel" else "Filled")
        assert journal_fills([(f.exec_id, f.ts_ms, f.side.value, str(f.price), str(f.qty), str(f.fee), f.fee_coin,
                               f.client_id, f.order_id, f.is_maker) for f in j.fills()]) == ledger_fills(fake)
    finally:
        j.close()
    assert not our_open(fake)


# ---------------------------------------------------------------------------------- SIGKILL just after placing

KILL_OFFSETS_MS = tuple(range(0, 200, 10))  # 20 offsets after the order reached the venue
KILL_SAMPLE_MS = (0, 60, 120)  # the default run's sample; ``-m slow`` runs all 20


def _kill_just_after_placing_then_restart(fake, tmp_path, offset_ms: int) -> None:
    """Issue 13 (3): killed 113-127 ms after placing an order that then filled while the program
    was down, the fill was back-filled but the journal had no order row for its client id. The
    program is killed ``offset_ms`` after the fake's ledger holds our order; the fake fills it
    while the program is dead; the restart (watch mode: it sends nothing of its own) must leave
    journal = venue for every order of ours, rows and fills."""
    long_gap(fake)
    prog = BybitProgram(tmp_path, fake, on_start="cancel")
    prog.start()
    try:
        end = time.monotonic() + DEADLINE_S
        while not our_open(fake):  # the create reached the venue (its reply may still be on its way)
            assert prog.proc.poll() is None and time.monotonic() < end, prog.stderr()[-2000:]
            time.sleep(0.001)
        time.sleep(offset_ms / 1000.0)  # the chosen moment of the kill, not a wait
        prog.kill9()
    finally:
        prog.cleanup()
    (order,) = our_open(fake)
    cid = order.order_link_id
    missed = fake.fill_order(cid)  # filled while the program is down
    prog.configure({**prog.cfg, "mode": "watch"})
    prog.start()
    try:
        prog.wait_for(f"{cid} closed Filled in the journal and its fill back-filled",
                      lambda: (prog.order_row(cid) or ("",))[0] == "Filled" and missed.exec_id in prog.journal_fills(),
                      DEADLINE_S)
        assert prog.stop() == 0
    finally:
        prog.cleanup()
    ours = [o for o in fake.ledger.orders if o.order_link_id.startswith("rb")]
    journal = {cid: (status, D(filled)) for cid, status, filled in
               prog.rows("SELECT client_id, status, filled_qty FROM orders")}
    assert journal == {o.order_link_id: (o.status, o.cum_exec_qty) for o in ours}
    assert prog.journal_fills() == ledger_fills(fake)
    assert prog.rows("SELECT COUNT(*) FROM order_events WHERE client_id = ? AND event = 'sending'", (cid,)) == [(1,)]


@pytest.mark.parametrize("offset_ms", KILL_SAMPLE_MS)
def test_sigkill_just_after_placing_leaves_journal_equal_to_venue(bybit_fake, tmp_path, offset_ms):
    _kill_just_after_placing_then_restart(bybit_fake, tmp_path, offset_ms)


@pytest.mark.slow
@pytest.mark.parametrize("offset_ms", [o for o in KILL_OFFSETS_MS if o not in KILL_SAMPLE_MS])
def test_sigkill_just_after_placing_at_every_offset(bybit_fake, tmp_path, offset_ms):
    _kill_just_after_placing_then_restart(bybit_fake, tmp_path, offset_ms)
