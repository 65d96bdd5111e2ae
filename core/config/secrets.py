"""API credentials: only from the environment or a ``.env`` file, never from the config.

``BYBIT_API_KEY_<account>`` / ``BYBIT_API_SECRET_<account>``; ``.env`` is read from the current
directory, then the config's directory, without overriding variables already set.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

from core.config.blocks import ApiSecrets, AppConfig
from core.config.fields import ConfigError


def secret_env_names(account: str) -> tuple[str, str]:
    return f"BYBIT_API_KEY_{account}", f"BYBIT_API_SECRET_{account}"


def attach_secrets(cfg: AppConfig, *, env: dict[str, str] | None = None, load_env_file: bool = True,
                   env_dir: Path | None = None) -> AppConfig:
    """Read ``BYBIT_API_KEY_<account>`` / ``BYBIT_API_SECRET_<account>`` from the environment,
    after loading ``.env`` (current directory, then the config's directory) without overriding
    variables already set. Warns when ``.env`` is readable by others."""
    warnings = list(cfg.warnings)
    if env is None:
        if load_env_file:
            for candidate in _env_files(env_dir):
                if _world_readable(candidate):
                    warnings.append(f"{candidate} is readable by other users: run chmod 600 {candidate}")
                for name, value in read_env_file(candidate).items():
                    os.environ.setdefault(name, value)
        env = dict(os.environ)
    key_name, secret_name = secret_env_names(cfg.api.account_name)
    key, secret = env.get(key_name, "").strip(), env.get(secret_name, "").strip()
    if not key or not secret:
        missing = [n for n, v in ((key_name, key), (secret_name, secret)) if not v]
        raise ConfigError(
            cfg.path, "api.account_name",
            f"venue {cfg.venue!r} needs API keys: set {' and '.join(missing)} in the environment or in .env "
            f"(account_name is {cfg.api.account_name!r})",
        )
    return replace(cfg, secrets=ApiSecrets(key=key, secret=secret), warnings=tuple(warnings))


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a ``.env`` file, values exactly as written: no ``$X`` / ``${X}``
    interpolation and no backslash escapes, quoted or not (a secret is a string of characters,
    not a template). python-dotenv finds the lines; the value is cut from the line's own text."""
    from dotenv.parser import parse_stream

    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for b in parse_stream(f):
            if b.error or b.key is None or b.value is None:
                continue
            raw = b.original.string.split("=", 1)[1].strip()
            if raw[:1] in ("'", '"') and raw.count(raw[0]) >= 2:
                out[b.key] = raw[1:raw.rindex(raw[0])]
            else:
                out[b.key] = b.value  # unquoted: dotenv keeps it as written (comments cut)
    return out


def _env_files(env_dir: Path | None) -> list[Path]:
    seen, out = set(), []
    for d in (Path.cwd(), env_dir):
        if d is None:
            continue
        f = (d / ".env").resolve()
        if f.is_file() and f not in seen:
            seen.add(f)
            out.append(f)
    return out


def _world_readable(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False
