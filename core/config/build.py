"""Turn parsed YAML into the frozen config blocks, checking every value on the way.

Generic over the dataclasses in ``blocks``: a field's type says what is accepted, its metadata
holds its range check. An unknown key gets a did-you-mean, or — when the name is a real key
that belongs at another level (``policy:`` at the top) — where it belongs.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from functools import cache
from typing import Any, Literal

from core.config.fields import ConfigError

_TYPE_WORDS = {float: "a number", int: "a whole number", bool: "true or false", str: "text"}


def type_word(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        parts = [type_word(a) for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(parts)
    if origin is list:
        return "a list of " + type_word(typing.get_args(tp)[0])
    if is_dataclass(tp):
        return "a mapping (key: value lines)"
    return _TYPE_WORDS.get(tp, getattr(tp, "__name__", str(tp)))


def coerce(tp: Any, value: Any, file: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(a, value, file, key)
            except ConfigError as e:
                errors.append(e)
        deeper = [e for e in errors if len(e.key) > len(key)]
        if deeper:
            raise deeper[0]  # the value had the right shape; something inside it is wrong: say what
        raise ConfigError(file, key, f"expected {type_word(tp)}", value)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value is False and "off" in choices:
            return "off"  # YAML 1.1 reads a bare `off` as false
        if value in choices and not isinstance(value, bool):
            return value
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, [str(c) for c in choices], n=1)
            hint = f" — did you mean {close[0]!r}?" if close else ""
        raise ConfigError(file, key, f"expected one of {', '.join(repr(c) for c in choices)}{hint}", value)
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected {type_word(tp)}", value)
        return [coerce(item, v, file, f"{key}[{i}]") for i, v in enumerate(value)]
    if is_dataclass(tp):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(file, key, "expected a mapping (key: value lines)", value)
        return build(tp, value, file, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(file, key, "expected true or false" + _yaml_hint(value, "true or false"), value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(file, key, "expected a number" + _yaml_hint(value, "a number"), value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(file, key, "expected a finite number", value)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(file, key, "expected a whole number" + _yaml_hint(value, "a number"), value)
        return value
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(file, key, "expected text", value)
    raise TypeError(f"unsupported config type {tp!r}")  # programming error


def build(cls: type, data: dict, file: str, prefix: str, *, skip: tuple[str, ...] = ()) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for k in data:
        if k in skip:
            continue
        if k not in known:
            raise ConfigError(file, join(prefix, k), f"unknown key{hint_for(k, known, prefix)} "
                                                      f"(allowed here: {', '.join(sorted(known))})")
    kwargs = {}
    for f in fields(cls):
        key = join(prefix, f.name)
        if f.name in data:
            val = coerce(hints[f.name], data[f.name], file, key)
            check = f.metadata.get("check") if f.metadata else None
            if check is not None and val is not None and not isinstance(val, (list, dict, bool)):
                problem = check(val)
                if problem:
                    raise ConfigError(file, key, f"expected {problem}", data[f.name])
            kwargs[f.name] = val
        elif f.default is MISSING and f.default_factory is MISSING:  # type: ignore[misc]
            raise ConfigError(file, key, f"missing: expected {type_word(hints[f.name])}")
    return cls(**kwargs)


def join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


_YES_NO = {"yes": "true", "no": "false", "on": "true", "off": "false", "y": "true", "n": "false"}
_OLD_NUMBER = re.compile(r"^[-+]?(0[0-9]+(\.[0-9]*)?|[0-9]+(:[0-5]?[0-9])+(\.[0-9]*)?)$")


def _yaml_hint(value: Any, wanted: str) -> str:
    """Text that older YAML would have turned into a boolean or a number (``no``, ``007``,
    ``12:30``) is kept as text here; say how to write what was meant."""
    if not isinstance(value, str):
        return ""
    if wanted == "true or false" and value.lower() in _YES_NO:
        return f" (write {_YES_NO[value.lower()]} for {value!r})"
    if wanted == "a number" and _OLD_NUMBER.match(value):
        return " (write the number without leading zeros or colons; quote it if you meant text)"
    return ""


def hint_for(key: Any, allowed, prefix: str) -> str:
    """`` — did you mean 'x'?`` for a typo, `` — it belongs under 'y:'`` for a known key at the
    wrong level (both when both may be meant); empty when neither helps."""
    close = difflib.get_close_matches(str(key), sorted(str(a) for a in allowed), n=1)
    typo = f"did you mean {close[0]!r}?" if close else ""
    homes = [h for h in key_homes().get(str(key), ()) if h != prefix][:3]
    if not homes:
        return f" — {typo}" if typo else ""
    where = " or ".join(f"under '{h}:'" if h else "at the top level" for h in homes)
    return f" — it belongs {where}" + (f" (or {typo})" if typo else "")


@cache
def key_homes() -> dict[str, tuple[str, ...]]:
    """Every key of the schema -> the block paths where it is valid ('' is the top level)."""
    from core.config.blocks import (
        AlertsConfig, ApiConfig, ExecutionConfig, InstrumentConfig, JournalConfig, PaperConfig, POLICY_SETTINGS, ProposalsConfig,
        RiskConfig, UiConfig,
    )

    homes: dict[str, list[str]] = {}

    def walk(cls, path: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            homes.setdefault(f.name, []).append(path)
            inner = [a for a in (hints[f.name], *typing.get_args(hints[f.name])) if is_dataclass(a)]
            for sub in inner[:1]:
                walk(sub, join(path, f.name))

    for name in TOP_LEVEL:
        homes.setdefault(name, []).append("")
    for cls, path in ((ApiConfig, "api"), (PaperConfig, "paper"), (JournalConfig, "journal"), (UiConfig, "ui"),
                      (InstrumentConfig, "instrument"), (AlertsConfig, "alerts"),
                      (ExecutionConfig, "rebalancer.execution"), (RiskConfig, "rebalancer.risk"),
                      (ProposalsConfig, "rebalancer.proposals")):
        walk(cls, path)
    for cls in POLICY_SETTINGS.values():
        walk(cls, "rebalancer")
    for name in REBALANCER_SHARED:
        homes.setdefault(name, []).append("rebalancer")
    return {k: tuple(dict.fromkeys(v)) for k, v in homes.items()}


TOP_LEVEL = ("symbol", "symbols", "venue", "mode", "api", "rebalancer", "paper", "journal", "ui", "instrument", "alerts")
REBALANCER_SHARED = ("policy", "execution", "risk", "spot_reserve_base", "proposal_ttl_s", "evaluate_every_s",
                     "proposals", "other_policies")
