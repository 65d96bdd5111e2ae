"""Is the private stream stalled? Silence alone cannot tell; silence plus a REST look can.

A socket can stay open and answer pings while Bybit sends nothing on it. On the spot stream
silence is proof (``orderbook.1`` is re-sent at least every 3 s; ``bybit_streams`` replaces it
after ``public_stall_s``). On the private stream silence is normal: a quiet account gets no
pushes for hours, and pongs only prove the socket, not the subscriptions. Two ways out were
possible; this module takes the first:

- *evidence*: once the private stream has been silent for ``private_stall_s``, read the wallet
  and the linear position every ``private_look_s`` (two cheap reads) and compare them with
  what the adapter has delivered (pushes, reconcile, and REST reads handed to the engine). A
  difference that outlasts ``private_confirm_s`` with still no push is something the stream
  should have said: it is replaced and the gap reconciled. Found within about
  ``private_look_s + private_confirm_s`` of the change once the stream is quiet (6 s worst case by
  default after the first 5 s of silence), and a quiet account is never churned.
- *a longer silence limit* (rebuild after, say, 60 s of silence whatever happens): blind to a
  stall for that long (the hedge that went out 15 s late would still go out late) and a
  needless reconnect, ``ConnectionChanged`` and reconcile every minute on a quiet account.

Why wallet and position (not our open orders): every push that moves net delta moves one of
them: our fills and the grid's spot fills change the wallet, the grid's futures fills the
position, and a working order of ours locks balance (so a missed cancel or reject shows as
``locked``). Balances are compared per coin on ``free`` and ``locked``; the position on size.

A false alarm (a REST read handed to the engine that raced a newer push and left an older
value as "delivered") costs one needless reconnect and reconcile, which also repairs it.

A mixin of ``BybitVenue`` (uses its streams, settings, ``_read_balances`` / ``_read_position``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from decimal import Decimal

from core.model import Balance, Position
from core.venues.base import VenueError

log = logging.getLogger("rebalancer.bybit")


def differences(known_balances: dict[str, tuple[Decimal, Decimal]], balances: Iterable[Balance],
                known_size: Decimal | None, position: Position | None) -> list[str]:
    """What REST shows that the adapter has not delivered, in words (empty: nothing)."""
    out = []
    for b in balances:
        was = known_balances.get(b.coin)
        if was is not None and was != (b.free, b.locked):
            out.append(f"{b.coin} free/locked {was[0]}/{was[1]} -> {b.free}/{b.locked}")
    if known_size is not None and position is not None and position.size != known_size:
        out.append(f"position {known_size} -> {position.size}")
    return out


class BybitStallWatch:
    _stall_look: asyncio.Task | None = None
    _last_look = 0.0
    _known_size: Decimal | None = None
    _known_balances: dict[str, tuple[Decimal, Decimal]] | None = None
    stall_looks = 0

    # ------------------------------------------------------------------ what was delivered

    def _note_balances(self, balances: Iterable[Balance]) -> None:
        known = self._known_balances
        if known is None:
            known = self._known_balances = {}
        for b in balances:
            known[b.coin] = (b.free, b.locked)

    def _note_position(self, position: Position) -> None:
        self._known_size = position.size

    # ------------------------------------------------------------------ the watch (loop)

    @property
    def stalls(self) -> int:
        """Streams replaced because they were silent (stalled), this session."""
        return self._streams.stalls if self._streams is not None else 0

    def _watch_private(self) -> None:
        """One watchdog pass: start a REST look when the private stream is silent and due."""
        streams = self._streams
        if streams is None or self._stopped or self._need_reconcile or self._reconcile_task is not None:
            return
        if self._stall_look is not None and not self._stall_look.done():
            return
        silent = streams.silent_for("private")
        s = self.settings
        now = time.monotonic()
        if silent is None or silent < s.private_stall_s or now - self._last_look < s.private_look_s:
            return
        self._last_look = now
        self._stall_look = asyncio.ensure_future(self._look_for_missed_pushes())

    async def _missed_pushes(self) -> list[str]:
        balances = await self._read_balances()
        position = await self._read_position()
        known = dict(self._known_balances or {})
        missed = differences(known, balances, self._known_size, position)
        # a first look fills in what nothing has told us yet (the baseline, no evidence)
        self._note_balances(b for b in balances if b.coin not in known)
        if self._known_size is None:
            self._note_position(position)
        return missed

    async def _look_for_missed_pushes(self) -> None:
        streams = self._streams
        link = streams.links["private"] if streams is not None else None
        if link is None:
            return
        heard, token = link.last_data, link.token
        self.stall_looks += 1

        def still_silent() -> bool:
            return self._streams is streams and link.token == token and link.up and link.last_data == heard

        try:
            missed = await self._missed_pushes()
            if missed:
                await asyncio.sleep(self.settings.private_confirm_s)  # a push in flight lands meanwhile
                if not still_silent():
                    return
                missed = await self._missed_pushes()
        except VenueError as e:
            log.info("private stream look: REST read failed (%s); next look later", e)
            return
        except Exception:  # noqa: BLE001 - a bad reply must not end the watch
            log.warning("private stream look failed; next look later", exc_info=True)
            return
        if not missed or not still_silent():
            return
        silence = time.monotonic() - heard
        streams.replace("private", f"stalled: silent {silence:.1f} s while Bybit shows {'; '.join(missed)}")
