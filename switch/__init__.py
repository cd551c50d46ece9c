"""The switch itself: protocol, sessions, payment engine, stores, client library and CLI.

Core systems talk to it through `switch.client.SwitchClient`; operators through `payswitch`.
"""

from switch.client import SwitchClient, SwitchError
from switch.order import Order, Party, Payment
from switch.states import TERMINAL, State

__all__ = ["TERMINAL", "Order", "Party", "Payment", "State", "SwitchClient", "SwitchError"]
