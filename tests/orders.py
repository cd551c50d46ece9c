"""Order builders for tests."""

from __future__ import annotations

import itertools

import msgspec

from switch.order import Order, Party

_n = itertools.count(1)


def order(**changes: object) -> Order:
    """A valid IBPS-sized order; keyword arguments replace fields."""
    base = Order(
        client_order_id=f"T-{next(_n):08d}",
        amount=12_345,
        currency="CNY",
        debtor=Party(account="6217000000000001", name="张三", agent="102100099996"),
        creditor=Party(account="6222000000000009", name="李四", agent="103100000026"),
        remittance_info="test",
    )
    return msgspec.structs.replace(base, **changes)
