"""Run the simulator: inside the current event loop for tests, or blocking for the CLI."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from core.http_server import serve_forever, serving
from standins.luma.app import create_app
from standins.luma.persist import Snapshots, keep_saved
from standins.luma.state import CalendarHandle, SimulatorConfig, SimulatorState


@dataclass(frozen=True, slots=True)
class RunningSimulator:
    """A started simulator: where it listens, its state, and its seeded calendars."""

    base_url: str
    state: SimulatorState
    calendars: list[CalendarHandle]


@contextlib.asynccontextmanager
async def running_simulator(
    config: SimulatorConfig | None = None, *, state: SimulatorState | None = None
) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator on 127.0.0.1 (free port) as a task of the running loop.

    Hung (fault-injected) requests are released at stop, so stopping never waits them out.
    """
    state = state or SimulatorState(config)
    async with serving(create_app(state), on_stop=state.release_hangs) as base_url:
        yield RunningSimulator(base_url, state, state.calendars)


def serve(
    host: str = "127.0.0.1",
    port: int = 8787,
    config: SimulatorConfig | None = None,
    *,
    state: SimulatorState | None = None,
    snapshots: Snapshots | None = None,
) -> None:
    """Serve until interrupted (Ctrl+C); pass `state` to show its keys before serving, and
    `snapshots` (already restored) to keep its data in a file."""
    state = state or SimulatorState(config)
    app = create_app(state)
    if snapshots is not None:
        keep_saved(app, snapshots)
    serve_forever(app, host, port, on_stop=state.release_hangs)
