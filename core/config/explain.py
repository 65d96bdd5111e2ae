"""``check-config --explain``: every setting with its default, allowed range and meaning, read
from the schema itself (so the table can never disagree with what is enforced)."""

from __future__ import annotations

import typing
from dataclasses import MISSING, fields, is_dataclass

from core.config.blocks import (
    POLICY_SETTINGS, ApiConfig, ExecutionConfig, JournalConfig, PaperConfig, ProposalsConfig, RiskConfig, UiConfig,
)
from core.config.build import type_word
from core.config.policies import SHARED_RANGES


def rows() -> list[tuple[str, str, str, str]]:
    """``(key, default, allowed, doc)`` for every setting."""
    out: list[tuple[str, str, str, str]] = []

    def walk(cls, path: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            tp = hints[f.name]
            inner = [a for a in (tp, *typing.get_args(tp)) if is_dataclass(a)]
            key = f"{path}.{f.name}"
            if inner:
                walk(inner[0], key)
                continue
            default = f.default if f.default is not MISSING else "—"
            check = f.metadata.get("check") if f.metadata else None
            allowed = getattr(check, "span", None) or type_word(tp)
            out.append((key, "(unset)" if default is None else str(default), allowed, f.metadata.get("doc", "")))

    for cls, path in ((ApiConfig, "api"), (PaperConfig, "paper"), (JournalConfig, "journal"), (UiConfig, "ui")):
        walk(cls, path)
    for name, cls in POLICY_SETTINGS.items():
        walk(cls, f"rebalancer ({name})")
    walk(ExecutionConfig, "rebalancer.execution")
    walk(RiskConfig, "rebalancer.risk")
    walk(ProposalsConfig, "rebalancer.proposals")
    for key, check in SHARED_RANGES.items():
        out.append((f"rebalancer.{key}", "", check.span, ""))
    return out


def explain() -> str:
    table = rows()
    w0 = max(len(r[0]) for r in table)
    w1 = min(12, max(len(r[1]) for r in table))
    w2 = min(40, max(len(r[2]) for r in table))  # a long list of choices (ui.theme) overflows its own row only
    lines = [f"{'setting':<{w0}}  {'default':<{w1}}  {'allowed':<{w2}}  meaning"]
    lines += [f"{k:<{w0}}  {d:<{w1}}  {a:<{w2}}  {doc}".rstrip() for k, d, a, doc in table]
    return "\n".join(lines)
