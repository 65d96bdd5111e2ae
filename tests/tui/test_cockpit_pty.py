"""The cockpit in a real pseudo-terminal, as over SSH: 80x24, 16 colours, keyboard only.

Starts ``run_fake_cockpit.py`` under pexpect with ``TEXTUAL_COLOR_SYSTEM=standard`` (what
``TERM=screen`` gives), feeds its output to a pyte screen and reads it back: the panes are there,
every colour on screen is one of the 16 ANSI colours (no 256-colour or truecolor codes), the
MAINNET bar is red, and quitting from the keyboard shuts the engine down first.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

RUNNER = Path(__file__).with_name("run_fake_cockpit.py")
ANSI16 = {"default", "black", "red", "green", "brown", "blue", "magenta", "cyan", "white"} | {
    f"bright{c}" for c in ("black", "red", "green", "brown", "yellow", "blue", "magenta", "cyan", "white")
}


def _pump(child, stream, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data = child.read_nonblocking(65536, timeout=0.1)
        except pexpect.TIMEOUT:
            continue
        except pexpect.EOF:
            return
        stream.feed(data)


def _wait_for(child, stream, screen, text: str, seconds: float = 15.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        _pump(child, stream, 0.2)
        if text in "\n".join(screen.display):
            return True
    return False


@pytest.fixture
def cockpit(tmp_path):
    env = {**os.environ, "TERM": "xterm", "TEXTUAL_COLOR_SYSTEM": "standard", "COLUMNS": "80", "LINES": "24"}
    env.pop("NO_COLOR", None)
    log_file = tmp_path / "cockpit.log"
    child = pexpect.spawn(sys.executable, [str(RUNNER), "mainnet", "semi", str(log_file)], env=env,
                          dimensions=(24, 80), encoding="utf-8", codec_errors="replace", timeout=20)
    screen = pyte.Screen(80, 24)
    stream = pyte.Stream(screen)
    try:
        yield child, screen, stream, log_file
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_80x24_in_16_colours_and_quit_from_the_keyboard(cockpit):
    child, screen, stream, log_file = cockpit
    assert _wait_for(child, stream, screen, "KILL"), "\n".join(screen.display)
    _pump(child, stream, 1.0)
    lines = screen.display
    text = "\n".join(lines)
    assert "BTCUSDT" in lines[0] and "MAINNET" in lines[0] and "SEMI" in lines[0]
    assert "PROPOSAL #42" in text and "Net delta" in text and "1 Orders" in text
    assert lines[-1].lstrip().startswith("k KILL")

    colours = {ch.fg for row in screen.buffer.values() for ch in row.values()}
    colours |= {ch.bg for row in screen.buffer.values() for ch in row.values()}
    assert colours <= ANSI16, f"non-16-colour codes on screen: {sorted(colours - ANSI16)}"
    top_bg = [screen.buffer[0][x].bg for x in range(80)]
    assert top_bg.count("red") > 40  # the mainnet status bar

    child.send("q")
    assert _wait_for(child, stream, screen, "Quit the rebalancer?")
    child.send("\x1b[C\r")  # right (from "Stay" to "Keep & quit"), then enter: processed in order
    child.expect(r"SHUTDOWN \[False\]")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "shutdown requested (cancel_orders=False, clean quit)" in log_file.read_text()


@pytest.mark.parametrize("sig", ["SIGHUP", "SIGTERM"])
def test_a_hangup_stops_the_cockpit_like_a_quit_that_cancels(cockpit, sig):
    """An SSH drop without tmux (or closing the terminal) sends SIGHUP: nobody is left to answer
    the quit dialog, so the cockpit stops as a cancelling quit would, within 5 s."""
    import signal

    child, screen, stream, log_file = cockpit
    assert _wait_for(child, stream, screen, "KILL"), "\n".join(screen.display)
    t0 = time.monotonic()
    child.kill(getattr(signal, sig))
    child.expect(r"SHUTDOWN \[True\]", timeout=5)
    child.expect(pexpect.EOF, timeout=5)
    assert time.monotonic() - t0 < 5.0
    child.close()
    assert child.exitstatus == 0 and child.signalstatus is None  # handled, not killed by the signal
    assert f"shutdown requested (cancel_orders=True, {sig} received)" in log_file.read_text()


def test_disabled_footer_keys_are_struck_through_in_16_colours(tmp_path):
    """Watch mode: approve, skip and force do nothing. In 16 colours a dimmed key can be the very
    colour of an enabled one; the terminal's strike-through attribute says it whatever the palette."""
    env = {**os.environ, "TERM": "screen", "TEXTUAL_COLOR_SYSTEM": "standard", "COLUMNS": "80", "LINES": "24"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(sys.executable, [str(RUNNER), "paper", "watch"], env=env, dimensions=(24, 80),
                          encoding="utf-8", codec_errors="replace", timeout=20)
    screen = pyte.Screen(80, 24)
    stream = pyte.Stream(screen)
    try:
        assert _wait_for(child, stream, screen, "KILL"), "\n".join(screen.display)
        _pump(child, stream, 0.5)
        footer = screen.buffer[23]
        line = screen.display[23]

        def struck(label: str) -> bool:
            x = line.index(label)
            return all(footer[i].strikethrough for i in range(x, x + len(label)))

        assert struck("Approve") and struck("Skip") and struck("Force")
        assert not struck("KILL") and not struck("Pause") and not struck("Mode") and not struck("Quit")
    finally:
        child.terminate(force=True)
