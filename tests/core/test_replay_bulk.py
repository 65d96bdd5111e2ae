"""Replay's bulk path against the one-by-one replay: ``run_replay(..., bulk=True)`` must leave
exactly what ``bulk=False`` leaves.

Compared, field by field (first difference reported): every fill at the paper exchange (spot,
kept without the history limit) and every record the rebalancer writes (decisions, proposals,
orders, fills incl. the grid's, trading-state changes, errors, finished rebalances), the
report except ``events_processed`` / ``wall_s`` / ``events_per_s``, the exchange's whole state
(balances, position, orders, queue, market, grid), the gap history, the trend (view, EMAs,
chart, slope history, version, the forming candle), the policy memory, the recent-fill anchors,
the rebalancer's market/account/decision state, its bad-data count, statistics (apart from the
event count) and log, and the kill switch's state. The kill switch's peak / last equity are
compared exactly too (``test_kill_switch_equity_is_bit_identical``).

Every comparison also checks that the bulk path actually ran (fewer events processed; the
whole-minute path on kline tapes), so a bulk path that silently fell back to one-by-one cannot
pass. Data: a synthetic market and tapes built here (gaps, unaligned and irregular bars,
crossed quotes, a grid level hit inside a bar, the kill switch tripping mid-run (idle,
trading, with orders in flight), a tape ending mid-minute, candles of other lengths than the
1-minute samples, venue latency, quotes outlasting the trades), and the recorded files in
../shared/data. The default run takes a sample: every tape with the repository's config, and
each kind of recorded file (klines with quote bars, trades + BBO, trades alone, one volatile
day of the Bybit month) once per policy. ``-m slow`` runs the whole matrix: every file and
tape with every config, the Bybit month whole and the 8-month file. Tests that need
../shared/data skip (with the reason) where it is absent. At the end, the mismatches this file
found once (invalid quotes and trade sizes absorbed in bulk instead of refused, the kill
switch's equity summed in another order), kept as tests.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from unittest import mock

import pytest

import core.venues.paper_setup as replay_paper
from core.bulk import KlineBars
from core.config import POLICY_NAMES, AppConfig, load_config
from core.model import Leg, TradingState
from core.rebalancer import Recorder
from core.replay import WALL_FIELDS, build_grid, run_replay
from core.trend import TrendTracker
from core.venues.market import MarketData, QuoteTape, SyntheticMarket, TradeTape, load_market, tick_rule_sides
from core.venues.paper_exchange import PaperExchange

MIN = 60_000
T0 = 1_700_000_040_000  # on a whole minute
P0 = 60_000.0

# "repo": the repository's settings on its realistic paper account (config.yaml's demo grid, 0.01 %
# apart, fills on every bar and leaves the bulk path nothing to prove)
CONFIG_FILES = {"repo": "examples/paper-realistic.yaml", "replay": "examples/replay.yaml",
                "simple": "examples/simple.yaml"}
POLICIES = ("anchor", "simple", "baseline")
NOT_COMPARED = ("events_processed", *WALL_FIELDS)

MONTH = "bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz"
# 4 days of the month (2025-01-20 .. 01-23: three of its five most volatile days, a grid in
# range most of the time) in the slow matrix, the first of them in the default sample; the
# whole month runs under slow too
MONTH_WINDOW = (1_737_331_200_000, 1_737_676_800_000)
MONTH_DAY = (1_737_331_200_000, 1_737_417_600_000)
EIGHT_MONTHS = "binance_usdm_BTCUSDT_1m_2022-05-01_2022-12-31.csv.gz"
USDM = ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_235959Z.csv.gz",
        "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_235959Z.csv.gz")
SPOT = ("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz",
        "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_235959Z.csv.gz")
BYBIT_12H = ("bybit_linear_BTCUSDT_1m_2022-12-13_0000-1200.csv.gz",
             "bybit_linear_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz")


# ------------------------------------------------------------------------------- running


class FullHistoryExchange(PaperExchange):
    """The replay's exchange, keeping every fill (the default history is bounded)."""

    def __init__(self, **kw):
        kw["history_limit"] = 10 ** 9
        super().__init__(**kw)


class EventLog(Recorder):
    """Every record the rebalancer writes, in order. ``tick`` and ``snapshot`` stay the no-op
    defaults: the rebalancer only leaves its whole-minute bulk path for recorders that write
    those (see ``SnapshotLog``)."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def decision(self, decision, mode, outcome):
        self.rows.append(("decision", decision, mode, outcome))

    def proposal(self, ts_ms, proposal, answer):
        self.rows.append(("proposal", ts_ms, proposal, answer))

    def order(self, ts_ms, order, event):
        self.rows.append(("order", ts_ms, order, event))

    def fill(self, fill):
        self.rows.append(("fill", fill))

    def state(self, ts_ms, kind, value, reason):
        self.rows.append(("state", ts_ms, kind, value, reason))

    def error(self, ts_ms, message, code=None):
        self.rows.append(("error", ts_ms, message, code))

    def rebalance_done(self, ts_ms, side, qty_base, path):
        self.rows.append(("done", ts_ms, side, qty_base, path))


class SnapshotLog(EventLog):
    """A journal-like recorder: it writes account snapshots too."""

    def snapshot(self, ts_ms, **kw):
        self.rows.append(("snapshot", ts_ms, tuple(sorted(kw.items()))))


@dataclass
class Outcome:
    parts: dict[str, object]  # compared exactly, in this order
    equity: tuple  # the kill switch's (peak, last): compared exactly
    events: int  # events_processed
    close_many_calls: int  # whole-minute bulk runs taken
    rows: list[tuple]
    report: dict
    bad_messages: int
    halted: bool


def replay(cfg: AppConfig, market: MarketData, policy: str, *, bulk: bool,
           recorder: type[EventLog] = EventLog) -> Outcome:
    rec = recorder()
    calls = []
    close_many = TrendTracker.close_many

    def counting_close_many(self, first_end, closes):
        calls.append(len(closes))
        return close_many(self, first_end, closes)

    with mock.patch.object(replay_paper, "PaperExchange", FullHistoryExchange), \
            mock.patch.object(TrendTracker, "close_many", counting_close_many):
        res = run_replay(cfg, market, policy=policy, bulk=bulk, recorder=rec)
    reb, ex = res.rebalancer, res.exchange
    assert type(ex) is FullHistoryExchange
    report = {k: v for k, v in res.report.items() if k not in NOT_COMPARED}
    trend, candle = reb.trend, reb.trend.builder
    stats = asdict(reb.stats)
    stats.pop("events")
    state = ex.to_state()
    spot_fills = state.pop("fills")
    recent = reb.recent
    parts = {
        "exchange fills": list(ex.fills()),
        "recorded rows": rec.rows,
        "report": report,
        "exchange state": state,
        "gap_history": list(reb.gap_history),
        "trend view": trend.view(),
        "trend EMAs (fast, slow, candles_seen, version)": (trend.ema_fast, trend.ema_slow, trend.candles_seen,
                                                          trend.version),
        "trend chart": list(trend.chart),
        "trend fast-EMA history": list(trend._fast_hist),
        "forming candle (start, end, open, high, low, close, volume, empty)": (
            candle.start, candle.end, candle.open, candle.high, candle.low, candle.close, candle.volume, candle.empty),
        "policy memory": reb.memory,
        "recent fills (buy_vwap, sell_vwap, buy_count, sell_count, buy_qty, sell_qty, next_change)": (
            recent.buy_vwap, recent.sell_vwap, recent.buy_count, recent.sell_count, recent.buy_qty, recent.sell_qty,
            recent.next_change_ms()),
        "kill switch (state, reason)": (reb.risk.state, reb.risk.halt_reason),
        "rebalancer market (price, bid, ask, has_quotes, now_ms, last_market_ms)": (
            reb.price, reb.bid, reb.ask, reb.has_quotes, reb.now_ms, reb.last_market_ms),
        "rebalancer account (spot_total, futures_size, net_base, gap_base)": (
            reb.book.spot_total, reb.book.futures_size, reb.book.net_base, reb.gap_base()),
        "rebalancer decision / proposal / exec": (reb.decision, reb.proposal, reb.exec is None),
        "rebalancer bad_messages": reb.bad_messages,
        "rebalancer stats (all but events)": stats,
        "rebalancer log": list(reb.log),
    }
    assert len(spot_fills) == len(parts["exchange fills"])  # nothing trimmed
    return Outcome(parts=parts, equity=(reb.risk.peak_equity, reb.risk.last_equity), events=reb.stats.events,
                   close_many_calls=len(calls), rows=rec.rows, report=res.report, bad_messages=reb.bad_messages,
                   halted=reb.risk.state is TradingState.HALTED)


def first_difference(a, b) -> str:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return f"first difference at [{i}]:\n  one-by-one: {x!r}\n  bulk:       {y!r}"
        return f"lengths differ: one-by-one {len(a)}, bulk {len(b)}"
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() | b.keys():
            if a.get(k) != b.get(k):
                return f"first difference at [{k!r}]:\n  one-by-one: {a.get(k)!r}\n  bulk:       {b.get(k)!r}"
    return f"\n  one-by-one: {a!r}\n  bulk:       {b!r}"


def assert_same(ref: Outcome, got: Outcome) -> None:
    assert list(ref.parts) == list(got.parts)
    for name, want in ref.parts.items():
        have = got.parts[name]
        if have != want:
            pytest.fail(f"bulk replay differs from one-by-one in {name}: {first_difference(want, have)}")
    assert got.equity == ref.equity, "kill switch peak / last equity"


def compare(cfg: AppConfig, market: MarketData, policy: str, **kw) -> tuple[Outcome, Outcome]:
    """Replay one-by-one and in bulk, assert they agree, and that the bulk path did something."""
    ref = replay(cfg, market, policy, bulk=False, **kw)
    got = replay(cfg, market, policy, bulk=True, **kw)
    assert_same(ref, got)
    assert ref.close_many_calls == 0  # only the bulk path closes candles in runs
    assert got.events <= ref.events
    return ref, got


# ------------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def configs(repo_root) -> dict[str, AppConfig]:
    return {name: load_config(repo_root / path, need_secrets=False) for name, path in CONFIG_FILES.items()}


@pytest.fixture(scope="module")
def data_dir(shared_data_dir) -> Path:
    """../shared/data, or a skip that says it is absent."""
    if not shared_data_dir.is_dir():
        pytest.skip(f"needs the recorded market data in {shared_data_dir} (../shared/data), absent here")
    return shared_data_dir


def kline_hint(market: MarketData) -> MarketData:
    """A window of a kline tape, cut on whole minutes, keeps its 4-prints-per-bar shape; the
    hint that says so (which ``window`` drops) is put back, and must pass ``KlineBars.build``."""
    market.trades.points_per_bar = 4
    assert KlineBars.build(market.trades) is not None
    return market


DATA_SETS: dict[str, Callable[[Path], MarketData]] = {
    "bybit_month_4_volatile_days": lambda d: kline_hint(load_market(d / MONTH).window(*MONTH_WINDOW)),
    "bybit_month_1_volatile_day": lambda d: kline_hint(load_market(d / MONTH).window(*MONTH_DAY)),
    "binance_usdm_trades_bbo": lambda d: load_market([d / f for f in USDM]),
    "binance_spot_trades_bbo": lambda d: load_market([d / f for f in SPOT]),
    "bybit_12h_klines_quotes": lambda d: load_market([d / f for f in BYBIT_12H]),
    # real ticks through the trades-only loop (no bars, no quotes)
    "binance_usdm_trades_only": lambda d: load_market(d / USDM[0]),
}
KLINE_SETS = {"bybit_month_4_volatile_days", "bybit_month_1_volatile_day", "bybit_month_full",
              "binance_usdm_8_months"}
SAMPLE_SETS = ("bybit_month_1_volatile_day", "binance_usdm_trades_bbo", "bybit_12h_klines_quotes",
               "binance_usdm_trades_only")  # the default run: each kind of recorded file once
SLOW_MATRIX_SETS = [name for name in DATA_SETS if name != "bybit_month_1_volatile_day"]


@pytest.fixture(scope="module")
def markets(data_dir) -> Callable[[str], MarketData]:
    cache: dict[str, MarketData] = {}

    def get(name: str) -> MarketData:
        if name not in cache:
            builder = DATA_SETS.get(name) or SLOW_DATA_SETS[name]
            cache[name] = builder(data_dir)
        return cache[name]

    return get


def synthetic_hour() -> MarketData:
    return SyntheticMarket(seed=7, start_ms=T0, start_price=P0).tape(3_600_000)


def check_data_set(name: str, ref: Outcome, got: Outcome) -> None:
    r = ref.report
    assert r["grid_fills"] > 0 or r["fills"] > 0, "nothing moved: the comparison would be empty"
    assert got.events < ref.events, "the bulk path took nothing in bulk"
    if name in KLINE_SETS:
        assert got.close_many_calls > 0, "the whole-minute bulk path never ran on a kline tape"


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("config_name", list(CONFIG_FILES))
def test_bulk_replay_equals_one_by_one_on_a_synthetic_hour(config_name, policy, configs):
    ref, got = compare(configs[config_name], synthetic_hour(), policy)
    check_data_set("synthetic_1h", ref, got)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("data_name", SAMPLE_SETS)
def test_bulk_replay_equals_one_by_one_on_recorded_data(data_name, policy, configs, markets):
    ref, got = compare(configs["repo"], markets(data_name), policy)
    check_data_set(data_name, ref, got)


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("config_name", list(CONFIG_FILES))
@pytest.mark.parametrize("data_name", SLOW_MATRIX_SETS)
def test_bulk_replay_equals_one_by_one_on_every_recorded_file(data_name, config_name, policy, configs, markets):
    ref, got = compare(configs[config_name], markets(data_name), policy)
    check_data_set(data_name, ref, got)


SLOW_DATA_SETS: dict[str, Callable[[Path], MarketData]] = {
    "bybit_month_full": lambda d: load_market(d / MONTH),
    "binance_usdm_8_months": lambda d: load_market(d / EIGHT_MONTHS),
}


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("config_name", list(CONFIG_FILES))
def test_bulk_replay_equals_one_by_one_over_the_whole_month(config_name, policy, configs, markets):
    ref, got = compare(configs[config_name], markets("bybit_month_full"), policy)
    check_data_set("bybit_month_full", ref, got)


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
def test_bulk_replay_equals_one_by_one_over_eight_months(policy, configs, markets):
    # examples/replay.yaml is the config for long data sets (a grid wide enough for months)
    ref, got = compare(configs["replay"], markets("binance_usdm_8_months"), policy)
    check_data_set("binance_usdm_8_months", ref, got)


# ------------------------------------------------------------------------------- hand-written tapes


def walk(rng: random.Random, times: list[int], p0: float, vol: float = 1e-4, drift: float = 0.0) -> list[tuple]:
    """Kline rows ``(ts, open, high, low, close, volume)`` of a random walk (0.1 tick), each
    bar opening at the previous close."""
    rows = []
    p = p0
    for t in times:
        o = p
        c = round(o * (1.0 + drift + rng.gauss(0.0, vol)), 1)
        h = round(max(o, c) * (1.0 + abs(rng.gauss(0.0, vol / 2))), 1)
        lo = round(min(o, c) * (1.0 - abs(rng.gauss(0.0, vol / 2))), 1)
        rows.append((t, o, h, lo, c, round(rng.uniform(0.0, 30.0), 3)))
        p = c
    return rows


def minutes(start: int, n: int, step: int = MIN) -> list[int]:
    return [start + k * step for k in range(n)]


def write_klines(path: Path, rows: list[tuple]) -> Path:
    lines = ["ts_ms,open,high,low,close,volume"]
    lines += [f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}" for t, o, h, lo, c, v in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_klines(path: Path, rows: list[tuple]) -> MarketData:
    m = load_market(write_klines(path, rows))
    assert m.bad_rows == 0 and len(m.trades) == 4 * len(rows)
    return m


def every_policy(reb, **change):
    """``reb`` with each named policy's own settings changed (the chosen one and the others)."""
    blocks = [reb.settings_for(name) for name in POLICY_NAMES]
    blocks = [change[b.name](b) if b.name in change else b for b in blocks]
    return replace(reb, settings=next(b for b in blocks if b.name == reb.policy),
                   other_policies=tuple(b for b in blocks if b.name != reb.policy))


def tweak(cfg: AppConfig, *, paper: dict | None = None, risk: dict | None = None,
          net_target_base: float | None = None, timeframe: str | None = None) -> AppConfig:
    """``cfg`` with paper-account / risk changes and, optionally, every policy's target at
    ``net_target_base`` (the simple policy's in USDT at ``P0``) and its trend's candle length."""
    reb = cfg.rebalancer
    if timeframe is not None:
        reb = every_policy(reb, anchor=lambda a: replace(a, ema=replace(a.ema, timeframe=timeframe)),
                           simple=lambda s: replace(s, ema_timeframe=timeframe))
    if risk:
        reb = replace(reb, risk=replace(reb.risk, **risk))
    if net_target_base is not None:
        reb = every_policy(reb, anchor=lambda a: replace(a, desired_net_delta_base=net_target_base),
                           baseline=lambda b: replace(b, desired_net_delta_base=net_target_base),
                           simple=lambda s: replace(s, target_delta_usdt=net_target_base * P0))
    return replace(cfg, rebalancer=reb, paper=replace(cfg.paper, **(paper or {})))


@dataclass
class Tricky:
    cfg: AppConfig
    market: MarketData
    check: Callable[[Outcome, Outcome], None]  # that the tricky thing really happened


def halted_mid_run(market: MarketData) -> Callable[[Outcome, Outcome], None]:
    def check(ref: Outcome, got: Outcome) -> None:
        assert ref.halted and got.halted
        halts = [r[1] for r in ref.rows if r[0] == "state" and r[3] == TradingState.HALTED.value]
        start, end = market.trades.ts_ms[0], market.trades.ts_ms[-1]
        assert len(halts) == 1 and start + 5 * MIN < halts[0] < end - 5 * MIN, "the kill switch must trip mid-run"
    return check


def tape_kline_gaps(cfg, tmp_path) -> Tricky:
    """Minute bars with holes of 2, 3, 7, 15, 61 minutes and one of 25 hours (longer than the
    1,000 empty candles the trend back-fills)."""
    rng = random.Random(1)
    times, t = [], T0
    for k in range(700):
        times.append(t)
        t += {100: 3, 200: 4, 300: 8, 400: 16, 500: 62, 600: 1_500}.get(k, 1) * MIN
    market = load_klines(tmp_path / "gaps.csv", walk(rng, times, P0))
    bars = KlineBars.build(market.trades)
    assert bars is not None and len(bars.breaks) == 7

    def check(ref, got):
        assert got.close_many_calls > 0
    return Tricky(cfg, market, check)


def tape_kline_unaligned(cfg, tmp_path) -> Tricky:
    """Aligned bars, then bars 17 s past the minute (60 s apart), then bars 61 s apart (the
    offset drifting), then aligned again."""
    rng = random.Random(2)
    times = minutes(T0, 150)
    times += minutes(times[-1] + MIN + 17_000, 150)
    times += minutes(times[-1] + 61_000, 80, step=61_000)
    times += minutes(times[-1] + 2 * MIN - times[-1] % MIN, 150)
    market = load_klines(tmp_path / "unaligned.csv", walk(rng, times, P0))
    assert sum(t % MIN != 0 for t in times) >= 200

    def check(ref, got):
        assert got.close_many_calls > 0
    return Tricky(cfg, market, check)


def tape_irregular_bars(cfg, tmp_path) -> Tricky:
    """A tape built directly with the 4-prints-per-bar hint, where some bars are not what a
    kline expands to: a bar spilling past its minute before a gap, a bar whose last print is
    on the next minute's first millisecond before a gap, a bar with all four prints at one
    instant, and a last bar ending 15 s into its minute."""
    rng = random.Random(3)
    starts = minutes(T0, 200) + minutes(T0 + 203 * MIN, 197) + minutes(T0 + 402 * MIN, 98)
    offsets = {199: (0, 20_000, 40_000, 75_000), 396: (0, 20_000, 40_000, 60_000), 300: (0, 0, 0, 0)}
    rows = walk(rng, starts, P0)
    ts, px, qty = array("q"), array("d"), array("d")
    for k, (t, o, h, lo, c, v) in enumerate(rows):
        offs = offsets.get(k, (0, 5_000, 10_000, 15_000) if k == len(rows) - 1 else (0, 20_000, 40_000, 59_999))
        path = (o, lo, h, c) if c >= o else (o, h, lo, c)
        for off, p in zip(offs, path):
            ts.append(t + off)
            px.append(p)
            qty.append(v / 4)
    tape = TradeTape(ts, px, qty, tick_rule_sides(px))
    tape.points_per_bar = 4
    assert list(ts) == sorted(ts) and KlineBars.build(tape) is not None
    assert ts[-1] % MIN == 15_000

    def check(ref, got):
        assert got.close_many_calls > 0
    return Tricky(cfg, MarketData(trades=tape), check)


def tape_klines_ending_mid_minute(cfg, tmp_path) -> Tricky:
    """A kline tape cut 30 s into its last bar (two of its four prints)."""
    rng = random.Random(4)
    rows = walk(rng, minutes(T0, 400), P0)
    market = load_klines(tmp_path / "cut.csv", rows).window(end_ms=rows[-1][0] + 30_000)
    assert len(market.trades) == 4 * 399 + 2 and market.trades.ts_ms[-1] % MIN == 20_000
    return Tricky(cfg, market, lambda ref, got: None)


def tape_grid_level_inside_bar(cfg, tmp_path) -> Tricky:
    """Flat bars at the first price, then a bar whose high (an intrabar print) is exactly the
    grid's next sell level, later one whose low goes three levels through the next buy, then a
    random walk. Open and close of both bars stay at the first price."""
    grid = build_grid(cfg.paper.grid, P0)
    grid.start(P0, T0)
    info = grid.to_dict()
    sell, buy = float(info["next_sell"]), float(info["next_buy"])
    spacing = sell - buy
    times = minutes(T0, 400)
    rows = [(t, P0, P0, P0, P0, 1.0) for t in times[:60]]
    rows.append((times[60], P0, sell, P0, P0, 2.0))  # up bar: open, low, HIGH at +40 s, close
    rows += [(t, P0, P0, P0, P0, 1.0) for t in times[61:120]]
    rows.append((times[120], P0, P0, round(buy - 3 * spacing, 2), P0, 2.0))
    rows += walk(random.Random(5), times[121:], P0)
    market = load_klines(tmp_path / "grid.csv", rows)

    def check(ref, got):
        grid_fills = [r[1] for r in ref.rows if r[0] == "fill" and r[1].leg is Leg.LINEAR]
        assert any(f.ts_ms == times[60] + 40_000 and float(f.price) == sell for f in grid_fills)
        assert any(f.ts_ms == times[120] + 40_000 for f in grid_fills)  # down bar: open, high, LOW at +40 s
    return Tricky(cfg, market, check)


def tape_crossed_quotes(cfg, tmp_path) -> Tricky:
    """A synthetic trades + quotes tape with crossed quotes (bid > ask) mid-stream: single
    ones, and bursts of five."""
    m = SyntheticMarket(seed=3, start_ms=T0, start_price=P0).tape(40 * MIN)
    q = m.quotes
    bid, ask = array("d", q.bid), array("d", q.ask)
    for i in range(300, len(bid) - 5, 700):
        for j in range(i, i + (5 if i % 1400 == 300 else 1)):
            bid[j], ask[j] = ask[j] + 0.5, bid[j]
    quotes = QuoteTape(array("q", q.ts_ms), bid, array("d", q.bid_qty), ask, array("d", q.ask_qty))

    def check(ref, got):
        assert ref.bad_messages >= 20  # the crossed quotes reached the rebalancer, and were refused
    return Tricky(cfg, MarketData(trades=m.trades, quotes=quotes), check)


def crash_rows(seed: int) -> list[tuple]:
    """Two hours of a mild walk, five hours of a steady fall (about -8.6 %), an hour flat."""
    rng = random.Random(seed)
    rows = walk(rng, minutes(T0, 120), P0, vol=3e-4)
    rows += walk(rng, minutes(T0 + 120 * MIN, 300), rows[-1][4], vol=2e-4, drift=-3e-4)
    rows += walk(rng, minutes(T0 + 420 * MIN, 60), rows[-1][4], vol=1e-4)
    return rows


def tape_kill_switch_crash(cfg, tmp_path) -> Tricky:
    """An unhedged account (0.5 BTC spot, no futures, target net 0.5) with the config's grid,
    a 2 % drawdown limit and a crash: the kill switch trips mid-run."""
    cfg = tweak(cfg, paper={"futures_size": 0.0}, risk={"max_drawdown_pct": 2.0}, net_target_base=0.5)
    market = load_klines(tmp_path / "crash.csv", crash_rows(6))
    return Tricky(cfg, market, halted_mid_run(market))


def tape_kill_switch_idle(cfg, tmp_path) -> Tricky:
    """The same crash with no grid, so the account sits in a sure HOLD and whole minutes pass
    in bulk; the limit is a quote amount (1,500 USDT) this time."""
    cfg = tweak(cfg, paper={"futures_size": 0.0, "grid": None},
                risk={"max_drawdown_pct": 50.0, "max_drawdown_quote": 1_500.0}, net_target_base=0.5)
    market = load_klines(tmp_path / "crash.csv", crash_rows(7))
    check_halt = halted_mid_run(market)

    def check(ref, got):
        check_halt(ref, got)
        assert got.close_many_calls > 0
    return Tricky(cfg, market, check)


def tape_candles_of_15s(cfg, tmp_path) -> Tricky:
    """Trades + quotes with 15 s candles: candles close between the minute samples (the quotes
    loop's quiet band must end at the candle, not only at the sample)."""
    market = SyntheticMarket(seed=9, start_ms=T0, start_price=P0, trades_per_s=1.0).tape(30 * MIN)
    return Tricky(tweak(cfg, timeframe="15s"), market, lambda ref, got: None)


def tape_candles_of_5m(cfg, tmp_path) -> Tricky:
    """Trades + quotes, then klines without quotes, with 5-minute candles: samples fall inside
    candles (the quotes loop's quiet band must end at the sample)."""
    syn = SyntheticMarket(seed=10, start_ms=T0, start_price=P0, trades_per_s=1.0).tape(20 * MIN)
    rows = walk(random.Random(11), minutes(T0 + 20 * MIN, 150), syn.trades.price[-1])
    klines = load_klines(tmp_path / "k5.csv", rows).trades
    trades = TradeTape.concat([syn.trades, klines])
    return Tricky(tweak(cfg, timeframe="5m"), MarketData(trades=trades, quotes=syn.quotes), lambda ref, got: None)


def tape_candles_of_3m_klines_only(cfg, tmp_path) -> Tricky:
    """A kline tape (the trades-only loop) with 3-minute candles: no whole-minute runs."""
    market = load_klines(tmp_path / "k3.csv", walk(random.Random(12), minutes(T0, 400), P0))
    return Tricky(tweak(cfg, timeframe="3m"), market, lambda ref, got: None)


def tape_venue_latency(cfg, tmp_path) -> Tricky:
    """Trades + quotes with 250 ms between sending a command and the venue applying it:
    placements and cancels wait in the venue's queue (the quiet band must end when one is due)."""
    market = SyntheticMarket(seed=13, start_ms=T0, start_price=P0).tape(20 * MIN)
    return Tricky(tweak(cfg, paper={"latency_ms": 250}), market, lambda ref, got: None)


def crash_with_quotes(seed: int) -> MarketData:
    """Trades (one a second) and quotes (four a second, one tick wide) by hand: 10 minutes
    flat, a 20-minute fall of about 0.5 % a minute, 10 minutes flat."""
    rng = random.Random(seed)
    trades, quotes = TradeTape(), QuoteTape()
    mid = P0
    for k in range(40 * 60 * 4):
        t = T0 + k * 250
        drift = -0.5 / 100 / 240 if 10 * 60 * 4 <= k < 30 * 60 * 4 else 0.0
        mid *= 1.0 + drift + rng.gauss(0.0, 2e-5)
        bid = round(mid - 0.05, 1)
        quotes.append(t, bid, round(rng.uniform(0.01, 3.0), 3), round(bid + 0.1, 1), round(rng.uniform(0.01, 3.0), 3))
        if k % 4 == 3:
            buy = rng.random() < 0.5
            trades.append(t, round(bid + 0.1, 1) if buy else bid, round(rng.uniform(0.001, 0.5), 4), int(buy))
    return MarketData(trades=trades, quotes=quotes)


def tape_kill_switch_with_orders_in_flight(cfg, tmp_path) -> Tricky:
    """The crash, unhedged, with quotes and 2 s of venue latency: the kill switch trips while
    orders and their cancels are on their way (resting orders then meet the falling book)."""
    cfg = tweak(cfg, paper={"futures_size": 0.0, "latency_ms": 2_000}, risk={"max_drawdown_pct": 2.0},
                net_target_base=0.5)
    market = crash_with_quotes(14)
    return Tricky(cfg, market, halted_mid_run(market))


def tape_quotes_outlast_the_trades(cfg, tmp_path) -> Tricky:
    """Quotes from 3 minutes before the first trade to 5 minutes after the last: the one loop
    takes quotes alone at both ends (and its bulk step runs with no trade left)."""
    m = SyntheticMarket(seed=15, start_ms=T0, start_price=P0).tape(40 * MIN)
    t, q = m.trades, m.quotes
    keep = [i for i in range(len(t)) if T0 + 3 * MIN <= t.ts_ms[i] < T0 + 35 * MIN]
    trades = TradeTape(array("q", (t.ts_ms[i] for i in keep)), array("d", (t.price[i] for i in keep)),
                       array("d", (t.qty[i] for i in keep)), bytearray(t.side[i] for i in keep))
    assert q.ts_ms[0] < trades.ts_ms[0] - 2 * MIN and q.ts_ms[-1] > trades.ts_ms[-1] + 4 * MIN

    def check(ref, got):
        assert ref.report["events_in"] == len(trades) + len(q)
    return Tricky(cfg, MarketData(trades=trades, quotes=q), check)


TRICKY_TAPES: dict[str, Callable[[AppConfig, Path], Tricky]] = {
    "kline_gaps": tape_kline_gaps,
    "kline_unaligned": tape_kline_unaligned,
    "irregular_bars": tape_irregular_bars,
    "klines_ending_mid_minute": tape_klines_ending_mid_minute,
    "grid_level_inside_bar": tape_grid_level_inside_bar,
    "crossed_quotes": tape_crossed_quotes,
    "kill_switch_crash": tape_kill_switch_crash,
    "kill_switch_idle": tape_kill_switch_idle,
    "candles_of_15s": tape_candles_of_15s,
    "candles_of_5m": tape_candles_of_5m,
    "candles_of_3m_klines_only": tape_candles_of_3m_klines_only,
    "venue_latency": tape_venue_latency,
    "kill_switch_with_orders_in_flight": tape_kill_switch_with_orders_in_flight,
    "quotes_outlast_the_trades": tape_quotes_outlast_the_trades,
}


CONFIGS_FOR_TAPES = [pytest.param(name, marks=() if name == "repo" else pytest.mark.slow) for name in CONFIG_FILES]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("config_name", CONFIGS_FOR_TAPES)
@pytest.mark.parametrize("tape", list(TRICKY_TAPES))
def test_bulk_replay_equals_one_by_one_on_tricky_tapes(tape, config_name, policy, configs, tmp_path):
    t = TRICKY_TAPES[tape](configs[config_name], tmp_path)
    ref, got = compare(t.cfg, t.market, policy)
    assert got.events < ref.events, "the bulk path took nothing in bulk"
    t.check(ref, got)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("tape", ["kill_switch_idle", "irregular_bars"])
def test_bulk_replay_with_a_snapshot_writing_recorder(tape, policy, configs, tmp_path):
    """A journal writes account snapshots: the bulk path must write the same ones (it leaves
    whole-minute runs for the per-event path then, which writes them in place)."""
    t = TRICKY_TAPES[tape](configs["repo"], tmp_path)
    ref, got = compare(t.cfg, t.market, policy, recorder=SnapshotLog)
    assert sum(r[0] == "snapshot" for r in ref.rows) > 100
    assert got.events < ref.events


# ------------------------------------------------------------------------------- known mismatches


def test_kill_switch_equity_is_bit_identical(configs, data_dir):
    market = load_market(data_dir / BYBIT_12H[0])
    ref = replay(configs["replay"], market, "anchor", bulk=False)
    got = replay(configs["replay"], market, "anchor", bulk=True)
    assert got.close_many_calls > 0
    assert got.equity == ref.equity


def write_trades_and_bbo(tmp_path: Path, market: MarketData) -> tuple[Path, Path]:
    t, q = market.trades, market.quotes
    trades = ["ts_ms,price,qty,side,trade_id"] + [
        f"{t.ts_ms[i]},{t.price[i]!r},{t.qty[i]!r},{'buy' if t.side[i] else 'sell'},{i + 1}" for i in range(len(t))]
    bbo = ["ts_ms,recv_ts_ms,bid,bid_qty,ask,ask_qty,update_id"] + [
        f"{q.ts_ms[i]},{q.ts_ms[i]},{q.bid[i]!r},{q.bid_qty[i]!r},{q.ask[i]!r},{q.ask_qty[i]!r},{i + 1}"
        for i in range(len(q))]
    tp, qp = tmp_path / "trades.csv", tmp_path / "bbo.csv"
    tp.write_text("\n".join(trades) + "\n", encoding="utf-8")
    qp.write_text("\n".join(bbo) + "\n", encoding="utf-8")
    return tp, qp


@pytest.mark.parametrize("policy", POLICIES)
def test_bulk_refuses_invalid_quotes_like_one_by_one(policy, configs, tmp_path):
    m = SyntheticMarket(seed=5, start_ms=T0, start_price=P0).tape(60 * MIN)
    for i in range(500, len(m.quotes), 37):
        m.quotes.ask[i] = 2e12
    bad = len(range(500, len(m.quotes), 37))
    assert load_market(write_trades_and_bbo(tmp_path, m)).bad_rows == bad  # a file's are refused at load ...
    assert max(m.quotes.ask) == 2e12
    compare(configs["repo"], m, policy)  # ... and a tape's by the rebalancer, in bulk as one by one


@pytest.mark.parametrize("policy", POLICIES)
def test_bulk_refuses_invalid_trade_sizes_like_one_by_one(policy, configs, tmp_path):
    m = SyntheticMarket(seed=5, start_ms=T0, start_price=P0).tape(30 * MIN)
    for i in (1_000, 5_000):
        m.trades.qty[i] = 2e12
    tp, _ = write_trades_and_bbo(tmp_path, m)
    assert load_market(tp).bad_rows == 2  # a file's are refused at load ...
    trades_only = MarketData(trades=m.trades)
    assert max(trades_only.trades.qty) == 2e12
    compare(configs["repo"], trades_only, policy)  # ... and a tape's by the rebalancer, in bulk as one by one


@pytest.mark.parametrize("policy", ("anchor", "baseline", "simple"))
def test_bulk_refuses_nan_prices_on_a_trades_only_tape_like_one_by_one(policy, configs):
    """The bulk step skips its per-run NaN test on a tape with no NaN price (``FastForward.no_nan``,
    read once): a tape with one must still stop each run at it, as one by one refuses it."""
    m = SyntheticMarket(seed=5, start_ms=T0, start_price=P0).tape(30 * MIN)
    nans = range(1_001, len(m.trades) - 1, 397)
    for i in nans:
        m.trades.price[i] = float("nan")
    trades_only = MarketData(trades=m.trades)
    ref, got = compare(configs["repo"], trades_only, policy)
    assert ref.bad_messages == len(nans)  # every NaN print reached the rebalancer, and was refused
