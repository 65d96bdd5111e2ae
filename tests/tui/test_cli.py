"""``rebalancer`` command-line input: a bad option value is refused with exit 2 and a message
naming the option (or the file) it came from."""

from __future__ import annotations

import pytest

from tests.builders import BASE_CONFIG
from tui.cli import build_parser, main

TRADES = "binance_spot_BTCUSDT_trades_2024-08-08T235415Z_30s.csv.gz"


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """``cli(*argv) -> (exit code, stdout, stderr)``, from an empty tmp dir; argparse's exits count."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REBALANCER_DATA_DIR", str(tmp_path / "data"))

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def config(write_config):
    return str(write_config(BASE_CONFIG))


@pytest.fixture
def trades(excerpt):
    return str(excerpt(TRADES))


# ---------------------------------------------------------------- --symbol


@pytest.mark.parametrize("value, words", [("", "empty value"), ("  ", "empty value"),
                                          (" BTCUSDT", "no spaces, got ' BTCUSDT'")])
@pytest.mark.parametrize("command", [["replay", "--market", "m.csv"], ["report"], ["cockpit"]],
                         ids=["replay", "report", "cockpit"])
def test_a_blank_or_padded_symbol_is_refused(capsys, command, value, words):
    """Refused as the arguments are read (an empty one was ignored: the config's symbol ran)."""
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([*command, "--symbol", value])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert "argument --symbol: " in err and words in err


def test_replay_blames_an_unknown_symbol_on_the_option_not_the_file(cli, config, trades):
    code, out, err = cli("replay", "--config", config, "--market", trades, "--symbol", "FOOUSDT")
    assert (code, out) == (2, "")
    assert err.startswith("error: --symbol FOOUSDT: no trading rules for FOOUSDT") and config not in err


# ---------------------------------------------------------------- report


@pytest.mark.parametrize("given, words", [
    (["--journal", "j.sqlite", "--config", "c.yaml"], "takes --journal PATH or --config FILE, not both"),
    ([], "needs --journal PATH (repeatable) or --config FILE"),
])
def test_report_says_which_of_journal_and_config_is_wrong(cli, given, words):
    code, out, err = cli("report", *given)
    assert (code, out) == (2, "")
    assert words in err


# ---------------------------------------------------------------- replay


def test_replay_of_a_file_with_no_trades_names_it(cli, config, tmp_path):
    header_only = tmp_path / "trades.csv"
    header_only.write_text("ts_ms,price,qty,side,trade_id\n")
    code, out, err = cli("replay", "--config", config, "--market", str(header_only))
    assert (code, out) == (2, "")
    assert f"no trades to replay: {header_only} has no data rows" in err
