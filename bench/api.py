"""Benchmark: the control API under 200 concurrent guest-list requests on 5 tokens.

Built like a deployment: a scratch PostgreSQL database, migrated, holds one org whose events
and 3,000 guests of the asked event are cached and fresh (the API never calls Luma anyway);
an admin member made 5 API tokens. The API runs as `lumabot api` does (`create_app` served by
uvicorn, one process, no Temporal needed: it connects lazily) in a process of its own, and
`wrk` in another keeps 200 connections busy with `GET /v1/events/{event_id}/guests`
(default page of 50, sorted, with its total), rotating the 5 tokens. Without `wrk`, an httpx
load generator in a subprocess stands in (weaker: one Python process makes the load).

The per-token limit (120 a minute, counted in the database) is raised for the run: it has no
setting, so the API process is started with `ApiLimits(requests_per_minute=...)`; the
counting itself still happens on every request. Every response must be a 200 within wrk's
30 s timeout, else the run is not a measurement. Exits 1 unless both targets are met.

Target: at least 500 requests/s with p95 under 100 ms (issue 18 measured about 73 req/s,
p50 1.7 s, p95 2.6 s).

    .venv/bin/python -m bench.api        # PostgreSQL on :5432 (BENCH_PG), wrk if installed
    BENCH_PROFILE=/tmp/api.prof .venv/bin/python -m bench.api   # and the API's cProfile
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from bench.bot import EVENTS, cpu_seconds, fresh_calendar
from bench.bulk import database
from core.settings import Settings
from store.crypto import KeyBox
from store.db import create_engine, session_factory
from store.models import Role
from store.orgs import set_role, upsert_user
from store.tokens import issue_token

CONNECTIONS = 200
TOKENS = 5
GUESTS = 3000
WARM_UP_SECONDS = 3
DURATION_SECONDS = 15
TARGET_RPS = 500.0
TARGET_P95 = 0.100
ADMIN = 5_000_001
UNLIMITED = 1_000_000_000  # requests a minute per token: the limit is counted, never reached


@dataclass(frozen=True)
class Result:
    """What one load run saw: latencies in seconds (or wrk's percentiles), status counts."""

    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    statuses: dict[str, int]  # HTTP status (or socket error kind) -> count
    sample_error: str = ""


async def seed(database_url: str, key: str) -> tuple[str, list[str]]:
    """One org with its events cached and fresh, GUESTS guests on the first; an admin's
    TOKENS tokens. Returns the event id and the tokens."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine).begin() as session:
            counts = [GUESTS] + [300] * (len(EVENTS) - 1)
            org_id, event_ids, _ = await fresh_calendar(
                session, KeyBox([key]), random.Random(18), counts
            )
            await upsert_user(session, user_id=ADMIN, username="bench_admin", full_name="Admin")
            await set_role(session, org_id=org_id, user_id=ADMIN, role=Role.ADMIN)
            tokens = [
                (await issue_token(session, org_id=org_id, created_by=ADMIN, name=f"bench {n}"))
                for n in range(TOKENS)
            ]
            return event_ids[0], [issued.token for issued in tokens]
    finally:
        await engine.dispose()


def serve_api(environment: dict[str, str], port: int) -> None:
    """`lumabot api --port <port>` (cli.services.api), configured by the environment, with the
    per-token limit raised; SIGTERM stops it. With BENCH_PROFILE=<file> the process runs
    under cProfile and writes its stats there."""
    import uvicorn

    from api.deps import ApiLimits
    from api.main import create_app
    from core.logs import configure_logging

    os.environ.update(environment)
    settings = Settings(_env_file=None)
    configure_logging(settings.log_level, settings.secret_values(), settings.log_format.value)
    app = create_app(settings, limits=ApiLimits(requests_per_minute=UNLIMITED))
    profile_to = os.environ.get("BENCH_PROFILE")
    if not profile_to:
        uvicorn.run(app, host="127.0.0.1", port=port, log_config=None)
        return
    # uvicorn shuts down on SIGTERM, then raises it again for the handler it found: make that
    # one harmless, so run() returns and the stats are written.
    signal.signal(signal.SIGTERM, lambda *_: None)
    profiler = cProfile.Profile(time.process_time)  # CPU time: waits for others are not ours
    profiler.runcall(uvicorn.run, app, host="127.0.0.1", port=port, log_config=None)
    profiler.dump_stats(profile_to)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def drained(base_url: str, path: str, token: str) -> None:
    """Wait out the warm-up's requests still queued for a database connection (wrk hangs up,
    the API still answers them): one more request returns once they are through."""
    async with httpx.AsyncClient(timeout=120) as client:
        response = await client.get(base_url + path, headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise SystemExit(f"guest list: {response.status_code} {response.text[:300]}")


async def wait_until_up(base_url: str, process: multiprocessing.process.BaseProcess) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if not process.is_alive():
                raise SystemExit(f"the API process exited ({process.exitcode})")
            try:
                if (await client.get(f"{base_url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the API did not come up in 30 s")


# Each thread rotates the tokens from its own offset; `done` prints one JSON line with the
# latency percentiles (microseconds) and the statuses the threads counted.
WRK_SCRIPT = """
local tokens = {%(tokens)s}
local threads = {}
local counter = 0
statuses = {}
sample = ""

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  local token = tokens[(counter %% #tokens) + 1]
  return wrk.format("GET", "%(path)s", {["Authorization"] = "Bearer " .. token})
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status ~= 200 and sample == "" then
    -- One line of JSON-safe text: no control characters, quotes or backslashes.
    sample = (string.gsub(string.sub(body or "", 1, 300), "[%%c\\"\\\\]", " "))
  end
end

function done(summary, latency, requests)
  local merged = {}
  local first = ""
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("statuses")) do
      merged[key] = (merged[key] or 0) + count
    end
    local s = thread:get("sample")
    if first == "" and s ~= nil then first = s end
  end
  local e = summary.errors
  merged["connect error"] = e.connect
  merged["read error"] = e.read
  merged["write error"] = e.write
  merged["timeout"] = e.timeout
  local parts = {}
  for key, count in pairs(merged) do
    table.insert(parts, string.format('"%%s": %%d', key, count))
  end
  io.write(string.format(
    'BENCH {"requests": %%d, "micros": %%d, "p50": %%d, "p95": %%d, "p99": %%d, ' ..
    '"statuses": {%%s}, "sample": "%%s"}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), table.concat(parts, ", "), first))
end
"""


async def run_wrk(wrk: str, url: str, path: str, tokens: list[str], seconds: int) -> Result:
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "guests.lua"
        quoted = ", ".join(f'"{token}"' for token in tokens)
        script.write_text(WRK_SCRIPT % {"tokens": quoted, "path": path})
        threads = max(1, min(4, (os.cpu_count() or 2) // 2))
        process = await asyncio.create_subprocess_exec(
            wrk,
            f"-t{threads}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await process.communicate()
    lines = [line for line in output.decode().splitlines() if line.startswith("BENCH ")]
    if process.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({process.returncode}):\n{output.decode()}")
    found = json.loads(lines[-1].removeprefix("BENCH "))
    return Result(
        requests=found["requests"],
        seconds=found["micros"] / 1e6,
        p50=found["p50"] / 1e6,
        p95=found["p95"] / 1e6,
        p99=found["p99"] / 1e6,
        statuses={key: count for key, count in found["statuses"].items() if count},
        sample_error=found["sample"],
    )


def httpx_load(url: str, path: str, tokens: list[str], seconds: float) -> None:
    """The stand-in for wrk (run as a subprocess): CONNECTIONS clients in a loop for
    `seconds`; prints one JSON line with the latencies and statuses."""

    async def load() -> dict[str, Any]:
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        sample = ""
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
            stop_at = time.perf_counter() + seconds

            async def user(number: int) -> None:
                nonlocal sample
                while (now := time.perf_counter()) < stop_at:
                    token = tokens[(number + len(latencies)) % len(tokens)]
                    try:
                        response = await client.get(
                            path, headers={"Authorization": f"Bearer {token}"}
                        )
                    except httpx.TransportError as exc:
                        statuses[type(exc).__name__] += 1
                        continue
                    latencies.append(time.perf_counter() - now)
                    statuses[str(response.status_code)] += 1
                    if response.status_code != 200 and not sample:
                        sample = response.text[:300]

            started = time.perf_counter()
            await asyncio.gather(*(user(n) for n in range(CONNECTIONS)))
            elapsed = time.perf_counter() - started
        return {"latencies": latencies, "seconds": elapsed, "statuses": statuses, "sample": sample}

    print(json.dumps(asyncio.run(load())))


async def run_httpx(url: str, path: str, tokens: list[str], seconds: int) -> Result:
    code = (
        "import json, sys; from bench.api import httpx_load; httpx_load(*json.loads(sys.argv[1]))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        json.dumps([url, path, tokens, seconds]),
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the load generator failed ({process.returncode})")
    found = json.loads(output.decode().splitlines()[-1])
    latencies = sorted(found["latencies"]) or [float("nan")]
    return Result(
        requests=sum(found["statuses"].values()),
        seconds=found["seconds"],
        p50=statistics.median(latencies),
        p95=latencies[int(0.95 * (len(latencies) - 1))],
        p99=latencies[int(0.99 * (len(latencies) - 1))],
        statuses=found["statuses"],
        sample_error=found["sample"],
    )


async def run(database_url: str) -> bool:
    key = Fernet.generate_key().decode()
    event_id, tokens = await seed(database_url, key)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    path = f"/v1/events/{event_id}/guests"
    environment = {
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEYS": key,
        "TEMPORAL_ADDRESS": "127.0.0.1:9",  # connected lazily; guest lists never start a job
        "LUMA_API_URL": "http://127.0.0.1:9",  # never called: the API reads the cache
        "LOG_LEVEL": "WARNING",
    }
    api = multiprocessing.get_context("spawn").Process(
        target=serve_api, args=(environment, port), daemon=True
    )
    api.start()
    assert api.pid is not None
    try:
        await wait_until_up(base_url, api)
        wrk = shutil.which("wrk")

        async def load(seconds: int) -> Result:
            if wrk:
                return await run_wrk(wrk, base_url, path, tokens, seconds)
            return await run_httpx(base_url, path, tokens, seconds)

        # Warm up: connection pools, SQLAlchemy's statement caches, pydantic's validators.
        await load(WARM_UP_SECONDS)
        await drained(base_url, path, tokens[0])
        cpu_before = cpu_seconds(api.pid)
        result = await load(DURATION_SECONDS)
        api_cpu = cpu_seconds(api.pid) - cpu_before
    finally:
        os.kill(api.pid, signal.SIGTERM)
        await asyncio.to_thread(api.join, 30)
    return report(result, api_cpu, "wrk" if wrk else "httpx (no wrk on PATH)")


def report(result: Result, api_cpu: float, tool: str) -> bool:
    rate = result.requests / result.seconds
    failures = {key: count for key, count in result.statuses.items() if key != "200"}
    print(
        f"{CONNECTIONS} connections, {TOKENS} tokens, GET guest list ({GUESTS} guests, page "
        f"of 50) for {result.seconds:.0f} s with {tool}: {result.requests} requests"
    )
    print(
        f"  {rate:6.0f} requests/s  = {rate / TARGET_RPS:.2f}x target "
        f"(target >= {TARGET_RPS:.0f} req/s)"
    )
    print(
        f"  p50 {result.p50 * 1000:.0f} ms, p95 {result.p95 * 1000:.0f} ms "
        f"= {result.p95 / TARGET_P95:.2f}x target (target p95 < {TARGET_P95 * 1000:.0f} ms), "
        f"p99 {result.p99 * 1000:.0f} ms"
    )
    print(f"  API CPU {api_cpu / max(result.requests, 1) * 1000:.1f} ms a request")
    print(f"  errors: {sum(failures.values())}" + (f" {failures}" if failures else ""))
    if failures:
        example = f", e.g. {result.sample_error!r}" if result.sample_error else ""
        print(f"  not a valid measurement: not every request got a 200{example}")
    return not failures and rate >= TARGET_RPS and result.p95 < TARGET_P95


async def main() -> bool:
    async with database() as url:
        print(f"database: {url.split('://')[0]}")
        return await run(url)


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main()) else 1)
