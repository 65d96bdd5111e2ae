"""Where a Bybit session's orders and account data really go, and whether that is mainnet.

A ``venue:`` label is a claim; a host is a fact. ``venue: testnet`` with ``api.rest_url:
https://api.bybit.com`` trades real money, so "mainnet" is decided here from the URLs the
adapter will use for orders (REST) and account data (the private stream) — exactly as pybit
builds them from ``domain`` / ``tld`` — parsed with userinfo, port and case handled. Only
loopback hosts and Bybit's explicitly testnet / demo hosts count as not mainnet; anything else
(Bybit's mainnet sites, regional sites, a gateway we cannot see behind) counts as mainnet and
needs the trader's explicit ``--i-understand-mainnet``. Public market data is not an order
path (demo reads mainnet's public streams by design) and does not count.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from core.venues.bybit_settings import BybitSettings

BYBIT_DOMAINS = ("bybit", "bytick", "bybit-tr", "bybitglobal")
BYBIT_TLDS = ("com", "nl", "eu", "kz", "ae", "id", "ge", "tr", "com.hk")
NON_MAINNET_LABELS = ("api-testnet", "api-demo", "api-demo-testnet", "stream-testnet", "stream-demo",
                      "stream-demo-testnet")
_REST = {"testnet": "api-testnet", "demo": "api-demo", "mainnet": "api"}
_STREAM = {"testnet": "stream-testnet", "demo": "stream-demo", "mainnet": "stream"}


def order_urls(s: BybitSettings) -> dict[str, str]:
    """``{"REST": url, "private stream": url}`` as the adapter (through pybit) will use them."""
    rest = s.rest_url or f"https://{_REST[s.venue]}.{s.domain}.{s.tld}"
    private = s.ws_private_url or f"wss://{_STREAM[s.venue]}.{s.domain}.{s.tld}/v5/private"
    return {"REST": rest, "private stream": private}


def host_of(url: str) -> str:
    """The host a URL connects to: userinfo and port dropped, lower case ('' if there is none)."""
    try:
        return (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


def is_mainnet_host(host: str) -> bool:
    if not host:
        return True  # unknown: assume the worst
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    first, _, rest = host.partition(".")
    domain, _, tld = rest.partition(".")
    return not (first in NON_MAINNET_LABELS and domain in BYBIT_DOMAINS and tld in BYBIT_TLDS)


def mainnet_endpoints(s: BybitSettings) -> list[str]:
    """``["REST api.bybit.com", ...]``: the order paths that reach mainnet (empty: none do)."""
    return [f"{what} {host_of(url) or url!r}" for what, url in order_urls(s).items() if is_mainnet_host(host_of(url))]


def reaches_mainnet(s: BybitSettings) -> bool:
    return s.venue == "mainnet" or bool(mainnet_endpoints(s))
