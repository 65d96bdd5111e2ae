"""What the cockpit does *not* do: render a snapshot nothing visible changed in, repaint a line
whose text is the same, reflow the screen for a fixed-size line, draw a chart in a frame of
its own, or poll at full rate while the market is quiet -- and that it still shows every change."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from textual.widgets import Digits, Static

from tui.app import QUIET_AFTER, QUIET_POLL_S, CockpitApp, PollPacer, only_time_moved
from tui.panes.base import set_content
from tui.panes.delta import GapSparkline
from tui.panes.status import StatusBar


async def _started(app, pilot):
    await pilot.pause()
    app.poll()
    await pilot.pause()


# ---------------------------------------------------------------------------- pure parts


def test_only_time_moved(fakes):
    s = fakes.make_state()
    assert only_time_moved(s, replace(s, ts_ms=s.ts_ms + 300))  # same second (NOW is hh:mm:03.000)
    assert not only_time_moved(s, replace(s, ts_ms=s.ts_ms + 1_000))  # the clock shows a new second
    assert not only_time_moved(s, replace(s, ts_ms=s.ts_ms + 300, net_base=0.2))
    with_countdown = replace(s, proposal=fakes.make_proposal(1, expires_in_s=23))
    assert not only_time_moved(with_countdown, replace(with_countdown, ts_ms=s.ts_ms + 300))  # shows tenths


def test_pacer_goes_quiet_only_on_new_snapshots_that_change_nothing():
    p = PollPacer(0.2, quiet=1.0, quiet_after=3)
    # the same snapshot object again and again tells nothing about the market: stay at full rate
    assert [p.next_delay("none") for _ in range(10)] == [0.2] * 10 and not p.quiet
    # a change resets the count; three clock-only snapshots in a row: quiet, once a second
    assert [p.next_delay(o) for o in ("time", "time", "data", "time", "time")] == [0.2] * 5
    assert p.next_delay("time") == 1.0 and p.quiet
    assert p.next_delay("time") == 1.0 and p.next_delay("none") == 1.0
    # quiet: a change is rendered, then one quick look; nothing more -> back to the 1 s cadence
    assert p.next_delay("data") == 0.2 and p.quiet
    assert p.next_delay("time") == pytest.approx(0.8) and p.quiet
    # a change, and another one at the quick look: the market moves -> full rate
    assert p.next_delay("data") == 0.2
    assert p.next_delay("data") == 0.2 and not p.quiet
    # a key press wakes it up from quiet at once
    for _ in range(3):
        p.next_delay("time")
    assert p.quiet
    p.wake()
    assert not p.quiet and p.next_delay("time") == 0.2


async def test_set_content_skips_equal_text_and_relayouts_only_when_the_height_changes():
    from rich.text import Text
    from textual.app import App

    calls = []

    class Spy(Static):
        def update(self, content="", *, layout=True):
            calls.append(layout)
            super().update(content, layout=layout)

    class A(App):
        def compose(self):
            yield Spy(id="s")

    app = A()
    async with app.run_test(size=(40, 6)) as pilot:
        w = app.query_one(Spy)
        assert set_content(w, Text("a")) and calls == [True]  # first time: size unknown
        assert not set_content(w, Text("a")) and calls == [True]  # same text: nothing at all
        assert set_content(w, Text("b")) and calls == [True, False]  # one line -> one line: no reflow
        assert set_content(w, Text("b\nc")) and calls == [True, False, True]  # two lines: reflow
        assert set_content(w, Text("x"), fixed=True) and calls[-1] is False
        await pilot.pause()


# ---------------------------------------------------------------------------- in the app


async def test_a_snapshot_that_only_moved_in_time_is_not_rendered(fakes):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await _started(app, pilot)
        status = app.screen.query_one(StatusBar)
        renders, repaints = app.renders, status.repaints
        engine.push(ts_ms=engine.state.ts_ms + 400)  # same second: nothing visible moved
        app.poll()
        assert app.renders == renders and app.skipped == 1 and status.repaints == repaints
        engine.push(ts_ms=engine.state.ts_ms + 700)  # the clock shows the next second
        app.poll()
        await pilot.pause()
        assert app.renders == renders + 1 and status.repaints == repaints + 1
        assert "13:02:04 UTC" in fakes.screen_text(app).splitlines()[0]
        engine.push(net_base=0.2222)  # data: shown
        app.poll()
        await pilot.pause()
        assert "+0.222200" in fakes.screen_text(app)


async def test_an_unchanged_line_is_not_repainted_and_a_new_value_is(fakes):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await _started(app, pilot)
        head = app.screen.query_one("#delta-head", Static)
        net = app.screen.query_one("#delta-net", Static)
        digits = app.screen.query_one("#gap-digits", Digits)
        head_content, net_content = head._pane_content, net._pane_content
        engine.push(net_base=0.5)  # the net line changes, the gap (head, digits) does not
        app.poll()
        await pilot.pause()
        assert head._pane_content is head_content and net._pane_content is not net_content
        assert digits.value == "+0.015300" and "+0.500000" in fakes.screen_text(app)


async def test_the_sparkline_waits_for_a_frame_that_is_drawn_anyway(fakes):
    engine = fakes.FakeEngine()
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await _started(app, pilot)
        spark = app.screen.query_one(GapSparkline)
        shown = list(spark.data)
        t = engine.state.ts_ms
        hist = engine.state.gap_history
        # a new history but no other change, less than max_wait: not drawn yet
        engine.push(gap_history=hist + (0.03,), ts_ms=t + 900)
        app.poll()
        assert list(spark.data) == shown
        # the net delta changes a bit later: the history rides along in that frame
        engine.push(gap_in_unit=0.0161, gap_base=0.0161, ts_ms=t + 950)
        app.poll()
        await pilot.pause()
        assert list(spark.data) == list(hist + (0.03,))
        # without any other change the history is still shown, after max_wait
        engine.push(gap_history=hist + (0.03, 0.031), ts_ms=t + 2_000)
        app.poll()
        engine.push(ts_ms=t + 3_100)
        app.poll()
        assert list(spark.data) == list(hist + (0.03, 0.031))


def test_the_sparkline_skips_histories_that_look_the_same():
    key = GapSparkline._visual_key
    flat = SimpleSpark(34, 1)
    assert key(flat, (1.0,) * 100) == key(flat, (1.0,) * 101)  # one more equal value: same bars
    assert key(flat, (1.0,) * 100) != key(flat, (1.0,) * 99 + (2.0,))
    assert key(flat, tuple(range(120))) != key(flat, tuple(range(1, 121)))


class SimpleSpark:
    """Just the size, for ``GapSparkline._visual_key``."""

    def __init__(self, width: int, height: int) -> None:
        from textual.geometry import Size

        self.size = Size(width, height)


async def test_quiet_market_polls_once_a_second_and_a_key_brings_full_rate_back(fakes):
    class Ticking(fakes.FakeEngine):
        """Publishes a new snapshot on every poll; only its clock moves (a quiet market)."""

        def latest(self):
            self.state = replace(self.state, ts_ms=self.state.ts_ms + 100)
            self._polled()
            return self.state

    engine = Ticking()
    app = CockpitApp(engine, bell=False, poll_interval=0.1)
    loop = asyncio.get_running_loop()
    async with app.run_test(size=(80, 24)) as pilot:
        # Clock-only snapshots from the timer make the market quiet. Two more polls than that:
        # the first has nothing to compare with, and the mount's own poll may fall in between.
        for _ in range(QUIET_AFTER + 2):
            await engine.polls(1)
            if app.pacer.quiet:
                break
        assert app.pacer.quiet
        await engine.polls(1)
        started = loop.time()
        await engine.polls(1)
        assert loop.time() - started >= 0.9 * QUIET_POLL_S  # ~1 Hz instead of 10 Hz (timers never fire early)
        engine.state = replace(engine.state, net_base=0.3)  # a change still shows up, on the next quiet poll
        await engine.polls(1)
        await pilot.pause()
        assert "+0.300000" in fakes.screen_text(app)
        await pilot.press("p")  # a command: full rate again, at once
        assert not app.pacer.quiet
        assert engine.calls == ["toggle_pause"]


async def test_orders_table_header_follows_the_remeasured_columns():
    """A header line drawn between ``add_row`` and the table's re-measuring must not stay stale.
    (With Textual 8.2.8's plain ``DataTable`` in place of ``OrdersTable`` this test fails.)"""
    from rich.text import Text
    from textual.app import App
    from textual.widgets import DataTable

    from tui.panes.orders import OrdersTable

    cls = OrdersTable

    class A(App):
        CSS = "#t { height: 4; }"  # a fixed size: adding a row does not resize (which would mask it)

        def compose(self):
            yield cls(id="t")

    app = A()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one("#t", DataTable)
        table.add_column("Px", key="px")
        table.add_column("Qty", key="qty")
        await pilot.pause()
        table.add_row(Text("60,011.00"), Text("0.008000"), key="r1")
        header_before = "".join(seg.text for seg in table.render_line(0))  # drawn before re-measuring
        await pilot.pause()
        await pilot.pause()
        header_after = "".join(seg.text for seg in table.render_line(0))
        assert header_after.index("Qty") > header_before.index("Qty")  # the columns widened
