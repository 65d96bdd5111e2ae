"""``sweep``'s outputs: the terminal frontier fits 80 columns (and marks today, the frontier and
the lazy bound), the HTML page is self-contained, the progress bar's ETA."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from tui.progress import Progress, fmt_duration
from tui.sweep_chart import render_frontier
from tui.sweep_html import write_html


def _summary(n_params: int = 2) -> dict:
    keys = [f"rebalancer.some_block.a_rather_long_parameter_name_{i}" for i in range(n_params)]
    rows = []
    for i in range(30):
        gap = 0.001 + 0.0001 * i
        rows.append({"id": f"id{i}", "label": "today" if i == 7 else "", "params": {k: 0.001 * i for k in keys},
                     "mean_abs_gap_base": gap, "pct_time_over_band": 0.5 * (i % 4), "cost_bps": 10 + (i % 7),
                     "cost_quote": 900 - 20 * i + 40 * (i % 3), "fills": 10})
    lazy = [{"band": b, "mean_abs_gap_base": b * 0.8, "pct_time_over_band": 0.0, "volume_base": 1.0,
             "cost_quote": 0.5 / b, "cost_bps": 10.0, "trades": 5} for b in (0.001, 0.002, 0.003, 0.004)]
    from core.sweep.frontier import frontiers

    f = frontiers(rows)
    return {"band_base": 0.02, "points": 30, "done": 30, "today_id": "id7", "param_keys": keys, "rows": rows,
            "frontier": {k: [rows[i]["id"] for i in v] for k, v in f.items()}, "lazy": lazy,
            "unhedged": {"mean_abs_gap_base": 0.01, "pct_time_over_band": 3.0}, "taker_fee_rate": 0.001}


def _lines(text) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None, legacy_windows=False).print(text, end="")
    return buf.getvalue().splitlines()


@pytest.mark.parametrize("n_params", [1, 2, 6])
def test_terminal_frontier_fits_80_columns(n_params):
    lines = _lines(render_frontier(_summary(n_params), width=80))
    assert max(cell_len(x) for x in lines) <= 80
    assert len(lines) <= 40
    body = "\n".join(lines)
    assert "●" in body and "T" in body and "lazy-hedge bound" in body
    assert any(ch in body for ch in map(chr, range(0x2801, 0x2900)))  # braille dots drawn


def test_terminal_frontier_lists_the_frontier_with_today_marked():
    s = _summary()
    lines = _lines(render_frontier(s, width=80))
    table = lines[lines.index(next(x for x in lines if "mean|gap|" in x)) + 1:]
    front = s["frontier"]["usdt_vs_mean_gap"]
    assert len([x for x in table if re.search(r"\d", x)]) == min(len(front), 12)
    if "id7" in front:
        assert any(x.startswith("T ") for x in table)


def test_nothing_finished_yet_is_said():
    s = _summary()
    s.update(rows=[], done=0, frontier={k: [] for k in s["frontier"]})
    assert "no finished config" in "\n".join(_lines(render_frontier(s)))


def test_html_page_is_self_contained(tmp_path):
    page = write_html(tmp_path / "f.html", _summary(), "text <b>escaped</b>", "Sweep frontier")
    doc = page.read_text(encoding="utf-8")
    assert doc.startswith("<!DOCTYPE html>") and "text &lt;b&gt;escaped&lt;/b&gt;" in doc
    assert not re.search(r"<script[^>]+src=", doc), "no external script"
    assert not re.search(r"<link[^>]+href=\"?https?:", doc), "no external stylesheet"
    assert "Plotly.newPlot" in doc or "plotly" in doc.lower()
    for name in ("lazy-hedge bound", "frontier", "today's config"):
        assert name in doc


def test_progress_bar_eta_counts_only_this_runs_configs():
    now = [100.0]
    out = io.StringIO()
    p = Progress(10, already=4, stream=out, clock=lambda: now[0], tty=True)
    now[0] = 120.0
    p.update(6)  # 2 configs in 20 s; 4 left -> 40 s
    assert "6/10" in out.getvalue() and "ETA 0:40" in out.getvalue() and "elapsed 0:20" in out.getvalue()
    now[0] = 160.0
    p.update(10)
    assert out.getvalue().endswith("\n") and "ETA 0:00" in out.getvalue()


def test_progress_bar_piped_writes_a_line_per_tenth():
    out = io.StringIO()
    p = Progress(100, stream=out, clock=lambda: 0.0, tty=False)
    for i in range(1, 101):
        p.update(i)
    lines = out.getvalue().splitlines()  # the first config (a first ETA), then one per tenth
    assert len(lines) == 11 and "\r" not in out.getvalue()
    assert lines[0].startswith("sweep 1/100") and lines[-1].startswith("sweep 100/100")


def test_durations():
    assert (fmt_duration(5), fmt_duration(65), fmt_duration(3725)) == ("0:05", "1:05", "1:02:05")
