"""The cockpit's chart widget: draws ``tui.braille`` text at a bounded rate, only while shown."""

from __future__ import annotations

import math
import time
from typing import Sequence

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tui.braille import HLine, Series, braille_lines, chart_text, y_range

__all__ = ["BrailleChart", "HLine", "Series", "braille_lines", "chart_text", "y_range"]


class BrailleChart(Widget):
    """Draws the latest data at most once per ``min_interval`` seconds, only while shown."""

    DEFAULT_CSS = "BrailleChart { height: 1fr; min-height: 3; }"

    def __init__(self, *, min_interval: float = 1.0, id: str | None = None, label_style: Style | None = None) -> None:
        super().__init__(id=id)
        self.min_interval = min_interval
        self.label_style = label_style
        self._series: tuple[Series, ...] = ()
        self._hlines: tuple[HLine, ...] = ()
        self._last_draw = -math.inf
        self._pending = False
        self._cache: tuple[object, Text] | None = None
        self.draws = 0

    def set_data(self, series: Sequence[Series], hlines: Sequence[HLine]) -> None:
        series, hlines = tuple(series), tuple(hlines)
        if series == self._series and hlines == self._hlines:
            return
        self._series, self._hlines = series, hlines
        self._schedule()

    def _schedule(self) -> None:
        if self._pending:
            return
        wait = self.min_interval - (time.monotonic() - self._last_draw)
        if wait <= 0:
            self.refresh()
        else:
            self._pending = True
            self.set_timer(wait, self._fire)

    def _fire(self) -> None:
        self._pending = False
        self.refresh()

    def render(self) -> Text:
        key = (self._series, self._hlines, self.size)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        if self._series:
            self._last_draw = time.monotonic()
            self.draws += 1
        text = chart_text(self._series, self._hlines, self.size.width, self.size.height, label_style=self.label_style)
        self._cache = (key, text)
        return text
