"""Notification URLs written with their secrets in clear (``core.config.url_secrets``): the
secret parts are found and masked; placeholders and the harmless parts are shown as written."""

from __future__ import annotations

import pytest

from core.config.url_secrets import literal_secrets, shown


@pytest.mark.parametrize("url, secret, printed", [
    ("json://user:LiteralPass99@127.0.0.1:9/", "LiteralPass99", "json://user:***@127.0.0.1:9/"),
    ("mailtos://me:p4ss@smtp.example.com", "p4ss", "mailtos://me:***@smtp.example.com"),
    ("tgram://123456789:AAHsecretTOKENxyz/4242", "123456789:AAHsecretTOKENxyz", "tgram://***/4242"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "TIiajkdnlazkcOXrIdevi7FQ",
     "slack://T1JJ3T3L2/A1BRTD4JD/***"),
    ("ntfys://alerts-for-my-desk-7f3a9c", "alerts-for-my-desk-7f3a9c", "ntfys://***"),
])
def test_a_literal_secret_is_found_and_masked(url, secret, printed):
    assert secret in literal_secrets(url)
    assert shown(url) == printed
    assert secret not in shown(url)


@pytest.mark.parametrize("url", [
    "tgram://${TELEGRAM_TOKEN}/${TELEGRAM_CHAT}",
    "json://user:${HOOK_PASSWORD}@127.0.0.1:9/path",
    "ntfys://${NTFY_TOPIC}",
    "json://127.0.0.1:8080/alerts",
])
def test_placeholders_and_plain_urls_are_shown_as_written(url):
    assert literal_secrets(url) == ()
    assert shown(url) == url
