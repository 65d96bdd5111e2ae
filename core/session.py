"""The one place a session is assembled: config + environment -> journal, rebalancer, venue, engine.

Every entry uses it — the cockpit, headless, the Bybit and paper venues, and replay (through
``build_rebalancer``) — so a setting means the same thing everywhere and a new part is wired
once. What differs between them is the ``Environment`` the shell hands in: where files go,
what time it is, and (for tests and benchmarks) a few overrides. Nothing here reads the wall
clock or opens files on its own account beyond what the environment says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.clock import WallClock
from core.config import AppConfig, ConfigError
from core.engine import Engine
from core.figures import iso_utc
from core.journal import Journal, default_journal_path
from core.journal.recorder import JournalRecorder
from core.alerts.sender import AlertSender
from core.alerts.setup import account_sender, build_alerts
from core.model import BTCUSDT_SPOT, Instrument, Mode
from core.rebalancer import Rebalancer, Recorder
from core.record_lines import labelled, tee
from core.single_instance import InstanceLock, lock_path
from core.recovery import restore_from_journal
from core.trend import CandleBuilder
from core.venues.base import Venue

WARMUP_MS = 3_600_000  # one hour of synthetic history: enough for EMA(21) on 1m candles and the slope
CLIENT_PREFIX = "rb"


@dataclass(frozen=True)
class Environment:
    """What the shell hands a session: the outside world, made explicit.

    ``data_dir``: journals go under ``<data_dir>/journals`` (None: no journal unless one is
    given); ``journal``: an already open journal (tools and tests); ``now_ms``: the wall clock;
    ``paper_speed``: overrides ``paper.speed``; ``venue_changes``: fields of the venue's
    settings to replace (``BybitSettings``: tests shorten the timings); ``mainnet_confirmed``:
    a session whose orders reach mainnet is refused without it; ``single_instance``: a second
    live session on the same account, venue and symbol is refused (``AlreadyRunning``);
    ``record_tap``: a second recorder fed the journal's very records (``core.record_lines``);
    ``alert_sender``: the account's alert sender, which every symbol's alerts share."""

    data_dir: Path | None = None
    journal: Journal | None = None
    now_ms: Callable[[], int] = field(default_factory=lambda: WallClock().now_ms)
    paper_speed: float | None = None
    venue_changes: Mapping[str, Any] = field(default_factory=dict)
    mainnet_confirmed: bool = False  # the trader said --i-understand-mainnet
    single_instance: bool = False  # hold the account + venue + symbol lock for the session's life
    record_tap: Recorder | None = None  # also gets every record the journal gets (the log's lines)
    alert_sender: AlertSender | None = None  # the account's, shared by its symbols (None: the session builds one)


@dataclass
class Session:
    config: AppConfig
    journal: Journal | None
    rebalancer: Rebalancer
    venue: Venue
    engine: Engine
    lock: InstanceLock | None = None

    def release(self) -> None:
        """Give up the single-instance lock (the process ending does it too)."""
        if self.lock is not None:
            self.lock.release()


def build_session(cfg: AppConfig, env: Environment) -> Session:
    """Wire the session ``cfg`` describes: paper (simulated) or a Bybit venue."""
    lock = None
    if env.single_instance:
        where = journal_path(cfg, env.data_dir)
        if where is not None:  # before the journal is touched: a second instance changes nothing
            lock = InstanceLock(lock_path(where)).acquire(mode=cfg.mode, now_ms=env.now_ms())
    alerts = None
    try:
        alerts = build_alerts(cfg, env.now_ms, env.alert_sender)  # a wrong URL is a ConfigError naming its key
        if alerts is not None:  # the alerts see the journal's very records
            env = replace(env, record_tap=tee(env.record_tap, alerts.tap))
        journal = env.journal if env.journal is not None else open_journal(cfg, env.data_dir)
        session = _paper_session(cfg, env, journal) if cfg.venue == "paper" else _bybit_session(cfg, env, journal)
    except BaseException:
        if lock is not None:
            lock.release()
        if alerts is not None:
            alerts.close()
        raise
    if alerts is not None:
        session.engine.attach_alerts(alerts)
    session.lock = lock
    return session


def journal_path(cfg: AppConfig, data_dir: Path | None) -> Path | None:
    """``<journal dir>/<account>-<venue>-<symbol>.sqlite`` (None: no directory to put it in)."""
    if data_dir is None and not cfg.journal.dir:
        return None
    jdir = Path(cfg.journal.dir) if cfg.journal.dir else Path(data_dir) / "journals"
    return default_journal_path(jdir, cfg.api.account_name, cfg.venue, cfg.symbol)


def open_journal(cfg: AppConfig, data_dir: Path | None) -> Journal | None:
    path = journal_path(cfg, data_dir) if cfg.journal.enabled else None
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return Journal(path, meta=journal_meta(cfg))


def journal_meta(cfg: AppConfig, venue: str | None = None) -> dict[str, str]:
    """Who a journal is of: its rows name the symbol, ``report`` groups by it."""
    return {"account": cfg.api.account_name, "venue": venue or cfg.venue, "symbol": cfg.symbol}


def mainnet_endpoints(cfg: AppConfig) -> list[str]:
    """The order paths of ``cfg``'s session that reach Bybit mainnet, whatever ``venue:`` says
    (``["REST api.bybit.com"]``; ``["venue: mainnet"]``; empty for paper and true testnet/demo)."""
    if cfg.venue == "paper":
        return []
    from core.venues.bybit_hosts import mainnet_endpoints as reached
    from core.venues.bybit_settings import BybitSettings

    hosts = reached(BybitSettings.from_config(cfg))
    return hosts if hosts or cfg.venue != "mainnet" else ["venue: mainnet"]


def check_mainnet(cfg: AppConfig, confirmed: bool) -> None:
    """Refuse, before any connection, a session that reaches mainnet unless the trader said so."""
    reached = mainnet_endpoints(cfg)
    if reached and not confirmed:
        where = "venue" if cfg.venue == "mainnet" else ("api.rest_url" if cfg.api.rest_url else "api")
        raise ConfigError(cfg.path, where, f"orders would reach Bybit MAINNET ({', '.join(reached)}), which trades "
                                           "real money: run again with --i-understand-mainnet to confirm")


def build_rebalancer(cfg: AppConfig, *, venue_name: str, instrument: Instrument, journal: Journal | None = None,
                     recorder: Recorder | None = None, mode: str | None = None, policy: str | None = None,
                     tag: str = "", maker_fee_rate: float = 0.001, taker_fee_rate: float = 0.001,
                     tap: Recorder | None = None) -> Rebalancer:
    """The Rebalancer a session (or a replay) runs. With a journal: recorded into it, and with
    cooldown / hysteresis memory and a kill-switch halt restored from it. ``tap`` gets the same
    records (the log file's lines)."""
    if journal is not None and recorder is None:
        recorder = JournalRecorder(journal)
    recorder = tee(recorder, tap)
    reb = Rebalancer(cfg.rebalancer, instrument, symbol=cfg.symbol, venue_name=venue_name,
                     mode=Mode(mode or cfg.mode), policy_name=policy, client_prefix=CLIENT_PREFIX,
                     recorder=recorder, maker_fee_rate=maker_fee_rate, taker_fee_rate=taker_fee_rate)
    reb.session_tag = tag
    if journal is not None:
        # a paper account without a state file starts afresh: the old account's peak is not its own
        same_account = cfg.venue != "paper" or bool(cfg.paper.state_file and Path(cfg.paper.state_file).exists())
        restore_from_journal(reb, journal, same_account=same_account)
    return reb


# ------------------------------------------------------------------------------ paper


def _paper_session(cfg: AppConfig, env: Environment, journal: Journal | None) -> Session:
    from core.instruments import UnknownSymbol, for_config
    from core.venues.grid import GridBot
    from core.venues.market import SyntheticMarket
    from core.venues.paper import PaperVenue
    from core.venues.paper_setup import build_paper, fee_schedule, load_paper_market

    try:  # the symbol's own rules: bundled, or the config's instrument: block
        spot, linear = for_config(cfg)
    except UnknownSymbol as e:
        raise ConfigError(cfg.path, "symbol", str(e)) from None
    p = cfg.paper
    start_ms = env.now_ms()
    reb = build_rebalancer(cfg, venue_name="paper", instrument=spot, journal=journal,
                           tag=session_tag(start_ms), tap=env.record_tap)
    if p.market == "synthetic":
        market, candles, first_price, first_ts = _synthetic_market(p, start_ms, reb.trend.timeframe_ms,
                                                                   SyntheticMarket, spot)
    else:
        data = load_paper_market(cfg)
        market, candles = data.iter_events(), []
        first_price, first_ts = data.trades.price[0], data.trades.ts_ms[0]
    bars = p.market != "synthetic" and data.trades.from_bars
    exchange, _grid = build_paper(cfg, first_price, first_ts, bars=bars)
    if p.state_file and Path(p.state_file).exists():
        saved = json.loads(Path(p.state_file).read_text(encoding="utf-8"))
        grid = GridBot.from_state(saved["grid"], linear) if saved.get("grid") else None
        exchange = type(exchange).from_state(saved, grid=grid, fill_model=exchange.fill_model)
        reb.note("info", f"paper account restored from {p.state_file}" + (" with its grid" if grid else ""))
        exchange.fees = fee_schedule(cfg, exchange.fees)  # the config's tier applies from now, whatever the file charged
    # the rates the paper exchange charges are the ones every cost figure and estimate uses
    reb.set_rules(reb.instrument, float(exchange.fees.spot_maker), float(exchange.fees.spot_taker))
    _tag_paper_ids(exchange, reb.session_tag)
    speed = p.speed if env.paper_speed is None else env.paper_speed
    venue = PaperVenue(exchange=exchange, market=market, speed=speed, state_path=p.state_file, candles=candles)
    if speed and speed > 0:  # the trader's time to answer a proposal is wall time, whatever the speed
        reb.market_speed = float(speed)
    engine = Engine(reb, venue, clock=_ExchangeClock(exchange, first_ts), journal=journal,
                    on_start_open_orders=cfg.api.on_start_open_orders)
    return Session(cfg, journal, reb, venue, engine)


def _tag_paper_ids(exchange, tag: str) -> None:
    """Every id the simulation makes from now on carries this session's tag: order and exec ids
    (the exchange) and the grid's fill ids. Without it a fresh account or grid counts from 1
    again and the journal, keyed by exec id, drops the new fills as duplicates (issue 13)."""
    exchange.id_prefix = tag
    grid = exchange.grid
    if grid is not None and hasattr(grid, "prefix"):
        grid.prefix = f"grid-{tag}"


def _synthetic_market(p, start_ms: int, timeframe_ms: int, synthetic_market_cls, spot: Instrument = BTCUSDT_SPOT):
    """A synthetic market that started an hour ago: the hour's candles warm the EMAs up. It
    trades on the symbol's tick and qty step, its trade sizes scaled to the same USDT value as
    BTC's at 60,000 (a SOL print of 0.0005 would never fill a resting order)."""
    correlated = {"driver_beta": p.market_beta, "driver_seed": p.seed if p.driver_seed is None else p.driver_seed} \
        if p.market_beta else {}
    sm = synthetic_market_cls(seed=p.seed, start_ms=start_ms - WARMUP_MS, start_price=p.start_price,
                              **_synthetic_rules(spot, p.start_price), **correlated)
    events = sm.events()
    builder = CandleBuilder(timeframe_ms)
    candles = []
    first = None
    for ev in events:
        if ev.ts_ms >= start_ms:
            first = ev
            break
        if hasattr(ev, "price"):
            closed = builder.on_trade(ev.ts_ms, ev.price)
            if closed:
                candles.extend(closed)

    def source():
        if first is not None:
            yield first
        yield from events

    first_price = getattr(first, "price", None) or getattr(first, "bid", p.start_price)
    first_ts = first.ts_ms if first is not None else start_ms
    return source(), candles, first_price, first_ts


def _synthetic_rules(spot: Instrument, start_price: float) -> dict:
    """The synthetic market's tick, qty step and size scale for ``spot`` (none for BTCUSDT:
    its market is exactly what it always was)."""
    if spot.symbol == BTCUSDT_SPOT.symbol and spot == BTCUSDT_SPOT:
        return {}
    return {"tick": float(spot.tick_size), "qty_step": float(spot.qty_step),
            "size_scale": BTC_REFERENCE_PRICE / start_price}


BTC_REFERENCE_PRICE = 60_000.0


class _ExchangeClock:
    """Paper time is the simulated market's time (it may run faster than the wall)."""

    def __init__(self, exchange, start_ms: int) -> None:
        self.exchange = exchange
        self.start_ms = start_ms

    def now_ms(self) -> int:
        return int(self.exchange.now_ms) or self.start_ms


# ------------------------------------------------------------------------------ Bybit


def _bybit_session(cfg: AppConfig, env: Environment, journal: Journal | None) -> Session:
    """The live session for testnet / demo / mainnet. The Rebalancer's instrument and fee rates
    are replaced by Bybit's as soon as the venue has read them at start-up (``on_rules``),
    before any event reaches it."""
    from core.venues.bybit import BybitVenue, provisional_instrument
    from core.venues.bybit_settings import BybitSettings

    _check_bybit(cfg, env)
    shown = "mainnet" if mainnet_endpoints(cfg) else cfg.venue  # the header says where orders really go
    reb = build_rebalancer(cfg, venue_name=shown, instrument=provisional_instrument(cfg.symbol), journal=journal,
                           tag=session_tag(env.now_ms()), tap=env.record_tap)
    changes = {"client_prefix": reb.client_prefix, **env.venue_changes}
    settings = BybitSettings.from_config(cfg, **changes)
    venue = BybitVenue(settings, secrets=cfg.secrets, on_rules=_rules_to(reb))
    engine = Engine(reb, venue, journal=journal, on_start_open_orders=cfg.api.on_start_open_orders)
    return Session(cfg, journal, reb, venue, engine)


def _check_bybit(cfg: AppConfig, env: Environment) -> None:
    """What a live Bybit session needs before any connection: a Bybit venue, keys, and the
    trader's word when orders would reach mainnet."""
    from core.venues.bybit_settings import VENUES

    if cfg.venue not in VENUES:
        raise ConfigError(cfg.path, "venue", f"expected one of {', '.join(VENUES)} for the Bybit venue", cfg.venue)
    if cfg.secrets is None:
        raise ConfigError(cfg.path, "api.account_name", f"venue {cfg.venue!r} needs API keys (BYBIT_API_KEY_"
                          f"{cfg.api.account_name} / BYBIT_API_SECRET_{cfg.api.account_name})")
    check_mainnet(cfg, env.mainnet_confirmed)


def build_bybit_sessions(cfgs: Sequence[AppConfig], env: Environment) -> list[Session]:
    """One session per symbol (its own Rebalancer, Engine and journal) over one
    ``core.venues.bybit_hub.BybitHub``: shared sockets, one REST client, one rate budget fair
    between the symbols. ``cfgs``: one per symbol (``AppConfig.per_symbol()``), all on the
    same venue, account and hosts. The checks are ``build_session``'s for each (keys,
    mainnet confirmation, the single-instance lock per symbol's journal); each rebalancer gets
    its symbol's rules and fee rates from Bybit at start-up, before any event. ``env.journal``
    is used only for a single symbol (each symbol has its own journal). With several symbols
    each one's log lines name it (``labelled``) and each has its own alert rules over the
    account's one sender (``alerts:``; one rate limit per service), as paper's portfolio does:
    an engine's shutdown lets go of the sender, the last one stops it."""
    from core.venues.bybit import provisional_instrument
    from core.venues.bybit_hub import BybitHub
    from core.venues.bybit_settings import BybitSettings

    cfgs = list(cfgs)
    if not cfgs:
        raise ValueError("build_bybit_sessions needs at least one symbol's config")
    first = cfgs[0]
    seen: set[str] = set()
    for cfg in cfgs:
        _check_bybit(cfg, env)
        if cfg.symbol in seen:
            raise ConfigError(cfg.path, "symbols", f"{cfg.symbol} is listed twice")
        seen.add(cfg.symbol)
        if (cfg.venue, cfg.api.account_name, cfg.secrets) != (first.venue, first.api.account_name, first.secrets):
            raise ConfigError(cfg.path, "symbols", f"{cfg.symbol}: every symbol of one process trades the same "
                                                   f"account on the same venue ({first.venue}, "
                                                   f"{first.api.account_name})")
    shown = "mainnet" if mainnet_endpoints(first) else first.venue
    locks: list[InstanceLock | None] = []
    journals: list[Journal | None] = []
    rebs: list[Rebalancer] = []
    alerts: list = []
    sender = None
    try:
        sender = account_sender(first)  # a wrong URL is a ConfigError naming its key
        for cfg in cfgs:
            tap = labelled(env.record_tap, cfg.symbol) if len(cfgs) > 1 else env.record_tap
            alerts.append(build_alerts(cfg, env.now_ms, sender))
            if alerts[-1] is not None:  # the alerts see the journal's very records
                tap = tee(tap, alerts[-1].tap)
            where = journal_path(cfg, env.data_dir) if env.single_instance else None
            # before the journal is touched: a second instance changes nothing
            locks.append(InstanceLock(lock_path(where)).acquire(mode=cfg.mode, now_ms=env.now_ms())
                         if where is not None else None)
            journals.append(env.journal if env.journal is not None and len(cfgs) == 1
                            else open_journal(cfg, env.data_dir))
            rebs.append(build_rebalancer(cfg, venue_name=shown, instrument=provisional_instrument(cfg.symbol),
                                         journal=journals[-1], tag=session_tag(env.now_ms()), tap=tap))
        settings = [BybitSettings.from_config(cfg, **{"client_prefix": reb.client_prefix, **env.venue_changes})
                    for cfg, reb in zip(cfgs, rebs)]
        hub = BybitHub(settings, secrets=first.secrets,
                       on_rules={cfg.symbol: _rules_to(reb) for cfg, reb in zip(cfgs, rebs)})
    except BaseException:
        for journal in journals:
            if journal is not None and journal is not env.journal:
                journal.close()
        for lock in locks:
            if lock is not None:
                lock.release()
        for a in alerts:
            if a is not None:
                a.close()
        raise
    finally:
        if sender is not None:
            sender.close()  # the symbols' alerts hold it now
    sessions = []
    for cfg, journal, reb, lock, alert in zip(cfgs, journals, rebs, locks, alerts):
        venue = hub.venue(cfg.symbol)
        engine = Engine(reb, venue, journal=journal, on_start_open_orders=cfg.api.on_start_open_orders)
        if alert is not None:
            engine.attach_alerts(alert)
        sessions.append(Session(cfg, journal, reb, venue, engine, lock))
    return sessions


def _rules_to(reb: Rebalancer) -> Callable[[Any], None]:
    """The venue's rules and fee rates into ``reb`` (``on_rules``: at start-up, and again when the
    cached rules were read afresh), with a journal line saying which and when."""
    def apply(venue) -> None:
        reb.set_rules(venue.spot_instrument or reb.instrument, float(venue.maker_fee_rate),
                      float(venue.taker_fee_rate))
        reb.note("info", rules_line(venue))
    return apply


def rules_line(venue) -> str:
    """What the journal keeps of the rules a live session trades on, and when Bybit gave them."""
    i = venue.spot_instrument
    if i is None:
        return f"{venue.symbol}: no trading rules from Bybit yet"
    when = iso_utc(venue.rules_read_ms) if getattr(venue, "rules_read_ms", None) else "at start"
    return (f"{i.symbol} rules from Bybit {venue.name} at {when}: tick {i.tick_size}, qty step {i.qty_step}, "
            f"min qty {i.min_qty}, min notional {i.min_notional} {i.quote}; fees maker "
            f"{float(venue.maker_fee_rate) * 100:g} % / taker {float(venue.taker_fee_rate) * 100:g} %")


# ------------------------------------------------------------------------------ ids

_last_tag_n = -1


def session_tag(now_ms: int) -> str:
    """Six base-36 characters of the start time in ms, plus ``x`` (unique within a process even
    for two sessions in the same ms): client and paper ids never repeat across restarts of the
    same account (Bybit allows 36 characters per orderLinkId)."""
    global _last_tag_n
    n = now_ms % 36**6
    if n <= _last_tag_n < n + 1000:
        n = (_last_tag_n + 1) % 36**6
    _last_tag_n = n
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(6):
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out + "x"
