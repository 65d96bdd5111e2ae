"""The cockpit app: hosts the engine as a worker, polls its snapshot, sends its commands.

    app = CockpitApp(engine, log_path="logs/cockpit.log")
    app.run()

The app never computes trading logic. It

* starts ``engine.run()`` as an app worker (group "engine", ``exit_on_error=False``); if it
  raises, the error is shown (as plain text), ``engine.on_engine_error(msg)`` is called and
  the UI stays up;
* polls ``engine.latest()`` every ``poll_interval`` seconds (default 0.2 s, <= 10 Hz) while
  things change, and once a second (``QUIET_POLL_S``) while the market is quiet -- when the host
  keeps publishing snapshots in which only the clock moved (see ``PollPacer``; a key press, a
  pending proposal or a change seen twice in a row brings the full rate back at once) -- and
  re-renders only when something visible changed: a new snapshot that differs from the last
  one only in the milliseconds of ``ts_ms`` (the clock shows seconds) is not rendered at all;
  each pane re-renders only the slice it depends on, and only while it is shown; a Static is
  updated only when its text changed, without a layout pass when its size cannot change; the
  charts redraw at most ~1 Hz, in frames drawn anyway;
* turns keys into ``engine.control`` calls (approve, skip, force, pause, mode, kill, re-arm,
  cancel) and, on quit, awaits ``engine.shutdown(cancel_orders=...)`` before exiting.

Nothing is logged to the screen: ``log_path`` gets a file handler on the "tui" logger (which
does not propagate), otherwise records go to Textual's devtools console only.
"""

from __future__ import annotations

import asyncio
import logging
import operator
import signal
import time
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterable

from rich.text import Text
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.markup import escape
from textual.screen import ModalScreen
from textual.worker import Worker, WorkerState

from core.outcome import Outcome
from core.state import CockpitState, EngineHost
from tui import theme
from tui.commands import CockpitCommands
from tui.screens.confirm import QuitScreen, _Dialog
from tui.screens.main import CockpitScreen
from tui.screens.palette import CockpitPalette

log = logging.getLogger("tui")

MAX_POLL_HZ = 10.0
HANGUP_TIMEOUT_S = 4.0  # a hangup must end the process within 5 s
QUIET_POLL_S = 1.0  # poll period while the market is quiet (the clock shows seconds)
QUIET_AFTER = 3  # new snapshots in a row whose data did not change: the market is quiet

# every field of the snapshot but its time (compared as one tuple: identity first, then ==)
_ALL_BUT_TIME = operator.attrgetter(*(f.name for f in fields(CockpitState) if f.name != "ts_ms"))


def _data(state: CockpitState) -> tuple:
    """The snapshot without its clock: every field but ``ts_ms``, and the feed but its data age."""
    f = state.feed
    return _ALL_BUT_TIME(state), f.rtt_p50_ms, f.rtt_p99_ms, f.rate_budget_left, f.events_total, f.bad_messages, \
        f.stale_after_ms


class PollPacer:
    """When to poll next: at the full rate while things change, once a second while quiet.

    ``next_delay(outcome)`` after each timer poll, with the poll's outcome: ``"data"`` (the
    snapshot's data changed, or a proposal is counting down), ``"time"`` (a new snapshot in which
    only the clock / data age moved) or ``"none"`` (no new snapshot, or the poll failed).

    * Full rate (``fast``): ``quiet_after`` "time" polls in a row make the market quiet. A host
      that keeps returning the same snapshot object ("none") tells nothing about the market
      and never makes it quiet.
    * Quiet: one poll every ``quiet`` seconds; it renders whatever changed meanwhile in one
      frame (clock, numbers, chart). A poll that finds a data change is followed by one quick
      look ``fast`` later: a second change there means the market is moving, back to the full
      rate. ``wake()`` (a key press) also brings the full rate back.
    """

    def __init__(self, fast: float, quiet: float = QUIET_POLL_S, quiet_after: int = QUIET_AFTER) -> None:
        self.fast = fast
        self.quiet_s = max(quiet, fast)
        self.quiet_after = quiet_after
        self.quiet = False
        self._probing = False
        self._run = 0

    def wake(self) -> None:
        self.quiet = self._probing = False
        self._run = 0

    def next_delay(self, outcome: str) -> float:
        if not self.quiet:
            if outcome == "data":
                self._run = 0
            elif outcome == "time":
                self._run += 1
                if self._run >= self.quiet_after:
                    self.quiet, self._run = True, 0
                    return self.quiet_s
            return self.fast
        if outcome == "data":
            if self._probing:  # changed again within ``fast``: the market is moving
                self.wake()
                return self.fast
            self._probing = True
            return self.fast
        if self._probing:
            self._probing = False
            return max(self.fast, self.quiet_s - self.fast)  # keep the once-a-second cadence
        return self.quiet_s


def only_time_moved(prev: CockpitState, state: CockpitState) -> bool:
    """``state`` shows exactly what ``prev`` shows: same data, same second of the clock, and no
    proposal countdown (which shows tenths of a second)."""
    if prev.ts_ms // 1000 != state.ts_ms // 1000:
        return False
    p = state.proposal
    if p is not None and p.expires_ms is not None:
        return False
    return _ALL_BUT_TIME(prev) == _ALL_BUT_TIME(state)


class CockpitApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Spot rebalancer"
    COMMANDS = App.COMMANDS | {CockpitCommands}

    BINDINGS = [
        # priority: the kill switch works under every dialog (not while typing in the palette)
        Binding("k", "kill", "KILL", priority=True, id="kill"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit_now"),
    ]

    def __init__(
        self,
        engine: EngineHost,
        *,
        log_path: str | Path | None = None,
        bell: bool = True,
        poll_interval: float = 0.2,
        shutdown_timeout: float = 15.0,
        warnings: tuple[str, ...] = (),
        theme_name: str = theme.THEME.name,
        data_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.data_dir = Path(data_dir) if data_dir is not None else None  # screenshots go under it
        self.start_warnings = tuple(warnings)  # e.g. a .env readable by others: said on screen, not only on stderr
        self.bell_enabled = bell
        self.poll_interval = max(1.0 / MAX_POLL_HZ, float(poll_interval))
        self.shutdown_timeout = shutdown_timeout
        self.state: CockpitState | None = None
        self.renders = 0  # how many snapshots were rendered (tests / diagnostics)
        self.skipped = 0  # new snapshots not rendered: only their milliseconds moved
        self.pacer = PollPacer(self.poll_interval)
        self._poll_outcome = "none"
        self._poll_timer = None
        self.ui_errors = 0
        self.engine_error: str | None = None
        self.shutdown_done = False
        self.shutdown_error: str | None = None
        self._crash_handled = False
        self._quitting = False
        self._last_proposal_id: tuple[str, int] | None = None
        self._log_path = log_path
        self._log_handler: logging.Handler | None = None
        log.propagate = False  # never let a root StreamHandler write over the screen
        self.register_theme(theme.THEME)
        self.theme = theme_name  # config ui.theme; any built-in theme works (see get_css_variables)

    def get_css_variables(self) -> dict[str, str]:
        """Every theme gets the cockpit's own variables (``$pane-border`` ...): a theme without
        them would fail app.tcss and end the app."""
        return theme.with_own_defaults(super().get_css_variables())

    def action_command_palette(self) -> None:
        """ctrl+p: the palette that closes for good (see ``tui.screens.palette``); not a second
        one while one is open under a dialog (the quit dialog over it: a duplicate id ended the app)."""
        if self.use_command_palette and not any(isinstance(s, CommandPalette) for s in self.screen_stack):
            self.push_screen(CockpitPalette(id="--command-palette"))

    def search_themes(self) -> None:
        """The palette's Theme: the same picker, on the palette that closes for good."""
        from textual.theme import ThemeProvider

        self.push_screen(CockpitPalette(providers=[ThemeProvider], placeholder="Search for themes…"))

    def get_system_commands(self, screen) -> Iterable[SystemCommand]:
        """Textual's palette entries, less its Quit (ours asks about our orders; one Quit only) and
        its Screenshot (to ~/Downloads), which ours replaces: saved under the data dir."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit", "Screenshot"):
                yield command
        yield SystemCommand("Screenshot", "save an SVG of the screen under the data dir",
                            lambda: self.set_timer(0.1, self.save_screenshot_here))

    def save_screenshot_here(self) -> Path | None:
        """The screen as ``<data dir>/screenshots/cockpit-<local time>.svg``, next to the journals
        and the log (a folder that exists wherever the cockpit runs); the toast says where, or
        why not."""
        try:  # (run.py hands in the data dir; an app built without one saves under the working dir)
            folder = (self.data_dir if self.data_dir is not None else Path.cwd()) / "screenshots"
            folder.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path, n = folder / f"cockpit-{stamp}.svg", 1
            while path.exists():  # two in the same second
                n += 1
                path = folder / f"cockpit-{stamp}-{n}.svg"
            path.write_text(self.export_screenshot(), encoding="utf-8")
        except Exception as exc:  # a full disk must not end the cockpit
            log.exception("screenshot failed")
            self.notify(escape(f"{type(exc).__name__}: {exc}"), title="Screenshot failed", severity="error", timeout=10)
            return None
        log.info("screenshot saved: %s", path)
        self.notify(escape(str(path)), title="Screenshot saved", timeout=10)
        return path

    # ------------------------------------------------------------------ setup
    def _setup_logging(self, log_path: str | Path | None) -> None:
        if log.level == logging.NOTSET:
            log.setLevel(logging.INFO)
        if log_path is not None:
            path = Path(log_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        else:
            from textual.logging import TextualHandler

            handler = TextualHandler()
        log.addHandler(handler)
        self._log_handler = handler

    def get_default_screen(self) -> CockpitScreen:
        return CockpitScreen(id="cockpit")

    @property
    def cockpit(self) -> CockpitScreen:
        screen = self.screen_stack[0] if self.screen_stack else None
        assert isinstance(screen, CockpitScreen)
        return screen

    def on_mount(self) -> None:
        self._setup_logging(self._log_path)
        log.info("cockpit started (poll %.2fs)", self.poll_interval)
        self.run_worker(self.engine.run(), group="engine", name="engine", exit_on_error=False)
        self._poll_timer = self.set_timer(self.poll_interval, self._poll_tick, name="poll")
        self.call_after_refresh(self.poll)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_hangup, sig.name)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests), or no signals
                pass
        for w in self.start_warnings:
            log.warning("%s", w)
            self.notify(w, title="warning", severity="warning", timeout=30)

    async def on_unmount(self) -> None:
        await self._shutdown_after_crash()
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGHUP, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        if self._log_handler is not None:
            log.removeHandler(self._log_handler)
            try:
                self._log_handler.close()
            except Exception:
                pass
            self._log_handler = None

    async def _shutdown_after_crash(self) -> None:
        """An exception anywhere in the UI ends the app (Textual's rule); the session then ends
        as a crash, not as a quit: the traceback goes to the log file, our orders are handled as
        a quit that cancels them would (nobody is left to answer the quit dialog), and the
        journal's ``session`` row says crashed, with the exception. Runs as the app unmounts,
        while the loop and the log file are still there."""
        exc = self._exception
        if exc is None or self.shutdown_done or self._crash_handled:
            return
        self._crash_handled = True
        log.error("the cockpit crashed: %s: %s", type(exc).__name__, exc, exc_info=(type(exc), exc, exc.__traceback__))
        try:
            await asyncio.wait_for(self.engine.shutdown(cancel_orders=True, reason=f"crash: {type(exc).__name__}: {exc}",
                                                        crashed=True), timeout=self.shutdown_timeout)
            self.shutdown_done = True
        except Exception as e:  # noqa: BLE001 - already crashing: say it, never raise
            self.shutdown_error = f"engine shutdown after the crash failed: {type(e).__name__}: {e}"
            log.error("%s", self.shutdown_error)

    # ------------------------------------------------------------------ snapshot polling
    def _poll_tick(self) -> None:
        """The poll timer: poll, then schedule the next one at the pace ``PollPacer`` says."""
        if self._closing or self._closed or not self.screen_stack:
            return  # shutting down: no more polls
        self.poll()
        try:
            delay = self.pacer.next_delay(self._poll_outcome)
        except Exception:  # never let the timer die
            log.exception("poll pacing failed")
            delay = self.poll_interval
        self._poll_timer = self.set_timer(delay, self._poll_tick, name="poll")

    def wake_polling(self) -> None:
        """Back to the full poll rate now (a key press: its effect should show at once)."""
        was_quiet = self.pacer.quiet
        self.pacer.wake()
        if was_quiet and self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = self.set_timer(self.poll_interval, self._poll_tick, name="poll")

    def poll(self) -> None:
        """Fetch the latest snapshot and render it if something visible changed.

        Never raises: an exception escaping a timer callback would exit the app.
        """
        self._poll_outcome = "none"
        if not self.screen_stack:
            return  # not started yet, or shutting down
        try:
            screen = self.cockpit
            if not screen.is_mounted:
                return  # too early: render this snapshot on the next tick
            state = self.engine.latest()
            prev = self.state
            if state is None or (state is prev and prev is not None and state.ts_ms == prev.ts_ms):
                return
            p = state.proposal
            counting_down = p is not None and p.expires_ms is not None
            self._poll_outcome = "time" if (prev is not None and not counting_down
                                            and _data(prev) == _data(state)) else "data"
            if prev is not None and only_time_moved(prev, state):
                self.skipped += 1  # nothing visible changed: no render, no frame
                return
            self.state = state
            with self.batch_update():
                failures = screen.apply_state(state, ui_errors=self.ui_errors)
            self.ui_errors += failures
            self.renders += 1
            self._maybe_ring(state)
        except Exception:
            self._poll_outcome = "none"
            self.ui_errors += 1
            log.exception("poll failed")

    def _maybe_ring(self, state: CockpitState) -> None:
        p = state.proposal
        if p is None or p.forced or (p.symbol, p.proposal_id) == self._last_proposal_id:
            return
        self._last_proposal_id = (p.symbol, p.proposal_id)  # several symbols: each numbers its own
        if self.bell_enabled:
            self.bell()

    # ------------------------------------------------------------------ engine worker
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "engine":
            return
        if event.state is WorkerState.ERROR:
            err = worker.error
            msg = f"{type(err).__name__}: {err}" if err is not None else "engine failed"
            self.engine_error = msg
            log.error("engine worker failed: %s", msg, exc_info=err if isinstance(err, BaseException) else None)
            try:
                self.engine.on_engine_error(msg)
            except Exception:
                log.exception("engine.on_engine_error raised")
            try:
                self.cockpit.show_engine_error(msg)
                self.notify(escape(msg), title="Engine error", severity="error", timeout=15)
            except Exception:
                log.exception("could not show the engine error")
            self.poll()
        elif event.state is WorkerState.SUCCESS and not self._quitting:
            log.warning("engine run() returned")
            try:
                self.cockpit.show_engine_error("engine run() returned", fatal=True)
            except Exception:
                log.exception("could not show engine stop")

    # ------------------------------------------------------------------ commands to the engine
    def call(self, method: str, *args: Any) -> tuple[bool, Any]:
        """Call ``engine.control.<method>(*args)``; an exception is logged and shown, never raised."""
        self.wake_polling()
        try:
            result = getattr(self.engine.control, method)(*args)
        except Exception as exc:
            log.exception("control.%s failed", method)
            self.notify(escape(f"{method} failed: {type(exc).__name__}: {exc}"), severity="error", timeout=8)
            return False, None
        log.info("control.%s%s", method, args if args else "()")
        return True, result

    def send(self, method: str, *args: Any) -> bool:
        """A command to the engine, and a toast of its outcome (False: the call failed, shown)."""
        ok, outcome = self.call(method, *args)
        if ok:
            self.say(outcome, method)
        return ok

    def say(self, outcome: Any, method: str = "") -> None:
        """Toast what a command did: the outcome's very text, the Log line and journal row too."""
        if not isinstance(outcome, Outcome):  # a host that does not answer: claim nothing
            self.notify(escape(f"{method}: asked the engine"), timeout=3)
            return
        severity = {"warning": "warning", "error": "error"}.get(outcome.level, "information")
        self.notify(escape(outcome.text), title=outcome.command.capitalize(), severity=severity,
                    timeout=4 if outcome.acted else 6)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "kill":
            # while the command palette is open the user is typing: "k" is a letter there
            return not CommandPalette.is_open(self)
        return True

    def action_kill(self) -> None:
        # close any dialog that could still send something (force / mode / re-arm / quit)
        for _ in range(8):
            screen = self.screen
            if not isinstance(screen, ModalScreen) or isinstance(screen, CommandPalette):
                break
            if isinstance(screen, _Dialog):
                screen.dismiss(screen.cancel_value())
            else:
                screen.dismiss(None)
        if self.send("kill") and self.bell_enabled:
            self.bell()
        self.poll()

    # ------------------------------------------------------------------ quitting
    def action_quit(self) -> None:  # ctrl+q and the palette's "Quit" go through the same dialog
        self.action_request_quit()

    def action_request_quit(self) -> None:
        if self._quitting or any(isinstance(s, QuitScreen) for s in self.screen_stack):
            return
        open_orders = len(self.state.orders) if self.state is not None else 0
        self.push_screen(QuitScreen(open_orders), self._quit_chosen)

    def _quit_chosen(self, choice: str | None) -> None:
        if choice not in ("keep", "cancel"):
            return
        self._quitting = True
        cancel = choice == "cancel"
        self.notify("Stopping the engine" + (" and cancelling our orders…" if cancel else "…"), timeout=30)
        self.run_worker(self._shutdown_and_exit(cancel), group="quit", name="quit", exclusive=True, exit_on_error=False)

    def _stop_palette_searches(self) -> None:
        """An open command palette's search worker must not outlive its list on the way out.

        ctrl+q works over the palette; if the app exits while a search is still batching
        results, Textual's worker touches the torn-down list and the exit ends in a traceback.
        """
        for screen in self.screen_stack:
            if isinstance(screen, CommandPalette):
                self.workers.cancel_node(screen)

    def _on_hangup(self, name: str) -> None:
        """SIGHUP (the terminal or SSH link is gone) and SIGTERM: stop as a quit that cancels our
        orders would — nobody is left to answer the quit dialog."""
        if self._quitting:
            return
        self._quitting = True
        log.warning("%s received: stopping, cancelling our orders", name)
        self.run_worker(self._shutdown_and_exit(True, f"{name} received", timeout=HANGUP_TIMEOUT_S), group="quit",
                        name="quit", exclusive=True, exit_on_error=False)

    async def _shutdown_and_exit(self, cancel_orders: bool, reason: str = "clean quit", *,
                                 timeout: float | None = None) -> None:
        log.info("shutdown requested (cancel_orders=%s, %s)", cancel_orders, reason)
        message: str | None = None
        timeout = self.shutdown_timeout if timeout is None else timeout
        try:
            await asyncio.wait_for(self.engine.shutdown(cancel_orders=cancel_orders, reason=reason), timeout=timeout)
            self.shutdown_done = True
        except asyncio.TimeoutError:
            message = f"engine shutdown timed out after {timeout:.0f}s"
        except Exception as exc:
            message = f"engine shutdown failed: {type(exc).__name__}: {exc}"
        if message is not None:
            self.shutdown_error = message
            log.error(message)
        log.info("cockpit exiting")
        self._stop_palette_searches()
        self.exit(return_code=0 if message is None else 1, message=Text(message, style="bold red") if message else None)
