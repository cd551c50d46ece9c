"""BEPS adapter: payments go in packages; the answer that settles them comes after a session.

On top of `adapters.mx.MxAdapter` (pacs.002 matching, UNKNOWN once, NOT_FOUND, native
reason table, returns), BEPS differs in three ways (CHANNELS.md, BEPS):

- **Packages.** `submit` puts the payment in the open package; the package goes out as one
  pacs.008 (beps.121) once it holds ``package_max_items`` payments or ``package_wait_s`` of
  the injected clock after its first, whichever comes first. `submit` returns when its package
  has been handed to the link, and raises `ChannelError` (nothing sent) when it could not be,
  so the engine holds the payment and sends it again; a payment the format cannot carry
  raises `MessageError` alone, without sinking the rest of its package.
- **Two answers.** The package is answered at once (ACTC per item, or RJCT): PENDING. The
  final answer is a receipt after the netting session that settles or refuses the item.
- **The pending deadline** after ACTC reaches past everything the channel may still
  legitimately take: the receiving bank's deadline (the end of business day T+1, on the 16:00
  switch and the working-day calendar) plus one session interval plus the reply timeout for
  the receipt to travel. Until then an item is not UNKNOWN, however many sessions pass; after
  it, the engine asks with pacs.028 (one per item).

Native codes (`reasons`, extended or overridden by ``reason_map``): PR09 rejected by the
centre without an ISO reason -> MS03; PR32 expired, the receiving bank did not answer by the
deadline -> AB05.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar, Self
from zoneinfo import ZoneInfo

import msgspec

from adapters.base import ChannelError
from adapters.mx import _SUBMIT, MxAdapter, MxLinkConfig
from messages.errors import MessageError
from messages.iso20022 import Pacs008, TxStatus, build_pacs008
from routing import load_catalogue
from routing.calendar import ChannelCalendar, WorkingCalendar, availability, parse_hhmm
from routing.catalogue import WorkingDays
from switch.clock import Clock, Timer
from switch.order import Payment

__all__ = ["BepsAdapter", "BepsLinkConfig"]

log = logging.getLogger("payswitch.adapters")

_MAX_PACKAGE_BYTES = 1 << 20  # the largest document the centre parses (messages' limit)
_TIMEZONE = ZoneInfo("Asia/Shanghai")


@functools.cache
def _working_days() -> WorkingDays:
    """China's statutory calendar as the routing catalogue ships it (2026)."""
    return load_catalogue().calendar


class BepsLinkConfig(MxLinkConfig, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[channels.beps]`: the link, packaging and the channel's calendar (CHANNELS.md)."""

    package_max_items: int = 400  # a full package stays under the centre's 1 MiB
    package_wait_s: float = 2.0
    session_minutes: int = 30
    day_switch: str = "16:00"
    receipt_deadline_days: int = 1  # T+1
    holidays: tuple[date, ...] = msgspec.field(
        default_factory=lambda: _working_days().holidays)
    makeup_days: tuple[date, ...] = msgspec.field(
        default_factory=lambda: _working_days().makeup_days)

    def __post_init__(self) -> None:
        if self.package_max_items < 1 or self.package_wait_s < 0:
            raise ValueError("package_max_items must be >= 1 and package_wait_s >= 0")
        if not 1 <= self.session_minutes <= 1440 or self.receipt_deadline_days < 0:
            raise ValueError("session_minutes must be 1..1440, receipt_deadline_days >= 0")
        parse_hhmm(self.day_switch)


_Entry = tuple[Payment, asyncio.Future[None]]  # a payment and the future its submit awaits


class _Package:
    """Payments waiting to go out together."""

    __slots__ = ("entries", "timer")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.timer: Timer | None = None


class BepsAdapter(MxAdapter):
    channel = "BEPS"
    Config: ClassVar[type[MxLinkConfig]] = BepsLinkConfig
    reasons: ClassVar[Mapping[str, str]] = {"PR09": "MS03", "PR32": "AB05"}

    def __init__(
        self,
        host: str,
        port: int,
        *,
        clock: Clock,
        sender_bank: str,
        package_max_items: int = 400,
        package_wait: float = 2.0,
        session_minutes: int = 30,
        day_switch: str = "16:00",
        receipt_deadline_days: int = 1,
        holidays: tuple[date, ...] | None = None,
        makeup_days: tuple[date, ...] | None = None,
        **link: Any,
    ) -> None:
        super().__init__(host, port, clock=clock, sender_bank=sender_bank, **link)
        self._fixed_pending = link.get("pending_timeout")
        self._package_max = package_max_items
        self._package_wait = package_wait
        self._session = timedelta(minutes=session_minutes)
        self._switch = timedelta(minutes=parse_hhmm(day_switch))
        self._days = ChannelCalendar(kind="continuous", day_switch=day_switch,
                                     roll_to_working_day=True)
        self._receipt_days = receipt_deadline_days
        self.calendar = WorkingCalendar(
            _working_days().holidays if holidays is None else holidays,
            _working_days().makeup_days if makeup_days is None else makeup_days)
        self._package: _Package | None = None
        self._sending: set[asyncio.Task[None]] = set()

    @classmethod
    def from_config(cls, config: MxLinkConfig, *, clock: Clock, bank: Any) -> Self:
        if not isinstance(config, BepsLinkConfig):
            raise TypeError("the BEPS adapter is configured by a BepsLinkConfig")
        return cls(config.host, config.port, clock=clock, sender_bank=cls.bank_code(bank),
                   reply_timeout=config.reply_timeout_s,
                   pending_timeout=config.pending_timeout_s, reason_map=config.reason_map,
                   silent_link_s=config.silent_link_s, package_max_items=config.package_max_items,
                   package_wait=config.package_wait_s, session_minutes=config.session_minutes,
                   day_switch=config.day_switch,
                   receipt_deadline_days=config.receipt_deadline_days,
                   holidays=config.holidays, makeup_days=config.makeup_days)

    async def close(self) -> None:
        package, self._package = self._package, None
        if package is not None:
            if package.timer is not None:
                package.timer.cancel()
            _fail(package.entries, ChannelError(f"{self.channel}: adapter closed"))
        await super().close()

    # -- packages ----------------------------------------------------------------------------

    async def submit(self, payment: Payment) -> None:
        """Put ``payment`` in the open package; return once that package is on the link."""
        if not self.connected:
            raise ChannelError(f"{self.channel}: not connected")
        package = self._package
        if package is None:
            package = self._package = _Package()
            package.timer = self._clock.call_later(self._package_wait, self._seal, package)
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        package.entries.append((payment, sent))
        if len(package.entries) >= self._package_max:
            self._seal(package)
        await sent

    def _seal(self, package: _Package) -> None:
        """Close ``package`` to new payments and send it."""
        if self._package is package:
            self._package = None
        if package.timer is not None:
            package.timer.cancel()
            package.timer = None
        task = asyncio.get_running_loop().create_task(self._send_package(package.entries))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_package(self, entries: list[_Entry]) -> None:
        msg_id = self._next_msg_id(_SUBMIT)
        payments = [p for p, _ in entries]
        try:
            document = build_pacs008(Pacs008(
                msg_id=msg_id, created_at=self._clock.now(),
                transactions=tuple(self.transfer(p) for p in payments),
                instructing_agent=self._sender))
        except MessageError as err:
            await self._send_apart(entries, err)
            return
        if len(document) > _MAX_PACKAGE_BYTES and len(entries) > 1:
            half = len(entries) // 2
            await self._send_package(entries[:half])
            await self._send_package(entries[half:])
            return
        try:
            await self._send_message(payments, msg_id, document)
        except ChannelError as err:
            _fail(entries, err)
            return
        for _, sent in entries:
            if not sent.done():
                sent.set_result(None)

    async def _send_apart(self, entries: list[_Entry], err: MessageError) -> None:
        """A package the format refused: fail the payments it cannot carry, send the rest."""
        good = []
        for payment, sent in entries:
            try:
                build_pacs008(self.pacs008(payment, "CHECK"))
            except MessageError as own:
                _fail([(payment, sent)], own)
            else:
                good.append((payment, sent))
        if good and len(good) < len(entries):
            await self._send_package(good)
        else:
            _fail(good, err)  # each is fine alone, the package is not: refuse them all

    # -- deadlines ---------------------------------------------------------------------------

    def pending_timeout(self, tx: TxStatus) -> float:
        """From now until the last receipt the channel may still send, and a reply's time."""
        if self._fixed_pending is not None:
            return float(self._fixed_pending)
        now = self._clock.now()
        last = self.receipt_due(now) + self._session
        return (last - now).total_seconds() + self._reply_timeout

    def receipt_due(self, at: datetime) -> datetime:
        """The receiving bank's deadline for an item the channel took at ``at``: the end of
        business day T+``receipt_deadline_days``."""
        local = at.astimezone(_TIMEZONE)
        avail = availability(self._days, self.calendar, local, "CNY")
        assert avail is not None  # a continuous calendar is always open
        day = avail.business_date
        for _ in range(self._receipt_days):
            day = self.calendar.next_working(day + timedelta(days=1))
        return datetime.combine(day, time(), tzinfo=_TIMEZONE) + self._switch


def _fail(entries: list[_Entry], err: Exception) -> None:
    for _, sent in entries:
        if not sent.done():
            sent.set_exception(err)
