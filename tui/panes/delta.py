"""Net delta: the number the trader looks at first -- the gap, against the thresholds.

Big colour-coded digits for the gap (green under soft, yellow past soft, red past hard), a
gauge of |gap| with soft and hard marks, the gap history as a sparkline, then net base and
quote and the target. Thresholds are the *effective* ones (after bias) from the snapshot.
"""

from __future__ import annotations


from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Digits, Sparkline, Static

from core.state import CockpitState
from tui import fmt, theme
from tui.panes.base import Pane, set_content

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
    # one span per run of equal style (not one per cell): a 34-cell gauge has ~4 spans, and
    # Textual's cost to paint a line grows with its number of spans
    t = Text(no_wrap=True)
    run: list[str] = []
    run_style = None
    for ch, st in cells:
        if st is not run_style and run:
            t.append("".join(run), style=run_style)  # type: ignore[arg-type]
            run = []
        run_style = st
        run.append(ch)
    if run:
        t.append("".join(run), style=run_style)  # type: ignore[arg-type]
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
        if self.scale:  # the scale shows the thresholds only: a new gap does not repaint it
            gap = self.values[0]
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
    """The gap history: repainted about once a second at most, only when the bars would look
    different, and preferably in a frame that is being drawn anyway.

    ``offer`` is called on every poll the pane is shown. A new history waits until
    ``min_interval_ms`` of snapshot time has passed since the last repaint; it is then shown
    with the next repaint of the net delta (``riding=True``: the frame that is drawn anyway), or
    once it has waited ``max_wait_ms`` if the net delta does not change meanwhile. No timer.
    """

    def __init__(self, *, id: str | None = None, min_interval_ms: int = 800, max_wait_ms: int = 1000) -> None:
        super().__init__([], id=id)
        self.min_interval_ms = min_interval_ms
        self.max_wait_ms = max_wait_ms
        self._offered: tuple[float, ...] | None = None
        self._since_ms: int | None = None  # snapshot time the offered history has been waiting since
        self._flushed_ms: int | None = None
        self._flushed: tuple[float, ...] = ()  # the history as of the last flush (shown or equal-looking)
        self._visual: tuple | None = None
        self.repaints = 0  # tests / diagnostics

    def offer(self, history: tuple[float, ...], ts_ms: int, *, riding: bool) -> None:
        if self._offered is None or (history is not self._offered and history != self._offered):
            self._offered = history
            if self._since_ms is None:
                self._since_ms = ts_ms
        if self._since_ms is None:
            return  # nothing new
        if self._flushed_ms is not None:
            if ts_ms - self._flushed_ms < self.min_interval_ms:
                return
            if not riding and ts_ms - self._since_ms < self.max_wait_ms:
                return
        self._since_ms = None
        self._flushed_ms = ts_ms
        self._flushed = history
        key = self._visual_key(history)
        if key != self._visual:  # e.g. one more equal value on a flat history changes nothing
            self._visual = key
            self.repaints += 1
            self.data = list(history)

    def on_resize(self) -> None:
        # the key depends on the size: at the new size, draw the latest history for sure
        self._visual = None
        if list(self._flushed) != list(self.data or []):
            self.data = list(self._flushed)

    def _visual_key(self, data: tuple[float, ...]) -> tuple:
        """What the bars depend on: size, range and the maximum of each bucket (as Textual's
        ``Sparkline`` renderable partitions the data, with the widget's ``max`` summary)."""
        w, h = self.size.width, self.size.height
        n = len(data)
        if n < 2 or w <= 0:
            return (w, h, n, tuple(data))
        bounds = [(n * b) // w for b in range(w + 1)]
        maxima = tuple(max(data[a:z]) for a, z in zip(bounds, bounds[1:]) if z > a)
        return (w, h, min(data), max(data), maxima)


class DeltaPane(Pane):
    TITLE = "Net delta"

    def compose(self) -> ComposeResult:
        yield Static(id="delta-head")
        yield Digits("", id="gap-digits")
        yield GapGauge(id="gap-gauge")
        yield GapGauge(id="gap-scale", scale=True)
        yield GapSparkline(id="gap-spark")
        yield Static(id="delta-net")

    def on_mount(self) -> None:
        # looked up once (a DOM query per poll is not free)
        self._head = self.query_one("#delta-head", Static)
        self._digits = self.query_one("#gap-digits", Digits)
        self._gauge = self.query_one("#gap-gauge", GapGauge)
        self._scale = self.query_one("#gap-scale", GapGauge)
        self._spark = self.query_one("#gap-spark", GapSparkline)
        self._net = self.query_one("#delta-net", Static)

    def show_state(self, state: CockpitState) -> bool:
        rendered = super().show_state(state)
        if not rendered and self.display:  # the history is not part of the key: offer it anyway
            self._spark.offer(state.gap_history, state.ts_ms, riding=False)
        return rendered

    def key(self, s: CockpitState):
        d = s.decision
        return (
            s.symbol, s.net_base, s.net_quote, s.target_base, s.gap_base, s.effective_soft,
            s.effective_hard, s.threshold_unit, s.gap_in_unit,
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
        set_content(self._head, head, fixed=True)

        digits = self._digits
        value = fmt.num(s.gap_in_unit, dp, sign=True, group=False).strip()
        if value != digits.value:
            digits.update(value)  # re-measures (layout) only when the number of digits changes
        for lv in ("ok", "soft", "hard"):
            digits.set_class(lv == level, f"-{lv}")

        self._gauge.set_values(s.gap_in_unit, s.effective_soft, s.effective_hard, dp)
        self._scale.set_values(s.gap_in_unit, s.effective_soft, s.effective_hard, dp)
        self._spark.offer(s.gap_history, s.ts_ms, riding=True)  # this frame is drawn anyway

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
        set_content(self._net, net, fixed=True)
