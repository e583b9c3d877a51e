"""Run the simulator: inside the current event loop for tests, or blocking for the CLI.

The in-process server binds its own socket on a free port before starting, so parallel test
processes never race for a port, and it leaves signal handling to the host (pytest, the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn

from luma.simulator.app import create_app
from luma.simulator.state import CalendarHandle, SimulatorConfig, SimulatorState

STARTUP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class RunningSimulator:
    """A started simulator: where it listens, its state, and its seeded calendars."""

    base_url: str
    state: SimulatorState
    calendars: list[CalendarHandle]


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that does not take over the host process's signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def running_simulator(
    config: SimulatorConfig | None = None, *, state: SimulatorState | None = None
) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator on 127.0.0.1 (free port) as a task of the running loop."""
    state = state or SimulatorState(config)
    # proto must be TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so, and
    # without it every small response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _EmbeddedServer(_uvicorn_config(state, graceful_seconds=1))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _wait_started(server, task)
        yield RunningSimulator(f"http://127.0.0.1:{port}", state, state.calendars)
    finally:
        state.release_hangs()
        server.should_exit = True
        await task
        sock.close()


async def _wait_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(STARTUP_TIMEOUT):
        while not server.started:
            if task.done():
                task.result()  # surfaces the startup error
                raise RuntimeError("Simulator server exited during startup")
            await asyncio.sleep(0.01)


def serve(
    host: str = "127.0.0.1",
    port: int = 8787,
    config: SimulatorConfig | None = None,
    *,
    state: SimulatorState | None = None,
) -> None:
    """Serve until interrupted (Ctrl+C); pass `state` to show its keys before serving."""
    state = state or SimulatorState(config)
    uvicorn.Server(_uvicorn_config(state, host=host, port=port, graceful_seconds=2)).run()


def _uvicorn_config(
    state: SimulatorState, *, host: str = "127.0.0.1", port: int = 0, graceful_seconds: int
) -> uvicorn.Config:
    # Hung (fault-injected) requests are released on shutdown; the grace period is a backstop.
    return uvicorn.Config(
        create_app(state),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=graceful_seconds,
    )
