"""Micro-payment batches on the engine's side: which batch a member joins, when a batch closes,
and the one channel payment that carries it.

A batch is an ordinary payment to the rest of the engine (client id `BATCH_CLIENT`, its order
made from the members: the bank pays the payee the total, the remittance names the batch), so
submission, deadlines, inquiry, resending under the same ids, fallback and returns work exactly
as for any payment. What is particular to a batch lives here: the open batches per payee and
window (kept in memory by the one writer, recorded in the store with every join), the totals,
and the members' states following the batch's.

The store enforces membership: a payment joins at most one batch, ever (the primary key of
`batch_members`), and only while it is QUEUED_FOR_BATCH.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from accounting.core import pro_rata
from routing.batching import BatchingProfile, profile_for
from routing.catalogue import Catalogue
from switch.clock import iso
from switch.order import Order, Party, Payment
from switch.states import State
from switch.store import BatchRow

__all__ = ["BATCH_CLIENT", "BatchDesk", "OpenBatch"]

BATCH_CLIENT = "~batch"  # no configured client can have this id (config ids are plain)

_party_encoder = msgspec.msgpack.Encoder()
_party_decoder = msgspec.msgpack.Decoder(Party)

# A member's state once its batch's payment is in ``state`` (None: the member stays put).
MEMBER_STATE = {
    State.SUBMITTED: State.SUBMITTED,
    State.UNKNOWN: State.UNKNOWN,
    State.ROUTED: State.ROUTED,  # a fallback to another channel: members wait with it
    State.SETTLED: State.SETTLED,
    State.REJECTED: State.REJECTED,
    State.RETURNED: State.RETURNED,
}


class OpenBatch:
    """A batch taking members: its row as last written, its members so far and their total
    (kept as they join and leave: summing on every join made a window of n members cost n²)."""

    __slots__ = ("members", "profile", "row", "total")

    def __init__(self, row: BatchRow, profile: BatchingProfile,
                 members: list[tuple[str, int]] | None = None) -> None:
        self.row = row
        self.profile = profile
        self.members = members or []
        self.total = sum(amount for _, amount in self.members)

    def add(self, payment_id: str, amount: int) -> None:
        self.members.append((payment_id, amount))
        self.total += amount

    def remove(self, payment_id: str) -> None:
        self.members = [m for m in self.members if m[0] != payment_id]
        self.total = sum(amount for _, amount in self.members)

    def fits(self, amount: int) -> bool:
        p = self.profile
        return (len(self.members) < p.max_members
                and (p.close_amount is None or self.total + amount <= p.close_amount))

    def full(self) -> bool:
        p = self.profile
        return ((p.close_count is not None and len(self.members) >= p.close_count)
                or len(self.members) >= p.max_members)


class BatchDesk:
    """The engine's batches: open ones by payee and window, and which payment is in which."""

    def __init__(self, catalogue: Catalogue, bank: Party) -> None:
        self.catalogue = catalogue
        self.profiles = {p.name: p for p in catalogue.batching}
        self.bank = bank
        self.tz = ZoneInfo(catalogue.timezone)
        self.open: dict[tuple[str, str, str, str], OpenBatch] = {}  # by batch key
        self.by_id: dict[str, OpenBatch] = {}  # every batch not yet submitted
        self.member_of: dict[str, str] = {}  # payment id -> batch id, until final
        self.members: dict[str, list[tuple[str, int]]] = {}  # closed batch -> its members
        self.rows: dict[str, BatchRow] = {}  # closed batch -> its row as last written

    def profile_for(self, order: Order) -> BatchingProfile | None:
        return profile_for(self.catalogue.batching, order) if self.profiles else None

    def place(self, p: Payment, profile: BatchingProfile, now: datetime
              ) -> tuple[OpenBatch, OpenBatch | None]:
        """The batch ``p`` joins (opened if need be) and, if that meant closing a full one
        first, the one to close."""
        local = now.astimezone(self.tz)
        window = profile.window(local)
        payee = p.order.creditor
        key = (profile.name, payee.account, p.order.currency, window.key)
        current = self.open.get(key)
        to_close = None
        if current is not None and not current.fits(p.order.amount):
            to_close = current
            current = None
        if current is None:
            seq = 1 if to_close is None else to_close.row.seq + 1
            batch_id = uuid.uuid4().hex
            row = BatchRow(
                batch_id=batch_id, profile=profile.name, channel=profile.channel,
                currency=p.order.currency, payee=_party_encoder.encode(payee),
                payee_account=payee.account, window_key=window.key, seq=seq, state="OPEN",
                opened_at=iso(now), closes_at=iso(window.closes_at), end_to_end_id=batch_id,
                uetr=str(uuid.uuid4()))
            current = OpenBatch(row, profile)
            self.open[key] = current
            self.by_id[batch_id] = current
        current.add(p.payment_id, p.order.amount)
        self.member_of[p.payment_id] = current.row.batch_id
        return current, to_close

    def forget_member(self, payment_id: str) -> None:
        """A join that did not happen (the order was a resend of an earlier one)."""
        batch_id = self.member_of.pop(payment_id, None)
        batch = self.by_id.get(batch_id or "")
        if batch is not None:
            batch.remove(payment_id)

    def discard(self, batch_id: str) -> None:
        """Forget a batch opened by a turn that did not commit."""
        batch = self.by_id.pop(batch_id, None)
        if batch is not None:
            row = batch.row
            key = (row.profile, row.payee_account, row.currency, row.window_key)
            if self.open.get(key) is batch:
                del self.open[key]

    def reopen(self, batch: OpenBatch) -> None:
        """Undo a close whose turn did not commit."""
        row = batch.row
        self.open[(row.profile, row.payee_account, row.currency, row.window_key)] = batch
        self.by_id[row.batch_id] = batch
        self.members.pop(row.batch_id, None)
        self.rows.pop(row.batch_id, None)

    def close(self, batch: OpenBatch) -> None:
        """Members frozen: the batch takes no more (its key may open the next one)."""
        row = batch.row
        key = (row.profile, row.payee_account, row.currency, row.window_key)
        if self.open.get(key) is batch:
            del self.open[key]
        self.by_id.pop(row.batch_id, None)
        self.members[row.batch_id] = list(batch.members)

    def restore(self, row: BatchRow, members: list[tuple[str, int]]) -> OpenBatch | None:
        """A batch from the store after a restart; the open batch when it is still OPEN."""
        for payment_id, _ in members:
            self.member_of[payment_id] = row.batch_id
        profile = self.profiles.get(row.profile)
        if row.state == "OPEN" and profile is not None:
            batch = OpenBatch(row, profile, members)
            self.open[(row.profile, row.payee_account, row.currency, row.window_key)] = batch
            self.by_id[row.batch_id] = batch
            return batch
        self.members[row.batch_id] = members
        self.rows[row.batch_id] = row
        return None

    def finished(self, batch_id: str) -> None:
        self.rows.pop(batch_id, None)
        for payment_id, _ in self.members.pop(batch_id, ()):
            self.member_of.pop(payment_id, None)

    def payment(self, row: BatchRow, now: str) -> Payment:
        """The one channel payment of a closed batch: the bank pays the payee the total."""
        payee = _party_decoder.decode(row.payee)
        order = Order(
            client_order_id=row.batch_id, amount=row.total, currency=row.currency,
            debtor=msgspec.structs.replace(self.bank, account=_batch_account(row.profile)),
            creditor=payee, product="BATCH", designated_channel=row.channel,
            remittance_info=f"BATCH {row.batch_id} {row.members} items {row.window_key}",
        )
        return Payment(payment_id=row.batch_id, client_id=BATCH_CLIENT, order=order,
                       state=State.ROUTED.value, channel=row.channel, fee=row.fee,
                       business_date=row.business_date, end_to_end_id=row.end_to_end_id,
                       uetr=row.uetr, created_at=now, updated_at=now)


def fee_shares(fee: int, members: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Each member's share of the batch fee: pro rata, the remainder to the largest (the rule
    accounting/books.toml applies to the same figures, so the books and the statuses agree)."""
    listed = list(members)
    return dict(zip((pid for pid, _ in listed), pro_rata(fee, [a for _, a in listed]),
                    strict=True))


def _batch_account(profile: str) -> str:
    """The bank's own account that pays out a batch (one per profile), within 34 characters."""
    return ("BATCH" + "".join(ch for ch in profile.upper() if ch.isalnum()))[:34]
