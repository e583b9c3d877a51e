"""Serving an ASGI app with uvicorn: inside the running loop (tests) or blocking (the CLI).

Used by the local stand-ins (Luma simulator, Bot API server). The in-process server binds its
own socket on a free port first, so parallel test processes never race for a port, and it
leaves signal handling to the host (pytest, the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import uvicorn

STARTUP_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """Runs `on_stop` as shutdown begins (release long polls, hung requests), and when
    embedded keeps its hands off the host process's signal handlers."""

    def __init__(
        self, config: uvicorn.Config, on_stop: Callable[[], None] | None, embedded: bool
    ) -> None:
        super().__init__(config)
        self.on_stop = on_stop
        self.embedded = embedded

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self.embedded:
            yield
        else:
            with super().capture_signals():
                yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.on_stop is not None:
            self.on_stop()
        await super().shutdown(sockets)


def _config(app: Any, host: str, port: int, graceful_seconds: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=graceful_seconds,
    )


@contextlib.asynccontextmanager
async def serving(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    on_stop: Callable[[], None] | None = None,
) -> AsyncIterator[str]:
    """Serve `app` (by default on a free port of 127.0.0.1) as a task of the running loop;
    yields its URL."""
    # proto must be TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so, and
    # without it every small response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = _Server(_config(app, host, port, graceful_seconds=1), on_stop, embedded=True)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT):
            while not server.started:
                if task.done():
                    task.result()  # surfaces the startup error
                    raise RuntimeError("the server exited during startup")
                await asyncio.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def serve_forever(
    app: Any, host: str, port: int, *, on_stop: Callable[[], None] | None = None
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    _Server(_config(app, host, port, graceful_seconds=2), on_stop, embedded=False).run()
