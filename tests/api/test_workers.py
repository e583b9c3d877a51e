"""`lumabot api --workers 2`: two processes on one port, one token limit, one metrics page."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from tests.api.conftest import issue
from tests.ports import reserved_ports
from tests.request_limits import clear_of_window_edge

LUMABOT = str(Path(sys.prefix) / "bin" / "lumabot")


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


async def _up(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            assert process.returncode is None, "the API exited"
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the API did not come up in 30 s")


async def test_worker_processes_share_the_port_the_token_limit_and_the_metrics(
    db_url, sessions, org, encryption_keys
) -> None:
    token = await issue(sessions, org.org_id)
    with reserved_ports(2) as (port, metrics_port):
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "ENCRYPTION_KEYS": encryption_keys[0],
            "TEMPORAL_ADDRESS": "127.0.0.1:9",  # connected lazily: guest lists need none
            "API_REQUESTS_PER_MINUTE": "6",
            "METRICS_PORT": str(metrics_port),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        process = await asyncio.create_subprocess_exec(
            LUMABOT, "api", "--workers", "2", "--port", str(port), env=env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            await _up(url, process)
            assert len(_children(process.pid)) >= 2  # two workers (and uvicorn's helpers)
            await clear_of_window_edge(60.0, margin=10)  # counts exactly: no edge in the way
            statuses = []
            for _ in range(9):  # a new connection each: both workers answer
                async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as c:
                    statuses.append((await c.get(f"{url}/v1/events")).status_code)
            # Six a minute for the token, whichever process answered.
            assert statuses == [200] * 6 + [429] * 3, statuses
            async with httpx.AsyncClient() as client:
                scraped = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
                page = await client.get(f"{url}/metrics")  # development: open
            assert scraped.status_code == 200 and page.status_code == 200
            assert "text/plain" in scraped.headers["content-type"]
        finally:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                await process.wait()
    assert process.returncode == 0
