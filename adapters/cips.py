"""CIPS adapter: cross-border RMB through the Cross-border Interbank Payment System.

The switch is an indirect participant (CHANNELS.md): it reaches CIPS through a direct
participant (``direct_participant``, a BIC), whose line it uses and whose settlement account
pays. So every message it writes is a business message (`messages.iso20022.head001`) From the
direct participant To the CIPS operator (``operator_bic``), and every message it reads must
come From the operator To the direct participant; anything else is ignored as unreadable.

In each pacs.008 the agents are BICs with their LEIs: the debtor agent is this bank (`[bank]`
bic and lei), the creditor agent the order's creditor bank (``Party.agent``, a BIC) with its
``Party.lei``. CIPS checks both LEIs and rejects RC03 / RC04; the adapter sends what the order
says and lets the channel judge. Everything else (flights, deadlines, UNKNOWN once, inquiry,
NOT_FOUND, returns) is `adapters.mx.MxAdapter`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self, cast

import msgspec

from adapters.mx import MxAdapter, MxLinkConfig
from messages.errors import MessageError
from messages.iso20022 import (
    Agent,
    AppHeader,
    CreditTransfer,
    build_business_message,
    message_name,
    parse_business_message,
)
from switch.clock import Clock
from switch.order import Payment

__all__ = ["CipsAdapter", "CipsLinkConfig"]


class CipsLinkConfig(MxLinkConfig, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[channels.cips]`: the MX link and who stands on either end of it."""

    direct_participant: str = "ICBKCNBJXXX"  # the direct participant we reach CIPS through
    operator_bic: str = "CIPSCNSHXXX"  # CIPS itself, in every header (cfg)
    reply_timeout_s: float = 60.0  # latency: seconds to minutes (CHANNELS.md)


class CipsAdapter(MxAdapter):
    channel = "CIPS"
    Config: ClassVar[type[MxLinkConfig]] = CipsLinkConfig
    clearing_system = "CIPS"

    def __init__(self, host: str, port: int, *, bank_bic: str, bank_lei: str | None,
                 direct_participant: str = "ICBKCNBJXXX", operator_bic: str = "CIPSCNSHXXX",
                 bank_name: str | None = None, **options: Any) -> None:
        # The direct participant's line and account: we send as it, statements are of it.
        super().__init__(host, port, sender_bank=direct_participant, **options)
        self._bank = Agent(bic=bank_bic, lei=bank_lei, name=bank_name)
        self._operator = Agent(bic=operator_bic)

    @classmethod
    def from_config(cls, config: MxLinkConfig, *, clock: Clock, bank: Any) -> Self:
        cfg = cast(CipsLinkConfig, config)
        return cls(cfg.host, cfg.port, clock=clock, bank_bic=bank.bic, bank_lei=bank.lei,
                   bank_name=bank.name, direct_participant=cfg.direct_participant,
                   operator_bic=cfg.operator_bic, reply_timeout=cfg.reply_timeout_s,
                   pending_timeout=cfg.pending_timeout_s, reason_map=cfg.reason_map,
                   silent_link_s=cfg.silent_link_s)

    def sender_agent(self, code: str) -> Agent:
        return Agent(bic=code)

    def transfer(self, payment: Payment) -> CreditTransfer:
        creditor = payment.order.creditor
        return msgspec.structs.replace(
            super().transfer(payment), debtor_agent=self._bank,
            creditor_agent=Agent(bic=creditor.agent, lei=creditor.lei),
            charge_bearer=payment.order.charge_bearer)

    def envelope(self, document: bytes, msg_id: str) -> bytes:
        header = AppHeader(sender=self._sender, receiver=self._operator, biz_msg_id=msg_id,
                           msg_def_id=message_name(document), created_at=self._clock.now())
        return build_business_message(header, document)

    def open_envelope(self, frame: bytes) -> bytes:
        header, document = parse_business_message(frame)
        if header.sender.bic != self._operator.bic or header.receiver.bic != self._sender.bic:
            raise MessageError("MX_BAD_VALUE", f"a message from {header.sender.bic} to "
                               f"{header.receiver.bic}, not from CIPS to us",
                               where="/RequestPayload/AppHdr")
        return document
