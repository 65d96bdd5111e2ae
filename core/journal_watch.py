"""No journal, no trading: the engine's watch over its journal.

A journal write that fails (disk full, read-only, I/O error) or a journal file that vanished
halts trading at once ("journal unwritable: ..."), cancels our orders, says so loudly, and
refuses every order call until the journal takes a row again and the trader re-arms. The
fills the venue made meanwhile are written from its record afterwards. A mixin of ``Engine``
(one idea per file): it uses the engine's journal, rebalancer, clock, command queue and venue.
"""

from __future__ import annotations

import asyncio
import logging

from core.events import AmendOrder, PlaceOrder
from core.journal.writer import JournalWriteError
from core.recovery import backfill_journal

log = logging.getLogger("rebalancer.engine")

GAP_OVERLAP_MS = 60_000  # a journal outage's back-fill starts this long before its first failure


def _fault_text(e: BaseException) -> str:
    """What went wrong with the journal, in a few words (the first underlying error)."""
    causes = getattr(e, "causes", ())
    cause = causes[0] if causes else e
    return str(cause) or type(cause).__name__


class JournalWatch:
    def _release(self, record) -> None:
        try:
            record.release()
        except Exception as e:  # noqa: BLE001 - see _journal_failed
            self._journal_failed(e)

    def check_journal(self) -> None:
        """A journal file deleted or moved under us (its data dir removed) is a failed journal:
        SQLite would go on writing the unlinked file, and all of it would be lost at exit.
        After an outage, the first row the journal takes says where it began, so a restart
        back-fills from there even when newer fills were journaled since."""
        if self._journal_gap_since is not None and not self._journal_gap_marked and self.journal is not None:
            try:
                self.journal.record_state(self.clock.now_ms(), "journal_gap", str(self._journal_gap_since),
                                          "journal unwritable: fills since may lack their rows")
                self._journal_gap_marked = True
            except Exception as e:  # noqa: BLE001 - still failing: tried again at the next tick
                log.debug("journal gap row not written: %s", e)
        if self.journal_fault is None:
            gone = getattr(self.journal, "file_gone", None)
            why = gone() if gone is not None else None
            if why is not None:
                self._journal_failed(JournalWriteError(why))

    def _journal_failed(self, e: Exception) -> None:
        """Halt, cancel our orders, say it loudly; later failures while halted are counted quietly."""
        gone = getattr(self.journal, "file_gone", None)
        text = (gone() if gone is not None else None) or _fault_text(e)
        first = self.journal_fault is None
        self.journal_fault = text
        if self._journal_gap_since is None:
            self._journal_gap_since = min(self.clock.now_ms(), self.reb.now_ms) - GAP_OVERLAP_MS
            self._journal_gap_marked = False
        if not first:
            log.debug("journal still unwritable: %s", e)
            return
        reason = f"journal unwritable: {text}"
        log.error("%s: trading HALTED and our orders cancelled; nothing is sent until the journal can be "
                  "written and the trader re-arms%s", reason, "" if str(e) == text else f" ({e})")
        self._user(self.reb.kill, reason)  # halted first: a refused order cannot start another
        self._drop_queued_orders(reason)
        self.reb.note("error", f"{reason}: trading HALTED, our orders cancelled; nothing is sent until the "
                               "journal can be written again and you re-arm (r)")
        self._alarm(f"{reason}: trading HALTED, our orders cancelled")
        self.invalidate()

    def _drop_queued_orders(self, reason: str) -> None:
        """Order calls still waiting their turn are not sent (each is answered as refused, so
        the rebalancer does not wait for it); cancels stay queued."""
        q = self._commands  # the same deque: a running ``_run_commands`` holds it
        waiting = list(q)
        q.clear()
        q.extend((cmd, t) for cmd, t in waiting if type(cmd) is not PlaceOrder and type(cmd) is not AmendOrder)
        for cmd, _ in waiting:
            if type(cmd) is PlaceOrder:
                self._reject(cmd.request, f"not sent: {reason}")

    def _journal_writable_again(self) -> bool:
        """Before a re-arm after a journal failure: the file is ours and takes a committed row."""
        try:
            gone = getattr(self.journal, "file_gone", None)
            why = gone() if gone is not None else None
            if why is not None:
                raise JournalWriteError(f"{why}: restart the program to open a new journal")
            if self.journal is not None:
                self.journal.record_state(self.clock.now_ms(), "journal", "writable", "checked before a re-arm")
        except Exception as e:  # noqa: BLE001 - still failing: refuse the re-arm
            self.journal_fault = _fault_text(e)
            said = f"re-arm refused: journal still unwritable: {self.journal_fault}"
            log.error("%s", said)
            self.reb.note("error", said)
            self._alarm(said)
            self.invalidate()
            return False
        log.warning("journal writable again (was: %s)", self.journal_fault)
        self.reb.note("info", f"journal writable again (was: {self.journal_fault})")
        self.journal_fault = None
        if self._journal_gap_since is not None and (self.backfill_task is None or self.backfill_task.done()):
            self.backfill_task = asyncio.get_running_loop().create_task(self._backfill_journal_gap(),
                                                                        name="engine-journal-backfill")
        return True

    async def _backfill_journal_gap(self) -> None:
        """The fills the venue made while the journal could not be written, written now from the
        venue's record (a restart's back-fill starts at the newest journaled fill, after the gap)."""
        since = self._journal_gap_since
        if since is None or self.journal is None:
            return
        try:
            n = await backfill_journal(self.venue, self.journal, since, self.clock.now_ms())
            self.journal.record_state(self.clock.now_ms(), "journal_gap", "closed", f"{n} fill(s) back-filled")
        except Exception as e:  # noqa: BLE001 - tried again at the next re-arm or stop
            log.warning("journal back-fill after the outage failed: %s", e)
            self.reb.note("warning", f"journal back-fill after the outage failed: {e}")
            return
        if self._journal_gap_since == since:
            self._journal_gap_since = None
        log.info("journal back-filled after the outage: %d fill(s)", n)
        self.reb.note("info", f"journal back-filled after the outage: {n} fill(s) from the venue's record")
        self.invalidate()

    def _alarm(self, text: str) -> None:
        if self.on_alarm is not None:
            try:
                self.on_alarm(text)
            except Exception:  # noqa: BLE001 - a broken terminal must not stop the engine
                log.debug("alarm output failed", exc_info=True)
