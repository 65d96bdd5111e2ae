"""Alerts for a trader away from the terminal: what happened (``rules``), sent off the trading
path (``sender``, through Apprise)."""
