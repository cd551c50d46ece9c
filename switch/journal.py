"""The message journal: every message that crosses a channel boundary, kept with the payments it
was about, for `payswitch orders show` and for investigations.

Adapters hand each message to `record` (a list append); a task writes what has gathered every
`flush_s` in one store transaction, so the journal never waits on the payment path, and a slow
store delays the journal, never a payment. The buffer is bounded: beyond `max_buffer` the oldest
unwritten messages are dropped and counted (`dropped`), and the log says so.

>>> message_kind(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"/>')
'pacs.008.001.08'
>>> message_kind(b"{1:F01PYSWCNSHAXXX0000000000}{2:I103CHASUS33XXXXN}{4:}"), message_kind(b"0210")
('MT103', '0210')
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from adapters.base import MessageRecord
from switch.clock import Clock, iso
from switch.store import JournalEntry, Store

__all__ = ["JournalEntry", "MessageJournal", "message_kind"]

log = logging.getLogger("payswitch.journal")

_MX_NAME = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.\d{3}\.\d{3}\.\d{2})")
_MT_TYPE = re.compile(rb"\{2:[IO](\d{3})")


def message_kind(data: bytes) -> str:
    """What a message is, from its first bytes (the document's, not the header's, for MX)."""
    head = data[:4096]
    names = _MX_NAME.findall(head)
    if names:
        return names[-1].decode()  # a business message names its AppHdr first
    mt = _MT_TYPE.search(head)
    if mt is not None:
        return "MT" + mt.group(1).decode()
    if len(data) >= 4 and data[:4].isdigit():
        return data[:4].decode()  # ISO 8583 MTI
    return "?"


class MessageJournal:
    def __init__(self, store: Store, clock: Clock, *, flush_s: float = 0.2,
                 max_buffer: int = 200_000) -> None:
        self.store = store
        self.clock = clock
        self.flush_s = flush_s
        self.max_buffer = max_buffer
        self.dropped = 0
        self._buffer: list[tuple[MessageRecord, str]] = []
        self._task: asyncio.Task[None] | None = None

    def record(self, message: MessageRecord) -> None:
        if len(self._buffer) >= self.max_buffer:
            del self._buffer[0]
            self.dropped += 1
            if self.dropped in (1, 1000) or self.dropped % 100_000 == 0:
                log.warning("message journal behind the store: %d messages dropped", self.dropped)
        self._buffer.append((message, iso(self.clock.now())))

    async def flush(self) -> int:
        rows, self._buffer = self._buffer, []
        if not rows:
            return 0
        entries = [JournalEntry(m.channel, m.direction, at, message_kind(m.data), m.data,
                                m.payment_ids) for m, at in rows]
        try:
            await self.store.record_messages(entries)
        except Exception:
            log.exception("message journal: %d messages not written; kept for the next try",
                          len(rows))
            self._buffer[:0] = rows[-self.max_buffer:]
            return 0
        return len(entries)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            await self.flush()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="message-journal")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
