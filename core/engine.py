"""The live shell around the pure ``Rebalancer``: venue events in, venue calls out, on one loop.

Events arrive through the venue's sink on the event-loop thread and are processed in arrival
order from a FIFO (never dropped; no re-entrancy even when a venue answers synchronously).
Commands run one at a time, in order, so at most one order call is in flight and a lost
reply can be resolved (query by client id) before anything else is sent. When none is
running, the first command starts at once, in the callback of the event that caused it
(``core.eager``): the venue call is issued without waiting for the next loop iteration.

The cockpit polls ``latest()``: a snapshot rebuilt at most ``snapshot_hz`` times a second.

Write-ahead: an order's row (``sending``) is committed just before its create call, so a kill
at any moment after leaves a row a restart reconciles; the rows the event caused follow after
the call. SQLite's checkpoint runs in a thread every few seconds, never inside that commit.

A venue that cannot be reached at start is said at once and tried again with backoff; a stop
during the retries ends the engine cleanly.

No journal, no trading: a journal write that fails (disk full, read-only, I/O error) or a
journal file that vanished halts trading at once ("journal unwritable: ..."), cancels our
orders, says so in red in the cockpit's log, in the python log and through ``on_alarm``
(headless: stderr), and refuses every order call until the journal takes a row again and the
trader re-arms (a re-arm is refused while it still fails). A fill the venue makes meanwhile
is still applied to the account; only its row may be missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from core.clock import Clock, WallClock
from core.eager import start_eagerly
from core.events import (
    AmendOrder, CancelAllOurs, CancelOrder, Command, ConnectionChanged, OrderUpdate, PlaceOrder, Tick, VenueProblem,
)
from core.model import Mode, Order, OrderStatus, TradingState
from core.outcome import Outcome
from core.rebalancer import Rebalancer
from core.recovery import recover
from core.state import CockpitState, Proposal
from core.view import FeedInputs
from core.venues.base import OrderRejected, OrderStateUnknown, TradingDisabled, Venue
from core.venues.base import VenueError
from core.journal_watch import JournalWatch

log = logging.getLogger("rebalancer.engine")


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


def _worth_retrying(e: BaseException) -> bool:
    """A start failure another try may mend: no reply, a timeout, a refused connection."""
    if isinstance(e, VenueError):
        return bool(e.retryable)
    return isinstance(e, (OSError, TimeoutError))


class Engine(JournalWatch):
    """Hosts a Rebalancer on a venue; implements ``core.state.EngineHost`` and ``EngineControl``."""

    def __init__(self, rebalancer: Rebalancer, venue: Venue, *, clock: Clock | None = None, tick_s: float = 0.25,
                 snapshot_hz: float = 10.0, journal=None, on_start_open_orders: str = "cancel",
                 warmup_candles: int = 200, perf_counter: Callable[[], float] = time.perf_counter,
                 start_retry_s: float = 0.5, start_retry_max_s: float = 15.0) -> None:
        self.reb = rebalancer
        self.venue = venue
        self.clock = clock or WallClock()
        self.tick_s = tick_s
        self.journal = journal
        self.on_start_open_orders = on_start_open_orders
        self.warmup_candles = warmup_candles
        self.start_retry_s = start_retry_s  # a venue start that failed is retried after this, doubling
        self.start_retry_max_s = start_retry_max_s
        self.start_attempts = 0
        self._venue_up = False  # the venue's start succeeded once
        self._perf = perf_counter
        self._events: deque = deque()
        self._draining = False
        # waiting to run, in order: (command, event arrival, the risk's stop count when it was made)
        self._commands: deque[tuple[Command, float, int]] = deque()
        self._commands_running = False
        self._command_task: asyncio.Task | None = None  # the rest of a run that had to wait
        self._stop = asyncio.Event()
        self._snapshot: CockpitState | None = None
        self._snapshot_at = 0.0
        self._snapshot_changes = -1
        self._snapshot_every = 1.0 / snapshot_hz
        self._rtts: deque[float] = deque(maxlen=500)
        self.decision_latencies: deque[float] = deque(maxlen=100_000)  # event arrival → order call (s)
        self._event_arrival: float | None = None
        self.error: str | None = None
        self.control = self
        self.started = asyncio.Event()
        self.order_calls = 0
        self._set_venue_trading()
        self._user_actions = 0  # user commands: the cockpit redraws after each
        self._failed_events = 0  # events that raised in the rebalancer (counted as bad messages)
        self.alerts = None  # core.alerts.setup.Alerts: watched on the tick, closed at shutdown
        self.rtt_p50_ms: float | None = None  # order call round trips
        self.rtt_p99_ms: float | None = None
        self._rate_budget_left: int | None = None
        self.journal_fault: str | None = None  # why the journal cannot be written (None: it can)
        self._journal_gap_since: int | None = None  # fills since then may lack their rows
        self._journal_gap_marked = False  # the gap's start is in the journal (a restart back-fills from it)
        self.backfill_task: asyncio.Task | None = None
        self.on_alarm: Callable[[str], None] | None = None  # loud messages (headless: stderr)
        self.checkpoint_every_s = 5.0  # the journal's WAL is checkpointed off the loop this often
        self._checkpoint_task: asyncio.Task | None = None

    # ------------------------------------------------------------------ EngineHost

    def feed_inputs(self) -> FeedInputs:
        """What the engine measures about the feed, for the cockpit (the rebalancer cannot see it)."""
        vbad = getattr(self.venue, "bad_messages", 0)
        stalls, reconnects = getattr(self.venue, "stalls", None), getattr(self.venue, "reconciles", None)
        return FeedInputs(self.rtt_p50_ms, self.rtt_p99_ms, self._rate_budget_left,
                          self._failed_events + (vbad if isinstance(vbad, int) else 0),
                          stalls if isinstance(stalls, int) else None,
                          reconnects if isinstance(reconnects, int) else None,
                          alerts_dropped=self.alerts.dropped if self.alerts is not None else None)

    def attach_alerts(self, alerts) -> None:
        """Alerts for this session: their rules already tap the record; the feed and the daily
        summary are watched on the tick (no I/O there: sending is the alerts' own threads')."""
        self.alerts = alerts

    def latest(self) -> CockpitState:
        now = self._perf()
        changes = self.reb.changes + self._user_actions
        stale = now - self._snapshot_at >= self._snapshot_every
        # rebuild when something changed (at most snapshot_hz), and at least once a second for
        # the clock and data age; a quiet market then costs the UI one redraw a second
        if self._snapshot is None or (stale and (changes != self._snapshot_changes or now - self._snapshot_at >= 1.0)):
            self._snapshot_changes = changes
            snap = self.reb.snapshot(feed=self.feed_inputs())
            if self.error is not None:
                snap = replace(snap, engine_error=self.error)
            self._snapshot = snap
            self._snapshot_at = now
        return self._snapshot

    def invalidate(self) -> None:
        """Force the next ``latest()`` to rebuild (after a user command)."""
        self._snapshot = None
        self._user_actions += 1

    async def run(self) -> None:
        try:
            if not await self._startup():
                return  # stopped while the venue was still out of reach
            self._record_start()
            self.started.set()
            make = getattr(self.journal, "checkpoint_elsewhere", None)
            checkpoint = make() if make is not None else None
            next_checkpoint = self._perf() + self.checkpoint_every_s
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.tick_s)
                except TimeoutError:
                    pass
                if self._stop.is_set():
                    break
                self.reb.venue_refusal = getattr(self.venue, "trading_refused", None)  # read before the tick decides
                self._accept(Tick(self.clock.now_ms()))
                self.check_journal()
                if self.alerts is not None:
                    try:
                        self.alerts.watch(self)
                    except Exception as e:  # noqa: BLE001 - an alert never stops trading
                        log.warning("alert watch failed: %s", e)
                if checkpoint is not None and self._perf() >= next_checkpoint:
                    next_checkpoint = self._perf() + self.checkpoint_every_s
                    self._checkpoint(checkpoint)
        finally:
            task = self._command_task
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass

    def _checkpoint(self, checkpoint: Callable[[], None]) -> None:
        """The journal's WAL into the database, in a thread: its fsync never holds the loop."""
        task = self._checkpoint_task
        if task is not None and not task.done():
            return
        self._checkpoint_task = asyncio.get_running_loop().create_task(self._run_checkpoint(checkpoint),
                                                                       name="engine-journal-checkpoint")

    async def _run_checkpoint(self, checkpoint: Callable[[], None]) -> None:
        try:
            await asyncio.to_thread(checkpoint)
        except Exception as e:  # noqa: BLE001 - a failed write is caught where it happens
            log.warning("journal checkpoint failed: %s", e)

    def _record_start(self) -> None:
        """A ``session started`` row (and, through the record, its log line): a stop row always
        has its start to pair with."""
        reb = self.reb
        said = f"{reb.venue_name} {reb.symbol}, {reb.mode.value} mode, {reb.risk.state.value}"
        reb.rec.hold()
        reb.rec.state(reb.now_ms, "session", "started", said)
        self._release(reb.rec)

    async def shutdown(self, cancel_orders: bool, reason: str = "clean quit", *, crashed: bool = False) -> None:
        """Stop: cancel our orders if asked (and the venue allows it), stop the venue, and write
        one ``session`` row that says what really happened — the same words go to the log."""
        self._stop.set()
        if not cancel_orders:
            outcome = "orders left open"
        elif not self._venue_up:
            outcome = "orders NOT cancelled (the venue was never reached)"
        else:
            try:
                if self.venue.can_trade:
                    n = await self.venue.cancel_all_ours()
                    outcome = f"orders cancelled ({n})"
                else:
                    outcome = "orders NOT cancelled (watch mode: the venue refuses order calls)"
            except Exception as e:  # noqa: BLE001 - shutting down: report, never raise
                outcome = f"cancelling orders FAILED ({type(e).__name__}: {e})"
        if self._journal_gap_since is not None and self._venue_up:
            try:  # while the venue still answers: a restart could not find the gap's fills
                await asyncio.wait_for(self._backfill_journal_gap(), 3.0)
            except Exception as e:  # noqa: BLE001 - shutting down: report, never raise
                log.warning("journal back-fill at stop failed: %s", e)
        try:
            await self.venue.stop()
        except Exception as e:  # noqa: BLE001
            log.warning("venue stop failed: %s", e)
        if self._checkpoint_task is not None and not self._checkpoint_task.done():
            try:  # its connection closed before ours (which checkpoints as it closes)
                await asyncio.wait_for(asyncio.shield(self._checkpoint_task), 2.0)
            except Exception:  # noqa: BLE001 - shutting down
                pass
        said = f"{reason}, {outcome}"
        self.reb.note("error" if crashed else "info", f"session {'crashed' if crashed else 'stopped'}: {said}")
        try:  # the journal's row and, through the record, the log's line (said first)
            self.reb.rec.state(self.reb.now_ms, "session", "crashed" if crashed else "stopped", said)
        except Exception as e:  # noqa: BLE001
            log.warning("journal write at stop failed: %s", e)
        if self.alerts is not None:  # a moment for what is queued (a halt just said), then stop
            await asyncio.to_thread(self.alerts.sender.wait_idle, 2.0)
            self.alerts.close()
        if self.journal is not None:
            try:
                self.journal.close()
            except Exception as e:  # noqa: BLE001
                log.warning("journal close failed: %s", e)

    def on_engine_error(self, message: str) -> None:
        self.error = message
        self.set_mode(Mode.WATCH)  # cancels the working order first, then locks the venue
        self.reb.note("error", f"engine error, dropped to WATCH: {message}")
        if self.journal is not None:
            try:
                self.reb.rec.error(self.reb.now_ms, f"engine error: {message}")
            except Exception:  # noqa: BLE001
                pass
        self.invalidate()

    # ------------------------------------------------------------------ start-up

    async def _startup(self) -> bool:
        """Start the venue (retried until it answers), warm up, recover; False: stopped first."""
        v, reb = self.venue, self.reb
        reb.now_ms = max(reb.now_ms, self.clock.now_ms())
        if any(line.ts_ms == 0 for line in reb.log):  # said while the session was built (restores): dated now
            reb.log = deque((replace(line, ts_ms=reb.now_ms) if line.ts_ms == 0 else line for line in reb.log),
                            maxlen=reb.log.maxlen)
        if not await self._start_venue():
            return False
        try:
            candles = await v.candles(reb.trend.timeframe_ms, self.warmup_candles)
            if candles:
                reb.warm_up(candles)
                reb.note("info", f"EMA warmed up from {len(candles)} candles")
        except Exception as e:  # noqa: BLE001 - warm-up is a nicety
            reb.note("warning", f"no candle history for warm-up: {e}")
        await recover(reb, v, self.journal, self._accept, now_ms=self.clock.now_ms,
                      on_open_orders=self.on_start_open_orders)
        self._accept(ConnectionChanged(self.clock.now_ms(), True, f"{v.name} ready"))
        return True

    async def _start_venue(self) -> bool:
        """An unreachable venue at start is said at once (the cockpit's log in red, the python
        log, ``on_alarm``: headless, stderr) and tried again after ``start_retry_s``, doubling
        to ``start_retry_max_s``; a stop meanwhile ends it at once (False). An error that
        another try cannot mend (a bad key, an unknown symbol) is raised."""
        delay = self.start_retry_s
        while True:
            self.start_attempts += 1
            try:
                if not await self._unless_stopped(self.venue.start(self._accept)):
                    return False
                self._venue_up = True
            except Exception as e:  # noqa: BLE001 - sorted below: retried or raised
                if not _worth_retrying(e):
                    raise
                said = (f"{self.venue.name}: cannot start ({type(e).__name__}: {e}); "
                        f"attempt {self.start_attempts}, trying again in {delay:g} s")
                log.error("%s", said)
                self.reb.note("error", said)
                self._alarm(said)
                self.invalidate()
            else:
                if self.start_attempts > 1:
                    said = f"{self.venue.name}: started at attempt {self.start_attempts}"
                    log.warning("%s", said)
                    self.reb.note("info", said)
                    self._alarm(said)
                return True
            if not await self._unless_stopped(asyncio.sleep(delay)):
                return False
            delay = min(self.start_retry_max_s, delay * 2)

    async def _unless_stopped(self, awaitable) -> bool:
        """Await ``awaitable`` unless a stop comes first (then it is cancelled): True when it ended.
        It starts at once, in this task: one that never waits (the paper venue's start) hands the
        loop back to nobody, so the venue's feed cannot run ahead of the recovery that follows."""
        if self._stop.is_set():
            awaitable.close()
            return False
        work = start_eagerly(awaitable, name="engine-start-step")
        if work is None:
            return True
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait((work, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not work.done():
                work.cancel()
                try:
                    await work
                except (asyncio.CancelledError, Exception):  # noqa: BLE001 - abandoned on a stop
                    pass
        if work.cancelled():
            return False
        work.result()  # its exception, if it raised
        return True

    # ------------------------------------------------------------------ events → rebalancer

    def _accept(self, event) -> None:
        """The venue's sink: FIFO, processed in order on the loop thread, never re-entered."""
        self._events.append(event)
        if self._event_arrival is None:
            self._event_arrival = self._perf()
        if self._draining:
            return
        self._draining = True
        record = self.reb.rec
        record.hold()  # the order call first; the journal rows and their commit right after it
        try:
            reb = self.reb
            events = self._events
            while events:
                ev = events.popleft()
                try:
                    cmds = reb.on_event(ev)
                except Exception as e:  # noqa: BLE001 - a bad event must not kill the engine
                    self._failed_events += 1
                    reb.note("error", f"event {type(ev).__name__} failed: {e}")
                    log.exception("event failed")
                    continue
                if cmds:
                    self._dispatch(cmds)
            self._event_arrival = None
        finally:
            self._draining = False
            try:
                record.release()
            except Exception as e:  # noqa: BLE001 - a journal failure must not kill the engine: it halts it
                self._journal_failed(e)

    def _dispatch(self, cmds) -> None:
        t = self._event_arrival if self._event_arrival is not None else self._perf()
        stops = self.reb.risk.stops
        for c in cmds:
            self._commands.append((c, t, stops))
        if not self._commands_running:
            self._commands_running = True
            try:
                self._command_task = start_eagerly(self._run_commands(), name="engine-commands")
            except BaseException:
                self._commands_running = False
                raise

    def commands_idle(self) -> bool:
        """No command running and none waiting."""
        return not self._commands_running and not self._commands

    def _user(self, act: Callable[..., Outcome | list[Command]], *args) -> Outcome | None:
        """A trader's command: its order calls first, the rows it recorded right after (held as
        during a drain), and a journal failure handled like any other. Returns its outcome."""
        record = self.reb.rec
        record.hold()
        try:
            result = act(*args)
            outcome = result if isinstance(result, Outcome) else None
            cmds = outcome.commands if outcome is not None else result
            if cmds:
                self._event_arrival = self._perf()
                self._dispatch(cmds)
                self._event_arrival = None
        finally:
            self._release(record)
        self.invalidate()
        return outcome

    # ------------------------------------------------------------------ commands → venue

    async def _run_commands(self) -> None:
        """Runs the waiting commands one by one until none is left (started by ``_dispatch``)."""
        q = self._commands
        try:
            while q:
                cmd, t_event, stops = q.popleft()
                try:
                    await self._execute(cmd, t_event, stops)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - report and continue
                    log.exception("command failed")
                    self._accept(VenueProblem(self.clock.now_ms(), f"{type(cmd).__name__} failed: {e}"))
        finally:
            self._commands_running = False

    async def _execute(self, cmd: Command, t_event: float, stops: int) -> None:
        v = self.venue
        now = self.clock.now_ms
        t0 = self._perf()
        if type(cmd) is PlaceOrder:
            req = cmd.request
            why = self._no_new_orders(stops)
            if why is not None:  # queued before a kill, a pause or a mode change, behind a slow call: not sent
                self._reject(req, f"not sent: {why}")
                return
            if self.journal_fault is not None:
                self._reject(req, f"not sent: journal unwritable: {self.journal_fault}")
                return
            j = self.journal
            if j is not None:
                try:  # write-ahead: the order's row is committed before the create call goes out
                    j.record_order_sent(now(), req)
                except Exception as e:  # noqa: BLE001 - no journal, no trading
                    self._journal_failed(e)
                    self._reject(req, f"not sent: journal unwritable: {self.journal_fault}")
                    return
                t0 = self._perf()  # the latency counts the write-ahead; the round trip starts here
            self.decision_latencies.append(t0 - t_event)
            self.order_calls += 1
            try:
                order = await v.place_order(req)
            except TradingDisabled as e:
                self._reject(req, f"not sent: {e}")
                return
            except OrderRejected as e:
                self._reject(req, f"{e}" + (f" (code {e.code})" if e.code else ""))
                return
            except OrderStateUnknown as e:
                self.reb.note("warning", f"order {req.client_id}: reply lost ({e}); asking the venue")
                order = await self._resolve_unknown(req.client_id)
                if order is None:
                    self._reject(req, "reply lost and the venue has no such order")
                    return
            except VenueError as e:
                # the venue may or may not have it: look before anything else
                order = await self._resolve_unknown(req.client_id)
                if order is None:
                    self._reject(req, f"{e}")
                    return
            self._rtt(t0)
            self._accept(OrderUpdate(now(), order))
        elif type(cmd) is CancelOrder:
            try:
                await v.cancel_order(cmd.client_id)
            except VenueError as e:
                order = await self._resolve_unknown(cmd.client_id)
                if order is not None:
                    self._accept(OrderUpdate(now(), order))
                else:
                    self._accept(VenueProblem(now(), f"cancel {cmd.client_id}: {e}", getattr(e, "code", None), cmd.client_id))
            self._rtt(t0)
        elif type(cmd) is AmendOrder:
            if self.journal_fault is not None:
                return
            await v.amend_order(cmd.client_id, cmd.price, cmd.qty)
            self._rtt(t0)
        elif type(cmd) is CancelAllOurs:
            try:
                n = await v.cancel_all_ours()
                self.reb.note("warning", f"cancelled {n} open order(s): {cmd.reason}")
            except VenueError as e:
                self._accept(VenueProblem(now(), f"cancel all failed: {e}", getattr(e, "code", None)))
            self._rtt(t0)
        self.invalidate()

    async def _resolve_unknown(self, client_id: str) -> Order | None:
        for attempt in range(3):
            try:
                return await self.venue.order_by_client_id(client_id)
            except VenueError:
                await asyncio.sleep(0.2 * (attempt + 1))
        return None

    def _no_new_orders(self, stops: int) -> str | None:
        """Why an order waiting in the queue may not go out now, or None. Checked as it leaves:
        a kill, a pause or a mode change can come while it waits behind a slow call, and one
        made before it is stale even once the trader re-armed or resumed (``stops``: the
        risk's count of them when the order was made)."""
        r = self.reb
        if stops != r.risk.stops:
            return "made before a kill, a pause or a mode change"
        if r.mode is Mode.WATCH:
            return "watch mode never trades"
        if r.risk.state is TradingState.HALTED:
            return f"HALTED: {r.risk.halt_reason}"
        if r.risk.state is TradingState.PAUSED:
            return "PAUSED by the user"
        return None

    def _reject(self, req, reason: str) -> None:
        now = self.clock.now_ms()
        order = Order(client_id=req.client_id, order_id="", symbol=req.symbol, side=req.side, qty=req.qty,
                      price=req.price, tif=req.tif, status=OrderStatus.REJECTED, created_ms=now, updated_ms=now,
                      reject_reason=reason)
        self._accept(OrderUpdate(now, order))

    def _rtt(self, t0: float) -> None:
        self._rtts.append((self._perf() - t0) * 1000.0)
        if len(self._rtts) % 5 == 1:
            s = sorted(self._rtts)
            self.rtt_p50_ms = _percentile(s, 0.5)
            self.rtt_p99_ms = _percentile(s, 0.99)
        budget = getattr(self.venue, "rate_budget_left", None)
        if budget is not None:
            self._rate_budget_left = budget() if callable(budget) else budget

    def _set_venue_trading(self) -> None:
        """Watch mode is enforced in the venue layer too: its order calls raise."""
        allowed = self.reb.mode is not Mode.WATCH and not getattr(self.venue, "read_only", False)
        try:
            self.venue.can_trade = allowed
        except AttributeError:
            pass

    # ------------------------------------------------------------------ EngineControl

    def _now(self) -> None:
        """A key press happens now, not at the last event: gates (staleness, expiry) see the clock."""
        now = self.clock.now_ms()
        if now > self.reb.now_ms:
            self.reb.now_ms = now

    # Each returns the command's outcome (``core.outcome``): the cockpit toasts its text, which
    # is also the Log line and the journal's ``operator`` row. Called on the loop's thread, so
    # the outcome is known when the call returns.

    def approve(self, proposal_id: int | None = None) -> Outcome:
        self._now()
        return self._user(self.reb.operator.approve, proposal_id)

    def skip(self, proposal_id: int | None = None) -> Outcome:
        return self._user(self.reb.operator.skip, proposal_id)

    def preview_force(self) -> Proposal | Outcome:
        """The force dialog's preview, or the outcome saying why there is nothing to confirm."""
        self._now()
        offered: list[Proposal | Outcome] = []

        def offer() -> Outcome | list[Command]:  # inside ``_user``: an outcome's rows written like any command's
            offered.append(self.reb.operator.offer_force())
            return offered[0] if isinstance(offered[0], Outcome) else []

        self._user(offer)
        return offered[0]

    def force(self, confirmed: Proposal | None = None) -> Outcome:
        self._now()
        return self._user(self.reb.operator.force, confirmed)

    def toggle_pause(self) -> Outcome:
        return self._user(self.reb.operator.toggle_pause)

    def set_mode(self, mode: Mode) -> Outcome:
        mode = Mode(mode)
        if mode is Mode.WATCH:
            # cancel first (while the venue still allows it), then lock the venue
            outcome = self._user(self.reb.operator.set_mode, mode)
            self._set_venue_trading_after_queue()
            return outcome
        # the venue unlocked before the commands the new mode may send
        return self._user(self._unlocked_then, self.reb.operator.set_mode, mode)

    def _unlocked_then(self, act, *args):
        result = act(*args)
        self._set_venue_trading()
        return result

    def _set_venue_trading_after_queue(self) -> None:
        if self.commands_idle():
            self._set_venue_trading()
        else:
            asyncio.get_running_loop().call_later(0.05, self._set_venue_trading_after_queue)

    def kill(self, reason: str | None = None) -> Outcome:
        """``reason``: who pulled it when not the trader (several symbols' shared kill switch)."""
        if reason is None:
            return self._user(self.reb.operator.kill)
        return self._user(self.reb.operator.kill, reason)

    def rearm(self) -> Outcome:
        """Refused (with a red line saying why) while the journal still cannot be written."""
        if self.journal_fault is not None and not self._journal_writable_again():
            return Outcome("rearm", f"re-arm refused: journal still unwritable: {self.journal_fault}", False, "error")
        return self._user(self.reb.operator.rearm)

    def cancel_pending(self) -> Outcome:
        return self._user(self.reb.operator.cancel_pending)

    @property
    def trading_state(self) -> TradingState:
        return self.reb.risk.state
