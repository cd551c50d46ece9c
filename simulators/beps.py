"""BEPS simulator: the bulk electronic payment system with deferred net settlement.

What the switch sees (CHANNELS.md, BEPS; every time on the injected clock, Asia/Shanghai):

- **Packages.** A pacs.008 (beps.121) carries many items. Each is checked at once (AM03
  currency, AM02 above the cap, RC01 sender not a participant or receiving bank not a 12-digit
  CNAPS code, AM05 an end-to-end id reused with other content) and the package is answered at
  once: one pacs.002 with each item ACTC (received) or RJCT.
- **Business day.** 7x24; business day T runs from the 16:00 switch of the day before to 16:00
  on T, rolled to the next working day (an item of Friday 17:00 or Saturday is Monday's).
  The per-item cap is 50,000 CNY when the item arrives on a working day, 1,000,000 CNY on a
  non-working day (the calendar day of arrival, as the router reads it).
- **Receiving bank.** It answers each item ``bank_reply_s`` after arrival (0 by default):
  it takes it, or refuses it (closed creditor account AC04, blocked AC06). It must answer by
  the end of business day T+``receipt_deadline_days`` (T+1); an item still unanswered then
  (a ``silent_banks`` bank, or one slower than that) expires with the native code PR32.
- **Sessions** every ``session_minutes`` (at :00 and :30 local). A session closes the
  interval before it (the 16:00 session is the last of day T) and takes every item the
  receiving bank has answered. Items refused or expired are rejected; the rest are netted:
  each participant's position is what it receives less what it sends.
- **A short sender.** When a participant's settlement balance cannot cover its net debit,
  its items of the session are dropped newest first until it can, each rejected AM04. A
  dropped item is also a credit its receiver no longer gets, so the check runs again until
  every position is covered; what remains settles. Nothing waits for funds to a later
  session: the sender learns at once and may send again.
- **Receipts.** After the session, one unsolicited pacs.002 per package with the status of
  each of its items the session decided: ACSC with AccptncDtTm = the session, or RJCT. The
  fault plan's ``receipt`` rule (or ``*``) applies to each: dropped, delayed, doubled...
- **Trail.** Each item keeps its package (``msg_id``) and session (``channel_ref``); the
  books keep every session with its net positions and items (`NetSession`, admin
  ``sessions``). The camt.053 lists every settled item as its own booked entry (Refs: MsgId =
  its package, AcctSvcrRef = its session) and shows netting as one INFO entry per session
  after its items: the participant's net position, NtryRef = the session, BkTxCd NETTING (an
  INFO entry is not a second booking, so the balances still add up item by item; a session
  that nets to zero has none).

Inquiry (pacs.028), resends, returns (gross, at once) and the other faults are those of
`simulators.mx.MxSimulator`.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec

from messages.iso20022 import BankTransactionCode, Entry, Pacs002, build_pacs002
from routing import load_catalogue
from routing.calendar import ChannelCalendar, WorkingCalendar, availability, parse_hhmm
from routing.catalogue import WorkingDays
from simulators.base import SimConfig
from simulators.books import SimBooks, SimItem, StatementData, StatementLine
from simulators.faults import FaultPlan
from simulators.mx import CNAPS_CODE, NOT_FOUND, MxSimulator
from switch.clock import Clock, Timer

__all__ = ["EXPIRED", "NOT_FOUND", "BepsBooks", "BepsConfig", "BepsSimulator", "NetSession"]

EXPIRED = "PR32"  # CNAPS2 "expired": the receiving bank did not answer by the deadline
_INSTANT = timedelta(microseconds=1)


@functools.cache
def _working_days() -> WorkingDays:
    """China's statutory calendar as the shipped routing catalogue states it (2026)."""
    return load_catalogue().calendar


class BepsConfig(SimConfig, frozen=True, forbid_unknown_fields=True):
    """The channel's rules (CHANNELS.md, BEPS; routing/channels.toml); amounts in fen."""

    per_item_cap: int = 5_000_000  # 50,000 CNY on working days
    holiday_cap: int = 100_000_000  # 1,000,000 CNY on non-working days
    day_switch: str = "16:00"
    session_minutes: int = 30  # sessions at whole multiples of this from local midnight
    receipt_deadline_days: int = 1  # the receiving bank answers by the end of T+1
    bank_reply_s: dict[str, int] = msgspec.field(default_factory=dict)  # bank -> seconds
    silent_banks: tuple[str, ...] = ()  # receiving banks that never answer
    holidays: tuple[date, ...] = msgspec.field(
        default_factory=lambda: _working_days().holidays)
    makeup_days: tuple[date, ...] = msgspec.field(
        default_factory=lambda: _working_days().makeup_days)

    def __post_init__(self) -> None:
        if not 1 <= self.session_minutes <= 1440 or 1440 % self.session_minutes:
            raise ValueError("session_minutes must divide a day (1..1440)")
        parse_hhmm(self.day_switch)
        if self.receipt_deadline_days < 0 or any(s < 0 for s in self.bank_reply_s.values()):
            raise ValueError("receipt_deadline_days and bank_reply_s must not be negative")


class NetSession(msgspec.Struct, frozen=True):
    """One netting session as the books keep it."""

    id: str
    business_date: date
    at: datetime
    positions: dict[str, int]  # participant -> net (negative: a net debit), this session
    items: tuple[str, ...]  # end-to-end ids settled, in order of arrival
    packages: tuple[str, ...]  # the message ids they came in


class BepsBooks(SimBooks):
    """`SimBooks` that settle items by session and keep each session's net positions."""

    def __init__(self, participants: dict[str, int], **kwargs: Any) -> None:
        super().__init__(participants, **kwargs)
        self.sessions: dict[str, NetSession] = {}

    def settle_session(self, session_id: str, day: date, at: datetime,
                       items: Iterable[SimItem]) -> NetSession:
        """Settle ``items`` as session ``session_id`` of business day ``day``."""
        positions: dict[str, int] = defaultdict(int)
        settled: list[SimItem] = []
        for item in items:
            self.settle(item, day, at)
            item.channel_ref = session_id
            positions[item.debtor_agent] -= item.amount
            positions[item.creditor_agent] += item.amount
            settled.append(item)
        session = NetSession(session_id, day, at, dict(positions),
                             tuple(i.end_to_end_id for i in settled),
                             tuple(dict.fromkeys(i.msg_id or "" for i in settled)))
        self.sessions[session_id] = session
        return session


class _Waiting(msgspec.Struct):
    """An item the centre took (ACTC) and has not decided yet."""

    item: SimItem
    day: date  # its business day T
    answered_at: datetime | None  # when the receiving bank answers (None: never)
    due: datetime  # the end of business day T + receipt_deadline_days


class BepsSimulator(MxSimulator):
    name = "BEPS"
    Config = BepsConfig
    config: BepsConfig
    books: BepsBooks

    def __init__(self, config: BepsConfig, clock: Clock, seed: int = 0,
                 faults: FaultPlan | None = None) -> None:
        super().__init__(config, clock, seed, faults)
        self.books = BepsBooks(dict(config.participants), currency=config.currency, seed=seed,
                               statement_faults=self.faults.statement)
        self.calendar = WorkingCalendar(config.holidays, config.makeup_days)
        self._days = ChannelCalendar(kind="continuous", day_switch=config.day_switch,
                                     roll_to_working_day=True)
        self._switch = timedelta(minutes=parse_hhmm(config.day_switch))
        self._interval = timedelta(minutes=config.session_minutes)
        self._waiting: dict[str, _Waiting] = {}  # by end-to-end id, in order of arrival
        self._timer: Timer | None = None

    # -- the calendar ------------------------------------------------------------------------

    def business_date(self, at: datetime | None = None) -> date:
        """Business day T of ``at`` (default now): 16:00 switch, rolled to a working day."""
        local = (at or self.clock.now()).astimezone(self.tz)
        avail = availability(self._days, self.calendar, local, self.config.currency)
        assert avail is not None  # a continuous calendar is always open
        return avail.business_date

    def day_end(self, day: date) -> datetime:
        """When business day ``day`` closes: its switch time, local."""
        return datetime.combine(day, time(), tzinfo=self.tz) + self._switch

    def receipt_due(self, day: date) -> datetime:
        """The receiving bank's deadline for an item of business day ``day``."""
        for _ in range(self.config.receipt_deadline_days):
            day = self.calendar.next_working(day + timedelta(days=1))
        return self.day_end(day)

    # -- packages ----------------------------------------------------------------------------

    def check(self, item: SimItem) -> str | None:
        if item.currency != self.config.currency:
            return "AM03"
        working = self.calendar.is_working(self.local_now().date())
        if item.amount > (self.config.per_item_cap if working else self.config.holiday_cap):
            return "AM02"
        if item.debtor_agent not in self.books.participants:
            return "RC01"
        if CNAPS_CODE.fullmatch(item.creditor_agent) is None:
            return "RC01"
        return None  # the creditor's account is for the receiving bank to judge

    def accept(self, item: SimItem) -> None:
        """Received (ACTC): it waits for the receiving bank and then for a session."""
        now = self.now()
        day = self.business_date(now)
        bank = item.creditor_agent
        answered = None if bank in self.config.silent_banks else \
            now + timedelta(seconds=self.config.bank_reply_s.get(bank, 0))
        self._waiting[item.end_to_end_id] = _Waiting(item, day, answered, self.receipt_due(day))

    def refusal(self, item: SimItem) -> str | None:
        """The receiving bank's answer: None when it takes the item, else its reason."""
        if item.creditor_account in self.config.closed_accounts:
            return "AC04"
        if item.creditor_account in self.config.blocked_accounts:
            return "AC06"
        return None

    # -- sessions ----------------------------------------------------------------------------

    def on_started(self) -> None:
        self._schedule()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await super().stop()

    def _schedule(self, after: datetime | None = None) -> None:
        """Set the timer of the first session after ``after`` (default now)."""
        base = (after or self.clock.now()).astimezone(self.tz)
        midnight = datetime.combine(base.date(), time(), tzinfo=self.tz)
        at = midnight + ((base - midnight) // self._interval + 1) * self._interval
        delay = (at - self.clock.now()).total_seconds()
        self._timer = self.clock.call_later(delay, self._on_session, at)

    def _on_session(self, at: datetime) -> None:
        self._schedule(after=at)  # from the session's own time: a late timer skips none
        self.run_session(at)

    def run_session(self, at: datetime) -> NetSession | None:
        """Net, settle and answer what is due by the session of ``at``; a session is named
        and dated by its time, not by when its timer happened to run."""
        day = self.business_date(at - _INSTANT)  # a session closes the interval before it
        session_id = f"S{day:%Y%m%d}{at.astimezone(self.tz):%H%M}"
        decided: list[SimItem] = []
        netting: list[SimItem] = []
        for e2e, w in list(self._waiting.items()):
            if w.day > day:
                continue  # it belongs to a later business day's sessions
            if w.answered_at is not None and w.answered_at <= min(at, w.due):
                reason = self.refusal(w.item)
                if reason is None:
                    netting.append(w.item)
                else:
                    self.books.reject(w.item, reason, at)
            elif w.due <= at:
                self.books.reject(w.item, EXPIRED, at)
            else:
                continue
            w.item.detail = f"session {session_id}"
            decided.append(w.item)
            del self._waiting[e2e]
        short = self._short(netting)
        for item in netting:
            if item.end_to_end_id in short:
                self.books.reject(item, "AM04", at)
        settling = [i for i in netting if i.end_to_end_id not in short]
        session = self.books.settle_session(session_id, day, at, settling) if settling else None
        self._send_receipts(decided)
        return session

    def _short(self, items: list[SimItem]) -> set[str]:
        """The items to drop so that every participant covers its net debit: newest first."""
        net: dict[str, int] = defaultdict(int)
        sent: dict[str, list[SimItem]] = defaultdict(list)
        for item in items:
            net[item.debtor_agent] -= item.amount
            net[item.creditor_agent] += item.amount
            sent[item.debtor_agent].append(item)

        def uncovered(p: str) -> bool:
            return self.books.balance(p) + net[p] < 0

        dropped: set[str] = set()
        todo = [p for p in sent if uncovered(p)]
        while todo:
            p = todo.pop(0)
            while uncovered(p) and sent[p]:
                item = sent[p].pop()
                dropped.add(item.end_to_end_id)
                net[p] += item.amount
                net[item.creditor_agent] -= item.amount
                if uncovered(item.creditor_agent) and item.creditor_agent not in todo:
                    todo.append(item.creditor_agent)
        return dropped

    def _send_receipts(self, decided: list[SimItem]) -> None:
        packages: dict[tuple[str, str], list[SimItem]] = {}
        for item in decided:
            packages.setdefault((item.msg_id or "", item.debtor_agent), []).append(item)
        for (msg_id, sender), items in packages.items():
            report = Pacs002(msg_id=self.next_id(), created_at=self.now(),
                             orgnl_msg_id=msg_id, orgnl_msg_name=items[0].msg_name or "",
                             transactions=tuple(self.status_of(i) for i in items))
            self.notify(sender, build_pacs002(report), decision=self.dice.decide("receipt"))

    def day_switch(self, day: date) -> dict[str, Any]:
        """Business day ``day``'s sessions and each participant's net over the day (what
        settles through HVPS), and how many items still wait for a session."""
        sessions = [s for s in self.books.sessions.values() if s.business_date == day]
        net: dict[str, int] = defaultdict(int)
        for s in sessions:
            for p, amount in s.positions.items():
                net[p] += amount
        return {"business_date": day.isoformat(), "sessions": [s.id for s in sessions],
                "net": dict(net), "waiting": sum(w.day <= day for w in self._waiting.values())}

    # -- admin -------------------------------------------------------------------------------

    def admin(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Adds ``sessions`` {date?}: every session (of that business day) with its net
        positions, items and packages."""
        if request["op"] == "sessions":
            day = date.fromisoformat(str(request["date"])) if request.get("date") else None
            return {"sessions": [msgspec.to_builtins(s) for s in self.books.sessions.values()
                                 if day is None or s.business_date == day]}
        return super().admin(request)

    # -- statements --------------------------------------------------------------------------

    def statement_entries(self, data: StatementData) -> tuple[Entry, ...]:
        entries: list[Entry] = []
        for session_id, lines in itertools.groupby(data.lines, self._session_of):
            group = list(lines)
            entries.extend(self._item_entry(ln, data.business_date, session_id) for ln in group)
            if session_id is not None:
                entries.extend(self._net_entry(session_id, group, data.business_date))
        return tuple(entries)

    def _session_of(self, ln: StatementLine) -> str | None:
        item = self.books.items.get(ln.end_to_end_id)
        return item.channel_ref if item is not None and ln.kind == "settle" else None

    def _item_entry(self, ln: StatementLine, day: date, session_id: str | None) -> Entry:
        entry = self.line_entry(ln, day)
        if session_id is None:
            return entry
        item = self.books.items[ln.end_to_end_id]
        tx = msgspec.structs.replace(entry.transactions[0], msg_id=item.msg_id,
                                     servicer_ref=session_id)
        return msgspec.structs.replace(entry, servicer_ref=session_id, transactions=(tx,))

    def _net_entry(self, session_id: str, lines: list[StatementLine], day: date
                   ) -> list[Entry]:
        net = sum(ln.signed_amount for ln in lines)
        if net == 0:
            return []
        packages = {self.books.items[ln.end_to_end_id].msg_id for ln in lines}
        return [Entry(abs(net), lines[0].currency, "DBIT" if net < 0 else "CRDT",
                      booking_date=day, value_date=day, status="INFO", reference=session_id,
                      servicer_ref=session_id,
                      bank_tx_code=BankTransactionCode(proprietary="NETTING", issuer=self.name),
                      additional_info=f"net position of session {session_id}: {len(lines)} "
                                      f"items in {len(packages)} packages")]
