"""Child process of ``cockpit_feed.py``: the real ``CockpitApp`` over the bench's ``FeedHost``.

    python bench/_cockpit_child.py --rate 5000 --seconds 60 --stats /tmp/stats.json

Runs in the pseudo-terminal the parent opens; writes its figures to ``--stats`` when the feed
ends (see ``_cockpit_host.py``), then waits for the parent to quit it from the keyboard.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402,F401  (puts the repository on sys.path)
from _cockpit_host import FeedHost  # noqa: E402

from tui.app import CockpitApp  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=5000.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--settle", type=float, default=1.0)
    p.add_argument("--stats", required=True)
    p.add_argument("--log", default=None)
    p.add_argument("--base-state", default=None, help="a pickled CockpitState to start from (built by the parent)")
    p.add_argument("--per-message", action="store_true",
                   help="the old hand-off: one call_soon_threadsafe per message (for comparison)")
    p.add_argument("--symbols", type=int, default=1, help="spread the feed over this many symbols (overview)")
    a = p.parse_args()
    base = None
    if a.base_state:
        import pickle

        base = pickle.loads(Path(a.base_state).read_bytes())
    host = FeedHost(rate=a.rate, seconds=a.seconds, warmup_s=a.warmup, settle_s=a.settle, stats_path=a.stats,
                    base=base, per_message=a.per_message, symbols=a.symbols)
    app = CockpitApp(host, log_path=a.log, bell=False)
    host.app = app
    app.run()
    print("CHILD EXIT", flush=True)
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
