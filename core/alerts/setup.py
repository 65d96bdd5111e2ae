"""From the config's ``alerts:`` block to a working alert path: URLs resolved from the
environment / ``.env`` and checked (a wrong URL is a config error naming its key), the
sender, the rules tapped into the record, and the watch on the engine's tick."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from core.alerts.rules import AlertRules, DailySummary, FeedWatch, summary_figures
from core.alerts.sender import AlertSender, resolve
from core.config import AppConfig, ConfigError
from core.config.secrets import read_env_file
from core.config.url_secrets import literal_secrets, shown


def alert_env(cfg: AppConfig) -> dict[str, str]:
    """The environment with ``.env`` (current directory, then the config's) under it."""
    env: dict[str, str] = {}
    for d in (Path.cwd(), Path(cfg.path).resolve().parent if cfg.path.endswith((".yaml", ".yml")) else None):
        f = d / ".env" if d is not None else None
        if f is not None and f.is_file():
            for k, v in read_env_file(f).items():
                env.setdefault(k, v)
    env.update(os.environ)
    return env


def alert_urls(cfg: AppConfig, env: dict[str, str] | None = None) -> list[tuple[str, str, tuple[str, ...]]]:
    """``[(shown URL, resolved URL, the secrets in it)]``; ``ConfigError`` naming
    ``alerts.urls[i]`` for a URL with an unset ``${NAME}`` or one Apprise does not know."""
    urls = cfg.alerts.urls
    if not urls:
        return []
    import apprise

    env = alert_env(cfg) if env is None else env
    out = []
    for i, template in enumerate(urls):
        key = f"alerts.urls[{i}]"
        try:
            url, secrets = resolve(template, env)
        except KeyError as e:
            raise ConfigError(cfg.path, key, f"uses ${{{e.args[0]}}}, which is not set in the environment or .env "
                                             f"({shown(template)})") from None
        if not apprise.Apprise().add(url):
            raise ConfigError(cfg.path, key, f"not a URL Apprise can send to: {shown(template)} (e.g. "
                                             "tgram://TOKEN/CHAT_ID, ntfy://TOPIC, json://HOST/PATH)")
        out.append((shown(template), url, secrets + literal_secrets(template)))  # the log scrubs both
    return out


class Alerts:
    """The alert path of one session: ``tap`` goes into the record, ``watch`` on the tick.

    The feed is judged on ``wall_ms`` (the outside world's clock): market time stops with the
    market, so silence is "the last market event has not changed for N wall seconds"."""

    def __init__(self, cfg: AppConfig, sender: AlertSender, wall_ms: Callable[[], int]) -> None:
        a = cfg.alerts
        events = frozenset(a.events)
        self.sender = sender
        self.wall_ms = wall_ms
        self._market_ms: int | None = None  # the last market event seen ...
        self._seen_wall_ms: int | None = None  # ... and when (wall) it was first seen
        self.tap = AlertRules(sender.submit, symbol=cfg.symbol, events=tuple(events), rejected_streak=a.rejected_streak)
        self.feed = FeedWatch(sender.submit, symbol=cfg.symbol, after_s=a.feed_down_after_s, events=events)
        self.daily = DailySummary(sender.submit, symbol=cfg.symbol, events=events)

    def watch(self, engine) -> None:
        """On the engine's tick: the feed's health and the day's summary (cheap: no I/O)."""
        reb = engine.reb
        now = self.wall_ms()
        if reb.last_market_ms != self._market_ms:
            self._market_ms, self._seen_wall_ms = reb.last_market_ms, now
        self.feed.check(now, self._seen_wall_ms, reb.connected)
        self.daily.check(now, lambda: summary_figures(reb))

    @property
    def dropped(self) -> int:
        return self.sender.dropped

    def close(self) -> None:
        self.sender.close()


def account_sender(cfg: AppConfig) -> AlertSender | None:
    """The account's sender for ``cfg.alerts`` (None: no URL); a wrong URL is a ``ConfigError``
    naming its key. The caller holds it once: ``close`` it when the sessions hold their own."""
    urls = alert_urls(cfg)
    if not urls:
        return None
    a = cfg.alerts
    return AlertSender([(label, url) for label, url, _ in urls], timeout_s=a.timeout_s, retries=a.retries,
                       per_minute=a.per_minute)


def build_alerts(cfg: AppConfig, wall_ms: Callable[[], int], sender: AlertSender | None = None) -> Alerts | None:
    """One session's alerts: through ``sender`` when the account already has one (several
    symbols: one rate limit per service for the account), else through a sender of its own."""
    if sender is not None:
        return Alerts(cfg, sender.hold(), wall_ms)
    sender = account_sender(cfg)
    return Alerts(cfg, sender, wall_ms) if sender is not None else None


__all__ = ["Alerts", "account_sender", "alert_env", "alert_urls", "build_alerts"]
