"""Text that fits its box at any width: wrapped at words, and ending in "…" when it must stop.

A pane does not know its width when it builds its text (80 or 200 columns, a resize later), so
these are Rich renderables laid out when drawn, at the width they get: ``Clamp`` wraps a text
at words into at most ``max_lines`` lines, the last one ending in "…" at a word boundary when
more was left; ``Rows`` lays out rows of labelled items (``gap +0.0153 BTC``, ``soft 0.0105``),
dropping whole items from the end of a row that does not fit, with a "…" saying so, so a
number is never cut in half ("comb -0…").
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

ELLIPSIS = "…"
GAP = "  "  # between the items of a row


def item(*parts: tuple[str, object]) -> Text:
    """One labelled item of a row: (text, style) pairs kept together (never split by a fit)."""
    t = Text(no_wrap=True)
    for text, style in parts:
        t.append(text, style=style)
    return t


def clamp_words(text: Text, width: int, max_lines: int) -> Text:
    """``text`` wrapped at words to ``width``; past ``max_lines`` lines the last one ends in "…"
    after a whole word (a single word longer than the line is cut, with its "…")."""
    width = max(1, width)
    lines = text.wrap(_CONSOLE, width, overflow="fold")
    if len(lines) <= max_lines:
        return Text("\n").join(lines)
    kept = list(lines[:max_lines])
    kept[-1] = _end_at_word(kept[-1], width)
    return Text("\n").join(kept)


def _end_at_word(line: Text, width: int) -> Text:
    line = line.copy()
    line.rstrip()
    plain = line.plain
    if len(plain) + 2 > width:  # room for " …": drop the last word (or cut a lone long one)
        cut = plain.rfind(" ", 0, width - 1)
        line = line[:cut] if cut > 0 else line[: max(0, width - 1)]
        line.rstrip()
    line.append(" " + ELLIPSIS if line.plain else ELLIPSIS)
    return line


def fit_row(items: tuple[Text, ...], width: int) -> Text:
    """The items joined by two spaces; the ones that do not fit are dropped whole from the end,
    and a "…" says so where it fits (a first item wider than the row ends in "…" at a word)."""
    kept: list[Text] = []
    used = 0
    dropped = False
    for item in items:
        add = item.cell_len + (len(GAP) if kept else 0)
        if used + add <= width:
            kept.append(item)
            used += add
            continue
        dropped = True
        break
    if dropped and not kept:  # not even the first item fits: it ends in "…" at a word
        return clamp_words(items[0], width, 1)
    out = Text(no_wrap=True, overflow="crop")
    for n, item in enumerate(kept):
        if n:
            out.append(GAP)
        out.append_text(item)
    if dropped and used + 2 <= width:
        out.append(" " + ELLIPSIS)
    return out


@dataclass(frozen=True)
class Clamp:
    """A text wrapped at words into at most ``max_lines`` lines at the width it is drawn at."""

    text: Text
    max_lines: int = 2

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield clamp_words(self.text, options.max_width, self.max_lines)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)


@dataclass(frozen=True)
class Rows:
    """Rows of items, each row fitted to the width it is drawn at (``fit_row``)."""

    rows: tuple[tuple[Text, ...], ...]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("\n").join(fit_row(row, options.max_width) for row in self.rows)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)

    @property
    def plain(self) -> str:
        return "\n".join("  ".join(i.plain for i in row) for row in self.rows)


_CONSOLE = Console(width=1000, file=None, legacy_windows=False, color_system=None)
