"""``report``'s pictures: the terminal charts (80 columns) and the self-contained HTML page."""

from __future__ import annotations

import json
import re

import pytest
from rich.console import Console

from core.costs import Arrival
from core.journal import Journal
from core.journal.reader import open_reader
from core.model import Action, Decision, Fill, Side
from core.report_series import read_series, thin
from tui.cli import main
from tui.report_charts import render_charts, resample

T0 = 1_700_000_000_000
MIN = 60_000


def _journal(path) -> None:
    """Two hours of snapshots, a sell rebalance at 30 min with its arrival, a buy at 90 min."""
    with Journal(path, meta={"symbol": "BTCUSDT"}) as j:
        for k in range(121):
            net = 0.01 if 20 <= k < 30 else (-0.008 if 80 <= k < 90 else 0.0)
            j.record_snapshot(T0 + k * MIN, spot_base=0.5 + net, quote="1000", futures_size="-0.5",
                              price=str(60_000 + 10 * (k % 7)), net_base=str(net),
                              equity_quote=str(31_000 + k), target_base="0")
        for ts, side, px in ((T0 + 30 * MIN, Side.SELL, 60_010.0), (T0 + 90 * MIN, Side.BUY, 60_020.0)):
            d = Decision(ts_ms=ts, policy="anchor", action=Action.PARTIAL, side=side, qty_base=0.01, gap_base=0.01,
                         net_base=0.01, target_base=0.0, price=px, effective_soft=0.004, effective_hard=0.012)
            did = j.record_decision(d, "auto", "executed")
            j.record_arrival(f"rb{ts}", did, Arrival(ts, px, px - 0.01, px + 0.01), side, "0.01", "soft")
            j.record_fill(Fill(ts_ms=ts + 1, exec_id=f"e{ts}", symbol="BTCUSDT", side=side, price=D(px), qty=D("0.01"),
                               fee=D("0.6"), fee_coin="USDT", is_maker=True, client_id=f"rb{ts}-0",
                               source="rebalancer"))


def D(x):
    from decimal import Decimal
    return Decimal(str(x))


@pytest.fixture
def journal(tmp_path):
    path = tmp_path / "run.sqlite"
    _journal(path)
    return path


def test_resample_is_a_step_function_over_time():
    ts, vals = [0, 10, 20], [1.0, 2.0, 3.0]
    assert resample(ts, vals, 0, 20, 5) == [1.0, 1.0, 2.0, 2.0, 3.0]
    got = resample([10], [5.0], 0, 20, 3, before=0.0)
    assert got == [0.0, 5.0, 5.0]


def test_thin_keeps_the_spikes():
    ts = list(range(10_000))
    vals = [0.0] * 10_000
    vals[5_123] = 9.0
    t, v = thin(ts, vals, 300)
    assert len(t) <= 400 and 9.0 in v and t == sorted(t)


def test_the_charts_fit_80_columns_and_show_what_the_issue_asks(journal):
    with open_reader(journal) as j:
        s = read_series(j)
    assert [b[0] for b in s.buys] == [T0 + 90 * MIN + 1] and len(s.sells) == 1
    text = render_charts(s, 80)
    console = Console(width=80, color_system=None, record=True)
    console.print(text)
    lines = console.export_text().splitlines()
    assert max(len(ln) for ln in lines) <= 80
    plain = text.plain
    for title in ("Price (BTCUSDT) with our fills", "Gap (base) against soft", "Cumulative volume (quote): 1,200.30",
                  "Cumulative hedge cost", "P&L (quote)"):
        assert title in plain, title
    marks = [ln for ln in plain.splitlines() if ("▲" in ln or "▼" in ln) and "buy" not in ln][0]
    assert marks.index("▼") < marks.index("▲")  # the sell came first, on the time axis
    # the sell at 30 min of 120 sits about a quarter of the way along the plot
    axis = len(re.match(r"^[\d,.\-]+┤", plain.splitlines()[1]).group(0))
    frac = (marks.index("▼") - axis) / (80 - axis)
    assert 0.2 < frac < 0.3


def test_report_charts_and_html_from_the_cli(journal, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    page = tmp_path / "report.html"
    assert main(["report", "--journal", str(journal), "--charts", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "Cost (vs arrival)" in out and "Price (BTCUSDT) with our fills" in out
    assert "report page written to" in out
    doc = page.read_text(encoding="utf-8")
    assert "<script src=" not in doc  # nothing to fetch: it opens offline
    assert "Plotly.newPlot" in doc and len(doc) > 1_000_000  # the library is inside the page
    assert "our sells" in doc and "our buys" in doc and "Cost (vs arrival)" in doc


def test_json_with_html_keeps_stdout_json(journal, tmp_path, capsys):
    page = tmp_path / "r.html"
    assert main(["report", "--journal", str(journal), "--json", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["fills"] == 2 and page.exists()


def test_charts_are_off_when_stdout_is_not_a_terminal(journal, capsys):
    assert main(["report", "--journal", str(journal)]) == 0
    assert "Price (BTCUSDT)" not in capsys.readouterr().out


def test_a_bad_band_is_a_clear_error(journal, capsys):
    assert main(["report", "--journal", str(journal), "--band", "-1"]) == 2
    assert "--band must be a positive number" in capsys.readouterr().err
