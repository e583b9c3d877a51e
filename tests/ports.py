"""Ports for servers that a test starts later or in another process, reserved, not guessed.

Binding port 0, closing the socket and handing the number on races: under pytest-xdist
another process can take the port in between. Two ways out, in order of preference:

- `bound_socket()`: keep the socket bound and give it to the server itself (uvicorn,
  aiohttp's `SockSite`, asyncio's `create_server(sock=...)`; `core.http_server.serving`
  already does this). Nothing can take the port.
- `reserve_port()` / `reserved_ports()`: for a server that only takes a number (a subprocess,
  the Temporal binaries). The port comes from a range of its own per xdist worker, below the
  kernel's ephemeral range (where port-0 binds land), and is locked with `fcntl.flock` on a
  file per port in a temp dir every test process on the machine shares. The lock is held
  until released (or the process ends), so no other test process, of this session or
  another one, is handed the same port meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
# Below the kernel's ephemeral range (32768+ on Linux): ports picked here never collide with
# ones the kernel hands to port-0 binds and outgoing connections.
FIRST_PORT = 20_000
LAST_PORT = 32_000
SLICE = 400  # ports per xdist worker (the main process counts as worker 0)
LOCK_DIR = Path(tempfile.gettempdir()) / "lumabot-test-ports"

_held: dict[int, IO[bytes]] = {}
_cursor: int | None = None


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... or unset
    return int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0


def _candidates() -> Iterator[int]:
    """This process's slice first (starting after the last port handed out, so a port just
    released is not reused while its old connections linger), then the rest of the range."""
    global _cursor
    slices = (LAST_PORT - FIRST_PORT) // SLICE
    start = FIRST_PORT + (_worker_index() % slices) * SLICE
    if _cursor is None:
        _cursor = start
    own = list(range(start, start + SLICE))
    offset = (_cursor - start) % SLICE
    yield from own[offset:] + own[:offset]
    yield from (port for port in range(FIRST_PORT, LAST_PORT) if not start <= port < start + SLICE)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def reserve_port() -> int:
    """A free port locked for this process until `release_port` (or the process ends)."""
    global _cursor
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    for port in _candidates():
        if port in _held:
            continue
        lock = (LOCK_DIR / f"{port}.lock").open("ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()  # another test process holds it
            continue
        if not _bindable(port):  # something outside the tests listens there
            lock.close()
            continue
        _held[port] = lock
        _cursor = port + 1
        return port
    raise RuntimeError(f"no free port left in {FIRST_PORT}-{LAST_PORT}")


def release_port(port: int) -> None:
    """Give the port back once its server has stopped."""
    lock = _held.pop(port, None)
    if lock is not None:
        lock.close()  # closing the file drops the flock


@contextlib.contextmanager
def reserved_ports(count: int = 1) -> Iterator[list[int]]:
    """`count` distinct reserved ports, released on the way out."""
    ports: list[int] = []
    try:
        for _ in range(count):
            ports.append(reserve_port())
        yield ports
    finally:
        for port in ports:
            release_port(port)


def bind_free_socket(host: str = HOST) -> socket.socket:
    """A TCP socket bound to a free port, for a server that accepts a socket; the caller
    (or the server it is handed to) closes it."""
    # proto must be TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def bound_socket(host: str = HOST) -> Iterator[socket.socket]:
    """`bind_free_socket`, closed on the way out."""
    sock = bind_free_socket(host)
    try:
        yield sock
    finally:
        sock.close()
