"""Access control over real sockets: grants, replayed handshakes, failed-AUTH limits, TLS with
client certificates (issue #10, point 6)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trustme

from simulators.ibps import IbpsConfig, IbpsSimulator
from switch.app import SwitchApp
from switch.client import SwitchClient, SwitchError
from switch.clock import SystemClock
from switch.config import ClientConfig, ServerConfig, SwitchConfig, TlsConfig
from switch.order import Party
from tests.conftest import switch_config
from tests.orders import order
from tests.test_protocol_spec import Conn, T, frame, mac

SECRET = "grant-test-secret-" + "z" * 8
OTHER_SECRET = "other-test-secret-" + "q" * 8


def _config(sim_port: int, **server: Any) -> SwitchConfig:
    base = switch_config(sim_port)
    return msgspec.structs.replace(
        base,
        server=ServerConfig(port=0, **server),
        clients={
            # a branch core system: only its own accounts, its own bank, two products
            "BRANCH": ClientConfig(SECRET, accounts=("6217*", "6222000000000123"),
                                   agents=("102100099996",), products=("CT", "SALARY")),
            "OTHER": ClientConfig(OTHER_SECRET, cert_cn="other.core.example"),
        })


@pytest.fixture
async def switch(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[SwitchApp]:
    server = getattr(request, "param", {})
    sim = IbpsSimulator(IbpsConfig(), SystemClock())
    app = SwitchApp(_config(await sim.start(), **server),
                    store_url=f"sqlite://{tmp_path / 'a.db'}")
    await app.start(port=0)
    try:
        yield app
    finally:
        await app.stop()
        await sim.stop()


def _party(account: str, agent: str = "102100099996") -> Party:
    return Party(account=account, name="Zhang San", agent=agent)


async def test_orders_outside_the_grant_are_refused_and_never_become_payments(
    switch: SwitchApp,
) -> None:
    async with await SwitchClient.connect("127.0.0.1", switch.port or 0, "BRANCH",
                                          SECRET) as c:
        inside = order(debtor=_party("6217000000000042"))
        exact = order(debtor=_party("6222000000000123"))
        assert (await c.submit(inside)).state == "ACCEPTED"
        assert (await c.submit(exact)).state == "ACCEPTED"
        refused = {
            "account": order(debtor=_party("6222000000000999")),
            "bank": order(debtor=_party("6217000000000042", agent="103100000026")),
            "product": order(debtor=_party("6217000000000042"), product="CARD"),
        }
        for what, o in refused.items():
            with pytest.raises(SwitchError) as info:
                await c.submit(o)
            assert info.value.code == "NOT_AUTHORISED", what
            assert what in str(info.value) or "not granted" in str(info.value)
        # the session survives a refusal
        assert (await c.wait_final(inside.client_order_id, timeout=10)).state == "SETTLED"
    store = switch.store
    for o in refused.values():
        assert await store.payment_by_client_key("BRANCH", o.client_order_id) is None
    audit = await store.intake_errors("BRANCH")
    assert [e.code for e in audit] == ["AG01"] * 3
    assert {e.seq for e in audit} == {3, 4, 5}


async def test_a_replayed_handshake_fails(switch: SwitchApp) -> None:
    port = switch.port or 0
    first = await Conn.open(port)
    name, hello = await first.recv()
    assert name == "HELLO"
    recorded = frame(T["AUTH"], {"client_id": "BRANCH",
                                 "mac": mac(SECRET, hello["nonce"], "BRANCH")})
    first.writer.write(recorded)
    assert (await first.recv())[0] == "AUTH_OK"
    # an eavesdropper replays the exact bytes on a new connection: a new nonce, so a wrong MAC
    second = await Conn.open(port)
    assert (await second.recv())[0] == "HELLO"
    second.writer.write(recorded)
    name, err = await second.recv()
    assert (name, err["code"], err["fatal"]) == ("ERROR", "AUTH_FAILED", True)
    await second.expect_closed()
    await first.close()


@pytest.mark.parametrize("switch", [{"auth_max_failures": 3, "auth_failure_window_s": 60}],
                         indirect=True)
async def test_failed_auths_are_rate_limited_then_even_the_right_secret_waits(
    switch: SwitchApp,
) -> None:
    for _ in range(3):
        with pytest.raises(SwitchError) as info:
            await SwitchClient.connect("127.0.0.1", switch.port or 0, "BRANCH", "wrong" * 4)
        assert info.value.code == "AUTH_FAILED"
    with pytest.raises(SwitchError) as info:
        await SwitchClient.connect("127.0.0.1", switch.port or 0, "BRANCH", SECRET)
    assert info.value.code == "AUTH_RATE_LIMITED"


def _tls_files(tmp_path: Path) -> tuple[trustme.CA, TlsConfig]:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    tls = TlsConfig(cert=str(tmp_path / "server.pem"), key=str(tmp_path / "server.pem"),
                    client_ca=str(tmp_path / "ca.pem"))
    return ca, tls


def _client_context(ca: trustme.CA, common_name: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(ctx)
    if common_name is not None:
        ca.issue_cert(common_name, common_name=common_name).configure_cert(ctx)
    return ctx


async def test_tls_with_client_certificates_end_to_end(tmp_path: Path) -> None:
    ca, tls = _tls_files(tmp_path)
    sim = IbpsSimulator(IbpsConfig(), SystemClock())
    config = _config(await sim.start(), tls=tls)
    app = SwitchApp(config, store_url=f"sqlite://{tmp_path / 't.db'}")
    await app.start(port=0)
    port = app.port or 0
    try:
        # the right certificate (CN = the client id) and the right secret: money moves
        async with await SwitchClient.connect("127.0.0.1", port, "BRANCH", SECRET,
                                              ssl=_client_context(ca, "BRANCH")) as c:
            o = order(debtor=_party("6217000000000042"))
            await c.submit(o)
            assert (await c.wait_final(o.client_order_id, timeout=10)).state == "SETTLED"
        # a configured cert_cn is what the certificate must say
        async with await SwitchClient.connect("127.0.0.1", port, "OTHER", OTHER_SECRET,
                                              ssl=_client_context(ca, "other.core.example")):
            pass
        # another client's certificate with this client's secret: refused at AUTH
        with pytest.raises(SwitchError) as info:
            await SwitchClient.connect("127.0.0.1", port, "BRANCH", SECRET,
                                       ssl=_client_context(ca, "other.core.example"))
        assert info.value.code == "AUTH_FAILED"
        # no client certificate: the TLS handshake itself fails
        with pytest.raises((ssl.SSLError, ConnectionError, SwitchError)):
            await SwitchClient.connect("127.0.0.1", port, "BRANCH", SECRET,
                                       ssl=_client_context(ca, None))
        # plain TCP to a TLS port gets nowhere
        with pytest.raises((SwitchError, ConnectionError, TimeoutError)):
            await SwitchClient.connect("127.0.0.1", port, "BRANCH", SECRET, timeout=2)
    finally:
        await app.stop()
        await sim.stop()
    await asyncio.sleep(0)
