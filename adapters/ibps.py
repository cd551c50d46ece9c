"""IBPS adapter: the online real-time channel, one pacs.008 per payment, pacs.028 to inquire.

Everything but the channel's name is `adapters.mx.MxAdapter`: IBPS speaks plain ISO 20022
with CNAPS bank codes and answers in seconds (CHANNELS.md: reply timeout 20 s -> UNKNOWN,
resolved by status query).
"""

from __future__ import annotations

from adapters.mx import MxAdapter, MxLinkConfig

__all__ = ["IbpsAdapter", "IbpsLinkConfig"]

IbpsLinkConfig = MxLinkConfig


class IbpsAdapter(MxAdapter):
    channel = "IBPS"
