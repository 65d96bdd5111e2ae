"""Net delta: the number the trader looks at first -- the gap, against the thresholds.

Big colour-coded digits for the gap (green under soft, yellow past soft, red past hard), a
gauge of |gap| with soft and hard marks, the gap history as a sparkline, then net base and
quote and the target. Thresholds are the *effective* ones (after bias) from the snapshot.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Digits, Sparkline, Static

from core.state import CockpitState
from tui import fmt, theme
from tui.panes.base import Pane

_PARTIAL = " ▏▎▍▌▋▊▉█"


def gauge_text(gap: float, soft: float, hard: float, width: int) -> Text:
    """|gap| as a bar of ``width`` cells, with the soft (┊) and hard (┃) thresholds marked."""
    width = max(4, width)
    g = abs(gap)
    top = hard * 1.3 if hard > 0 else (soft * 2 if soft > 0 else (g * 1.2 or 1.0))
    level = fmt.gap_level(gap, soft, hard)
    style = fmt.LEVEL_STYLE[level]
    over = g > top
    eighths = round(min(g, top) / top * width * 8)
    full, part = divmod(eighths, 8)
    cells: list[tuple[str, object]] = []
    for i in range(width):
        if i < full:
            cells.append(("█", style))
        elif i == full and part:
            cells.append((_PARTIAL[part], style))
        else:
            cells.append(("·", theme.LABEL))
    for mark, value, mstyle in (("┊", soft, theme.WARN), ("┃", hard, theme.BAD)):
        if value > 0:
            i = min(width - 1, int(value / top * width))
            if cells[i][0] in ("·", " "):
                cells[i] = (mark, mstyle)
    if over:
        cells[-1] = ("▶", theme.BAD)
    t = Text(no_wrap=True)
    for ch, st in cells:
        t.append(ch, style=st)  # type: ignore[arg-type]
    return t


def gauge_scale_text(soft: float, hard: float, width: int, dp: int) -> Text:
    """The labels under the gauge: "soft" and "hard" values placed under their marks."""
    width = max(4, width)
    top = hard * 1.3 if hard > 0 else (soft * 2 if soft > 0 else 1.0)
    line = [" "] * width
    t = Text(no_wrap=True, overflow="crop")
    spans: list[tuple[int, int, object]] = []
    cursor = 0
    for label, value, style in (("soft", soft, theme.WARN), ("hard", hard, theme.BAD)):
        if value <= 0:
            continue
        text = f"{label} {fmt.num(value, dp, group=False)}"
        pos = min(width - 1, int(value / top * width))
        start = max(cursor, min(pos - len(text) + 1, width - len(text)))
        if start < 0 or start + len(text) > width:
            continue
        line[start : start + len(text)] = list(text)
        spans.append((start, start + len(text), style))
        cursor = start + len(text) + 1
    t.append("".join(line))
    for a, b, st in spans:
        t.stylize(st, a, b)  # type: ignore[arg-type]
    return t


class GapGauge(Widget):
    DEFAULT_CSS = "GapGauge { height: 1; }"

    def __init__(self, *, id: str | None = None, scale: bool = False) -> None:
        super().__init__(id=id)
        self.values = (0.0, 0.0, 0.0, 6)
        self.scale = scale

    def set_values(self, gap: float, soft: float, hard: float, dp: int) -> None:
        if (gap, soft, hard, dp) != self.values:
            self.values = (gap, soft, hard, dp)
            self.refresh()

    def render(self) -> Text:
        gap, soft, hard, dp = self.values
        w = self.size.width
        if self.scale:
            return gauge_scale_text(soft, hard, w, dp)
        return gauge_text(gap, soft, hard, w)


class GapSparkline(Sparkline):
    """The gap history, redrawn at most once per ``min_interval`` seconds (charts are ~1 Hz)."""

    def __init__(self, *, id: str | None = None, min_interval: float = 1.0) -> None:
        super().__init__([], id=id)
        self.min_interval = min_interval
        self._pending: tuple[float, ...] | None = None
        self._last_set = -1e9
        self._timer_armed = False

    def set_history(self, history: tuple[float, ...]) -> None:
        self._pending = history
        wait = self.min_interval - (time.monotonic() - self._last_set)
        if wait <= 0:
            self._flush()
        elif not self._timer_armed:
            self._timer_armed = True
            self.set_timer(wait, self._flush)

    def _flush(self) -> None:
        self._timer_armed = False
        if self._pending is None:
            return
        self.data = list(self._pending)
        self._pending = None
        self._last_set = time.monotonic()


class DeltaPane(Pane):
    TITLE = "Net delta"

    def compose(self) -> ComposeResult:
        yield Static(id="delta-head")
        yield Digits("", id="gap-digits")
        yield GapGauge(id="gap-gauge")
        yield GapGauge(id="gap-scale", scale=True)
        yield GapSparkline(id="gap-spark")
        yield Static(id="delta-net")

    def key(self, s: CockpitState):
        d = s.decision
        return (
            s.symbol, s.net_base, s.net_quote, s.target_base, s.gap_base, s.effective_soft,
            s.effective_hard, s.threshold_unit, s.gap_in_unit, s.gap_history,
            d.side if d else None, d.action if d else None, d.base_soft if d else None,
            d.base_hard if d else None, d.bias.scale if d else None,
        )

    def render_state(self, s: CockpitState) -> None:
        base, quote = fmt.split_symbol(s.symbol)
        unit = s.threshold_unit
        unit_label = base if unit == "base" else unit.upper()
        dp = fmt.qty_dp(unit)
        level = fmt.gap_level(s.gap_in_unit, s.effective_soft, s.effective_hard)

        head = Text(no_wrap=True, overflow="ellipsis")
        head.append("GAP ", style=theme.LABEL)
        head.append(unit_label, style=theme.LABEL)
        head.append("  ")
        head.append(
            {"ok": "within soft", "soft": "past SOFT", "hard": "past HARD"}[level],
            style=fmt.LEVEL_STYLE[level],
        )
        d = s.decision
        if d is not None and d.trades:
            head.append("  → ", style=theme.LABEL)
            head.append_text(fmt.side_text(d.side))
        self.query_one("#delta-head", Static).update(head)

        digits = self.query_one("#gap-digits", Digits)
        digits.update(fmt.num(s.gap_in_unit, dp, sign=True, group=False).strip())
        for lv in ("ok", "soft", "hard"):
            digits.set_class(lv == level, f"-{lv}")

        self.query_one("#gap-gauge", GapGauge).set_values(s.gap_in_unit, s.effective_soft, s.effective_hard, dp)
        self.query_one("#gap-scale", GapGauge).set_values(s.gap_in_unit, s.effective_soft, s.effective_hard, dp)
        self.query_one("#gap-spark", GapSparkline).set_history(s.gap_history)

        # line 1 (always shown): net and target; line 2 (tall layouts): quote value, threshold scale
        net = Text()
        net.append("net ", style=theme.LABEL)
        net.append(fmt.num(s.net_base, 6, sign=True), style=theme.STRONG)
        net.append("  tgt ", style=theme.LABEL)
        net.append(fmt.num(s.target_base, 6, sign=True), style=theme.VALUE)
        net.append(f" {base}", style=theme.LABEL)
        net.append("\n≈ ", style=theme.LABEL)
        net.append(fmt.num(s.net_quote, 2, sign=True), style=theme.VALUE)
        net.append(f" {quote}", style=theme.LABEL)
        if unit != "base":
            net.append("  gap ", style=theme.LABEL)
            net.append(fmt.num(s.gap_base, 6, sign=True), style=theme.VALUE)
            net.append(f" {base}", style=theme.LABEL)
        elif d is not None:
            net.append("  thr ×", style=theme.LABEL)
            net.append(fmt.num(d.bias.scale, 2), style=theme.ACCENT)
            net.append(
                f" of {fmt.num(d.base_soft, dp, group=False)}/{fmt.num(d.base_hard, dp, group=False)}", style=theme.LABEL
            )
        self.query_one("#delta-net", Static).update(net)
