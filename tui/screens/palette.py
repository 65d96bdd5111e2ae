"""The command palette, closed for good when it closes.

Textual's palette starts a search for every change of its input and stops it cooperatively.
Keys queued behind the one that closed it (Enter then a letter, Escape then Backspace) still
reach its input and start a fresh search on a palette already leaving the screen; that search
then looks for the palette's list, which is gone, and the exception ends the app (found by the
key storm). ``CockpitPalette`` stops its searches as it closes and starts none afterwards.
"""

from __future__ import annotations

from typing import Any

from textual.await_complete import AwaitComplete
from textual.command import CommandList, CommandPalette


class CockpitPalette(CommandPalette):
    _gone = False

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if self._gone or not self.is_active:
            return AwaitComplete()  # closed already, or not the screen on top: nothing to pop
        self._gone = True
        self._cancel_gather_commands()
        return super().dismiss(result)

    def _gather_commands(self, search_value: str) -> Any:
        if self._gone:
            return None  # a key that arrived after the palette closed: no search
        return super()._gather_commands(search_value)

    def _watch__list_visible(self) -> None:
        if self._gone or not self.query(CommandList):
            return  # the list is gone with the palette
        super()._watch__list_visible()
