"""Pure pieces of the cockpit: number/time formatting, the gap gauge, the braille chart, the
status line, the log appender. No app needed."""

from __future__ import annotations

import pytest
from rich.color import Color, ColorSystem

from core.model import Mode, Side, TradingState
from core.state import LogLine
from tui import fmt, theme
from tui.panes.chart import HLine, Series, braille_lines, chart_text, y_range
from tui.panes.decision import body, headline
from tui.panes.delta import gauge_scale_text, gauge_text
from tui.panes.log import log_text, new_lines
from tui.panes.status import status_text


# ------------------------------------------------------------------ fmt
@pytest.mark.parametrize("x, dp, sign, out", [
    (1234.5, 2, False, "1,234.50"),
    (0.0153, 6, True, "+0.015300"),
    (-0.0271, 4, True, "-0.0271"),
    (0.0, 2, True, " 0.00"),
    (-0.0000001, 2, True, " 0.00"),
    (None, 2, False, "—"),
])
def test_num(x, dp, sign, out):
    assert fmt.num(x, dp, sign=sign) == out


@pytest.mark.parametrize("s, out", [("60012.50", "60,012.50"), ("0.012000", "0.012000"), ("0", "0"), ("oops", "oops")])
def test_dec_str_keeps_the_exact_digits(s, out):
    assert fmt.dec_str(s) == out


@pytest.mark.parametrize("seconds, out", [
    (4.2, "4.2s"), (12, "12s"), (60, "1m00s"), (125, "2m05s"), (3600 * 2 + 13 * 60, "2h13m"), (86400 * 3 + 3600 * 4, "3d04h"),
    (-5, "-5.0s"), (None, "—"),
])
def test_duration(seconds, out):
    assert fmt.duration(seconds) == out


def test_times_are_utc_from_ts_ms():
    assert fmt.utc_time(1_717_243_200_000) == "12:00:00"
    assert fmt.utc_datetime(1_717_243_200_000 + 3_723_000) == "2024-06-01 13:02:03"
    assert fmt.utc_time(0) == "--:--:--"


def test_split_symbol():
    assert fmt.split_symbol("BTCUSDT") == ("BTC", "USDT")
    assert fmt.split_symbol("ETHUSDC") == ("ETH", "USDC")
    assert fmt.split_symbol("XYZ") == ("XYZ", "quote")


@pytest.mark.parametrize("gap, level", [(0.0, "ok"), (0.0104, "ok"), (-0.0105, "soft"), (0.026, "soft"), (-0.03, "hard")])
def test_gap_level(gap, level):
    assert fmt.gap_level(gap, 0.0105, 0.02625) == level


def test_gap_level_without_thresholds_is_ok():
    assert fmt.gap_level(5.0, 0.0, 0.0) == "ok"


# ------------------------------------------------------------------ gauge
def test_gauge_marks_soft_and_hard_and_fills_by_level():
    t = gauge_text(0.0, 0.01, 0.02, 26)  # top = 0.026 -> soft at 10, hard at 20
    assert t.plain[10] == "┊" and t.plain[20] == "┃"
    assert "█" not in t.plain
    half = gauge_text(0.013, 0.01, 0.02, 26)
    assert half.plain.startswith("█" * 13)
    assert half.spans[0].style == theme.WARN  # past soft: yellow
    full = gauge_text(-1.0, 0.01, 0.02, 26)
    assert full.plain.endswith("▶")  # off the scale
    assert full.spans[0].style == theme.BAD


def test_gauge_scale_labels_fit():
    t = gauge_scale_text(0.0105, 0.02625, 34, 6)
    assert "soft 0.010500" in t.plain and "hard 0.026250" in t.plain
    assert len(t.plain) == 34


# ------------------------------------------------------------------ chart
def test_braille_line_goes_up_to_the_right():
    lines = braille_lines([Series((1.0, 2.0, 3.0, 4.0), "#ffffff")], [], 2, 2, y_lo=1.0, y_hi=4.0)
    assert len(lines) == 2
    top, bottom = lines[0].plain, lines[1].plain
    assert top[0] == " " and bottom[0] != " "  # rising: starts low on the left...
    assert top[1] != " "  # ...ends high on the right
    # the newest point is the top-right dot of the last cell (dot column 1, dot row 0 -> bit 0x08)
    assert ord(top[1]) & 0x08
    assert all(0x2800 <= ord(c) <= 0x28FF for c in top + bottom if c != " ")


def test_chart_has_axis_labels_and_reference_lines():
    s = Series(tuple(60_000 + i for i in range(100)), "#ffffff")
    t = chart_text([s], [HLine(60_050.0, "#00ff00"), HLine(None, "#ff0000")], 40, 6)
    lines = t.plain.split("\n")
    assert len(lines) == 6 and all(len(line) <= 40 for line in lines)
    assert "60,10" in lines[0] and "59,99" in lines[-1]


def test_chart_without_data():
    assert "no price history" in chart_text([Series((), "#fff")], [], 40, 6).plain


def test_far_reference_line_does_not_squash_the_range():
    lo, hi = y_range([Series((100.0, 101.0), "#fff")], [HLine(500.0, "#fff")])
    assert hi < 110


# ------------------------------------------------------------------ status line
def test_status_text_mainnet_and_fit(fakes):
    s = fakes.make_state(venue="mainnet", mode=Mode.AUTO, trading_state=TradingState.PAUSED)
    for width in (80, 160):
        t = status_text(s, width)
        assert t.cell_len == width
        assert "MAINNET" in t.plain and "AUTO" in t.plain and "PAUSED" in t.plain
    badge = next(sp for sp in status_text(s, 160).spans if sp.style == theme.BADGE_VENUE["mainnet"])
    assert "MAINNET" in status_text(s, 160).plain[badge.start:badge.end]


def test_status_text_long_halt_reason_is_cut_not_wrapped(fakes):
    s = fakes.make_state(trading_state=TradingState.HALTED, halt_reason="x" * 300)
    t = status_text(s, 80)
    assert t.cell_len == 80 and "\n" not in t.plain
    assert t.plain.rstrip().endswith("13:02:03Z")


def test_status_text_before_first_snapshot():
    assert "waiting" in status_text(None, 80).plain


# ------------------------------------------------------------------ decision card
def test_decision_card_prefers_the_proposal(fakes):
    s = fakes.make_state(proposal=fakes.make_proposal())
    assert "0.015000" in headline(s).plain and "59,987.95" in headline(s).plain
    b = body(s).plain
    assert "fee≈ 0.90" in b and "+0.108300" in b and "PASS" in b and "+0.30" in b


def test_decision_card_hold(fakes):
    from core.model import Action

    s = fakes.make_state(decision=fakes.make_decision(action=Action.HOLD, side=None))
    assert "HOLD" in headline(s).plain
    assert "no decision yet" in headline(fakes.make_state(decision=None)).plain


# ------------------------------------------------------------------ log
def test_log_text_is_never_markup():
    t = log_text(LogLine(1_717_243_200_000, "error", "[/] bad [bold"))
    assert t.plain.endswith("[/] bad [bold")
    assert "ERROR" in t.plain


def test_new_lines_by_identity_and_value():
    a, b, c = (LogLine(i, "info", str(i)) for i in range(3))
    assert new_lines((a, b), None) == ((a, b), False)
    assert new_lines((a, b, c), b) == ((c,), False)
    assert new_lines((a, b, c), LogLine(1, "info", "1")) == ((c,), False)  # equal, not identical
    assert new_lines((c,), a) == ((c,), True)  # window moved past: rebuild


# ------------------------------------------------------------------ sides
def test_side_styles():
    assert fmt.side_style(Side.BUY) == theme.BUY and fmt.side_style(Side.SELL) == theme.SELL
    assert fmt.side_text(None).plain == "—"


# ------------------------------------------------------------------ 16 colours
NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white", "bright_black", "bright_red",
         "bright_green", "bright_yellow", "bright_blue", "bright_magenta", "bright_cyan", "bright_white"]


def ansi16(hex_color: str) -> str:
    return NAMES[Color.parse(hex_color).downgrade(ColorSystem.STANDARD).number]


def test_palette_keeps_its_meaning_in_16_colours():
    assert ansi16(theme.BG) == "black" and ansi16(theme.SURFACE) == "black"
    assert ansi16(theme.BORDER) == "bright_black"  # pane borders stay visible on black
    assert ansi16(theme.GREEN).endswith("green")
    assert ansi16(theme.YELLOW).endswith("yellow")
    assert ansi16(theme.RED).endswith("red")
    assert ansi16(theme.BG_MAINNET_BAR) == "red"  # the whole status bar on mainnet


def test_badges_are_distinct_in_16_colours():
    states = {k: ansi16(str(v.bgcolor.name if v.bgcolor.triplet is None else v.bgcolor.triplet.hex)) for k, v in theme.BADGE_STATE.items()}
    assert len(set(states.values())) == 3
    assert states["HALTED"].endswith("red") and states["ACTIVE"].endswith("green")
    modes = {k: ansi16(v.bgcolor.triplet.hex) for k, v in theme.BADGE_MODE.items()}
    assert len(set(modes.values())) == 3
    venues = {k: ansi16(v.bgcolor.triplet.hex) for k, v in theme.BADGE_VENUE.items()}
    assert len(set(venues.values())) == 4
    # the mainnet badge is red text on a white block, on the red bar
    assert ansi16(theme.BADGE_VENUE["mainnet"].color.triplet.hex) == "red"
    # gap levels
    levels = {k: ansi16(v.color.triplet.hex) for k, v in fmt.LEVEL_STYLE.items()}
    assert len(set(levels.values())) == 3


# ------------------------------------------------------------------ screenshot helper
def test_save_svg_helper(fakes, tmp_path):
    from tui.screenshot import save_svg

    engine = fakes.FakeEngine(fakes.make_state(venue="mainnet"))
    out = save_svg(engine, tmp_path / "shots" / "cockpit.svg", size=(80, 24), settle_s=0.1)
    svg = out.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg") and "BTCUSDT" in svg and "MAINNET" in svg
    assert engine.shutdown_calls == [False]  # the engine is stopped, our orders kept
