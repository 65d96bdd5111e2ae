"""A modal screen that closes once, and only while it is on top.

Keys arrive faster than screens change: ``m`` Enter Enter (or ``f`` → Enter Enter) hands a
dialog two "selected" / "pressed" messages before its first dismiss has been processed.
Textual's ``dismiss`` pops whatever screen is on top each time, so the second one popped the
cockpit itself (``ScreenStackError``: the app died) or a dialog the first answer had just
opened. Every cockpit dialog derives from ``OnceModal``: a second dismiss, or a dismiss of a
dialog that is not the top screen, does nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class OnceModal(ModalScreen[ResultType]):
    _answered = False  # (not ``_closed``: that name is the message pump's own)

    @property
    def answered(self) -> bool:
        """True once the dialog has given its answer (the answer counts once)."""
        return self._answered

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if self._answered or not self.is_active:
            return AwaitComplete()  # already answered, or not the screen on top: nothing to pop
        self._answered = True
        return super().dismiss(result)
