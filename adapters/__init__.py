"""Channel adapters: one per channel, speaking its wire format and reporting through `on_status`.

Import a concrete adapter from its module (`adapters.ibps`); this package stays light.
"""

from adapters.base import ChannelAdapter, ChannelError, ChannelStatus, Outcome

__all__ = ["ChannelAdapter", "ChannelError", "ChannelStatus", "Outcome"]
