"""Shared helpers for the benchmark scripts (not part of the product; nothing here is imported by core/ or tui/).

Every benchmark script:

* puts the repository root on ``sys.path`` (they run as ``python bench/<name>.py``);
* builds its result with ``result(...)``: parameters, measured figures and ``checks``
  (one per target: value, target, pass/miss);
* prints that result as JSON on stdout (last line) and, with ``--json OUT``, writes it to OUT.

Figures depend on the machine; where the machine's speed matters a script also reports a ratio
against a baseline measured in the same run (a plain loop, a plain CSV parse, ...).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# where the recorded files live: the rule of core.venues.market.default_data_dir (not imported
# here, so that a benchmark's baseline does not pay for importing the core)
DATA_DIR = Path(os.environ.get("REBALANCER_SHARED_DATA") or REPO.parent / "shared" / "data").expanduser()
BIG_KLINES = DATA_DIR / "binance_usdm_BTCUSDT_1m_2022-05-01_2022-12-31.csv.gz"
SMALL_KLINES = DATA_DIR / "bybit_spot_BTCUSDT_1m_2022-12-13.csv.gz"
MONTH_KLINES = DATA_DIR / "bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz"
USDM_TRADES = DATA_DIR / "binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_235959Z.csv.gz"
USDM_BBO = DATA_DIR / "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_235959Z.csv.gz"

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in [0, 1]) of an unsorted sequence; None when empty."""
    if not values:
        return None
    s = sorted(values)
    if len(s) == 1:
        return float(s[0])
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return float(s[lo] + (s[hi] - s[lo]) * (pos - lo))


def rnd(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


# ---------------------------------------------------------------------------- /proc readers


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size from /proc/<pid>/statm (field 2, in pages)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


def cpu_ticks(pid: int | str = "self", tid: int | None = None) -> int:
    """utime + stime (clock ticks) of a process, or of one of its threads, from /proc/.../stat."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    with open(path) as f:
        raw = f.read()
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may contain spaces
    return int(fields[11]) + int(fields[12])  # utime (14th), stime (15th) field overall


def cpu_seconds(pid: int | str = "self", tid: int | None = None) -> float:
    return cpu_ticks(pid, tid) / CLK_TCK


# ---------------------------------------------------------------------------- machine


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine_info() -> dict:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    mem_total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    try:
        import textual

        textual_version = getattr(textual, "__version__", None)
        if textual_version is None:
            from importlib.metadata import version

            textual_version = version("textual")
    except Exception:  # noqa: BLE001
        textual_version = None
    dirty = _git("status", "--porcelain", "--", "core", "tui")
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "mem_total_bytes": mem_total,
        "loadavg_at_start": [round(x, 2) for x in load] if load else None,
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
        "platform": platform.platform(),
        "textual": textual_version,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty_core_tui_files": len(dirty.splitlines()) if dirty else 0,
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


# ---------------------------------------------------------------------------- results


def check(name: str, value: float | None, op: str, target: float, unit: str = "") -> dict:
    """One target: ``value op target`` (op is '>=' or '<=' or '=='); a None value is a miss."""
    if value is None:
        ok = False
    elif op == ">=":
        ok = value >= target
    elif op == "<=":
        ok = value <= target
    elif op == "==":
        ok = value == target
    else:  # pragma: no cover
        raise ValueError(op)
    return {"name": name, "value": value, "op": op, "target": target, "unit": unit, "pass": bool(ok)}


def result(benchmark: str, *, params: dict, figures: dict, checks: Iterable[dict], notes: str = "",
           extra: dict | None = None) -> dict:
    out = {"benchmark": benchmark, "params": params, "figures": figures, "checks": list(checks)}
    if notes:
        out["notes"] = notes
    if extra:
        out.update(extra)
    return out


def emit(res: dict, json_out: str | None) -> None:
    text = json.dumps(res, indent=None, default=str)
    if json_out:
        Path(json_out).write_text(json.dumps(res, indent=2, default=str) + "\n", encoding="utf-8")
    print(text, flush=True)


def add_common_args(p) -> None:
    p.add_argument("--json", dest="json_out", metavar="OUT", help="also write the result as JSON to OUT")
    p.add_argument("--quick", action="store_true", help="a small run (minutes → seconds)")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# ---------------------------------------------------------------------------- configs

BENCH_CONFIG = "examples/paper-realistic.yaml"  # config.yaml's paper market is tuned for demonstration


def load_app_config(path: str | None = None, **changes):
    """The repository's settings on a realistic paper account (``examples/paper-realistic.yaml``:
    ``config.yaml`` with its paper market as it was before the demo tuning, so figures stay
    comparable), journal off, mode auto, unless told otherwise."""
    from dataclasses import replace

    from core.config import load_config

    cfg = load_config(path or str(REPO / BENCH_CONFIG), need_secrets=False, load_env_file=False)
    changes.setdefault("mode", "auto")
    journal = replace(cfg.journal, enabled=False)
    return replace(cfg, journal=journal, **changes)


def config_from(data: dict):
    from core.config import config_from_dict

    return config_from_dict(data, file="<bench>", need_secrets=False)


def profile_top(fn: Callable[[], object], *, limit: int = 15, sort: str = "tottime") -> list[dict]:
    """cProfile ``fn`` and return the top functions by ``sort`` as plain dicts."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    try:
        fn()
    finally:
        prof.disable()
    st = pstats.Stats(prof)
    total = st.total_tt or 1e-12
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append((tt, ct, nc, f"{Path(file).name}:{line}({func})"))
    key = 0 if sort == "tottime" else 1
    rows.sort(key=lambda r: r[key], reverse=True)
    return [
        {"function": name, "calls": nc, "tottime_s": round(tt, 3), "cumtime_s": round(ct, 3),
         "tottime_pct": round(100.0 * tt / total, 1)}
        for tt, ct, nc, name in rows[:limit]
    ]
