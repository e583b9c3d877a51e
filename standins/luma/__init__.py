"""A local stand-in for Luma's public API, for tests, benchmarks and demos.

It serves both the legacy `/public/v1/...` and the current `/v1/...` paths with seeded,
realistic data, organization keys over several calendars, Luma's rate limits, and
injectable latency, faults and webhooks.
"""

from standins.luma.app import create_app
from standins.luma.server import RunningSimulator, running_simulator, serve
from standins.luma.state import (
    CalendarHandle,
    OrganizationHandle,
    SimulatorConfig,
    SimulatorState,
)

__all__ = [
    "CalendarHandle",
    "OrganizationHandle",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorState",
    "create_app",
    "running_simulator",
    "serve",
]
