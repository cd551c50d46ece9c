"""The TOML configuration: a good file loads; every bad one is a ConfigError naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.ibps import IbpsLinkConfig
from switch.config import (
    ClientConfig,
    ServerConfig,
    SwitchConfig,
    load_config,
    parse_config,
)
from switch.errors import ConfigError

GOOD = """
[server]
host = "0.0.0.0"
port = 7410
window = 500
max_frame = 131072
auth_timeout_s = 2.5

[store]
url = "postgresql://switch@db:5432/payswitch"
group_commit_max = 500

[bank]
cnaps_code = "103100000026"

[clients.CORE-1]
secret = "0123456789abcdef0123"

[clients."CORE 2"]
secret = "another-secret-of-enough-length"

[channels.ibps]
port = 7601
reply_timeout_s = 3.5
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "payswitch.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def key_of(raw: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert str(info.value).startswith(f"{info.value.key}: ")
    return info.value.key


def test_good_file_loads(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.server == ServerConfig(host="0.0.0.0", port=7410, window=500, max_frame=131072,
                                      auth_timeout_s=2.5)
    assert cfg.store.url.startswith("postgresql://") and cfg.store.group_commit_max == 500
    assert cfg.bank.cnaps_code == "103100000026"
    assert cfg.clients == {"CORE-1": ClientConfig("0123456789abcdef0123"),
                           "CORE 2": ClientConfig("another-secret-of-enough-length")}
    assert cfg.channels == {"ibps": IbpsLinkConfig(port=7601, reply_timeout_s=3.5)}


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == SwitchConfig()
    assert SwitchConfig().channels == {}


@pytest.mark.parametrize(("raw", "key"), [
    ({"server": {"port": "7400"}}, "server.port"),
    ({"server": {"auth_timeout_s": "soon"}}, "server.auth_timeout_s"),
    ({"store": {"group_commit_max": 1.5}}, "store.group_commit_max"),
    ({"channels": {"ibps": {"port": "x"}}}, "channels.ibps.port"),
    ({"server": 5}, "server"),
    ({"clients": {"CORE-1": {"secret": 12345678901234567}}}, "clients.CORE-1.secret"),
    ({"clients": {"A": {"secret": "x" * 20}, "B": {"secret": 1}}}, "clients.B.secret"),
])
def test_wrong_type_names_the_key(raw: dict[str, object], key: str) -> None:
    assert key_of(raw) == key


@pytest.mark.parametrize(("raw", "key"), [
    ({"server": {"prot": 7400}}, "server.prot"),
    ({"sever": {}}, "sever"),
    ({"channels": {"fedwire": {}}}, "channels.fedwire"),  # no adapter for it
    ({"channels": {"ibps": {"timeout": 1}}}, "channels.ibps.timeout"),
    ({"clients": {"CORE-1": {"secret": "x" * 20, "role": "admin"}}}, "clients.CORE-1.role"),
])
def test_unknown_key_is_named(raw: dict[str, object], key: str) -> None:
    assert key_of(raw) == key


def test_missing_secret_is_named() -> None:
    assert key_of({"clients": {"CORE-1": {}}}) == "clients.CORE-1.secret"


@pytest.mark.parametrize(("secret", "ok"), [("x" * 15, False), ("x" * 16, True), ("", False)])
def test_short_secret_is_refused(secret: str, ok: bool) -> None:
    raw: dict[str, object] = {"clients": {"CORE-9": {"secret": secret}}}
    if ok:
        assert parse_config(raw).clients["CORE-9"].secret == secret
    else:
        assert key_of(raw) == "clients.CORE-9.secret"


@pytest.mark.parametrize(("window", "ok"), [
    (0, False), (1, True), (100_000, True), (100_001, False), (-5, False)])
def test_window_bounds(window: int, ok: bool) -> None:
    raw: dict[str, object] = {"server": {"window": window}}
    if ok:
        assert parse_config(raw).server.window == window
    else:
        assert key_of(raw) == "server.window"


@pytest.mark.parametrize(("size", "ok"), [
    (63, False), (64, True), (16 * 1024 * 1024, True), (16 * 1024 * 1024 + 1, False)])
def test_max_frame_bounds(size: int, ok: bool) -> None:
    raw: dict[str, object] = {"server": {"max_frame": size}}
    if ok:
        assert parse_config(raw).server.max_frame == size
    else:
        assert key_of(raw) == "server.max_frame"


def test_missing_file_is_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match="cannot read") as info:
        load_config(path)
    assert info.value.key == str(path)


def test_directory_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


@pytest.mark.parametrize("text", ["[server\nport = 1", "server.port = ", "a = 1\na = 2"])
def test_invalid_toml_is_config_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(path)
    assert info.value.key == str(path)


def test_non_utf8_file_is_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, b'[server]\nhost = "\xff\xfe"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == str(path)


def test_the_documented_example_configuration_loads() -> None:
    from pathlib import Path

    from switch.config import load_config

    example = Path(__file__).resolve().parents[1] / "docs" / "payswitch.example.toml"
    cfg = load_config(example)
    assert cfg.server.port == 7400 and "CORE-BANKING" in cfg.clients
    assert "ibps" in cfg.channels and cfg.routing.catalogue == ""
    assert {"hvps", "cips"} <= cfg.channels.keys() and cfg.bank.lei == "549300PAYSWITCH0CB33"
