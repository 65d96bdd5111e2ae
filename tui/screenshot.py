"""Save an SVG screenshot of the cockpit running on a given engine (for the README, bug reports).

    from tui.screenshot import save_svg
    save_svg(engine, "docs/cockpit-160x48.svg", size=(160, 48), settle_s=3.0)

The app runs headless at ``size``; the engine runs as usual for ``settle_s`` seconds (give a
paper engine time to produce data), optional keys are pressed, the screen is saved, and the
engine is shut down (keeping its orders) before the app exits. While the cockpit is running,
the command palette's "Screenshot" saves the live screen under the data dir.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from core.state import EngineHost


def save_svg(
    engine: EngineHost,
    path: str | Path,
    *,
    size: tuple[int, int] = (160, 48),
    press: Iterable[str] = (),
    settle_s: float = 0.5,
    title: str | None = None,
    shutdown: bool = True,
) -> Path:
    """Run the cockpit headless on ``engine`` and write one SVG to ``path``; returns the path."""
    from tui.app import CockpitApp

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    app = CockpitApp(engine, bell=False)
    keys = tuple(press)

    async def auto_pilot(pilot) -> None:
        await pilot.pause(settle_s)
        app.poll()
        if keys:
            await pilot.press(*keys)
        await pilot.pause(0.2)
        await pilot.wait_for_scheduled_animations()
        out.write_text(app.export_screenshot(title=title), encoding="utf-8")
        if shutdown:
            try:
                await asyncio.wait_for(engine.shutdown(cancel_orders=False), timeout=10)
            except Exception:  # the screenshot is taken; a failing shutdown must not hide it
                pass
        app.exit()

    app.run(headless=True, size=size, auto_pilot=auto_pilot)
    return out
