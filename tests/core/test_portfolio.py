"""``core.portfolio``: several symbols' paper sessions in one process (issue 18) — each trades
on its own rules, one is halted while the others trade, the account kill switch halts all,
and one proposal queue answers the oldest first, naming its symbol."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from core.alerts.rules import Alert
from core.config import ConfigError, RiskConfig, config_from_dict
from core.instruments import for_config
from core.journal.reader import open_reader
from core.model import Leg, Mode, TradingState
from core.outcome import Outcome
from core.portfolio import AccountKill, Portfolio, build_portfolio
from core.session import Environment
from core.state import CockpitState
from tests.builders import REPO_ROOT
from tests.fakes.webhook import Webhook

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
DEADLINE_S = 60.0


def three(mode: str = "auto", **top) -> object:
    data = yaml.safe_load((REPO_ROOT / "examples" / "three-symbols.yaml").read_text(encoding="utf-8"))
    data.update(mode=mode, **top)
    return config_from_dict(data, file="three-symbols.yaml", need_secrets=False)


async def until(what: str, pred, deadline_s: float = DEADLINE_S):
    """Poll ``pred`` between short waits on the loop (the engines run meanwhile)."""
    end = time.monotonic() + deadline_s
    while not (got := pred()):
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)
    return got


def our_fills(pf: Portfolio, symbol: str) -> int:
    return pf.engine(symbol).reb.snapshot().cost.fills


class Running:
    """A portfolio running on the loop; stopped (orders cancelled) on exit."""

    def __init__(self, pf: Portfolio) -> None:
        self.pf = pf

    async def __aenter__(self) -> Portfolio:
        self.task = asyncio.ensure_future(self.pf.run())
        await until("every engine started", lambda: all(e.started.is_set() for e in self.pf.engines))
        return self.pf

    async def __aexit__(self, *exc) -> None:
        await self.pf.shutdown(cancel_orders=True)
        await asyncio.wait_for(self.task, 10)


async def test_a_paper_portfolio_trades_btc_eth_and_sol_each_on_its_own_rules(tmp_path):
    cfg = three()
    pf = build_portfolio(cfg, Environment(data_dir=tmp_path, paper_speed=100))
    assert pf.symbols == SYMBOLS
    async with Running(pf):
        await until("our fills on all three", lambda: all(our_fills(pf, s) >= 2 for s in SYMBOLS))
        rows = pf.latest().overview
        assert [r.symbol for r in rows] == list(SYMBOLS) and [r.selected for r in rows] == [True, False, False]
    for one in cfg.per_symbol():
        spot, _ = for_config(one)
        path = tmp_path / "journals" / f"Wood-paper-{one.symbol}.sqlite"
        with open_reader(path) as j:
            fills = [f for f in j.fills() if f.leg is Leg.SPOT and f.client_id]
        assert fills, one.symbol
        for f in fills:  # on the symbol's own qty step (BTC 0.000001, ETH 0.00001, SOL 0.001) and tick
            assert f.symbol == one.symbol
            assert f.qty % spot.qty_step == 0 and f.price % spot.tick_size == 0, (one.symbol, f.qty, f.price)
        venue = pf.engine(one.symbol).venue
        assert pf.engine(one.symbol).reb.instrument == spot and venue.exchange.spot == spot  # never BTC's rules


async def test_one_symbol_killed_halts_alone_while_the_others_trade(tmp_path):
    pf = build_portfolio(three(), Environment(data_dir=tmp_path, paper_speed=100))
    async with Running(pf):
        await until("ETH trading", lambda: our_fills(pf, "ETHUSDT") >= 1)
        out = pf.kill_symbol("ETHUSDT")
        assert out.text.startswith("ETHUSDT: HALTED") and out.acted
        eth = pf.engine("ETHUSDT").reb
        assert eth.risk.state is TradingState.HALTED and not eth.orders.working
        halted_at = our_fills(pf, "ETHUSDT")
        before = {s: our_fills(pf, s) for s in ("BTCUSDT", "SOLUSDT")}
        await until("BTC and SOL trading on", lambda: all(our_fills(pf, s) > before[s] for s in before))
        assert our_fills(pf, "ETHUSDT") == halted_at and eth.risk.state is TradingState.HALTED
        assert [r.trading_state for r in pf.latest().overview] == [TradingState.ACTIVE, TradingState.HALTED,
                                                                   TradingState.ACTIVE]
        assert pf.pause_symbol("SOLUSDT").text.startswith("SOLUSDT: paused")
        pf.select("BTCUSDT")
        assert pf.toggle_pause().text.startswith("BTCUSDT: paused")  # `p` acts on the shown symbol
        assert [r.trading_state for r in pf.latest().overview] == [TradingState.PAUSED, TradingState.HALTED,
                                                                   TradingState.PAUSED]
        assert pf.pause_symbol("SOLUSDT").text == "SOLUSDT: resumed: trading ACTIVE"


async def test_the_account_kill_switch_on_summed_equity_halts_every_symbol(tmp_path):
    pf = build_portfolio(three(), Environment(data_dir=tmp_path, paper_speed=100))
    async with Running(pf):
        await until("an account equity", lambda: pf.account.equity is not None)
        pf.account.risk.peak_equity = pf.account.equity * 1.2  # the account fell 17 % from its peak
        await until("every symbol halted", lambda: all(e.reb.risk.state is TradingState.HALTED for e in pf.engines))
        for e in pf.engines:
            assert e.reb.risk.halt_reason.startswith("account kill switch: drawdown") and not e.reb.orders.working
        assert pf.account.tripped
        pf.select("SOLUSDT")
        assert pf.rearm().text == "SOLUSDT: re-armed: trading ACTIVE"
        assert not pf.account.tripped  # its peak restarts from now
        assert pf.engine("BTCUSDT").reb.risk.state is TradingState.HALTED  # the others stay halted


async def test_the_account_kill_switch_still_watches_after_one_engine_died(tmp_path):
    pf = build_portfolio(three(), Environment(data_dir=tmp_path, paper_speed=100))
    eth = pf.engine("ETHUSDT")
    runs = eth.run

    async def dies() -> None:
        task = asyncio.ensure_future(runs())
        await until("an account equity", lambda: pf.account.equity is not None)
        eth._stop.set()
        await task
        raise RuntimeError("the ETH engine died")

    eth.run = dies
    task = asyncio.ensure_future(pf.run())
    try:
        with pytest.raises(RuntimeError, match="ETH engine died"):
            await asyncio.wait_for(asyncio.shield(task), 30)
        pf.on_engine_error("RuntimeError: the ETH engine died")
        assert eth.reb.mode is Mode.WATCH and pf.engine("BTCUSDT").reb.mode is Mode.AUTO  # only the one that died
        pf.account.risk.peak_equity = pf.account.equity * 1.2
        await until("the others halted", lambda: all(pf.engine(s).reb.risk.state is TradingState.HALTED
                                                     for s in ("BTCUSDT", "SOLUSDT")))
    finally:
        await pf.shutdown(cancel_orders=True)


def test_the_account_switch_trips_on_the_sum_not_on_any_one_symbol():
    kill = AccountKill(RiskConfig(max_drawdown_pct=10))
    assert kill.on_equities([100.0, 100.0, None]) is None and kill.equity is None  # not every symbol known yet
    assert kill.on_equities([100.0, 100.0, 100.0]) is None
    assert kill.on_equities([60.0, 130.0, 100.0]) is None  # one symbol down 40 %, the account 3.3 %
    why = kill.on_equities([90.0, 90.0, 88.0])
    assert why is not None and why.startswith("account kill switch: drawdown 10.67%") and "3 symbols" in why
    assert kill.tripped and kill.on_equities([50.0, 50.0, 50.0]) is None  # said once


@dataclass(frozen=True)
class FakeProposal:
    proposal_id: int
    created_ms: int
    expires_ms: int | None = None
    symbol: str = ""


class FakeEngine:
    """What the portfolio reads of an engine for the queue and the answers."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.reb = SimpleNamespace(operator=SimpleNamespace(proposal=None))

        self.now_ms = 0

    def propose(self, n: int, created_ms: int, expires_ms: int | None = None) -> None:
        self.reb.operator.proposal = FakeProposal(n, created_ms, expires_ms)

    def latest(self) -> CockpitState:
        return CockpitState(symbol=self.symbol, ts_ms=self.now_ms)

    def approve(self, proposal_id: int | None = None) -> Outcome:
        p = self.reb.operator.proposal
        if p is not None and proposal_id is not None and proposal_id != p.proposal_id:
            return Outcome("approve", f"#{p.proposal_id} not sent: the card showed #{proposal_id}", False)
        self.reb.operator.proposal = None
        return Outcome("approve", f"approved #{p.proposal_id}" if p else "nothing to approve", p is not None)

    def skip(self, proposal_id: int | None = None) -> Outcome:
        return self.approve(proposal_id)


def fake_portfolio(*symbols: str) -> Portfolio:
    sessions = [SimpleNamespace(config=SimpleNamespace(symbol=s), engine=FakeEngine(s)) for s in symbols]
    return Portfolio(sessions, RiskConfig())  # type: ignore[arg-type]


def test_approve_answers_the_oldest_proposal_of_any_symbol_and_names_it():
    pf = fake_portfolio(*SYMBOLS)
    pf.engine("SOLUSDT").propose(4, created_ms=2_000)
    assert [s for s, _ in pf.queue()] == ["SOLUSDT"]
    pf.engine("BTCUSDT").propose(9, created_ms=1_000)  # shown later, though its market clock is behind
    assert [(s, p.symbol) for s, p in pf.queue()] == [("SOLUSDT", "SOLUSDT"), ("BTCUSDT", "BTCUSDT")]
    assert pf.approve().text == "SOLUSDT: approved #4"
    assert pf.approve().text == "BTCUSDT: approved #9"
    pf.select("ETHUSDT")
    assert pf.approve().text == "ETHUSDT: nothing to approve"  # none anywhere: the selected symbol says why


def test_another_symbols_proposal_counts_down_on_its_own_clock():
    """Each symbol's market clock is its own (paper paths, feeds that lag): the card's
    'expires in' is the proposal's symbol's, not the clock of the symbol on screen."""
    pf = fake_portfolio(*SYMBOLS)
    btc, eth = pf.engine("BTCUSDT"), pf.engine("ETHUSDT")
    btc.now_ms, eth.now_ms = 10_000, 70_000
    eth.propose(3, created_ms=70_000, expires_ms=100_000)
    state = pf.latest()  # BTCUSDT selected and shown
    assert state.symbol == "BTCUSDT" and state.proposal.symbol == "ETHUSDT"
    assert state.proposal_left_s == pytest.approx(30.0)  # ETH's clock: 100 s - 70 s (BTC's would say 90)
    eth.now_ms = 95_000
    assert pf.latest().proposal_left_s == pytest.approx(5.0)


async def test_semi_mode_proposals_from_every_symbol_in_one_queue(tmp_path):
    pf = build_portfolio(three(mode="semi"), Environment(data_dir=tmp_path, paper_speed=100))
    async with Running(pf):
        state = await until("a proposal", lambda: (s := pf.latest()).proposal is not None and s)
        oldest = state.proposal
        assert oldest.symbol in SYMBOLS and state.proposals_queued >= 1
        out = pf.approve()
        assert out.text.startswith(f"{oldest.symbol}: ") and f"#{oldest.proposal_id}" in out.text
        assert pf.engine(oldest.symbol).reb.mode is Mode.SEMI


def test_each_symbol_has_its_own_journal_and_lock(tmp_path):
    from core.single_instance import AlreadyRunning

    env = Environment(data_dir=tmp_path, single_instance=True)
    pf = build_portfolio(three(), env)
    try:
        names = sorted(Path(s.journal.path).name for s in pf.sessions.values())
        assert names == [f"Wood-paper-{s}.sqlite" for s in sorted(SYMBOLS)]
        with pytest.raises(AlreadyRunning):  # ETH alone, while the portfolio holds its lock
            build_portfolio(three().only("ETHUSDT"), env)
    finally:
        for s in pf.sessions.values():
            s.release()
            s.journal.close()


async def test_report_sums_the_symbols_journals_or_filters_one(tmp_path, monkeypatch, capsys):
    import json

    from tui.cli import main

    cfg = three()
    pf = build_portfolio(cfg, Environment(data_dir=tmp_path, paper_speed=100))
    async with Running(pf):
        await until("our fills on all three", lambda: all(our_fills(pf, s) >= 1 for s in SYMBOLS))
    journals = [str(tmp_path / "journals" / f"Wood-paper-{s}.sqlite") for s in SYMBOLS]
    assert main(["report", *[a for j in journals for a in ("--journal", j)], "--json"]) == 0
    summed = json.loads(capsys.readouterr().out)
    per = {row["symbol"]: row for row in summed["symbols"]}
    assert sorted(per) == sorted(SYMBOLS)
    assert summed["total"]["fills"] == sum(per[s]["fills"] for s in SYMBOLS) >= 3
    monkeypatch.setenv("REBALANCER_DATA_DIR", str(tmp_path))
    config = tmp_path / "three.yaml"
    config.write_text((REPO_ROOT / "examples" / "three-symbols.yaml").read_text(encoding="utf-8"))
    assert main(["report", "--config", str(config), "--symbol", "solusdt", "--json"]) == 0
    sol = json.loads(capsys.readouterr().out)
    assert sol["symbol"] == "SOLUSDT" and sol["fills"] == per["SOLUSDT"]["fills"]  # one journal: the full report
    assert main(["report", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[0] == "symbol" and "total" in text and all(s in text for s in SYMBOLS)
    assert main(["report", "--journal", journals[0], "--symbol", "ETHUSDT"]) == 2
    assert "no journal of ETHUSDT" in capsys.readouterr().err
    assert main(["report", "--journal", journals[0], "--config", str(config)]) == 2  # one or the other


def test_each_log_line_names_its_symbol_in_text_and_in_its_fields():
    from core.record_lines import RecordLines, labelled

    said = []
    tap = labelled(RecordLines(lambda level, text, fields: said.append((level, text, fields))), "ETHUSDT")
    tap.state(1_000, "mode", "auto", "from semi")
    assert said == [("info", "ETHUSDT mode auto: from semi",
                     {"kind": "mode", "ts_ms": 1_000, "value": "auto", "reason": "from semi", "symbol": "ETHUSDT"})]
    other = object()
    assert labelled(other, "ETHUSDT") is other and labelled(None, "ETHUSDT") is None  # not lines: as it is


def test_every_symbol_alerts_through_the_accounts_one_sender_and_its_rate_limit(tmp_path):
    """The chat that gets the alerts sees one account: ``alerts.per_minute`` is the account's,
    not each symbol's (three symbols used to get three times the rate), and the sender stops
    only when the last symbol lets it go."""
    hook = Webhook()
    try:
        cfg = three(alerts={"urls": [hook.url], "per_minute": 2})
        pf = build_portfolio(cfg, Environment(data_dir=tmp_path))
        senders = {id(e.alerts.sender) for e in pf.engines}
        assert len(senders) == 1
        sender = pf.engines[0].alerts.sender
        for e in pf.engines:  # two alerts from each symbol: six, of which the account may send two a minute
            for n in range(2):
                e.alerts.sender.submit(Alert("fill", f"{e.reb.symbol} fill {n}", "body"))
        assert sender.wait_idle(10.0)
        assert len(hook.posts) == 2 and sender.dropped == 4
        pf.engines[0].alerts.close()  # one symbol stops: the others still send
        assert all(s.thread.is_alive() for s in sender.services)
        for e in pf.engines[1:]:
            e.alerts.close()
        for s in sender.services:
            s.thread.join(5.0)
            assert not s.thread.is_alive()
        for session in pf.sessions.values():
            session.release()
            if session.journal is not None:
                session.journal.close()
    finally:
        hook.close()
