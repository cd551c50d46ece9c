"""The switch's configuration file (TOML), decoded into typed structs with errors naming the key."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from switch.errors import ConfigError

T = TypeVar("T")


class TlsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """TLS on the payment port (standard library ssl); with ``client_ca`` clients must show a
    certificate issued by it, whose common name names the client (see ClientConfig.cert_cn)."""

    cert: str  # PEM certificate chain of the switch
    key: str  # PEM private key of the switch
    client_ca: str | None = None  # PEM CA bundle that client certificates must chain to


class ServerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 7400
    max_frame: int = 65536
    window: int = 1000  # orders a session may have submitted and not yet acknowledged
    heartbeat_s: int = 30  # a session silent for 3 heartbeats is closed
    auth_timeout_s: float = 10.0
    max_pending_writes: int = 50_000  # orders awaiting the store; beyond: RETRY_LATER
    # Payments not final are held in memory; beyond this many (a channel that does not answer
    # keeps them) new orders are answered RETRY_LATER rather than grow the process.
    max_live_payments: int = 200_000
    # A peer address with this many failed AUTHs within the window is refused for its rest.
    auth_max_failures: int = 5
    auth_failure_window_s: float = 60.0
    tls: TlsConfig | None = None
    reuse_port: bool = False  # SO_REUSEPORT: set by `serve --workers N` for its workers


class ClientConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One core system: its handshake secret and what it may move money for.

    Patterns are exact values or a prefix ending in ``*``; an order must match in every list
    (debtor account, debtor bank, product). The default ``["*"]`` allows anything: name the
    accounts, banks and products of each client in production.
    """

    secret: str  # shared secret for the HMAC handshake; keep this file readable by the switch only
    accounts: tuple[str, ...] = ("*",)  # debtor accounts
    agents: tuple[str, ...] = ("*",)  # debtor banks (institutions), CNAPS code or BIC
    products: tuple[str, ...] = ("*",)  # order products (order types)
    cert_cn: str | None = None  # with TLS client certificates: the CN expected (default: id)
    alerts: bool = False  # an operator console: its sessions receive ALERT frames (positions)


class StoreConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str = ""  # empty: the embedded SQLite file at default_store_url()
    group_commit_max: int = 2000  # writes per store transaction at most
    keep_messages: bool = True  # journal every channel message with its payments


class BankConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    cnaps_code: str = "102100099996"  # this bank's CNAPS participant code
    name: str = "Payswitch City Commercial Bank"
    bic: str = "PYSWCNSHXXX"  # for SWIFT and CIPS
    lei: str = "549300PAYSWITCH0CB33"  # ISO 17442, check digits valid; CIPS wants it


class ObservabilityConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None  # absent: no HTTP endpoint; 0 picks a free port
    outbox_lag_bound: int = 10_000  # readiness fails when the books are further behind
    log_format: str = "text"  # text | json (JSON lines, one event per state change)
    log_level: str = "WARNING"  # INFO logs every state change


class RoutingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    catalogue: str = ""  # channel catalogue TOML; empty: the one shipped in routing/
    # Channels whose available position (liquidity, from the books) routing checks: an order
    # above it goes to the next-best channel (AM04 when none). Fund them with
    # `payswitch treasury fund`; unlisted channels are not limited by a position.
    positions: tuple[str, ...] = ()


class ClusterConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Several switch processes over one PostgreSQL store (switch.cluster)."""

    enabled: bool = True  # with a PostgreSQL store: every process is a worker of a cluster
    lease_s: float = 5.0  # a worker silent this long is dead: its payments are taken over
    heartbeat_s: float = 1.0


class AccountingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    books: str = ""  # chart of accounts and posting rules; empty: accounting/books.toml


class SwitchConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    bank: BankConfig = msgspec.field(default_factory=BankConfig)
    clients: dict[str, ClientConfig] = msgspec.field(default_factory=dict)
    # channel key (ibps, hvps, ...) -> its adapter's link configuration (`adapters.ADAPTERS`)
    channels: dict[str, Any] = msgspec.field(default_factory=dict)
    routing: RoutingConfig = msgspec.field(default_factory=RoutingConfig)
    observability: ObservabilityConfig = msgspec.field(default_factory=ObservabilityConfig)
    accounting: AccountingConfig = msgspec.field(default_factory=AccountingConfig)
    cluster: ClusterConfig = msgspec.field(default_factory=ClusterConfig)


def load_config(path: str | Path) -> SwitchConfig:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from exc
    return parse_config(raw)


def _convert(raw: object, kind: type[T], prefix: str = "") -> T:
    """``msgspec.convert`` with a ConfigError naming the TOML key that is wrong."""
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        # msgspec names the path as `$.server.port`; show it as the TOML key.
        text = str(exc)
        key = text.rsplit("at `$.", 1)[-1].rstrip("`") if "at `$." in text else ""
        # An unknown or missing field is named by its table only: name the field itself.
        field = re.search(r"(?:unknown|missing required) field `([^`]*)`", text)
        if field is not None:
            key = f"{key}.{field[1]}" if key else field[1]
        if isinstance(raw, dict):
            key = _dict_key(raw, key)
        key = ".".join(k for k in (prefix, key) if k) or "(top level)"
        raise ConfigError(key, text) from exc


def _channels(raw: object) -> dict[str, Any]:
    """Each `[channels.<key>]` table as its adapter's own configuration struct."""
    from adapters import adapter_class

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("channels", "must be a table of channel tables")
    configs: dict[str, Any] = {}
    for key, table in raw.items():
        try:
            adapter = adapter_class(key)
        except KeyError:
            raise ConfigError(f"channels.{key}", "no adapter for this channel") from None
        configs[key] = _convert(table, adapter.Config, f"channels.{key}")
        if configs[key].reply_timeout_s <= 0:
            raise ConfigError(f"channels.{key}.reply_timeout_s", "must be greater than zero")
        if not 1 <= configs[key].port <= 65535:
            raise ConfigError(f"channels.{key}.port", "must be a TCP port (1-65535)")
    return configs


def parse_config(raw: dict[str, object]) -> SwitchConfig:
    cfg = _convert({k: v for k, v in raw.items() if k != "channels"}, SwitchConfig)
    cfg = msgspec.structs.replace(cfg, channels=_channels(raw.get("channels")))
    for client_id, client in cfg.clients.items():
        if len(client.secret) < 16:
            raise ConfigError(f"clients.{client_id}.secret", "must be at least 16 characters")
        for key in ("accounts", "agents", "products"):
            patterns = getattr(client, key)
            if not patterns or any(not p or "*" in p[:-1] for p in patterns):
                raise ConfigError(f"clients.{client_id}.{key}",
                                  "a non-empty list of values or prefixes ending in *")
    if cfg.server.auth_max_failures < 1 or cfg.server.auth_failure_window_s <= 0:
        raise ConfigError("server.auth_max_failures",
                          "auth_max_failures >= 1 and auth_failure_window_s > 0")
    if not 1 <= cfg.server.window <= 100_000:
        raise ConfigError("server.window", "must be between 1 and 100000")
    if not 64 <= cfg.server.max_frame <= 16 * 1024 * 1024:
        raise ConfigError("server.max_frame", "must be between 64 bytes and 16 MiB")
    _positive = {
        "server.heartbeat_s": cfg.server.heartbeat_s,
        "server.auth_timeout_s": cfg.server.auth_timeout_s,
        "store.group_commit_max": cfg.store.group_commit_max,
    }
    for key, value in _positive.items():
        if value <= 0:
            raise ConfigError(key, "must be greater than zero")
    obs = cfg.observability
    if obs.log_format not in ("text", "json"):
        raise ConfigError("observability.log_format", "must be text or json")
    if obs.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("observability.log_level", "must be DEBUG, INFO, WARNING or ERROR")
    if obs.metrics_port is not None and not 0 <= obs.metrics_port <= 65535:
        raise ConfigError("observability.metrics_port", "must be a TCP port (0 picks one)")
    if not 0 < cfg.cluster.heartbeat_s < cfg.cluster.lease_s:
        raise ConfigError("cluster.lease_s", "needs 0 < heartbeat_s < lease_s")
    if obs.outbox_lag_bound < 0:
        raise ConfigError("observability.outbox_lag_bound", "must not be negative")
    if not 0 <= cfg.server.port <= 65535:
        raise ConfigError("server.port", "must be a TCP port (0-65535; 0 picks a free one)")
    return cfg


def _dict_key(raw: dict[str, object], key: str) -> str:
    """msgspec writes a table of tables' key as `[...]`: find which client it was."""
    prefix = "clients[...]"
    clients = raw.get("clients")
    if not key.startswith(prefix) or not isinstance(clients, dict):
        return key
    for client_id, client in clients.items():
        try:
            msgspec.convert(client, ClientConfig)
        except msgspec.ValidationError:
            return f"clients.{client_id}{key.removeprefix(prefix)}"
    return key


def default_store_url() -> str:
    """The embedded store: $PAYSWITCH_HOME/payswitch.db, else ~/.local/share/payswitch/."""
    home = os.environ.get("PAYSWITCH_HOME")
    base = Path(home) if home else Path.home() / ".local" / "share" / "payswitch"
    return f"sqlite://{(base / 'payswitch.db').resolve()}"
