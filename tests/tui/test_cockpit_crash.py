"""An exception anywhere in the cockpit shuts the session down as a crash (issue 16): the journal's
``session`` row says crashed (with the exception), the log file has the traceback, and our orders
are handled as on a quit that cancels them — on the real app over a real paper session."""

from __future__ import annotations

import sqlite3

import pytest

from core.session import Environment, build_session
from tests.builders import build_config
from tui.app import CockpitApp
from tui.screens.main import CockpitScreen


class Injected(RuntimeError):
    pass


def _session_rows(tmp_path) -> list[tuple[str, str]]:
    (path,) = (tmp_path / "journals").glob("*.sqlite")
    with sqlite3.connect(path) as db:
        return db.execute("SELECT value, reason FROM states WHERE kind = 'session' ORDER BY id").fetchall()


async def _run_until_crash(tmp_path, crash) -> CockpitApp:
    session = build_session(build_config(mode="semi"), Environment(data_dir=tmp_path))
    log_path = tmp_path / "logs" / "rebalancer.log"
    app = CockpitApp(session.engine, log_path=log_path, bell=False)
    with pytest.raises(Injected):
        async with app.run_test(size=(80, 24)) as pilot:
            await session.engine.started.wait()
            await crash(app, pilot)
            await app._exception_event.wait()
    return app


@pytest.mark.parametrize("where", ["key handler", "timer", "stylesheet"])
async def test_an_exception_in_the_ui_is_a_crash_in_the_journal_and_the_log(tmp_path, monkeypatch, where):
    async def crash(app, pilot):
        if where == "key handler":
            def boom(self):
                raise Injected("injected in a key handler")
            monkeypatch.setattr(CockpitScreen, "action_help", boom)
            await pilot.press("question_mark")
        elif where == "timer":
            def boom():
                raise Injected("injected in a timer")
            app.set_timer(0.01, boom)
        else:
            def boom(self):
                raise Injected("injected while rendering the theme")
            monkeypatch.setattr(CockpitApp, "get_css_variables", boom)
            app.theme = "textual-dark"

    app = await _run_until_crash(tmp_path, crash)
    assert app.return_code == 1 and app.shutdown_done
    rows = _session_rows(tmp_path)
    assert rows[0][0] == "started"
    value, reason = rows[-1]
    assert value == "crashed", rows
    assert "Injected" in reason and "orders cancelled (" in reason  # as a quit that cancels our orders
    text = (tmp_path / "logs" / "rebalancer.log").read_text()
    assert "the cockpit crashed" in text and "Traceback (most recent call last)" in text
    assert "Injected: injected" in text
