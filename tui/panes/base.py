"""The common shape of a pane: it is handed snapshots and renders only what changed.

``show_state`` is called by the screen at the poll rate. A pane that is not displayed (a
hidden page at 80 columns) keeps the snapshot and renders it when it is shown again, so
hidden panes cost nothing. ``key`` picks the part of the snapshot the pane depends on; when
that part is unchanged the pane does nothing (no refresh, no terminal output).
"""

from __future__ import annotations

import logging
from typing import Any

from textual import events
from textual.containers import Vertical

from core.state import CockpitState

log = logging.getLogger("tui")


class Pane(Vertical):
    """A bordered box with a title; subclasses implement ``key`` and ``render_state``."""

    TITLE = ""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=("pane " + (classes or "")).strip())
        self.border_title = self.TITLE
        self._state: CockpitState | None = None
        self._key: Any = object()
        self._stale = False

    # ------------------------------------------------------------------ called by the screen
    def show_state(self, state: CockpitState) -> None:
        self._state = state
        if not self.display:
            self._stale = True
            return
        self._render_if_changed(state)

    def _render_if_changed(self, state: CockpitState) -> None:
        key = self.key(state)
        if key == self._key:
            return
        self.render_state(state)
        self._key = key
        self._stale = False

    def on_show(self, event: events.Show) -> None:
        if self._stale and self._state is not None:
            try:
                self._render_if_changed(self._state)
            except Exception:  # never let a pane take the app down
                log.exception("pane %s failed to render on show", self.id)

    # ------------------------------------------------------------------ to implement
    def key(self, state: CockpitState) -> Any:
        """The slice of the snapshot this pane depends on (compared with ==)."""
        return state

    def render_state(self, state: CockpitState) -> None:
        raise NotImplementedError
