"""Read a config file: YAML -> validated ``AppConfig`` (secrets attached when the venue needs
them), and the effective settings as plain data for ``check-config``."""

from __future__ import annotations

import difflib
import os
import re
from urllib.parse import urlsplit
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from core.config.blocks import (
    FEE_TIERS, AlertsConfig, AppConfig, ApiConfig, FeesConfig, InstrumentConfig, JournalConfig, PaperConfig, UiConfig,
    mask,
)
from core.config.build import TOP_LEVEL, coerce, hint_for
from core.config.fields import ConfigError
from core.config.policies import build_rebalancer
from core.config.secrets import attach_secrets, secret_env_names
from core.config.url_secrets import shown
from core.config.symbols import expand_symbols, one_symbol_paper
from core.config.yaml_reader import MAX_BYTES, YamlProblem, read_yaml


TOP_KEYS = set(TOP_LEVEL)


def load_config(path: str | os.PathLike, *, env: dict[str, str] | None = None, load_env_file: bool = True,
                need_secrets: bool | None = None) -> AppConfig:
    """Read, validate and resolve a config file. Raises ``ConfigError``."""
    p = Path(path)
    file = str(p)
    try:
        if p.is_file() and p.stat().st_size > MAX_BYTES:
            raise ConfigError(file, "", f"is {p.stat().st_size:,} bytes: a config file is a few KB (at most "
                                        f"{MAX_BYTES:,} bytes)")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found: expected a readable YAML file") from None
    except IsADirectoryError:
        raise ConfigError(file, "", "is a directory: expected a YAML file") from None
    except PermissionError:
        raise ConfigError(file, "", "cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise ConfigError(file, "", "is not UTF-8 text: expected a YAML file") from None
    try:
        data = read_yaml(text)
    except YamlProblem as e:
        raise ConfigError(file, "", str(e)) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(file, "", f"invalid YAML at {where}: {problem}") from None
    return config_from_dict(data, file=file, env=env, load_env_file=load_env_file, need_secrets=need_secrets,
                            env_dir=p.resolve().parent)


_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}(USDT|USDC)$")  # ASCII only: a full-width 'ＢＴＣ' is not a symbol
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^[a-z]{2,63}(\.[a-z]{2,63})?$")
_SCHEMES = {"rest_url": ("http", "https"), "ws_public_url": ("ws", "wss"), "ws_private_url": ("ws", "wss")}


def check_endpoints(api: ApiConfig, file: str) -> None:
    """Host names and URLs exactly as a browser would read them: a domain is one DNS label, a
    URL has a scheme, a host and no user part (``x@api.bybit`` would send requests elsewhere)."""
    if not _LABEL.match(api.domain):
        raise ConfigError(file, "api.domain", "expected one DNS label such as bybit or bytick", api.domain)
    if not _TLD.match(api.tld):
        raise ConfigError(file, "api.tld", "expected a top-level domain such as com, nl or eu", api.tld)
    for key, schemes in _SCHEMES.items():
        url = getattr(api, key)
        if url is None:
            continue
        try:
            parts = urlsplit(url.strip())
            parts.port  # raises ValueError on a port that is not a number  # noqa: B018
            host = parts.hostname
        except ValueError:
            host, parts = None, None
        if parts is None or parts.scheme not in schemes or not host:
            raise ConfigError(file, f"api.{key}", f"expected a {' or '.join(schemes)} URL with a host, "
                                                  f"e.g. {schemes[0]}://127.0.0.1:18080", url)
        if "@" in parts.netloc:
            raise ConfigError(file, f"api.{key}", "expected a URL without a user part (user@host)", url)


def check_fees(fees: FeesConfig, file: str) -> None:
    """A named tier, or both explicit rates — never half of each."""
    if fees.tier is not None:
        if fees.tier not in FEE_TIERS:
            close = difflib.get_close_matches(fees.tier, list(FEE_TIERS), n=1)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            raise ConfigError(file, "paper.fees.tier", f"expected one of {', '.join(map(repr, FEE_TIERS))}{hint}",
                              fees.tier)
        if fees.maker is not None or fees.taker is not None:
            raise ConfigError(file, "paper.fees.tier", "expected either a tier or maker and taker rates, not both")
    elif (fees.maker is None) != (fees.taker is None):
        missing = "taker" if fees.taker is None else "maker"
        raise ConfigError(file, f"paper.fees.{missing}", "missing: explicit fees need both maker and taker "
                                                         "(fractions: 0.001 = 0.1 %)")


def config_from_dict(data: Any, *, file: str = "<config>", env: dict[str, str] | None = None,
                     load_env_file: bool = False, need_secrets: bool | None = None,
                     env_dir: Path | None = None) -> AppConfig:
    if data is None:
        raise ConfigError(file, "", "is empty: expected at least 'symbol:' and a 'rebalancer:' block")
    if not isinstance(data, dict):
        raise ConfigError(file, "", "expected a mapping at the top level (symbol:, rebalancer:, ...)", data)
    for k in data:
        if k not in TOP_KEYS:
            raise ConfigError(file, str(k), f"unknown top-level key{hint_for(k, TOP_KEYS, '')} "
                                            f"(allowed: {', '.join(sorted(TOP_KEYS))})")
    if "symbols" in data:
        return _several(data, file=file, env=env, load_env_file=load_env_file, need_secrets=need_secrets,
                        env_dir=env_dir)
    if "symbol" not in data:
        raise ConfigError(file, "symbol", "missing: expected the trading symbol, e.g. symbol: BTCUSDT "
                                          "(or symbols: [BTCUSDT, ETHUSDT] for several)")
    symbol = coerce(str, data["symbol"], file, "symbol").upper()
    if not _SYMBOL.match(symbol):
        raise ConfigError(file, "symbol", "expected a spot symbol quoted in USDT or USDC, e.g. BTCUSDT", data["symbol"])
    api = coerce(ApiConfig, data.get("api"), file, "api")
    check_endpoints(api, file)
    venue_raw = data.get("venue")
    if venue_raw is None:
        venue = "paper" if api.testnet is None else ("testnet" if api.testnet else "mainnet")
    else:
        venue = coerce(Literal["paper", "testnet", "demo", "mainnet"], venue_raw, file, "venue")
        if api.testnet is True and venue == "mainnet":
            raise ConfigError(file, "venue", "contradicts api.testnet: true (remove one)", venue_raw)
        if api.testnet is False and venue in ("testnet", "demo"):
            raise ConfigError(file, "venue", "contradicts api.testnet: false, which means mainnet (remove one)", venue_raw)
    mode = coerce(Literal["auto", "semi", "watch"], data.get("mode", "semi"), file, "mode")
    rebalancer, note = build_rebalancer(data.get("rebalancer"), file)
    paper = coerce(PaperConfig, one_symbol_paper(symbol, data.get("paper")), file, "paper")
    if paper.grid is not None and (paper.grid.lower is None) != (paper.grid.upper is None):
        raise ConfigError(file, "paper.grid.lower", "expected both lower and upper, or neither (then span_pct around the first price)")
    if paper.grid is not None and paper.grid.lower is not None and paper.grid.lower >= paper.grid.upper:
        raise ConfigError(file, "paper.grid.lower", f"expected lower < upper ({paper.grid.lower} vs {paper.grid.upper})")
    check_fees(paper.fees, file)
    journal = coerce(JournalConfig, data.get("journal"), file, "journal")
    ui = coerce(UiConfig, data.get("ui"), file, "ui")
    instrument = coerce(InstrumentConfig | None, data.get("instrument"), file, "instrument")
    alerts = coerce(AlertsConfig, data.get("alerts"), file, "alerts")
    cfg = AppConfig(path=file, symbol=symbol, venue=venue, mode=mode, api=api, rebalancer=rebalancer,
                    paper=paper, journal=journal, ui=ui, policy_note=note, instrument=instrument, alerts=alerts)
    if need_secrets is None:
        need_secrets = venue != "paper"
    if need_secrets:
        cfg = attach_secrets(cfg, env=env, load_env_file=load_env_file, env_dir=env_dir)
    return cfg


def _several(data: dict, **kw: Any) -> AppConfig:
    """``symbols:``: each entry's config, and the shared blocks as written (named for the first
    symbol) carrying them."""
    file = kw["file"]
    entries = expand_symbols(data, file, lambda merged: config_from_dict(merged, **kw))
    shared_data = {k: v for k, v in data.items() if k != "symbols"}
    shared_data["symbol"] = entries[0].symbol
    try:
        shared = config_from_dict(shared_data, **kw)
    except ConfigError as e:  # the first entry built; the shared blocks alone still may not (its overrides mended them)
        raise ConfigError(e.file, e.key, f"{e.expected} (in the shared blocks, before symbols: overrides)", e.got) from None
    return replace(shared, symbol_configs=entries)


# ---------------------------------------------------------------- effective config view


def effective_config_dict(cfg: AppConfig) -> dict:
    """The resolved config as plain data, secrets masked (for ``check-config``). With
    ``symbols:``, the shared settings, then per symbol each effective setting that differs."""
    out = _effective_one(cfg)
    if cfg.symbol_configs:
        out["symbol"] = [c.symbol for c in cfg.symbol_configs]
        flat = _flat(out)
        out["symbols"] = {c.symbol: {k: v for k, v in _flat(_effective_one(c)).items()
                                     if k != "symbol" and flat.get(k, _ABSENT) != v}
                          for c in cfg.symbol_configs}
    return out


_ABSENT = object()


def _flat(d: dict, prefix: str = "") -> dict:
    """``{"paper": {"grid": {"levels": 60}}}`` -> ``{"paper.grid.levels": 60}``."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def _effective_one(cfg: AppConfig) -> dict:

    def plain(obj: Any) -> Any:
        if is_dataclass(obj):
            return {f.name: plain(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, (list, tuple)):
            return [plain(x) for x in obj]
        return obj

    r = cfg.rebalancer
    out = {
        "file": cfg.path,
        "symbol": cfg.symbol,
        "venue": cfg.venue,
        "mode": cfg.mode,
        "api": plain(cfg.api),
        "rebalancer": {
            "policy": r.policy,
            **plain(r.settings),
            "execution": plain(r.execution),
            "risk": plain(r.risk),
            "spot_reserve_base": r.spot_reserve_base,
            "proposal_ttl_s": r.proposal_ttl_s,
            "evaluate_every_s": r.evaluate_every_s,
            "proposals": plain(r.proposals),
            **({"other_policies": {s.name: plain(s) for s in r.other_policies}} if r.other_policies else {}),
        },
        "paper": plain(cfg.paper),
        "journal": plain(cfg.journal),
        "ui": plain(cfg.ui),
        **({"instrument": plain(cfg.instrument)} if cfg.instrument is not None else {}),
        "alerts": {**plain(cfg.alerts), "urls": [shown(u) for u in cfg.alerts.urls]},
    }
    key_name, secret_name = secret_env_names(cfg.api.account_name)
    if cfg.secrets is not None:
        out["secrets"] = {key_name: mask(cfg.secrets.key), secret_name: "***"}
    else:
        out["secrets"] = {key_name: "<not loaded: paper venue needs none>", secret_name: "<not loaded>"}
    return out
