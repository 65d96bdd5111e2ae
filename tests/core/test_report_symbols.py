"""Journal rows name their symbol, and ``report`` reads several journals (issue 18, item 5): a
folder of one-journal-per-symbol files gives one line per symbol and a total; ``--symbol``
picks one; a journal from before rows named the symbol stays readable."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from core.config import load_config
from core.costs import Arrival
from core.journal import Journal
from core.journal.reader import open_reader
from core.model import Action, Decision, Side
from core.report import summarize
from core.report_symbols import journal_symbol, summarize_many
from core.session import journal_path
from tests.core.helpers_engine import replay_config_dict
from tests.core.test_threshold_units import BTC_6H, eth_tape
from tui.cli import main

T0 = 1_700_000_000_000
SYMBOL_TABLES = ("decisions", "snapshots", "rebalances", "arrivals")


def write_rows(j: Journal) -> None:
    d = Decision(ts_ms=T0, policy="anchor", action=Action.PARTIAL, side=Side.SELL, qty_base=0.1, gap_base=0.2,
                 net_base=0.2, target_base=0.0, price=2_000.0)
    did = j.record_decision(d, "auto", "executed")
    j.record_arrival("r1", did, Arrival(T0, 2_000.0, 1_999.9, 2_000.1), Side.SELL, 0.1, "soft")
    j.record_snapshot(T0, spot_base=1.2, quote=1_000.0, futures_size=-1.0, price=2_000.0, net_base=0.2,
                      equity_quote=3_400.0, target_base=0.0)
    j.record_rebalance_done(T0 + 1_000, Side.SELL, 0.1, "maker")
    j.commit()


def symbols_in_rows(path: Path) -> dict[str, set[str]]:
    con = sqlite3.connect(path)
    try:
        return {t: {r[0] for r in con.execute(f"SELECT symbol FROM {t}")} for t in SYMBOL_TABLES}
    finally:
        con.close()


def test_every_row_names_the_journal_s_symbol(tmp_path):
    path = tmp_path / "Tst-paper-ETHUSDT.sqlite"
    with Journal(path, meta={"account": "Tst", "venue": "paper", "symbol": "ETHUSDT"}) as j:
        write_rows(j)
    assert symbols_in_rows(path) == {t: {"ETHUSDT"} for t in SYMBOL_TABLES}
    with Journal(path) as j:  # reopened without meta: it still knows its symbol
        assert j.symbol == "ETHUSDT"


def make_version_2(path: Path) -> None:
    """A journal as version 2 wrote it: no symbol on those rows, no symbol in meta."""
    con = sqlite3.connect(path)
    for t in SYMBOL_TABLES:
        con.execute(f"ALTER TABLE {t} DROP COLUMN symbol")
    con.execute("DELETE FROM meta WHERE key = 'symbol'")
    con.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    con.commit()
    con.close()


def test_a_version_2_journal_is_read_as_it_is_and_migrated_by_a_writer(tmp_path):
    from tests.core.test_report import build

    path = tmp_path / "old.sqlite"
    with Journal(path) as j:
        build(j)  # BTCUSDT fills
        write_rows(j)
    make_version_2(path)
    before = path.read_bytes()
    with open_reader(path) as r:
        assert r.schema_version == 2 and journal_symbol(r) == "BTCUSDT"
        s = summarize(r)
    assert s["fills"] == 3 and path.read_bytes() == before  # read, not migrated
    with Journal(path) as j:  # a writer migrates: old rows take the symbol the fills name
        assert j.schema_version == 3
    assert symbols_in_rows(path) == {t: {"BTCUSDT"} for t in SYMBOL_TABLES}


# ------------------------------------------------------------------------------- several journals


@pytest.fixture(scope="module")
def journals(tmp_path_factory, request) -> Path:
    """A folder as one process writes it: one journal per symbol, named by ``journal_path``
    (BTC and an ETH tape 1/20th its price with 20 × the coins)."""
    from tests.conftest import FIXTURES_DIR
    import yaml

    tmp = tmp_path_factory.mktemp("symbols")
    folder = tmp / "journals"
    folder.mkdir()  # replay --journal makes no folders
    btc_file = FIXTURES_DIR / BTC_6H
    eth_file = eth_tape(lambda name: FIXTURES_DIR / name, tmp)
    thresholds = {"soft": 70.0, "hard": 210.0, "units": "quote"}
    for symbol, scale, market in (("BTCUSDT", 1, btc_file), ("ETHUSDT", 20, eth_file)):
        data = replay_config_dict(rebalancer__thresholds=thresholds, paper__base_balance=0.5 * scale,
                                  paper__futures_size=-0.5 * scale, paper__grid__qty_per_level=0.002 * scale,
                                  rebalancer__execution__max_trade_base=scale, journal={"dir": str(folder)})
        data["symbol"] = symbol
        config = tmp / f"{symbol}.yaml"
        config.write_text(yaml.safe_dump(data), encoding="utf-8")
        path = journal_path(load_config(config, need_secrets=False), None)
        assert path is not None and path.name == f"Tst-paper-{symbol}.sqlite"
        assert main(["replay", "--config", str(config), "--market", str(market), "--journal", str(path),
                     "--no-unhedged", "--json", str(tmp / f"{symbol}.json")]) == 0
    return folder


def test_report_on_the_folder_gives_one_line_per_symbol_and_a_total(journals, capsys):
    capsys.readouterr()
    assert main(["report", "--journal", str(journals)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[0] == "symbol"
    assert [ln.split()[0] for ln in lines if ln.startswith(("BTCUSDT", "ETHUSDT", "total"))] == \
        ["BTCUSDT", "ETHUSDT", "total"]
    assert "2 journal(s)" in out


def test_the_total_sums_cost_in_usdt_and_weights_bps_by_notional(journals, capsys):
    capsys.readouterr()
    assert main(["report", "--journal", str(journals), "--json"]) == 0
    many = json.loads(capsys.readouterr().out)
    btc, eth = many["symbols"]
    assert (btc["symbol"], eth["symbol"]) == ("BTCUSDT", "ETHUSDT")
    singles = {s["symbol"]: s for s in many["journals"]}
    for row in (btc, eth):  # a symbol's line is its journal's figures
        one = singles[row["symbol"]]
        assert (row["fills"], row["cost_quote"], row["cost_bps"]) == (one["fills"], one["cost_quote"], one["cost_bps"])
        assert row["fills"] > 0
    t = many["total"]
    assert t["symbols"] == 2 and t["fills"] == btc["fills"] + eth["fills"]
    assert t["cost_quote"] == pytest.approx(btc["cost_quote"] + eth["cost_quote"], abs=1e-3)
    vb, ve = btc["rebalance_volume_quote"], eth["rebalance_volume_quote"]
    assert t["cost_bps"] == pytest.approx((btc["cost_bps"] * vb + eth["cost_bps"] * ve) / (vb + ve), abs=1e-3)
    # the same with the files given one by one
    files = sorted(journals.iterdir())
    assert summarize_many(files)["total"] == t


def test_symbol_picks_one_journal_and_its_json_keeps_the_one_journal_keys(journals, capsys):
    eth = journals / "Tst-paper-ETHUSDT.sqlite"
    capsys.readouterr()
    assert main(["report", "--journal", str(eth), "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert main(["report", "--journal", str(journals), "--symbol", "ethusdt", "--json"]) == 0
    picked = json.loads(capsys.readouterr().out)
    assert picked == alone and alone["symbol"] == "ETHUSDT"
    assert {"fills", "cost_bps", "cost_quote", "pct_time_over_band", "detail", "meta"} <= set(alone)


def test_a_symbol_no_journal_has_is_refused(journals, capsys):
    capsys.readouterr()
    assert main(["report", "--journal", str(journals), "--symbol", "SOLUSDT"]) == 2
    assert "no journal of SOLUSDT" in capsys.readouterr().err


def test_an_empty_folder_or_a_missing_path_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "--journal", str(tmp_path)]) == 2
    assert "no journal files" in capsys.readouterr().err
    assert main(["report", "--journal", str(tmp_path / "nope.sqlite")]) == 2
    assert "no such journal" in capsys.readouterr().err


def test_a_copy_of_a_journal_beside_it_is_refused_not_counted_twice(journals, tmp_path, capsys):
    """A backup copied into the journals folder (or one file given twice under two names) was
    summed with its original: every fill counted twice."""
    import shutil

    folder = tmp_path / "with-a-backup"
    shutil.copytree(journals, folder)
    shutil.copy(folder / "Tst-paper-BTCUSDT.sqlite", folder / "Tst-paper-BTCUSDT-backup.sqlite")
    capsys.readouterr()
    assert main(["report", "--journal", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "hold the very same fills" in err and "Tst-paper-BTCUSDT-backup.sqlite" in err
    # two replays share exec ids (each numbers its fills from 1), not their fills: both are counted
    from core.journal.reader import open_reader
    btc, eth = (open_reader(journals / f"Tst-paper-{s}.sqlite") for s in ("BTCUSDT", "ETHUSDT"))
    with btc, eth:
        assert btc.exec_ids() & eth.exec_ids()
    assert summarize_many(sorted(journals.iterdir()))["total"]["symbols"] == 2
