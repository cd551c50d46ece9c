"""Channel choice: pure decisions from an order, the time and configuration; no I/O here."""

from routing.minimal import IbpsRule, MinimalRouter, RouteDecision

__all__ = ["IbpsRule", "MinimalRouter", "RouteDecision"]
