"""What in a notification URL is secret, and the URL as it may be printed.

The README asks for ``${NAME}`` placeholders (the value then comes from the environment or
``.env`` and is masked wherever it is known). A URL written with its secret in clear is still
the user's secret: the password of ``user:password@host``, a Telegram bot token
(``123456789:AA…``), and any long token-like run (webhook keys, topic ids). Those parts are
masked wherever the URL is shown and added to the secrets the log scrubs.
"""

from __future__ import annotations

import re

_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_PASSWORD = re.compile(r"://[^:/@?#]*:([^@/?#]+)@")
_BOT_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_\-]{10,}")
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,}")
MASK = "***"


def literal_secrets(url: str) -> tuple[str, ...]:
    """The secret-looking parts written in clear in ``url`` (placeholders are not: their values
    are the environment's, known and masked where they are resolved). Longest first, so a
    part inside another is masked with it."""
    text = _PLACEHOLDER.sub(" ", url.split("://", 1)[1] if "://" in url else url)
    found = set(_BOT_TOKEN.findall(text)) | set(_TOKEN.findall(text))
    m = _PASSWORD.search(_PLACEHOLDER.sub(" ", url))
    if m and m.group(1).strip():
        found.add(m.group(1))
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def shown(url: str) -> str:
    """``url`` as it may be printed: placeholders as written, every literal secret masked."""
    for secret in literal_secrets(url):
        url = url.replace(secret, MASK)
    return url
