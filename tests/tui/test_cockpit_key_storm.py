"""A key storm against the real cockpit (issue 16): thousands of seeded-random keys, in bursts
queued faster than screens change, over every screen and dialog (cockpit, pages, help, mode,
force, AUTO and re-arm confirmations, quit, command palette and what it opens), on a real
paper session. After it the app is alive (no exception, still answering keys, the engine
still running) and the paper venue received no order beyond what was confirmed: the engine is
set never to trade on its own (thresholds out of reach), so each order must belong to a force
dialog whose Send was pressed — at most one rebalance per confirmed dialog.

The default run presses 1,000 keys (about 25 s); ``-m slow`` runs three more seeds of 4,000. A shorter storm
runs over five symbols (``FakePortfolio``: the overview as page 0, symbol keys, per-symbol kill).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import pytest
from textual.widgets import Button

import tui.app
from tui.app import CockpitApp
from tui.screens.confirm import ConfirmScreen, ForceScreen

# every key the cockpit or one of its screens binds, and the ones that move around dialogs
BOUND = ["a", "s", "f", "p", "m", "c", "k", "r", "question_mark", "q", "1", "2", "3", "4", "5", "6",
         "w", "ctrl+p", "ctrl+q", "ctrl+c",
         "0", "left_square_bracket", "right_square_bracket", "x"]  # several symbols (inert with one)
MOVES = ["enter", "escape", "tab", "shift+tab", "left", "right", "up", "down", "space"]
TYPED = ["e", "t", "h", "o", "i", "l", "x", "backspace"]  # letters the palette's search reads
WEIGHTS = {**{k: 2 for k in BOUND}, **{k: 6 for k in MOVES}, **{k: 1 for k in TYPED},
           "k": 1, "ctrl+q": 1, "ctrl+c": 1, "enter": 12, "escape": 8}


class StormCockpit(CockpitApp):
    """The cockpit, except that a confirmed quit is counted instead of ending the storm."""

    CSS_PATH = str(Path(tui.app.__file__).with_name(CockpitApp.CSS_PATH))  # (relative to the class's module)
    quits = 0

    def _quit_chosen(self, choice: str | None) -> None:
        if choice in ("keep", "cancel"):
            self.quits += 1


class Confirmations:
    """What the user confirmed, seen in the messages themselves (not in the app's bookkeeping):
    each force / AUTO dialog whose confirm button was pressed, counted once per dialog."""

    def __init__(self) -> None:
        self.forces: set[int] = set()
        self.autos: set[int] = set()

    def __call__(self, message) -> None:
        if isinstance(message, Button.Pressed) and message.button.id == "confirm":
            screen = message.button.screen
            if isinstance(screen, ForceScreen):
                self.forces.add(id(screen))
            elif isinstance(screen, ConfirmScreen) and screen._title == "Switch to AUTO?":
                self.autos.add(id(screen))


async def _press_storm(app, pilot, press_fast, rng: random.Random, keys: int) -> None:
    """``keys`` keys from ``WEIGHTS`` in random bursts of 1-6, mostly with no pause between bursts;
    the app must be up after each burst. Then Escape until every dialog is gone, and up still."""
    names, weights = list(WEIGHTS), list(WEIGHTS.values())
    sent = 0
    while sent < keys:
        burst = rng.choices(names, weights, k=min(rng.randint(1, 6), keys - sent))
        press_fast(app, *burst)
        sent += len(burst)
        await pilot.pause(0 if rng.random() < 0.7 else 0.02)
        assert app.is_running and app._exception is None, (sent, burst, app._exception)
    for _ in range(12):
        await pilot.press("escape")
    await pilot.pause(0.2)
    assert app.is_running and app._exception is None and app.return_code is None


async def _storm(paper_cockpit, press_fast, tmp_path, seed: int, keys: int) -> None:
    app, session = paper_cockpit(StormCockpit, paper__speed=5.0)
    placed: list[str] = []
    real_place = session.venue.place_order

    async def place_order(request):
        placed.append(request.client_id)
        return await real_place(request)

    session.venue.place_order = place_order
    seen = Confirmations()
    rng = random.Random(seed)
    async with app.run_test(size=(80, 24), message_hook=seen) as pilot:
        await asyncio.wait_for(session.engine.started.wait(), 30)
        await _press_storm(app, pilot, press_fast, rng, keys)
        # alive: no exception, the engine still runs, and the cockpit still answers keys
        assert any(w.group == "engine" and w.is_running for w in app.workers)
        renders = app.renders
        await pilot.press("1")
        await pilot.pause(0.5)
        assert app.renders >= renders
    assert app._exception is None
    # no order beyond what was confirmed: one rebalance (its attempts share an id) per confirmed dialog
    rebalances = {cid.rsplit("-", 1)[0] for cid in placed}
    assert len(rebalances) <= len(seen.forces), (placed, len(seen.forces))
    (journal,) = (tmp_path / "journals").glob("*.sqlite")
    with sqlite3.connect(journal) as db:
        autos = db.execute("SELECT COUNT(*) FROM states WHERE kind = 'mode' AND value = 'auto'").fetchone()[0]
    assert autos <= len(seen.autos)  # AUTO only through its confirmation
    print(f"seed {seed}: {keys} keys, {len(seen.forces)} forces confirmed, {len(rebalances)} rebalances sent, "
          f"{len(seen.autos)} AUTO confirmed, {app.quits} quits confirmed")


async def test_a_storm_of_1000_keys_leaves_the_cockpit_alive_and_sends_only_confirmed_orders(
        paper_cockpit, press_fast, tmp_path):
    await _storm(paper_cockpit, press_fast, tmp_path, seed=16, keys=1_000)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_longer_key_storms(paper_cockpit, press_fast, tmp_path, seed):
    await _storm(paper_cockpit, press_fast, tmp_path, seed=seed, keys=4_000)


async def test_a_storm_over_five_symbols_leaves_the_cockpit_alive(fakes, press_fast, tmp_path):
    """Several symbols (issue 18): the overview page, ``[`` / ``]``, ``x`` and the per-symbol palette
    entries under the same storm; afterwards the cockpit is alive and still moves between symbols."""
    engine = fakes.FakePortfolio()
    app = StormCockpit(engine, bell=False, data_dir=tmp_path)  # a palette Screenshot lands there
    rng = random.Random(18)
    async with app.run_test(size=(80, 24)) as pilot:
        await engine.polls(1)
        await _press_storm(app, pilot, press_fast, rng, 600)
        before = engine.selected
        await pilot.press("right_square_bracket")
        await fakes.until(pilot, lambda: app.state is not None and app.state.symbol != before)
        assert app.ui_errors == 0
    # every call went to one of the five symbols' engines, or to all (kill)
    assert all(c.split(":")[0] in engine.symbols or c in ("kill", "approve") or c.startswith("select:")
               for c in engine.calls), engine.calls
