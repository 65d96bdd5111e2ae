"""Entry point named in the brief; the implementation lives in ``tests.fakes.bybit``."""

from .bybit import *  # noqa: F401,F403
from .bybit import __all__  # noqa: F401
