"""Benchmark: the control API under 200 concurrent guest-list requests on 5 tokens.

Built like a deployment: a scratch PostgreSQL database, migrated, holds one org whose events
and 3,000 guests of the asked event are cached and fresh (the API never calls Luma anyway);
an admin member made 5 API tokens. The API runs as a busy deployment runs it: `lumabot api
--workers N`, one worker process per core (BENCH_API_WORKERS to change), no Temporal needed
(it connects lazily). `wrk` keeps 200 connections busy with `GET /v1/events/{event_id}/guests`
(default page of 50, sorted, with its total), rotating the 5 tokens. Without `wrk`, an httpx
load generator in a subprocess stands in (weaker: one Python process makes the load).

Two runs, two targets. Throughput: 200 connections each sending its next request as soon as
the last is answered; target at least 500 requests/s. Latency: the same 200 connections
offering about 500 requests/s together (each waits 200/500 s between its requests, wrk's
`delay`); target p95 under 100 ms. Both at once cannot be asked of a closed loop: 200
connections always busy wait 200/rate on average (Little's law), so p95 < 100 ms there would
take more than 2,000 requests/s; a real API's callers arrive at their own pace.

The per-token limit (API_REQUESTS_PER_MINUTE) is raised for the run; the counting itself still
happens on every request. Every response must be a 200 within wrk's 30 s timeout, else the
run is not a measurement. Exits 1 unless both targets are met. API CPU is the whole process
tree's (supervisor and workers).

    .venv/bin/python -m bench.api        # PostgreSQL on :5432 (BENCH_PG), wrk if installed
    BENCH_PROFILE=/tmp/api.prof .venv/bin/python -m bench.api   # one process, cProfile'd
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import text

from bench.bot import EVENTS, cpu_seconds, fresh_calendar
from bench.bulk import database
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
LUMABOT = str(Path(sys.prefix) / "bin" / "lumabot")
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
        async with engine.begin() as connection:
            # Statistics, as a deployment's autovacuum keeps them: without them the planner
            # guesses one row per event and may sort the whole event for a page.
            await connection.execute(text("ANALYZE"))
        return event_ids[0], [issued.token for issued in tokens]
    finally:
        await engine.dispose()


def serve_api(port: int) -> None:
    """One API process under cProfile, configured by the environment, writing its stats to
    BENCH_PROFILE when SIGTERM stops it (run by `start_api` as a subprocess)."""
    import uvicorn

    from api.main import app_from_environment

    app = app_from_environment()
    profile_to = os.environ["BENCH_PROFILE"]
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


async def wait_until_up(
    base_url: str, process: subprocess.Popen[bytes], path: str = "/healthz", name: str = "API"
) -> None:
    """Until the server answers `path`; a clear exit if its process ends or it never does."""
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"the {name} process exited ({process.returncode})")
            try:
                if (await client.get(f"{base_url}{path}")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"the {name} did not answer {path} within a minute")


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

function delay()
  return %(pause_ms)d
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


async def run_wrk(
    wrk: str, url: str, path: str, tokens: list[str], seconds: int, pause: float
) -> Result:
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "guests.lua"
        quoted = ", ".join(f'"{token}"' for token in tokens)
        pause_ms = round(pause * 1000)
        script.write_text(WRK_SCRIPT % {"tokens": quoted, "path": path, "pause_ms": pause_ms})
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


def httpx_load(url: str, path: str, tokens: list[str], seconds: float, pause: float) -> None:
    """The stand-in for wrk (run as a subprocess): CONNECTIONS clients in a loop for
    `seconds`, each waiting `pause` s between requests; prints one JSON line with the
    latencies and statuses."""

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
                    if pause:
                        await asyncio.sleep(pause)

            started = time.perf_counter()
            await asyncio.gather(*(user(n) for n in range(CONNECTIONS)))
            elapsed = time.perf_counter() - started
        return {"latencies": latencies, "seconds": elapsed, "statuses": statuses, "sample": sample}

    print(json.dumps(asyncio.run(load())))


async def run_httpx(url: str, path: str, tokens: list[str], seconds: int, pause: float) -> Result:
    code = (
        "import json, sys; from bench.api import httpx_load; httpx_load(*json.loads(sys.argv[1]))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        json.dumps([url, path, tokens, seconds, pause]),
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


def start_api(environment: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """The API as deployed (`lumabot api --workers N`), or one cProfile'd process."""
    if os.environ.get("BENCH_PROFILE"):
        code = "import sys; from bench.api import serve_api; serve_api(int(sys.argv[1]))"
        command = [sys.executable, "-c", code, str(port)]
    else:
        workers = os.environ.get("BENCH_API_WORKERS") or str(os.cpu_count() or 1)
        command = [LUMABOT, "api", "--workers", workers, "--port", str(port)]
    return subprocess.Popen(command, env={**os.environ, **environment})


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants still running (Linux)."""
    total = cpu_seconds(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        total += tree_cpu_seconds(int(child))
    return total


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
        "API_REQUESTS_PER_MINUTE": str(UNLIMITED),
        # A few connections a worker: PostgreSQL shares these 2 cores, and 200 requests
        # queue for a connection better than 200 connections queue for a core.
        "DATABASE_POOL_SIZE": "8",
        "DATABASE_MAX_OVERFLOW": "0",
    }
    api = start_api(environment, port)
    try:
        await wait_until_up(base_url, api)
        wrk = shutil.which("wrk")

        async def load(seconds: int, pause: float = 0.0) -> Result:
            if wrk:
                return await run_wrk(wrk, base_url, path, tokens, seconds, pause)
            return await run_httpx(base_url, path, tokens, seconds, pause)

        # Warm up: connection pools, SQLAlchemy's statement caches, pydantic's validators.
        await load(WARM_UP_SECONDS)
        await drained(base_url, path, tokens[0])
        cpu_before = tree_cpu_seconds(api.pid)
        busy = await load(DURATION_SECONDS)
        api_cpu = tree_cpu_seconds(api.pid) - cpu_before
        await drained(base_url, path, tokens[0])
        paced = await load(DURATION_SECONDS, pause=CONNECTIONS / TARGET_RPS)
    finally:
        api.terminate()
        await asyncio.to_thread(api.wait, 30)
    return report(busy, paced, api_cpu, "wrk" if wrk else "httpx (no wrk on PATH)")


def report(busy: Result, paced: Result, api_cpu: float, tool: str) -> bool:
    rate = busy.requests / busy.seconds
    offered = paced.requests / paced.seconds
    failures: Counter[str] = Counter()
    for result in (busy, paced):
        failures.update({key: n for key, n in result.statuses.items() if key != "200"})
    print(
        f"{CONNECTIONS} connections, {TOKENS} tokens, GET guest list ({GUESTS} guests, page "
        f"of 50), {DURATION_SECONDS} s a run, with {tool}"
    )
    print(
        f"  as fast as answered: {rate:6.0f} requests/s = {rate / TARGET_RPS:.2f}x target "
        f"(target >= {TARGET_RPS:.0f} req/s); p50 {busy.p50 * 1000:.0f} ms, "
        f"p95 {busy.p95 * 1000:.0f} ms"
    )
    print(
        f"  at about {TARGET_RPS:.0f}/s offered ({offered:.0f}/s answered): p50 "
        f"{paced.p50 * 1000:.0f} ms, p95 {paced.p95 * 1000:.0f} ms = "
        f"{paced.p95 / TARGET_P95:.2f}x target (target p95 < {TARGET_P95 * 1000:.0f} ms), "
        f"p99 {paced.p99 * 1000:.0f} ms"
    )
    print(f"  API CPU {api_cpu / max(busy.requests, 1) * 1000:.1f} ms a request")
    print(f"  errors: {sum(failures.values())}" + (f" {dict(failures)}" if failures else ""))
    if failures:
        sample = busy.sample_error or paced.sample_error
        example = f", e.g. {sample!r}" if sample else ""
        print(f"  not a valid measurement: not every request got a 200{example}")
    return not failures and rate >= TARGET_RPS and paced.p95 < TARGET_P95


async def main() -> bool:
    async with database() as url:
        print(f"database: {url.split('://')[0]}")
        return await run(url)


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main()) else 1)
