"""The headless commands' output paths (``tui.output_paths``): an output that is an input, a
folder, in a missing folder, or another output's file is refused with exit code 2 before any
work runs, naming the option and the file; the inputs are left as they were."""

from __future__ import annotations

import gzip
import os
import shutil

import pytest

from tests.core.helpers_engine import replay_config_dict
from tui.cli import main

EXCERPT = "bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"


@pytest.fixture
def here(tmp_path, monkeypatch, write_config, excerpt):
    """tmp_path as cwd and data dir, holding ``config.yaml`` and ``market.csv.gz`` (a copy: the
    tests check it is not written over)."""
    monkeypatch.setenv("REBALANCER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    write_config(replay_config_dict())
    shutil.copyfile(excerpt(EXCERPT), tmp_path / "market.csv.gz")
    return tmp_path


@pytest.fixture
def replay(here, capsys):
    """``replay(*args)`` -> (exit code, stdout, stderr) of ``replay --config config.yaml
    --market market.csv.gz *args``."""

    def run(*args: str) -> tuple[int, str, str]:
        rc = main(["replay", "--config", "config.yaml", "--market", "market.csv.gz", "--no-unhedged", *args])
        out, err = capsys.readouterr()
        return rc, out, err

    return run


@pytest.fixture
def untouched(here):
    """Call it at the end of a test: the inputs are byte for byte what they were."""
    before = {p.name: p.read_bytes() for p in here.iterdir() if p.is_file()}

    def check() -> None:
        assert {name: (here / name).read_bytes() for name in before} == before

    return check


@pytest.mark.parametrize("option, path, what", [
    ("--json", "market.csv.gz", "market data file (--market)"),
    ("--json", "config.yaml", "the config (--config)"),
    ("--json", "./sub/../market.csv.gz", "market data file (--market)"),
    ("--json", "link.csv.gz", "market data file (--market)"),  # a hard link: the same inode
    ("--journal", "market.csv.gz", "market data file (--market)"),
    ("--journal", "config.yaml", "the config (--config)"),
])
def test_replay_refuses_an_output_that_is_an_input(replay, here, untouched, option, path, what):
    (here / "sub").mkdir()
    os.link(here / "market.csv.gz", here / "link.csv.gz")
    rc, out, err = replay(option, path)
    assert rc == 2
    assert err.startswith(f"error: {option} {path}: ") and what in err and "overwrite" in err
    assert out == ""  # refused before the replay ran
    untouched()


@pytest.mark.parametrize("option", ["--json", "--journal"])
@pytest.mark.parametrize("path, says", [
    (".", "is a folder; expected a file path"),
    ("missing/out", "does not exist (create it first)"),
    ("missing/deeper/out", "does not exist (create it first)"),
])
def test_replay_refuses_a_folder_or_a_missing_folder_before_running(replay, here, untouched, option, path, says):
    rc, out, err = replay(option, path)
    assert rc == 2
    assert err.startswith(f"error: {option} {path}: ") and says in err
    assert "Traceback" not in err and out == ""
    assert not (here / "missing").exists()  # --journal no longer makes the folders it was given
    untouched()


def test_replay_refuses_one_file_for_two_outputs(replay, here):
    rc, out, err = replay("--journal", "run.out", "--json", "run.out")
    assert rc == 2
    assert err.startswith("error: --journal run.out: is also --json's file") and out == ""
    assert not (here / "run.out").exists()


def test_replay_refuses_a_journal_that_holds_a_run(replay, journal):
    """A second replay into the same journal mixed the runs: the report showed both runs'
    decisions, the second's fills only, and a wrong cost."""
    before = journal.read_bytes()
    rc, out, err = replay("--journal", "run.sqlite")
    assert rc == 2
    assert err.startswith("error: --journal run.sqlite: already exists and is not empty")
    assert "choose a new path or delete it" in err
    assert out == "" and journal.read_bytes() == before


def test_replay_refuses_a_journal_that_is_some_other_file(replay, here):
    """It was a JournalError traceback (exit 1), after the market had been read."""
    notes = here / "notes.txt"
    notes.write_text("not a journal\n", encoding="utf-8")
    rc, out, err = replay("--journal", "notes.txt")
    assert rc == 2 and err.startswith("error: --journal notes.txt: already exists and is not empty")
    assert "Traceback" not in err and out == ""
    assert notes.read_text(encoding="utf-8") == "not a journal\n"


@pytest.mark.parametrize("beside", ["run.sqlite-wal", "run.sqlite-journal"])
def test_replay_says_why_a_journal_cannot_be_opened(replay, here, beside):
    """An empty file passes the path checks, but one of SQLite's own files beside it is a
    folder: a JournalError (-wal) or a bare sqlite3 error (-journal) was a traceback (exit 1)."""
    (here / "run.sqlite").touch()
    (here / beside).mkdir()
    rc, out, err = replay("--journal", "run.sqlite")
    assert rc == 2
    assert err.startswith("error: --journal run.sqlite: ") and "Traceback" not in err
    assert out == ""


def test_replay_into_an_empty_journal_file_is_a_new_journal(replay, here):
    (here / "run.sqlite").touch()
    rc, _, err = replay("--journal", "run.sqlite")
    assert rc == 0, err
    assert (here / "run.sqlite").stat().st_size > 0


def test_replay_writes_its_outputs_to_good_paths(replay, here):
    (here / "out").mkdir()
    rc, out, err = replay("--json", "out/report.json", "--journal", "run.sqlite")
    assert rc == 0, err
    assert "report written to out/report.json" in out
    assert (here / "out" / "report.json").read_text(encoding="utf-8").startswith("{")
    assert (here / "run.sqlite").stat().st_size > 0


# ------------------------------------------------------------------------------- report


@pytest.fixture
def journal(replay, here):
    """``run.sqlite`` in ``here``: the journal of one replay."""
    rc, _, err = replay("--journal", "run.sqlite")
    assert rc == 0, err
    return here / "run.sqlite"


@pytest.fixture
def report(capsys):
    """``report(*args)`` -> (exit code, stdout, stderr) of ``report --no-charts *args``."""

    def run(*args: str) -> tuple[int, str, str]:
        rc = main(["report", "--no-charts", *args])
        out, err = capsys.readouterr()
        return rc, out, err

    return run


@pytest.mark.parametrize("read, html", [
    ("run.sqlite", "run.sqlite"),
    (".", "run.sqlite"),  # a folder of journals: each file in it is read
    ("run.sqlite", "./sub/../run.sqlite"),
])
def test_report_refuses_html_onto_a_journal_it_reads(report, journal, here, read, html):
    (here / "sub").mkdir()
    before = journal.read_bytes()
    rc, out, err = report("--journal", read, "--html", html)
    assert rc == 2
    assert err.startswith(f"error: --html {html}: is a journal read (--journal)") and "overwrite" in err
    assert out == "" and journal.read_bytes() == before


@pytest.mark.parametrize("html, says", [
    (".", "is a folder; expected a file path"),
    ("missing/report.html", "does not exist (create it first)"),
])
def test_report_refuses_a_bad_html_path_before_reporting(report, journal, html, says):
    rc, out, err = report("--journal", "run.sqlite", "--html", html)
    assert rc == 2
    assert err.startswith(f"error: --html {html}: ") and says in err
    assert out == ""  # before, the whole report was printed, then the write failed


# ------------------------------------------------------------------------------- sweep


@pytest.fixture
def sweep(here, capsys):
    """``sweep(out, *markets)`` -> (exit code, stdout, stderr) of a two-point sweep into ``out``
    over ``markets`` (default: market.csv.gz)."""

    def run(out: str, *markets: str) -> tuple[int, str, str]:
        argv = ["sweep", "--config", "config.yaml", "--param", "rebalancer.partial_rebalance_ratio=0.5,1",
                "--jobs", "1", "--no-chart", "--out", out]
        for m in markets or ("market.csv.gz",):
            argv += ["--market", m]
        rc = main(argv)
        got = capsys.readouterr()
        return rc, got.out, got.err

    return run


@pytest.mark.parametrize("out", ["market.csv.gz", "config.yaml"])
def test_sweep_refuses_an_out_that_is_a_file(sweep, untouched, out):
    rc, _, err = sweep(out)
    assert rc == 2
    assert err.startswith(f"error: --out {out}: is a file; expected a folder") and "Traceback" not in err
    untouched()


def test_sweep_refuses_an_out_in_a_missing_folder(sweep, here):
    rc, _, err = sweep("missing/results")
    assert rc == 2 and err.startswith("error: --out missing/results: folder ") and "does not exist" in err
    assert not (here / "missing").exists()


def test_sweep_refuses_an_out_that_would_overwrite_its_market(sweep, here, excerpt):
    (here / "res").mkdir()
    market = here / "res" / "results.csv"
    with gzip.open(excerpt(EXCERPT), "rb") as f:
        market.write_bytes(f.read())
    before = market.read_bytes()
    rc, _, err = sweep("res", "res/results.csv")
    assert rc == 2
    assert err.startswith("error: --out res: its results.csv would overwrite a market data file (--market)")
    assert market.read_bytes() == before
