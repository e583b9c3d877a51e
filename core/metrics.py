"""Our own Prometheus metrics, every one defined here, and how each process serves them.

Every process (worker, bot, API) counts into prometheus-client's default registry; an
operator scrapes it on `METRICS_PORT` (a small HTTP server in a thread, started by
`serve_metrics`; unset: none), and the API also answers `GET /metrics` (see `api.metrics`).
The worker's Temporal SDK metrics (task slots, poll and schedule latencies, activity
failures…) come from the SDK's own Prometheus exporter on `TEMPORAL_METRICS_PORT`
(`temporal_runtime`): a second scrape target of the same process, since the SDK's exporter
lives in its Rust core and cannot share prometheus-client's registry.

Labels never carry a tenant (no org, chat or calendar): their number stays fixed however
many organizations there are, and a scrape shows nobody's data.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    multiprocess,
    start_http_server,
)

if TYPE_CHECKING:
    from temporalio.runtime import Runtime

log = logging.getLogger(__name__)

NAMESPACE = "lumabot"

LUMA_REQUESTS = Counter(
    "luma_requests",
    "Answers from Luma (and requests that got none: status 'error'), by operation and status.",
    ["operation", "status"],
    namespace=NAMESPACE,
)
LUMA_RATE_LIMITED = Counter(
    "luma_rate_limited",
    "Luma's 429 answers, by operation.",
    ["operation"],
    namespace=NAMESPACE,
)
RATE_BUDGET_WAIT = Histogram(
    "rate_budget_wait_seconds",
    "Time a Luma request waited for a slot of the shared rate budget, by caller kind.",
    ["caller"],
    namespace=NAMESPACE,
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RATE_BUDGET_HOLDS = Counter(
    "rate_budget_holds",
    "Holds put on a calendar's budget (after a 429, or when Luma says nothing is left).",
    namespace=NAMESPACE,
)
BULK_GUESTS = Counter(
    "bulk_guests",
    "Guests a bulk job finished, by outcome (done, skipped, failed).",
    ["outcome"],
    namespace=NAMESPACE,
)
DIGESTS_SENT = Counter("digests_sent", "Daily digests sent to chats.", namespace=NAMESPACE)
GEMINI_CALLS = Counter(
    "gemini_calls",
    "Gemini calls, by use (parse, phrase) and outcome (ok, fallback).",
    ["use", "outcome"],
    namespace=NAMESPACE,
)
GEMINI_FALLBACKS = Counter(
    "gemini_fallbacks",
    "Answers given without Gemini although it is configured, by reason.",
    ["reason"],
    namespace=NAMESPACE,
)
MISSED_REGISTRATIONS = Counter(
    "missed_registrations",
    "Registrations a sync handed to an event's approval policy because no webhook had.",
    namespace=NAMESPACE,
)
BOT_UPDATES = Counter(
    "bot_updates",
    "Telegram updates the bot handled, by type.",
    ["type"],
    namespace=NAMESPACE,
)


def luma_answered(operation: str, status: int | str) -> None:
    """One request to Luma ended: with an answer's HTTP status, or 'error' (no answer)."""
    LUMA_REQUESTS.labels(operation, str(status)).inc()
    if status == 429:
        LUMA_RATE_LIMITED.labels(operation).inc()


def bulk_guest_finished(outcome: str) -> None:
    BULK_GUESTS.labels(outcome).inc()


def digest_sent() -> None:
    DIGESTS_SENT.inc()


def gemini_called(use: str, fallback_reason: str | None = None) -> None:
    """A Gemini call ended: usable (`fallback_reason` None), or not, and why."""
    GEMINI_CALLS.labels(use, "ok" if fallback_reason is None else "fallback").inc()
    if fallback_reason is not None:
        GEMINI_FALLBACKS.labels(fallback_reason).inc()


def gemini_skipped(reason: str) -> None:
    """Gemini is configured but was not called (the org's daily quota is spent)."""
    GEMINI_FALLBACKS.labels(reason).inc()


def missed_registrations(count: int) -> None:
    MISSED_REGISTRATIONS.inc(count)


def bot_update(kind: str) -> None:
    BOT_UPDATES.labels(kind).inc()


class BudgetLike(Protocol):
    """The budget's shape (`luma.ratelimit.RateBudget`'s, restated: core imports no luma)."""

    async def acquire(self, budget_key: str, *, interactive: bool) -> None: ...

    async def penalize(self, budget_key: str, retry_after: float) -> None: ...

    def announce(self, budget_key: str, limit: int) -> None: ...


class MeteredBudget:
    """A Luma rate budget (`luma.ratelimit.RateBudget`) whose waits and holds are measured."""

    def __init__(self, budget: BudgetLike) -> None:
        self.inner = budget

    async def acquire(self, budget_key: str, *, interactive: bool) -> None:
        started = time.monotonic()
        try:
            await self.inner.acquire(budget_key, interactive=interactive)
        finally:
            caller = "interactive" if interactive else "bulk"
            RATE_BUDGET_WAIT.labels(caller).observe(time.monotonic() - started)

    async def penalize(self, budget_key: str, retry_after: float) -> None:
        RATE_BUDGET_HOLDS.inc()
        await self.inner.penalize(budget_key, retry_after)

    def announce(self, budget_key: str, limit: int) -> None:
        self.inner.announce(budget_key, limit)


@dataclass
class MetricsServer:
    """prometheus-client's HTTP server in its thread; `close()` stops it."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


_SERVED: dict[tuple[str, int], tuple[MetricsServer, int]] = {}
_SERVED_LOCK = threading.Lock()


SERVED_BY_SUPERVISOR = "LUMABOT_METRICS_SERVED_BY_SUPERVISOR"
"""Set for the worker processes of `lumabot api --workers N`: their supervisor serves
METRICS_PORT for all of them (each worker's own server would fight for the port)."""


def registry() -> CollectorRegistry:
    """What a scrape reads: this process's counts, or, when the API runs as several worker
    processes (PROMETHEUS_MULTIPROC_DIR set), every worker's counts added together."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    return combined


def serve_metrics(port: int | None, host: str) -> MetricsServer | None:
    """Serve `registry()` at http://host:port/metrics; None (nothing) without a port.

    Parts of one process (`lumabot up` runs the worker and the bot together) share one
    server: they count into one registry anyway. `release_metrics` stops it after the last.
    """
    if port is None or os.environ.get(SERVED_BY_SUPERVISOR):
        return None
    with _SERVED_LOCK:
        if (host, port) in _SERVED:
            served, users = _SERVED[(host, port)]
            _SERVED[(host, port)] = (served, users + 1)
            return served
        server, thread = start_http_server(port, addr=host, registry=registry())
        served = MetricsServer(server, thread)
        _SERVED[(host, port)] = (served, 1)
    log.info("metrics at http://%s:%d/metrics", host, served.port)
    return served


def release_metrics(port: int | None, host: str) -> None:
    with _SERVED_LOCK:
        if port is None or (host, port) not in _SERVED:
            return
        served, users = _SERVED.pop((host, port))
        if users > 1:
            _SERVED[(host, port)] = (served, users - 1)
            return
    served.close()


@contextmanager
def metrics_served(port: int | None, host: str) -> Iterator[MetricsServer | None]:
    """`serve_metrics` for the life of the block."""
    served = serve_metrics(port, host)
    try:
        yield served
    finally:
        release_metrics(port, host)


def temporal_runtime(port: int | None, host: str) -> Runtime | None:
    """A Temporal runtime exporting the SDK's metrics at http://host:port/metrics; None (the
    SDK's default runtime, no export) without a port. Made once per address and kept: its
    exporter holds the port for the life of the process."""
    if port is None:
        return None
    return _runtime(host, port)


@functools.cache
def _runtime(host: str, port: int) -> Runtime:
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{host}:{port}"))
    )
