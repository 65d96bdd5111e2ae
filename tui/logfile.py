"""The program's log: a file always, stdout too when headless; text for people or JSON for machines.

What a session did reaches it through ``record_tap``: the lines of the very records the
journal gets (``core.record_lines``), so the log and the journal cannot disagree. Secrets
never reach it: every record, from any logger (pybit's too), is masked when it is made —
message, arguments and traceback — before any handler sees it.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from core.record_lines import RecordLines

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
RECORD_LOGGER = "rebalancer.record"
MASK = "***"
_SECRET_NAME = re.compile(r"(SECRET|API_KEY|TOKEN|PASSWORD|PASSPHRASE|PRIVATE)", re.IGNORECASE)
MIN_SECRET_LEN = 6  # shorter values ("1", "true") would mask ordinary words
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: wall time (UTC), level, logger, message, and the record's
    fields (``kind``, ``ts_ms`` in market time, ...) when the line is a record."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "record", None)
        if isinstance(fields, dict):
            out.update({k: v for k, v in fields.items() if k not in out})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def secret_values(environ: dict[str, str] | None = None, extra: Iterable[str | None] = ()) -> list[str]:
    """Values to mask: every environment variable whose name says secret / key / token, and
    ``extra`` (the keys read from a ``.env``). Longest first, so a value containing another is
    masked whole."""
    env = os.environ if environ is None else environ
    found = {v for k, v in env.items() if _SECRET_NAME.search(k) and v and len(v) >= MIN_SECRET_LEN}
    found.update(v for v in extra if v and len(v) >= MIN_SECRET_LEN)
    return sorted(found, key=len, reverse=True)


def mask(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


_base_factory = logging.getLogRecordFactory()
_secrets: list[str] = []  # what the factory masks (set by ``mask_secrets``)


def _masking_factory(*args: Any, **kw: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kw)
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string is logging's to report
        return record
    record.msg, record.args = mask(message, _secrets), None
    if record.exc_info:
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info), _secrets)
    return record


def mask_secrets(secrets: list[str]) -> None:
    """Every log record made from now on has ``secrets`` masked (message, arguments, traceback;
    a record's fields are masked by ``record_tap``). A second call replaces the list."""
    _secrets[:] = secrets
    if logging.getLogRecordFactory() is not _masking_factory:
        logging.setLogRecordFactory(_masking_factory)


def setup(path: Path, *, fmt: str = "text", stdout: TextIO | None = None, secrets: list[str] | None = None) -> Path:
    """The root logger to ``path`` (and ``stdout`` when given: headless), in ``fmt``; secrets
    masked. Replaces whatever handlers the root had (never a handler over the screen)."""
    mask_secrets(secret_values() if secrets is None else secrets)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    handlers: list[logging.Handler] = [logging.FileHandler(path, encoding="utf-8")]
    if stdout is not None:
        handlers.append(logging.StreamHandler(stdout))
    for h in handlers:
        h.setFormatter(formatter(fmt))
        root.addHandler(h)
    root.setLevel(logging.INFO)
    return path


def record_tap(logger_name: str = RECORD_LOGGER) -> RecordLines:
    """The recorder whose lines go to the log (``Environment.record_tap``)."""
    logger = logging.getLogger(logger_name)

    def emit(level: str, text: str, fields: dict[str, Any]) -> None:
        if _secrets:  # the message is masked by the record factory, the fields here
            fields = {k: mask(v, _secrets) if isinstance(v, str) else v for k, v in fields.items()}
        logger.log(_LEVELS.get(level, logging.INFO), "%s", text, extra={"record": fields})

    return RecordLines(emit)


__all__ = ["FORMATS", "JsonFormatter", "mask", "mask_secrets", "record_tap", "secret_values", "setup"]
