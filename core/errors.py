"""``RebalancerError``: the one root of every exception this program raises on purpose.

Why a root: a caller (the CLI, the cockpit, a script) can catch "anything the rebalancer
reports as a problem" in one clause without also swallowing a programming error
(``TypeError``, ``KeyError``...). Each family is defined next to the code that raises it:

    RebalancerError
    ├── ConfigError          core/config/fields.py     a bad config file or value (one line, did-you-mean)
    ├── MarketDataError      core/venues/market/       a market data file that cannot be used
    ├── BadMessage           core/venues/bybit_parse   a Bybit reply or push we cannot understand
    ├── JournalError         core/journal/schema.py    not a usable journal (missing, foreign, wrong version)
    ├── JournalWriteError    core/journal/writer.py    rows left unwritten
    ├── AlreadyRunning       core/single_instance.py   another session holds this account + venue + symbol
    └── VenueError           core/venues/base.py       a venue refused or failed a call; its family
                                                       (who raises what) is listed in that module

Exceptions that also mean "a bad value" keep ``ValueError`` as a second base, so existing
``except ValueError`` handlers still catch them.
"""

from __future__ import annotations

__all__ = ["RebalancerError"]


class RebalancerError(Exception):
    """Something this program detected and reports, worded for the person running it."""
