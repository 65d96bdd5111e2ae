"""What a sweep tries: ``--param KEY=VALUES`` specs, expanded to a grid or sampled at random,
each point a set of config overrides checked by the very code that reads a config file.

Why a command-line spec and no sweep file: a sweep is a few parameters at a time, and the
command line that ran it is then the whole record (it sits in the results next to the rows).

    rebalancer.thresholds.soft=0.004,0.006,0.008     a list: grid values (or random choices)
    rebalancer.thresholds.soft=0.004..0.01           a range: random search only (``--random N``)

Values are read as the config file reads them (strict YAML: ``6e-3`` is a number, ``true`` a
boolean, ``ema`` text). A point's overrides that equal the base config's value are dropped,
so "today's config" is the point with no overrides, however the grid spells it.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import random
from dataclasses import dataclass
from typing import Any

from core.config import AppConfig, ConfigError
from core.config.load import config_from_dict
from core.config.yaml_reader import read_yaml
from core.errors import RebalancerError

MAX_POINTS = 10_000  # a grid past this is a typo (a sweep of 10k 8-month replays is ~4 CPU-hours)
TODAY = "today"       # the label of the base config's point


class SweepSpecError(RebalancerError, ValueError):
    """A ``--param`` spec (or the points it makes) cannot be run; the message names the spec."""


# Keys a replay never reads: sweeping one runs the same config many times over. A key is
# refused when it is one of these or lies under one (``ui.theme`` under ``ui``).
UNREAD_BY_REPLAY = {
    "venue": "it trades on its own paper exchange",
    "mode": "it runs in auto mode",
    "api": "it uses no account or keys",
    "ui": "the cockpit's settings",
    "alerts": "it sends no alerts",
    "journal": "a sweep writes no journal",
    "paper.market": "the data is --market's",
    "paper.seed": "a synthetic market's setting; the data is --market's",
    "paper.market_beta": "a synthetic market's setting; the data is --market's",
    "paper.driver_seed": "a synthetic market's setting; the data is --market's",
    "paper.start_price": "a synthetic market's setting; a replay starts at the data's first price",
    "paper.speed": "it runs as fast as it can",
    "paper.state_file": "it starts from the paper: block's balances",
}


def _unread(key: str) -> str | None:
    """Why a replay ignores ``key`` (``None``: it reads it)."""
    parts = key.split(".")
    for i in range(1, len(parts) + 1):
        why = UNREAD_BY_REPLAY.get(".".join(parts[:i]))
        if why is not None:
            return why
    return None


@dataclass(frozen=True)
class Param:
    """One swept key: a list of values, or a numeric range (random search only)."""

    key: str
    values: tuple = ()
    low: float | int | None = None
    high: float | int | None = None

    @property
    def is_range(self) -> bool:
        return self.low is not None


@dataclass(frozen=True)
class Point:
    """One config to run: its overrides (dotted key -> value) and a stable id for resuming."""

    id: str
    params: dict
    label: str = ""


def _scalar(text: str, spec: str) -> Any:
    try:
        v = read_yaml(text)
    except Exception:  # noqa: BLE001 - any YAML problem (YamlProblem, yaml.YAMLError) is a bad value here
        raise SweepSpecError(f"--param {spec}: cannot read the value {text!r}: expected a number, true/false "
                             f"or a word") from None
    if v is None or isinstance(v, (dict, list)):
        raise SweepSpecError(f"--param {spec}: expected a number, true/false or a word, got {text!r}")
    return v


def parse_param(spec: str) -> Param:
    """``KEY=v1,v2,...`` or ``KEY=lo..hi``; raises ``SweepSpecError`` saying what is wrong."""
    key, eq, rhs = spec.partition("=")
    key = key.strip()
    if not eq:
        raise SweepSpecError(f"--param {spec}: expected KEY=VALUES, e.g. rebalancer.thresholds.soft=0.004,0.006")
    parts = key.split(".")
    if not key or any(not p or not p.replace("_", "").isalnum() for p in parts):
        raise SweepSpecError(f"--param {spec}: the key must be a dotted config path such as "
                             f"rebalancer.thresholds.soft")
    unread = _unread(key)
    if unread is not None:
        raise SweepSpecError(f"--param {spec}: a replay does not read {key} ({unread}): every point would give "
                             f"the same result; sweep keys under rebalancer: or paper:")
    rhs = rhs.strip()
    if not rhs:
        raise SweepSpecError(f"--param {spec}: no values after '='")
    if ".." in rhs and "," not in rhs:
        lo_s, _, hi_s = rhs.partition("..")
        lo, hi = _scalar(lo_s.strip(), spec), _scalar(hi_s.strip(), spec)
        if isinstance(lo, bool) or isinstance(hi, bool) or not all(isinstance(x, (int, float)) for x in (lo, hi)):
            raise SweepSpecError(f"--param {spec}: a range needs two numbers, e.g. 0.004..0.01")
        if not lo < hi:
            raise SweepSpecError(f"--param {spec}: a range needs low < high (got {lo}..{hi})")
        return Param(key, low=lo, high=hi)
    values = tuple(_scalar(v.strip(), spec) for v in rhs.split(","))
    if len(set(map(repr, values))) != len(values):
        raise SweepSpecError(f"--param {spec}: a value is listed twice")
    return Param(key, values=values)


def parse_params(specs: list[str]) -> list[Param]:
    params = [parse_param(s) for s in specs]
    keys = [p.key for p in params]
    for k in keys:
        if keys.count(k) > 1:
            raise SweepSpecError(f"--param {k} is given twice: list its values once, comma-separated")
    return params


def expand_grid(params: list[Param]) -> list[dict]:
    """Every combination, in the order the params and their values were given."""
    ranged = [p.key for p in params if p.is_range]
    if ranged:
        raise SweepSpecError(f"--param {ranged[0]}: a range (lo..hi) needs --random N; a grid takes a comma list")
    size = 1
    for p in params:
        size *= len(p.values)
    if size > MAX_POINTS:
        raise SweepSpecError(f"the grid has {size:,} points (at most {MAX_POINTS:,}): fewer values, or --random N")
    return [dict(zip((p.key for p in params), combo)) for combo in itertools.product(*(p.values for p in params))]


def _draw(p: Param, rng: random.Random) -> Any:
    if not p.is_range:
        return p.values[rng.randrange(len(p.values))]
    if isinstance(p.low, int) and isinstance(p.high, int):
        return rng.randint(p.low, p.high)
    return float(f"{rng.uniform(p.low, p.high):.4g}")  # 4 significant digits: readable, stable ids


def sample_random(params: list[Param], n: int, seed: int) -> list[dict]:
    """``n`` points drawn with ``seed`` (the same seed draws the same points: a re-run resumes)."""
    if not 1 <= n <= MAX_POINTS:
        raise SweepSpecError(f"--random must be 1..{MAX_POINTS:,}, got {n}")
    rng = random.Random(seed)
    return [{p.key: _draw(p, rng) for p in params} for _ in range(n)]


# ------------------------------------------------------------------ overrides -> config


def get_path(data: dict, key: str) -> tuple[bool, Any]:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def apply_overrides(base: dict, params: dict) -> dict:
    """A deep copy of the raw config dict with each dotted key set (blocks made as needed)."""
    data = copy.deepcopy(base)
    for key, value in params.items():
        node = data
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            elif not isinstance(nxt, dict):
                raise SweepSpecError(f"--param {key}: {'.'.join(parts[:i + 1])} is a value, not a block")
            node = nxt
        node[parts[-1]] = value
    return data


def point_config(base: dict, params: dict, file: str) -> AppConfig:
    """The config a point runs: the base with its overrides, checked like a config file."""
    return config_from_dict(apply_overrides(base, params), file=file, need_secrets=False)


def canonical(base: dict, params: dict) -> dict:
    """The overrides that change something (a value equal to the base's is dropped), key-sorted."""
    out = {}
    for k in sorted(params):
        found, v = get_path(base, k)
        if found and v == params[k] and type(v) is type(params[k]):
            continue
        out[k] = params[k]
    return out


def digest(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def make_points(base: dict, file: str, overrides: list[dict], run_key: dict) -> list[Point]:
    """Today's config first, then each distinct point; every one checked as a config file is.

    ``run_key`` (base config, market, band, policy) goes into every id, so a results file
    from another config or data set is never taken as done."""
    seen: set[str] = set()
    out: list[Point] = []
    for params in [{}, *overrides]:
        params = canonical(base, params)
        pid = digest({"params": params, **run_key})[:16]
        if pid in seen:
            continue
        seen.add(pid)
        try:
            point_config(base, params, file)
        except ConfigError as e:
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
            raise SweepSpecError(f"the point {shown} is not a valid config: {e}") from None
        out.append(Point(pid, params, TODAY if not params else ""))
    return out
