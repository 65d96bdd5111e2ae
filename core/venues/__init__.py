"""Venue adapters: paper (simulated), Bybit (pybit), market data sources, simulated grid."""
