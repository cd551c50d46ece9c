"""Channel simulators: standalone asyncio servers with an injected clock, a seed and a fault plan.

They share nothing with `adapters/` beyond `messages/` (DESIGN.md layout).
"""

from simulators.faults import FaultPlan, FaultRule

__all__ = ["FaultPlan", "FaultRule"]
