"""``.env`` that cannot be read: the error names the file and the line, never a value."""

from __future__ import annotations

import pytest

from core.config import ConfigError, load_config
from core.config.secrets import read_env_file
from tests.builders import BASE_CONFIG, TEST_KEY as KEY, TEST_SECRET as SECRET, apply_overrides, forget_test_keys
from tui.cli import main


@pytest.fixture
def testnet(tmp_path, monkeypatch, write_config):
    """cwd = tmp_path (its .env is read), no keys in the environment; the testnet config's path."""
    monkeypatch.chdir(tmp_path)
    forget_test_keys(monkeypatch)
    return str(write_config(apply_overrides(BASE_CONFIG, {"venue": "testnet"}), name="testnet.yaml"))


@pytest.fixture
def dotenv(tmp_path):
    """``dotenv(bytes)`` writes ./.env (mode 600) and returns its path."""

    def write(data: bytes):
        path = tmp_path / ".env"
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    return write


def test_a_non_utf8_env_file_is_a_config_error_naming_its_line(testnet, dotenv, capsys):
    env = dotenv(f"BYBIT_API_KEY_Tst={KEY}\nBYBIT_API_SECRET_Tst={SECRET[:8]}".encode() + b"\xff\xfe" +
                 SECRET[8:].encode() + b"\n")
    assert main(["check-config", "--config", testnet]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{env}: line 2 (BYBIT_API_SECRET_Tst): is not UTF-8" in err
    assert SECRET[:8] not in err and SECRET[8:] not in err and KEY not in err


def test_an_unreadable_line_holding_a_key_is_named_not_reported_unset(testnet, dotenv):
    env = dotenv(f'# keys\nBYBIT_API_KEY_Tst="{KEY}\nBYBIT_API_SECRET_Tst={SECRET}\n'.encode())
    with pytest.raises(ConfigError) as e:
        load_config(testnet)
    assert str(e.value).startswith(f"{env}: line 2: BYBIT_API_KEY_Tst is set here but the line cannot be read")
    assert KEY[:12] not in str(e.value)


def test_an_unreadable_other_line_is_a_warning(testnet, dotenv):
    env = dotenv(f'BYBIT_API_KEY_Tst={KEY}\nBYBIT_API_SECRET_Tst={SECRET}\nTOKEN="{SECRET}\n'.encode())
    cfg = load_config(testnet)
    assert cfg.secrets.key == KEY
    assert any(w.startswith(f"{env}, line 3: ") and SECRET not in w for w in cfg.warnings), cfg.warnings


def test_the_missing_keys_error_names_the_unreadable_lines(testnet, dotenv):
    env = dotenv(f'TOKEN="{SECRET}\n'.encode())
    with pytest.raises(ConfigError, match=f"set BYBIT_API_KEY_Tst and BYBIT_API_SECRET_Tst .*; {env}, line 1 could not"):
        load_config(testnet)


def test_parse_env_file_reads_crlf_lines_as_before(dotenv):
    """Read as bytes now (to name a bad byte's line): Windows line ends still give clean values."""
    assert read_env_file(dotenv(b"A=1\r\nB='two'\r\n")) == {"A": "1", "B": "two"}
