"""Guards at the door (issue 14): mainnet decided by where orders go, the start's checks run by
``check-config`` too, and secrets read exactly as written."""

from __future__ import annotations

import gzip
import os

import pytest
import yaml

from core.config import ConfigError, load_config
from core.config.secrets import read_env_file
from core.session import Environment, build_session, check_mainnet, mainnet_endpoints
from core.venues.bybit_hosts import host_of, is_mainnet_host
from tests.builders import ANCHOR_BLOCK
from tui.cli import main

ACCOUNT = "Grd"
KEY, SECRET = "KeyKeyKeyKeyKeyKeyQQ", "SecSecSecSecSecSecZZ"
ENV = {f"BYBIT_API_KEY_{ACCOUNT}": KEY, f"BYBIT_API_SECRET_{ACCOUNT}": SECRET}


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Keys in the environment, the data dir and cwd in tmp_path (no stray .env)."""
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("REBALANCER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(tmp_path, **top) -> str:
    data = {"symbol": "BTCUSDT", "venue": "testnet", "mode": "watch", "api": {"account_name": ACCOUNT},
            "rebalancer": dict(ANCHOR_BLOCK)}
    data.update(top)
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(p)


def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------------ mainnet by host

MAINNET_APIS = [
    {"rest_url": "https://api.bybit.com"},
    {"rest_url": "https://API.BYBIT.COM:443/"},
    {"rest_url": "https://api.bybit.com:8443/v5/order/create"},
    {"rest_url": "https://api.bytick.com"},
    {"ws_private_url": "wss://stream.bybit.com"},
    {"ws_private_url": "wss://Stream.Bybit.com:443/v5/private"},
    {"rest_url": "https://api.bybit.nl"},
    {"rest_url": "https://api.bybit.eu"},
    {"rest_url": "https://gateway.example.com"},  # a gateway we cannot see behind
    {"rest_url": "https://api-testnet.bybit.com.evil.example"},
]
MAINNET = [(venue, api) for venue in ("testnet", "demo") for api in MAINNET_APIS] + [("mainnet", {})]
NOT_MAINNET = [
    ("testnet", {}),
    ("demo", {}),
    ("testnet", {"tld": "nl"}),
    ("testnet", {"rest_url": "http://127.0.0.1:18080", "ws_private_url": "ws://127.0.0.1:18081"}),
    ("demo", {"rest_url": "http://localhost:9", "ws_private_url": "ws://[::1]:9"}),
    ("testnet", {"rest_url": "https://api-testnet.bybit.com", "ws_private_url": "wss://stream-testnet.bybit.com"}),
    ("demo", {"rest_url": "https://API-DEMO.bybit.com:443", "ws_private_url": "wss://stream-demo.bybit.com"}),
    ("testnet", {"domain": "bytick"}),
]


@pytest.mark.parametrize("venue, api", MAINNET)
def test_orders_reaching_mainnet_need_the_flag_whatever_the_label(here, capsys, venue, api):
    path = write(here, venue=venue, api={"account_name": ACCOUNT, **api})
    cfg = load_config(path)
    assert mainnet_endpoints(cfg)
    with pytest.raises(ConfigError, match="MAINNET.*--i-understand-mainnet"):
        check_mainnet(cfg, confirmed=False)
    check_mainnet(cfg, confirmed=True)
    # refused before any connection, exit 2, one line
    rc, out, err = cli(capsys, "--config", path, "--headless")
    assert rc == 2 and out == "" and err.count("\n") == 1 and "--i-understand-mainnet" in err
    # check-config says the flag will be needed
    rc, out, err = cli(capsys, "check-config", "--config", path)
    assert rc == 0 and "MAINNET: orders reach" in out and "--i-understand-mainnet" in out
    # with the flag, the session is built (no connection yet) and its header says MAINNET
    s = build_session(cfg, Environment(mainnet_confirmed=True))
    assert s.rebalancer.venue_name == "mainnet" and s.rebalancer.snapshot().venue == "mainnet"


@pytest.mark.parametrize("venue, api", NOT_MAINNET)
def test_testnet_demo_and_loopback_hosts_are_not_mainnet(here, capsys, venue, api):
    cfg = load_config(write(here, venue=venue, api={"account_name": ACCOUNT, **api}))
    assert mainnet_endpoints(cfg) == []
    check_mainnet(cfg, confirmed=False)
    s = build_session(cfg, Environment())
    assert s.rebalancer.venue_name == venue
    rc, out, _ = cli(capsys, "check-config", "--config", write(here, venue=venue, api={"account_name": ACCOUNT, **api}))
    assert rc == 0 and "MAINNET" not in out


@pytest.mark.parametrize("api, key", [
    ({"domain": "x@api.bybit"}, "api.domain"),  # pybit would build https://api-testnet.x@api.bybit.com
    ({"domain": "bybit.com/"}, "api.domain"),
    ({"tld": "com@evil"}, "api.tld"),
    ({"rest_url": "https://api-testnet@api.bybit.com"}, "api.rest_url"),
    ({"ws_private_url": "wss://user:pw@stream-testnet.bybit.com"}, "api.ws_private_url"),
    ({"rest_url": "api.bybit.com"}, "api.rest_url"),  # no scheme
    ({"rest_url": "wss://127.0.0.1:1"}, "api.rest_url"),
    ({"ws_public_url": "http://127.0.0.1:1"}, "api.ws_public_url"),
    ({"rest_url": "http://127.0.0.1:notaport"}, "api.rest_url"),
])
def test_hosts_that_hide_where_requests_go_are_refused(here, capsys, api, key):
    path = write(here, api={"account_name": ACCOUNT, **api})
    rc, out, err = cli(capsys, "check-config", "--config", path)
    assert rc == 2 and out == "" and f"{path}: {key}:" in err and err.count("\n") == 1


@pytest.mark.parametrize("url, host, mainnet", [
    ("https://user@api.bybit.com:443/x", "api.bybit.com", True),
    ("HTTPS://Api-Testnet.Bybit.Com", "api-testnet.bybit.com", False),
    ("http://127.0.0.2:8080", "127.0.0.2", False),
    ("http://[::1]:8080", "::1", False),
    ("https://api-testnet.example.com", "api-testnet.example.com", True),
    ("not a url", "", True),
])
def test_host_parsing(url, host, mainnet):
    assert host_of(url) == host and is_mainnet_host(host_of(url)) is mainnet


# ------------------------------------------------------------------------ one validation path


def _market(tmp_path, text: str | None, name="m.csv") -> str:
    p = tmp_path / name
    if text is not None:
        if name.endswith(".gz"):
            with gzip.open(p, "wt") as f:
                f.write(text)
        else:
            p.write_text(text)
    return str(p)


TRADES = "ts_ms,price,qty,side\n" + "".join(f"{1_700_000_000_000 + i * 1000},{60_000 + i},0.01,buy\n"
                                            for i in range(2000))


def _truncated_gzip(tmp_path) -> str:
    whole = gzip.compress(TRADES.encode())
    p = tmp_path / "m.csv.gz"
    p.write_bytes(whole[:len(whole) // 2])
    return str(p)


@pytest.mark.parametrize("case", ["missing", "empty", "header-only", "directory", "not-gzip", "unreadable",
                                  "truncated-gzip", "out-of-order", "quotes-only"])
def test_a_market_file_the_start_cannot_read_fails_check_config(here, capsys, case):
    """Read whole, as the start reads it: check-config said OK to a truncated gzip, rows out of
    order past the first line and a quotes-only file, and the start then died with a traceback."""
    name = "m.csv.gz" if case == "not-gzip" else "m.csv"
    path = {"missing": lambda: str(here / "nowhere.csv"), "empty": lambda: _market(here, ""),
            "header-only": lambda: _market(here, "ts_ms,price,qty,side\n"), "directory": lambda: str(here),
            "not-gzip": lambda: (here / name).write_text("plain") and str(here / name),
            "unreadable": lambda: _market(here, "ts_ms,price\n1,2\n"),
            "truncated-gzip": lambda: _truncated_gzip(here),
            "out-of-order": lambda: _market(here, "".join([TRADES.splitlines(True)[0]] + TRADES.splitlines(True)[:0:-1])),
            "quotes-only": lambda: _market(here, "ts_ms,recv_ts_ms,bid,bid_qty,ask,ask_qty,update_id\n"
                                                 "1700000000000,1700000000001,100,1,101,1,1\n")}[case]()
    if case == "unreadable":
        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        os.chmod(path, 0)
    cfg_path = write(here, venue="paper", paper={"market": path})
    rc, out, err = cli(capsys, "check-config", "--config", cfg_path)
    assert rc == 2 and out == "" and f"{cfg_path}: paper.market:" in err, err
    rc, out, err = cli(capsys, "--config", cfg_path, "--headless")  # the start refuses the same way
    assert rc == 2 and "paper.market" in err


def test_a_market_file_spoiled_after_the_preflight_is_a_config_error_not_a_traceback(here, capsys, monkeypatch):
    """Between the preflight and the start the file can change (rewritten by a recorder): the
    start's own load says so as a config error, exit 2, as the preflight would have."""
    import core.preflight

    cfg_path = write(here, venue="paper", paper={"market": _truncated_gzip(here)})
    monkeypatch.setattr(core.preflight, "_check_market_files", lambda cfg: None)  # the file was fine then
    rc, out, err = cli(capsys, "--config", cfg_path, "--headless")
    assert rc == 2 and f"{cfg_path}: paper.market:" in err and "corrupt gzip" in err and "Traceback" not in err


@pytest.mark.parametrize("case, key", [
    ("state-corrupt", "paper.state_file"), ("state-directory", "paper.state_file"),
    ("state-not-an-account", "paper.state_file"), ("journal-dir-is-a-file", "journal.dir"),
    ("log-file-is-a-directory", "ui.log_file"), ("no-rules-on-paper", "symbol"),
])
def test_what_a_start_would_trip_on_fails_check_config_first(here, capsys, case, key):
    f = here / "a-file"
    f.write_text("x")
    (here / "corrupt.json").write_text("{not json")
    (here / "list.json").write_text("[1, 2]")
    top = {"state-corrupt": {"paper": {"state_file": str(here / "corrupt.json")}},
           "state-directory": {"paper": {"state_file": str(here)}},
           "state-not-an-account": {"paper": {"state_file": str(here / "list.json")}},
           "journal-dir-is-a-file": {"journal": {"dir": str(f / "journals")}},
           "log-file-is-a-directory": {"ui": {"log_file": str(here)}},
           "no-rules-on-paper": {"symbol": "ETHUSDC"}}[case]  # ETHUSDT runs on paper now (issue 18)
    cfg_path = write(here, venue="paper", **top)
    rc, out, err = cli(capsys, "check-config", "--config", cfg_path)
    assert rc == 2 and out == "" and f"{cfg_path}: {key}:" in err, err
    rc, _, err = cli(capsys, "--config", cfg_path, "--headless")
    assert rc == 2 and f": {key}:" in err


@pytest.mark.parametrize("symbol", ["ＢＴＣUSDT", "USDT", "BTC-USDT", "BTCUSD"])
def test_symbols_that_are_not_spot_symbols_are_refused(here, capsys, symbol):
    rc, out, err = cli(capsys, "check-config", "--config", write(here, venue="paper", symbol=symbol))
    assert rc == 2 and ": symbol:" in err


# ------------------------------------------------------------------------ secrets verbatim


@pytest.mark.parametrize("written, value", [
    ('"ab$cd"', "ab$cd"), ("ab$cd", "ab$cd"), ('"${HOME}x"', "${HOME}x"), ("${X}", "${X}"),
    ('"a\\\\b\\n"', "a\\\\b\\n"), ("'q\"r'", 'q"r'), ('"in side"', "in side"), ("plain # comment", "plain"),
])
def test_env_values_are_read_exactly_as_written(here, written, value, monkeypatch):
    monkeypatch.setenv("HOME", "/home/nobody")
    monkeypatch.setenv("X", "expanded")
    env = here / ".env"
    env.write_text(f"BYBIT_API_SECRET_V={written}\n")
    assert read_env_file(env)["BYBIT_API_SECRET_V"] == value
    # and the config reads the same value for its account
    monkeypatch.delenv("BYBIT_API_KEY_V", raising=False)
    monkeypatch.delenv("BYBIT_API_SECRET_V", raising=False)
    env.write_text(f"BYBIT_API_KEY_V=k123456789\nBYBIT_API_SECRET_V={written}\n")
    env.chmod(0o600)
    cfg = load_config(write(here, api={"account_name": "V"}))
    assert cfg.secrets.secret == value.strip()


async def test_a_start_warning_is_shown_in_the_cockpit():
    from tests.tui.fakes import FakeEngine
    from tui.app import CockpitApp

    app = CockpitApp(FakeEngine(), bell=False, warnings=("/x/.env is readable by other users: run chmod 600 /x/.env",))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = [n.message for n in app._notifications]
        assert any("chmod 600" in m for m in shown), shown
