#!/usr/bin/env python3
"""Entry point kept for users of the original bot:
``python rebalancer_main.py --config config.yaml --symbol BTCUSDT`` opens the cockpit; any
``rebalancer`` sub-command works here too (``python rebalancer_main.py decide ...``)."""

import sys

from tui.cli import main

if __name__ == "__main__":
    sys.exit(main())
