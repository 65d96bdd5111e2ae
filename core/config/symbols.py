"""``symbols:`` — several symbols in one process: one config per symbol from one file.

The top-level blocks are every symbol's settings; an entry (``ETHUSDT``, or a mapping
``{symbol: ETHUSDT, rebalancer: {...}, paper: {...}, instrument: {...}}``) overrides them key
by key. Each symbol's config is then validated exactly as a one-symbol file is, and a problem
in an entry is named by its place (``symbols[1].rebalancer.thresholds.soft``).

Why the paper block is converted and the rebalancer block is not: the shared ``paper:`` block
describes one simulated account, in base units quoted at its ``start_price`` (60,000: BTC).
Copied as written to SOL, its grid of 0.005 per level would be under the perpetual's minimum
and its balances worth a few dollars; so its base amounts (``base_balance``, ``futures_size``,
``grid.qty_per_level``) keep their USDT value at each symbol's own start price (an entry's
``paper:`` values are taken as written). Rebalancer thresholds are the trader's decision per
symbol: they are never rescaled (check-config shows what each symbol runs with).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from core.config.build import coerce, hint_for
from core.config.fields import ConfigError
from core.instruments import typical_price

ENTRY_KEYS = ("symbol", "rebalancer", "paper", "instrument")
SHARED_ONLY = ("venue", "mode", "api", "journal", "ui", "alerts")  # one account, one session: never per symbol
# keys of the shared ``paper:`` block that hold one symbol's prices or files: per entry only
PER_SYMBOL_PAPER = ("futures_entry", "market", "state_file")
PER_SYMBOL_GRID = ("lower", "upper")
DEFAULT_REFERENCE_PRICE = 60_000.0  # PaperConfig.start_price's default: the shared block speaks BTC
_BASE_AMOUNTS = (("base_balance", 0.5), ("futures_size", -0.5))  # PaperConfig's defaults
_GRID_QTY_DEFAULT = 0.002  # GridConfig.qty_per_level's default


def expand_symbols(data: dict, file: str, build_one: Callable[[dict], Any]) -> tuple[Any, ...]:
    """One config per ``symbols:`` entry, built by ``build_one`` from the merged YAML data."""
    raw = data["symbols"]
    if "symbol" in data:
        raise ConfigError(file, "symbol", "use either 'symbol:' (one symbol) or 'symbols:' (several), not both; "
                                          "the first of 'symbols:' is the one shown first")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(file, "symbols", "expected a list of symbols (e.g. [BTCUSDT, ETHUSDT]) or of mappings "
                                           "with symbol: and the blocks it overrides", raw)
    shared = {k: v for k, v in data.items() if k != "symbols"}
    if "instrument" in shared:
        raise ConfigError(file, "instrument", "holds one symbol's trading rules: with 'symbols:' set it in that "
                                              "symbol's entry (symbols[i].instrument)")
    _check_shared_paper(shared.get("paper"), file)
    reference = _reference_price(shared.get("paper"), file)
    seen: dict[str, int] = {}
    out = []
    for i, entry in enumerate(raw):
        where = f"symbols[{i}]"
        entry = _entry_dict(entry, file, where)
        symbol = coerce(str, entry["symbol"], file, f"{where}.symbol").upper()
        if symbol in seen:
            raise ConfigError(file, f"{where}.symbol", f"{symbol} is already symbols[{seen[symbol]}]: "
                                                       "each symbol runs once", entry["symbol"])
        seen[symbol] = i
        merged = copy.deepcopy(shared)
        merged["symbol"] = symbol
        for block in ("rebalancer", "paper", "instrument"):
            if block in entry:
                merged[block] = _merge(merged.get(block), entry[block], file, f"{where}.{block}")
        if merged.get("venue", "paper") == "paper" or "paper" in entry:
            merged["paper"] = _paper_for(symbol, i, shared.get("paper"), entry.get("paper"), reference, file, where,
                                         known="instrument" in merged)
        try:
            out.append(build_one(merged))
        except ConfigError as e:
            raise _placed(e, entry, where, symbol) from None
    return tuple(out)


def _entry_dict(entry: Any, file: str, where: str) -> dict:
    if isinstance(entry, str):
        return {"symbol": entry}
    if not isinstance(entry, dict):
        raise ConfigError(file, where, "expected a symbol (ETHUSDT) or a mapping with symbol: and the blocks it "
                                       "overrides (rebalancer:, paper:, instrument:)", entry)
    for k in entry:
        if k in SHARED_ONLY:
            raise ConfigError(file, f"{where}.{k}", f"is shared by every symbol (one account, one session): set it at "
                                                    f"the top level (allowed here: {', '.join(ENTRY_KEYS)})")
        if k not in ENTRY_KEYS:
            raise ConfigError(file, f"{where}.{k}", f"unknown key{hint_for(k, ENTRY_KEYS, where)} "
                                                    f"(allowed here: {', '.join(ENTRY_KEYS)})")
    if "symbol" not in entry:
        raise ConfigError(file, f"{where}.symbol", "missing: expected the trading symbol, e.g. symbol: ETHUSDT")
    return entry


def _merge(base: Any, over: Any, file: str, key: str) -> Any:
    """``over`` on top of ``base``, mapping by mapping; anything else replaces."""
    if over is None:
        return copy.deepcopy(base)
    if not isinstance(over, dict):
        raise ConfigError(file, key, "expected a mapping (key: value lines) of the settings this symbol overrides", over)
    out = dict(base) if isinstance(base, dict) else {}
    for k, v in over.items():
        out[k] = _merge(out.get(k), v, file, f"{key}.{k}") if isinstance(v, dict) and isinstance(out.get(k), dict) \
            else copy.deepcopy(v)
    return out


def _check_shared_paper(paper: Any, file: str) -> None:
    """Prices and files of one symbol have no meaning shared by several."""
    if not isinstance(paper, dict):
        return
    for k in PER_SYMBOL_PAPER:
        if k in paper and not (k == "market" and paper[k] == "synthetic"):
            raise ConfigError(file, f"paper.{k}", f"belongs to one symbol: with 'symbols:' set it in an entry "
                                                  f"(symbols[i].paper.{k})")
    grid = paper.get("grid")
    if isinstance(grid, dict):
        for k in PER_SYMBOL_GRID:
            if k in grid:
                raise ConfigError(file, f"paper.grid.{k}", f"is a price of one symbol: with 'symbols:' set it in an "
                                                           f"entry (symbols[i].paper.grid.{k}), or use span_pct here")


def _reference_price(paper: Any, file: str) -> float:
    if isinstance(paper, dict) and "start_price" in paper:
        price = coerce(float, paper["start_price"], file, "paper.start_price")
        if price <= 0:
            raise ConfigError(file, "paper.start_price", "expected a number > 0", paper["start_price"])
        return price
    return DEFAULT_REFERENCE_PRICE


def _paper_for(symbol: str, index: int, shared: Any, own: Any, reference: float, file: str, where: str, *,
               known: bool) -> dict:
    """This symbol's ``paper:`` data: the shared block's base amounts at this symbol's start price."""
    shared = shared if isinstance(shared, dict) else {}
    own = own if isinstance(own, dict) else {}
    paper = _merge(shared, own, file, f"{where}.paper")
    if "start_price" in own:
        price = own["start_price"]
    else:
        price = typical_price(symbol)
        if price is None:
            if known:  # rules given by hand: so must its price be
                raise ConfigError(file, f"{where}.paper.start_price", f"missing: {symbol} has no bundled typical "
                                                                      "price: give the paper market's start price")
            price = reference
        paper["start_price"] = price
    if not isinstance(price, (int, float)) or isinstance(price, bool) or price <= 0:
        return paper  # the validator names it
    scale = reference / float(price)
    for key, _default in _BASE_AMOUNTS:  # written in the shared block: its USDT value carries over
        value = shared.get(key)
        if key not in own and _number(value):
            paper[key] = round(value * scale, 8)
    grid_shared = shared.get("grid")
    grid_own = own.get("grid") if isinstance(own.get("grid"), dict) else {}
    if isinstance(grid_shared, dict) and isinstance(paper.get("grid"), dict) and "qty_per_level" not in grid_own \
            and _number(grid_shared.get("qty_per_level")):
        paper["grid"] = {**paper["grid"], "qty_per_level": round(grid_shared["qty_per_level"] * scale, 8)}
    seed = shared.get("seed", 7)
    if index and "seed" not in own and isinstance(seed, int) and not isinstance(seed, bool):
        paper["seed"] = seed + index  # each symbol its own path; the first keeps the shared seed ...
        if paper.get("market_beta"):  # ... and with correlated paths, one driver for all (the shared seed's)
            paper.setdefault("driver_seed", seed)
    return paper


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def one_symbol_paper(symbol: str, paper: Any) -> Any:
    """A symbol's ``paper:`` data with the defaults it does not write sized for it: its start
    price (the bundled typical price) and, in base units, BTC's defaults at the same USDT value
    (0.5 BTC at 60,000 is 10 ETH at 3,000; a grid level of 0.002 BTC is 0.04 ETH). BTCUSDT's
    defaults are the defaults: its data is handed back untouched."""
    if paper is not None and not isinstance(paper, dict):
        return paper  # the validator names it
    typical = typical_price(symbol)
    if symbol == "BTCUSDT" or (typical is None and not (paper or {}).get("start_price")):
        return paper
    out = dict(paper or {})
    price = out.setdefault("start_price", typical)
    if not _number(price) or price <= 0:
        return out
    scale = DEFAULT_REFERENCE_PRICE / float(price)
    for key, default in _BASE_AMOUNTS:
        out.setdefault(key, round(default * scale, 8))
    grid = out.get("grid", {})
    if isinstance(grid, dict) and "qty_per_level" not in grid:
        out["grid"] = {**grid, "qty_per_level": round(_GRID_QTY_DEFAULT * scale, 8)}
    return out


def _placed(e: ConfigError, entry: dict, where: str, symbol: str) -> ConfigError:
    """The error at its place in the file: the entry's key when the entry set it, else the
    shared key, saying which symbol it broke."""
    if e.key and _has_path(entry, e.key):
        return ConfigError(e.file, f"{where}.{e.key}", e.expected, e.got)
    if e.key == "symbol":
        return ConfigError(e.file, f"{where}.symbol", e.expected, e.got)
    return ConfigError(e.file, e.key, f"{e.expected} (for {symbol}, {where})", e.got)


def _has_path(data: Any, key: str) -> bool:
    for part in key.replace("[", ".[").split("."):
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


__all__ = ["expand_symbols", "one_symbol_paper"]
