"""Channel choice: pure decisions from an order, the time and configuration; no I/O here."""

from routing.catalogue import Catalogue, load_catalogue, parse_catalogue
from routing.health import CircuitBreaker, SuccessWindow
from routing.router import Candidate, CostBreakdown, FallbackForbidden, RouteDecision, Router
from routing.state import CapLedger, RoutingState

__all__ = [
    "Candidate",
    "CapLedger",
    "Catalogue",
    "CircuitBreaker",
    "CostBreakdown",
    "FallbackForbidden",
    "RouteDecision",
    "Router",
    "RoutingState",
    "SuccessWindow",
    "load_catalogue",
    "parse_catalogue",
]
