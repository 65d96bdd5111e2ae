"""Run the cockpit on a FakeEngine in a real terminal.

Used by test_cockpit_pty.py (a pseudo-terminal at 80x24 in 16 colours); also handy by hand:

    python tests/tui/run_fake_cockpit.py [paper|testnet|demo|mainnet] [semi|auto|watch]

On exit it prints ``SHUTDOWN [flags]`` so a test can see what the app asked of the engine.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

spec = importlib.util.spec_from_file_location("cockpit_fakes", HERE / "fakes.py")
assert spec is not None and spec.loader is not None
fakes = importlib.util.module_from_spec(spec)
sys.modules["cockpit_fakes"] = fakes
spec.loader.exec_module(fakes)

from core.model import Mode  # noqa: E402
from tui.app import CockpitApp  # noqa: E402


def main() -> int:
    venue = sys.argv[1] if len(sys.argv) > 1 else "paper"
    mode = Mode(sys.argv[2]) if len(sys.argv) > 2 else Mode.SEMI
    log_path = sys.argv[3] if len(sys.argv) > 3 else None
    engine = fakes.FakeEngine(fakes.make_state(venue=venue, mode=mode, proposal=fakes.make_proposal()))
    app = CockpitApp(engine, log_path=log_path)
    app.run()
    print(f"SHUTDOWN {engine.shutdown_calls} CALLS {engine.calls}", flush=True)
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
