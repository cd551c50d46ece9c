"""HVPS adapter: CNAPS2's high-value RTGS, one pacs.008 per payment, pacs.028 to inquire.

HVPS speaks ISO 20022 with CNAPS bank codes, like IBPS, with two things of its own:

- its native statuses come in Rsn/Prtry and are mapped through the reason table
  (``reason_map``, default `HVPS_REASONS`): PR32 (still queued at window close, returned
  unsettled) is AM04; PR09 (rejected, the reason in words) is NARR with the words kept;
- a payment whose sender is short of funds waits in the channel's queue (pacs.002 PDNG,
  PR11/PR12) until funds arrive or the clearing window closes at ``window_close`` (17:30), so a
  queued payment stays PENDING until then (plus the pending timeout for the channel's last
  word), never UNKNOWN while the channel is still holding it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any, ClassVar, Self, cast
from zoneinfo import ZoneInfo

import msgspec

from adapters.mx import MxAdapter, MxLinkConfig
from messages.iso20022 import TxStatus
from switch.clock import Clock

__all__ = ["HVPS_REASONS", "HvpsAdapter", "HvpsLinkConfig"]

# CNAPS2 native codes -> ISO 20022 external reason codes.
HVPS_REASONS: Mapping[str, str] = {
    "PR09": "NARR",  # rejected; the centre's reason travels as text (AddtlInf)
    "PR32": "AM04",  # expired: still queued for funds at window close, returned unsettled
}


class HvpsLinkConfig(MxLinkConfig, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[channels.hvps]`: the MX link, HVPS's reason table and when its queue is cleared."""

    reason_map: dict[str, str] = msgspec.field(default_factory=lambda: dict(HVPS_REASONS))
    window_close: str = "17:30"  # HH:MM: queued items still unpaid are returned then
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        time.fromisoformat(self.window_close)  # ValueError names a bad value
        ZoneInfo(self.timezone)


class HvpsAdapter(MxAdapter):
    channel = "HVPS"
    Config: ClassVar[type[MxLinkConfig]] = HvpsLinkConfig
    reasons = HVPS_REASONS

    def __init__(self, host: str, port: int, *, window_close: str = "17:30",
                 timezone: str = "Asia/Shanghai", **options: Any) -> None:
        super().__init__(host, port, **options)
        self._window_close = time.fromisoformat(window_close)
        self._tz = ZoneInfo(timezone)

    @classmethod
    def from_config(cls, config: MxLinkConfig, *, clock: Clock, bank: Any) -> Self:
        cfg = cast(HvpsLinkConfig, config)
        return cls(cfg.host, cfg.port, clock=clock, sender_bank=cls.bank_code(bank),
                   reply_timeout=cfg.reply_timeout_s, pending_timeout=cfg.pending_timeout_s,
                   reason_map=cfg.reason_map, window_close=cfg.window_close,
                   timezone=cfg.timezone, silent_link_s=cfg.silent_link_s)

    def pending_timeout(self, tx: TxStatus) -> float:
        """A queued payment waits for the window close; its return notice gets the usual
        pending timeout on top."""
        if tx.status != "PDNG":
            return super().pending_timeout(tx)
        now = self._clock.now().astimezone(self._tz)
        close = datetime.combine(now.date(), self._window_close, tzinfo=self._tz)
        if close <= now:
            close += timedelta(days=1)
        return (close - now).total_seconds() + super().pending_timeout(tx)
