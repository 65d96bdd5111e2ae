"""Secrets never leak, ``.env`` permissions are checked, and mainnet needs an explicit choice.

The API key and secret are distinctive 40+ character values (``KEY``/``SECRET``) set in the
environment as ``BYBIT_API_KEY_Sec`` / ``BYBIT_API_SECRET_Sec`` (account ``Sec``, venue
testnet). Every place a person or a log could see is searched for both: ``check-config``
(text and ``--json``), ``decide``, config errors, ``repr``/``str`` of the config and of the
secrets, the exceptions ``attach_secrets`` raises, the journal (every row of every table) and
the log file of a real headless run against the loopback Bybit fake (which authenticates
with these very keys, so they were really used), and the rendered cockpit of an engine
running on that fake. The masked form (``mask``: first two and last two characters) is
allowed: it is how the key is shown on purpose.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from core.config import ConfigError, attach_secrets, config_from_dict, effective_config_dict, load_config
from tests.conftest import ANCHOR_BLOCK
from tui.cli import main

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "Sec"
KEY = "RKEYq7Vw2XbN9cPz4LmT8sYh3JdF6GkQ1rEuA5"  # 38 chars
SECRET = "RSECm3Nq8ZtB1xWv6HcL9pKd2YsJ7FgR4uTeA0oI"  # 40 chars
KEY_NAME, SECRET_NAME = f"BYBIT_API_KEY_{ACCOUNT}", f"BYBIT_API_SECRET_{ACCOUNT}"
POLL_S = 0.05


def assert_clean(text: str, where: str) -> None:
    """Neither the secret nor the full key, nor a long piece of either, appears in ``text``."""
    for name, value in (("secret", SECRET), ("key", KEY)):
        assert value not in text, f"the API {name} appears in {where}"
        for i in range(0, len(value) - 12):
            piece = value[i:i + 12]
            assert piece not in text, f"12 characters of the API {name} ({piece!r}) appear in {where}"


def config_dict(**extra) -> dict:
    data = {"symbol": "BTCUSDT", "venue": "testnet", "mode": "watch", "api": {"account_name": ACCOUNT},
            "rebalancer": json.loads(json.dumps(ANCHOR_BLOCK)), "journal": {"enabled": True}}
    data.update(extra)
    return data


@pytest.fixture
def keyed(tmp_path, monkeypatch):
    """Keys in the environment, cwd = an empty temp dir (no stray .env), a testnet config file."""
    monkeypatch.setenv(KEY_NAME, KEY)
    monkeypatch.setenv(SECRET_NAME, SECRET)
    monkeypatch.setenv("REBALANCER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_dict(), sort_keys=False), encoding="utf-8")
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out + "\n" + err


# ---------------------------------------------------------------------------- commands


def test_check_config_text_and_json_show_the_key_masked_only(keyed, capsys):
    rc, text = run_cli(capsys, "check-config", "--config", str(keyed))
    assert rc == 0, text
    assert_clean(text, "check-config")
    assert KEY_NAME in text and f"{KEY[:2]}***{KEY[-2:]}" in text  # the secrets were loaded, and masked
    rc, text = run_cli(capsys, "check-config", "--config", str(keyed), "--json")
    assert rc == 0
    assert_clean(text, "check-config --json")
    shown = json.loads(text.strip())["secrets"]
    assert shown == {KEY_NAME: f"{KEY[:2]}***{KEY[-2:]}", SECRET_NAME: "***"}


def test_decide_prints_no_secret(keyed, capsys):
    for extra in ((), ("--json",)):
        rc, text = run_cli(capsys, "decide", "--config", str(keyed), "--spot-base", "0.55", "--futures-base", "-0.5",
                           "--price", "60000", *extra)
        assert rc == 0, text
        assert_clean(text, f"decide {' '.join(extra)}")


@pytest.mark.parametrize("change, expect", [
    ({"rebalancer": {**ANCHOR_BLOCK, "thresholdz": {"soft": 0.1}}}, "thresholdz"),
    ({"api": {"account_name": ACCOUNT, "recv_window_ms": -5}}, "api.recv_window_ms"),
    ({"venue": "mainnet"}, "--i-understand-mainnet"),
], ids=["typo", "bad-value", "mainnet-unconfirmed"])
def test_config_errors_print_no_secret(keyed, capsys, change, expect):
    keyed.write_text(yaml.safe_dump(config_dict(**change), sort_keys=False), encoding="utf-8")
    for argv in (("check-config", "--config", str(keyed)), ("--config", str(keyed), "--headless")):
        rc, text = run_cli(capsys, *argv)
        if expect == "--i-understand-mainnet" and argv[0] == "check-config":
            assert rc == 0  # validating a mainnet file is fine; running it is not
        else:
            assert rc == 2 and expect in text, text
        assert_clean(text, f"{argv[0]} with a config error")


def test_repr_and_str_of_the_config_and_the_secrets(keyed):
    cfg = load_config(keyed)
    assert cfg.secrets is not None and cfg.secrets.key == KEY and cfg.secrets.secret == SECRET
    shown = [repr(cfg), str(cfg), repr(cfg.secrets), str(cfg.secrets), f"{cfg.secrets}", f"{cfg!r}",
             json.dumps(effective_config_dict(cfg), default=str), repr(cfg.api), repr(replace(cfg, mode="auto"))]
    for i, text in enumerate(shown):
        assert_clean(text, f"rendering #{i}")
    assert f"{KEY[:2]}***{KEY[-2:]}" in str(cfg.secrets)


@pytest.mark.parametrize("env", [
    {KEY_NAME: KEY},  # the secret is missing
    {SECRET_NAME: SECRET},  # the key is missing
    {KEY_NAME: KEY, SECRET_NAME: "   "},  # blank secret
], ids=["no-secret", "no-key", "blank-secret"])
def test_errors_from_attach_secrets_name_the_variables_not_the_values(env):
    cfg = config_from_dict(config_dict(), file="cfg.yaml", need_secrets=False)
    with pytest.raises(ConfigError) as err:
        attach_secrets(cfg, env=env)
    text = f"{err.value}\n{err.value!r}\n{err.value.args!r}\n{vars(err.value)!r}"
    assert_clean(text, "the attach_secrets error")
    assert (KEY_NAME in text) or (SECRET_NAME in text)


def test_the_bybit_venue_repr_and_an_auth_failure_show_no_secret(keyed):
    from tests.fakes.bybit import FakeBybit

    from core.venues.base import AuthError
    from tests.builders import bybit_venue

    async def run() -> str:
        with FakeBybit() as fake:  # does not know these keys: every private call fails with 10003
            v = bybit_venue(symbol="BTCUSDT", venue="testnet", api_key=KEY, api_secret=SECRET,
                           rest_url=fake.rest_url, ws_public_url=fake.ws_base_url,
                           ws_private_url=fake.ws_base_url, watchdog_interval_s=0.05)
            texts = [repr(v), str(v)]
            try:
                with pytest.raises(AuthError) as err:
                    await asyncio.wait_for(v.start(lambda e: None), 15)
                texts += [str(err.value), repr(err.value), repr(vars(err.value))]
            finally:
                await v.stop()
            return "\n".join(texts)

    assert_clean(asyncio.run(run()), "the venue repr / auth error")


# ---------------------------------------------------------------------------- .env and mainnet


def test_env_file_readable_by_others_is_warned_about(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(KEY_NAME, KEY)  # already set: load_dotenv does not override, monkeypatch restores
    monkeypatch.setenv(SECRET_NAME, SECRET)
    monkeypatch.chdir(tmp_path)
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(config_dict(), sort_keys=False), encoding="utf-8")
    env = tmp_path / ".env"
    env.write_text(f"{KEY_NAME}={KEY}\n{SECRET_NAME}={SECRET}\n", encoding="utf-8")

    env.chmod(0o644)
    cfg = load_config(cfg_path)
    assert any(".env is readable by other users" in w and "chmod 600" in w for w in cfg.warnings), cfg.warnings
    rc, text = run_cli(capsys, "check-config", "--config", str(cfg_path))
    assert rc == 0 and "warning:" in text and "readable by other users" in text
    assert_clean(text, "check-config with a readable .env")
    for argv in ((), ("--json",)):  # on stderr, as the README says; --json said nothing at all
        assert main(["check-config", "--config", str(cfg_path), *argv]) == 0
        out, err = capsys.readouterr()
        assert "readable by other users" in err and "readable by other users" not in out

    env.chmod(0o600)
    assert load_config(cfg_path).warnings == ()
    rc, text = run_cli(capsys, "check-config", "--config", str(cfg_path))
    assert rc == 0 and "readable by other users" not in text


def test_mainnet_without_the_explicit_flag_exits_2(keyed, capsys):
    keyed.write_text(yaml.safe_dump(config_dict(venue="paper"), sort_keys=False), encoding="utf-8")
    rc, text = run_cli(capsys, "--config", str(keyed), "--venue", "mainnet", "--headless")
    assert rc == 2
    assert "MAINNET" in text and "real money" in text and "--i-understand-mainnet" in text
    # the old bot's switch (api.testnet: false) means mainnet too
    keyed.write_text(yaml.safe_dump(config_dict(venue=None, api={"account_name": ACCOUNT, "testnet": False}),
                                    sort_keys=False).replace("venue: null\n", ""), encoding="utf-8")
    rc, text = run_cli(capsys, "--config", str(keyed), "--headless")
    assert rc == 2 and "--i-understand-mainnet" in text
    assert_clean(text, "the mainnet refusal")


def test_mainnet_refusal_is_the_real_programs_exit_code(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_API_")}
    env.update({"PYTHONPATH": str(REPO), "REBALANCER_DATA_DIR": str(tmp_path / "data")})
    proc = subprocess.run([sys.executable, str(REPO / "rebalancer_main.py"), "--venue", "mainnet", "--headless"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "--i-understand-mainnet" in proc.stderr
    assert not (tmp_path / "data" / "journals").exists()  # refused before anything was opened


# ---------------------------------------------------------------------------- a real run: journal, log, cockpit


def _dump_journal(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        out = []
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            for row in con.execute(f"SELECT * FROM {t}"):  # noqa: S608 - table names from sqlite_master
                out.append(f"{t}: {row!r}")
        return "\n".join(out)
    finally:
        con.close()


def test_headless_run_on_the_bybit_fake_leaves_no_secret_in_journal_log_or_output(tmp_path):
    from tests.fakes.bybit import FakeBybit

    data = tmp_path / "data"
    with FakeBybit() as fake:
        fake.add_key(KEY, SECRET, can_trade=True)
        cfg = config_dict(mode="auto", api={"account_name": ACCOUNT, "rest_url": fake.rest_url,
                                            "ws_public_url": fake.ws_base_url, "ws_private_url": fake.ws_base_url})
        cfg_path = tmp_path / "config.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(REPO), "REBALANCER_DATA_DIR": str(data), KEY_NAME: KEY,
               SECRET_NAME: SECRET}
        out_f, err_f = tmp_path / "out.txt", tmp_path / "err.txt"
        with open(out_f, "wb") as out, open(err_f, "wb") as err:
            proc = subprocess.Popen([sys.executable, str(REPO / "rebalancer_main.py"), "--config", str(cfg_path),
                                     "--headless"], cwd=tmp_path, env=env, stdout=out, stderr=err)
        journal = data / "journals" / f"{ACCOUNT}-testnet-BTCUSDT.sqlite"

        def rows(sql: str) -> list:
            if not journal.exists():
                return []
            con = sqlite3.connect(journal, timeout=5)
            try:
                return con.execute(sql).fetchall()
            except sqlite3.OperationalError:
                return []
            finally:
                con.close()

        def wait(what: str, pred, seconds: float = 40.0) -> None:
            end = time.monotonic() + seconds
            while not pred():
                try:
                    rc = proc.wait(timeout=POLL_S)
                    pytest.fail(f"program exited rc {rc} waiting for {what}: {err_f.read_text()[-2000:]}")
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() > end:
                    proc.kill()
                    pytest.fail(f"timed out waiting for {what}: {err_f.read_text()[-2000:]}")

        try:
            # 0.1 BTC spot, no futures: a long gap; AUTO sells it (an order and a fill in the journal)
            wait("a fill in the journal", lambda: rows("SELECT exec_id FROM fills"))
            # errors that go through the log and the journal: a refused REST call after a reconnect
            fake.next_rest_error("*", 10016, "internal error [/] try again", times=3)
            fake.drop_connections(abrupt=True)
            log_file = data / "logs" / "rebalancer.log"
            wait("the refused REST calls in the log",
                 lambda: log_file.exists() and "internal error [/] try again" in log_file.read_text(errors="replace"))
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        assert fake.observer.auth_count() >= 1  # the program really authenticated with these keys
    assert rc == 0, err_f.read_text()
    dump = _dump_journal(journal)
    assert "fills:" in dump and "orders:" in dump
    assert_clean(dump, "the journal")
    assert log_file.exists()
    assert_clean(log_file.read_text(errors="replace"), "the log file")
    assert_clean(out_f.read_text(errors="replace") + err_f.read_text(errors="replace"), "stdout/stderr")


async def test_the_rendered_cockpit_of_a_keyed_engine_shows_no_secret(keyed):
    from tests.fakes.bybit import FakeBybit

    from tests.builders import session_engine
    from tests.reliability.helpers import screen_text
    from tui.app import CockpitApp

    with FakeBybit() as fake:
        fake.add_key(KEY, SECRET, can_trade=True)
        cfg = load_config(keyed)
        cfg = replace(cfg, api=replace(cfg.api, rest_url=fake.rest_url, ws_public_url=fake.ws_base_url,
                                       ws_private_url=fake.ws_base_url))
        engine = session_engine(cfg, watchdog_interval_s=0.05)
        app = CockpitApp(engine, bell=False, poll_interval=0.1)
        async with app.run_test(size=(160, 48)) as pilot:
            await asyncio.wait_for(engine.started.wait(), 15)
            for _ in range(100):  # until a snapshot with balances was rendered
                app.poll()
                await pilot.pause(0.05)
                if app.state is not None and app.state.connected and app.state.quote_free:
                    break
            assert app.state is not None and app.state.connected
            text = screen_text(app) + "\n" + app.export_screenshot()
            await pilot.press("question_mark")
            await pilot.pause(0.1)
            text += "\n" + screen_text(app)
            await engine.shutdown(cancel_orders=False)
        assert "TESTNET" in text.upper()
        assert_clean(text, "the rendered cockpit")
        assert_clean(repr(engine.latest()), "the cockpit snapshot")


def test_alert_urls_with_secrets_in_clear_are_masked_by_check_config(keyed, capsys):
    """The README asks for ``${NAME}`` placeholders, but a URL written with its password or bot
    token in clear must not be printed in clear either: the settings dump showed it (text and
    JSON), and the preflight line showed the Telegram token."""
    secrets = ("LiteralPass99", "AAHsecretTOKENxyz")
    data = config_dict(alerts={"urls": ["json://user:LiteralPass99@127.0.0.1:9/",
                                        "tgram://123456789:AAHsecretTOKENxyz/4242"]})
    keyed.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    for argv in (("check-config", "--config", str(keyed)), ("check-config", "--config", str(keyed), "--json")):
        rc, text = run_cli(capsys, *argv)
        assert rc == 0, text
        assert_clean(text, " ".join(argv))
        for s in secrets:
            assert s not in text, f"{s} appears in {' '.join(argv)}"
        assert "json://user:***@127.0.0.1:9/" in text
