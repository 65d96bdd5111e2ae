"""Log: decisions, fills, errors. Lines are written as ``rich.text.Text`` (never markup), so
exchange text such as ``"[/] bad"`` or ``"[bold"`` is shown literally and cannot crash.

The engine keeps the history (``CockpitState.log`` is its recent window); this pane appends only
the lines it has not written yet, and only while it is shown (a hidden RichLog would queue
every write in memory).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import RichLog

from core.state import CockpitState, LogLine
from tui import fmt, theme
from tui.panes.base import Pane

MAX_LINES = 1000

_LEVEL_TAG = {"info": "info ", "trade": "TRADE", "warning": "WARN ", "error": "ERROR"}


def log_text(line: LogLine) -> Text:
    level = (line.level or "info").lower()
    style = theme.LOG_LEVEL.get(level, theme.VALUE)
    t = Text(no_wrap=False)
    t.append(fmt.utc_time(line.ts_ms), style=theme.LABEL)
    t.append(" ")
    t.append(_LEVEL_TAG.get(level, level[:5].ljust(5)), style=style + theme.BOLD if level != "info" else theme.LABEL)
    t.append(" ")
    t.append(str(line.text), style=style)  # appended as plain text: no markup parsing
    return t


def new_lines(log: tuple[LogLine, ...], last: LogLine | None) -> tuple[tuple[LogLine, ...], bool]:
    """The lines of ``log`` after ``last`` and whether the view must be rebuilt from scratch.

    ``last`` is found by identity first (the engine reuses its LogLine objects), then by value.
    """
    if last is None:
        return log, False
    for i in range(len(log) - 1, -1, -1):
        if log[i] is last:
            return log[i + 1 :], False
    for i in range(len(log) - 1, -1, -1):
        if log[i] == last:
            return log[i + 1 :], False
    return log, True  # the window moved past our last line: redraw it all


class LogPane(Pane):
    TITLE = "Log"

    def compose(self) -> ComposeResult:
        yield RichLog(id="log-view", max_lines=MAX_LINES, markup=False, highlight=False, wrap=True, auto_scroll=True)

    def on_mount(self) -> None:
        self._last: LogLine | None = None

    def key(self, s: CockpitState):
        return s.log[-1] if s.log else None, len(s.log)

    def render_state(self, s: CockpitState) -> None:
        view = self.query_one(RichLog)
        lines, rebuild = new_lines(s.log, self._last)
        if rebuild:
            view.clear()
        for line in lines[-MAX_LINES:]:
            view.write(log_text(line))
        if s.log:
            self._last = s.log[-1]
