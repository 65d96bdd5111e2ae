"""The cockpit's colours: one calm dark palette, chosen so that it survives 16 colours.

Every colour here is a hex value that Rich downgrades to a *distinct, meaningful* ANSI colour
when the terminal only has 16 (``TERM=screen`` over SSH, or ``TEXTUAL_COLOR_SYSTEM=standard``):
backgrounds fall to black, pane borders to bright black, green/yellow/red stay green/yellow/red,
the MAINNET badge stays red. ``tests/tui/test_colours.py`` checks that mapping, so a colour
change that would make two states look alike in 16 colours fails a test.
"""

from __future__ import annotations

from rich.style import Style
from textual.theme import Theme

# ------------------------------------------------------------------ palette (hex)
BG = "#0e1117"  # -> black
SURFACE = "#131a22"  # -> black
PANEL = "#1a2230"  # -> black
BORDER = "#2b3a4f"  # -> bright black
FG = "#c9d1d9"  # -> white
FG_BRIGHT = "#e6edf3"  # -> bright white
MUTED = "#6b7685"  # -> bright black (labels)
GREEN = "#3fb950"  # -> bright green
YELLOW = "#d29922"  # -> yellow
RED = "#f85149"  # -> bright red
BLUE = "#58a6ff"  # -> bright blue
CYAN = "#39c5cf"  # -> cyan
MAGENTA = "#c060c0"  # -> bright magenta

# badge backgrounds (white/black text on top)
BG_RED = "#c62828"  # -> red
BG_GREEN = "#238636"  # -> green
BG_YELLOW = "#9e6a03"  # -> yellow
BG_BLUE = "#1f6feb"  # -> bright blue
BG_CYAN = "#17808a"  # -> cyan
BG_MAGENTA = "#a0409a"  # -> magenta
BG_MAINNET_BAR = "#7f1d1d"  # -> red: the whole status line on mainnet

THEME = Theme(
    name="cockpit",
    primary=BLUE,
    secondary=CYAN,
    accent=MAGENTA,
    warning=YELLOW,
    error=RED,
    success=GREEN,
    foreground=FG,
    background=BG,
    surface=SURFACE,
    panel=PANEL,
    dark=True,
    variables={
        "pane-border": BORDER,
        "pane-title": MUTED,
        "border-blurred": BORDER,
        "footer-background": SURFACE,
        "footer-key-foreground": BLUE,
        "footer-description-foreground": FG,
        "block-cursor-background": PANEL,
        "block-cursor-foreground": FG_BRIGHT,
        "scrollbar": PANEL,
        "scrollbar-hover": BORDER,
        "scrollbar-active": BORDER,
        "scrollbar-background": SURFACE,
    },
)

# the variables app.tcss uses beyond Textual's own, and where a theme that does not define them
# (every built-in one) takes them from: its generated colours, so any theme renders
OWN_VARIABLES = {
    "pane-border": "foreground-disabled",
    "pane-title": "foreground-muted",
}


def with_own_defaults(variables: dict[str, str]) -> dict[str, str]:
    """``variables`` (a theme's generated CSS variables) plus the cockpit's own, where missing."""
    out = dict(variables)
    for name, fallback in OWN_VARIABLES.items():
        if name not in out:
            out[name] = variables.get(fallback, FG)
    return out


# ------------------------------------------------------------------ Rich styles used in panes
LABEL = Style(color=MUTED)
VALUE = Style(color=FG)
STRONG = Style(color=FG_BRIGHT, bold=True)
BOLD = Style(bold=True)
OK = Style(color=GREEN)
WARN = Style(color=YELLOW)
BAD = Style(color=RED)
INFO = Style(color=BLUE)
ACCENT = Style(color=CYAN)
MAG = Style(color=MAGENTA)
BUY = Style(color=GREEN, bold=True)
SELL = Style(color=RED, bold=True)

# badges: (text style) - reverse-video blocks in the status line
BADGE_VENUE = {
    "paper": Style(color=FG_BRIGHT, bgcolor=BG_BLUE, bold=True),
    "testnet": Style(color="#000000", bgcolor=BG_YELLOW, bold=True),
    "demo": Style(color=FG_BRIGHT, bgcolor=BG_CYAN, bold=True),
    # on mainnet the whole bar is red; the badge is inverted on top of it: white block, red text
    "mainnet": Style(color=BG_RED, bgcolor=FG_BRIGHT, bold=True),
}
BADGE_MODE = {
    "auto": Style(color=FG_BRIGHT, bgcolor=BG_MAGENTA, bold=True),
    "semi": Style(color="#000000", bgcolor=BG_YELLOW, bold=True),
    "watch": Style(color=FG_BRIGHT, bgcolor=BG_BLUE, bold=True),
}
BADGE_STATE = {
    "ACTIVE": Style(color=FG_BRIGHT, bgcolor=BG_GREEN, bold=True),
    "PAUSED": Style(color="#000000", bgcolor=BG_YELLOW, bold=True),
    "HALTED": Style(color=FG_BRIGHT, bgcolor=BG_RED, bold=True),
}
LOG_LEVEL = {
    "info": Style(color=FG),
    "trade": Style(color=CYAN),
    "warning": Style(color=YELLOW),
    "error": Style(color=RED, bold=True),
}

# chart series colours
CHART_PRICE = FG_BRIGHT
CHART_EMA_FAST = CYAN
CHART_EMA_SLOW = MAGENTA
CHART_BUY_VWAP = GREEN
CHART_SELL_VWAP = RED
