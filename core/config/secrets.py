"""API credentials: only from the environment or a ``.env`` file, never from the config.

``BYBIT_API_KEY_<account>`` / ``BYBIT_API_SECRET_<account>``; ``.env`` is read from the current
directory, then the config's directory, without overriding variables already set.
"""

from __future__ import annotations

import io
import os
import re
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
    skipped: list[tuple[Path, int, str | None]] = []  # .env lines that could not be read
    if env is None:
        if load_env_file:
            for candidate in _env_files(env_dir):
                if _world_readable(candidate):
                    warnings.append(f"{candidate} is readable by other users: run chmod 600 {candidate}")
                values, bad = parse_env_file(candidate)
                for name, value in values.items():
                    os.environ.setdefault(name, value)
                skipped += [(candidate, line_no, name) for line_no, name in bad]
        env = dict(os.environ)
    warnings += [f"{f}, line {n}: {_UNREADABLE}; the line is skipped" for f, n, _ in skipped]
    key_name, secret_name = secret_env_names(cfg.api.account_name)
    key, secret = env.get(key_name, "").strip(), env.get(secret_name, "").strip()
    if not key or not secret:
        missing = [n for n, v in ((key_name, key), (secret_name, secret)) if not v]
        for f, line_no, name in skipped:
            if name in missing:  # it is there, but unreadable: say where, not "set it"
                raise ConfigError(f, f"line {line_no}", f"{name} is set here but the line cannot be read "
                                                        f"({_UNREADABLE}); the value is not shown")
        also = "".join(f"; {f}, line {n} could not be read ({_UNREADABLE})" for f, n, _ in skipped)
        raise ConfigError(
            cfg.path, "api.account_name",
            f"venue {cfg.venue!r} needs API keys: set {' and '.join(missing)} in the environment or in .env "
            f"(account_name is {cfg.api.account_name!r}){also}",
        )
    return replace(cfg, secrets=ApiSecrets(key=key, secret=secret), warnings=tuple(warnings))


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a ``.env`` file, values exactly as written: no ``$X`` / ``${X}``
    interpolation and no backslash escapes, quoted or not (a secret is a string of characters,
    not a template). Lines that cannot be read are left out: ``parse_env_file`` lists them."""
    return parse_env_file(path)[0]


def parse_env_file(path: Path) -> tuple[dict[str, str], list[tuple[int, str | None]]]:
    """The values of a ``.env`` file, and the lines python-dotenv could not read as
    ``(line number, the name it seems to set)``, so a missing key can be blamed on its line.
    ``ConfigError`` naming the file (and line) when it is not UTF-8 text or cannot be opened;
    no error ever shows a value. python-dotenv finds the lines; a value is cut from its line."""
    from dotenv.parser import parse_stream

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(path, "", f"cannot be read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_no = data.count(b"\n", 0, e.start) + 1
        line = data.split(b"\n")[line_no - 1]
        name = _name_of(line.decode("ascii", "replace"))
        raise ConfigError(path, f"line {line_no}" + (f" ({name})" if name else ""),
                          "is not UTF-8 text (a stray byte, or another encoding): save .env as UTF-8; "
                          "the value is not shown") from None
    out: dict[str, str] = {}
    bad: list[tuple[int, str | None]] = []
    for b in parse_stream(io.StringIO(text, newline=None)):  # universal newlines, as open() reads
        if b.error:
            bad.append((b.original.line, _name_of(b.original.string)))
            continue
        if b.key is None or b.value is None:
            continue
        raw = b.original.string.split("=", 1)[1].strip()
        if raw[:1] in ("'", '"') and raw.count(raw[0]) >= 2:
            out[b.key] = raw[1:raw.rindex(raw[0])]
        else:
            out[b.key] = b.value  # unquoted: dotenv keeps it as written (comments cut)
    return out, bad


_UNREADABLE = "not NAME=value: a quote opened and not closed?"


def _name_of(line: str) -> str | None:
    """The variable a ``.env`` line sets (the text before ``=``), if it looks like a name:
    never any of the value."""
    head = line.split("=", 1)[0].strip() if "=" in line else ""
    head = head.removeprefix("export ").strip()
    return head if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", head) else None


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
