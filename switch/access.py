"""Who may move money from where: each client's grant, failed-handshake limits, TLS.

A core system authenticates with its HMAC secret (docs/protocol.md §3); what it may then submit
is its grant from `[clients.<id>]`: debtor accounts, debtor banks and products, each a list of
exact values or prefixes ending in ``*``. An order outside the grant is refused with
NOT_AUTHORISED and never becomes a payment.

>>> from switch.config import ClientConfig
>>> from switch.order import Party
>>> grant = Grant(ClientConfig("s" * 16, accounts=("6217*",), products=("CT", "SALARY")))
>>> payer = Party(account="6217000000000001", name="A", agent="102100099996")
>>> payee = Party(account="6222000000000009", name="B", agent="103100000026")
>>> grant.refusal(Order("O-1", 100, "CNY", payer, payee)) is None
True
>>> grant.refusal(Order("O-2", 100, "CNY", payer, payee, product="CARD"))
'product CARD is not granted to this client'
"""

from __future__ import annotations

import ssl
from collections import deque

from switch.config import ClientConfig, TlsConfig
from switch.order import Order

__all__ = ["AuthLimiter", "Grant", "certificate_cn", "server_ssl_context"]


class _Patterns:
    __slots__ = ("any", "exact", "prefixes")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.any = "*" in patterns
        self.exact = frozenset(p for p in patterns if not p.endswith("*"))
        self.prefixes = tuple(p[:-1] for p in patterns if p.endswith("*") and p != "*")

    def match(self, value: str) -> bool:
        return self.any or value in self.exact or value.startswith(self.prefixes)


class Grant:
    """What one client may submit."""

    def __init__(self, client: ClientConfig) -> None:
        self._accounts = _Patterns(client.accounts)
        self._agents = _Patterns(client.agents)
        self._products = _Patterns(client.products)

    def refusal(self, order: Order) -> str | None:
        """Why the order is outside the grant, or None when it is inside."""
        if not self._accounts.match(order.debtor.account):
            return "the debtor account is not granted to this client"
        if not self._agents.match(order.debtor.agent):
            return f"debtor bank {order.debtor.agent} is not granted to this client"
        if not self._products.match(order.product):
            return f"product {order.product} is not granted to this client"
        return None


class AuthLimiter:
    """Refuses a peer address that failed the handshake ``max_failures`` times within
    ``window_s`` seconds (network time), until the oldest of them leaves the window.

    >>> limits = AuthLimiter(max_failures=2, window_s=60)
    >>> limits.failed("10.0.0.1", 0.0); limits.failed("10.0.0.1", 1.0)
    >>> limits.blocked("10.0.0.1", 30.0), limits.blocked("10.0.0.2", 30.0)
    (True, False)
    >>> limits.blocked("10.0.0.1", 60.5)
    False
    """

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def failed(self, peer: str, now: float) -> None:
        times = self._failures.setdefault(peer, deque())
        times.append(now)
        self._trim(peer, times, now)

    def blocked(self, peer: str, now: float) -> bool:
        times = self._failures.get(peer)
        if times is None:
            return False
        self._trim(peer, times, now)
        return len(times) >= self.max_failures

    def _trim(self, peer: str, times: deque[float], now: float) -> None:
        while times and now - times[0] >= self.window_s:
            times.popleft()
        while len(times) > self.max_failures:  # memory stays bounded under a flood
            times.popleft()
        if not times:
            del self._failures[peer]


def server_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    """TLS 1.2+ for the payment port; client certificates required when a client CA is set."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(tls.cert, tls.key)
    if tls.client_ca is not None:
        ctx.load_verify_locations(tls.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def certificate_cn(peercert: dict[str, object] | None) -> str | None:
    """The common name of a verified peer certificate (``ssl`` getpeercert() form)."""
    if not peercert:
        return None
    for rdn in peercert.get("subject", ()):  # type: ignore[attr-defined]
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
