"""The common shape of a pane: it is handed snapshots and renders only what changed.

``show_state`` is called by the screen at the poll rate. A pane that is not displayed (a
hidden page at 80 columns) keeps the snapshot and renders it when it is shown again, so
hidden panes cost nothing. ``key`` picks the part of the snapshot the pane depends on; when
that part is unchanged the pane does nothing (no refresh, no terminal output).

Inside a pane that did change, ``set_content`` updates a ``Static`` only when its text really
changed, and asks Textual for a layout pass only when the widget's height can have changed
(a relayout reflows and repaints the whole screen; a plain refresh repaints one widget).
``set_title`` does the same for border titles (setting one always repaints the pane).
"""

from __future__ import annotations

import logging
from typing import Any

from rich.text import Text
from textual import events
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from core.state import CockpitState

log = logging.getLogger("tui")


_UNSET = object()


def set_content(widget: Static, content: Any, *, fixed: bool = False, size: Any = _UNSET) -> bool:
    """``widget.update(content)`` only if ``content`` differs from what it shows; True if updated.

    Layout: ``fixed=True`` for a widget whose size does not depend on its content (its height
    is set in CSS and it fills the pane's width). Otherwise ``size`` is whatever determines the
    widget's size (by default, for a ``Text``, its number of lines: the cockpit's Statics do not
    wrap, see app.tcss) and a layout pass is requested only when it changed. A content that
    cannot be compared (a rich ``Table``) is always updated.
    """
    last = getattr(widget, "_pane_content", _UNSET)
    if last is not _UNSET and type(last) is type(content) and last == content:
        return False
    if fixed:
        layout = False
    else:
        if size is _UNSET:
            size = content.plain.count("\n") + 1 if isinstance(content, Text) else object()
        layout = size != getattr(widget, "_pane_size", _UNSET)
        widget._pane_size = size  # type: ignore[attr-defined]
    widget._pane_content = content  # type: ignore[attr-defined]
    widget.update(content, layout=layout)
    return True


def set_title(widget: Widget, title: str | None = None, subtitle: str | None = None) -> None:
    """Set border title / subtitle only when they change (each assignment repaints the widget)."""
    if title is not None and widget.border_title != title:
        widget.border_title = title
    if subtitle is not None and widget.border_subtitle != subtitle:
        widget.border_subtitle = subtitle


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
    def show_state(self, state: CockpitState) -> bool:
        """Keep ``state``; render it if shown and changed. True if the pane re-rendered."""
        self._state = state
        if not self.display:
            self._stale = True
            return False
        return self._render_if_changed(state)

    def _render_if_changed(self, state: CockpitState) -> bool:
        key = self.key(state)
        if key == self._key:
            return False
        self.render_state(state)
        self._key = key
        self._stale = False
        return True

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
