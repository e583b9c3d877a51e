"""Every process's /metrics, scraped after a small bulk job: the counters moved.

The worker and the bot run as `lumabot worker` and `lumabot bot` run them (`run_worker`,
`run_polling`) with METRICS_PORT and TEMPORAL_METRICS_PORT set; the API is `create_app`'s,
read through its `GET /metrics`. They share this process, hence one registry: each check reads
a counter before the job and finds it moved on the scraped page.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from api.deps import ApiDeps
from api.main import create_app
from bot.app import run_polling
from catalog.guest_filter import GuestFilter
from core.settings import Environment, Settings
from services.automations import Automations
from standins.telegram import running_local_api
from tests.conftest import PAYLOAD_KEYS, eventually
from tests.ports import reserved_ports
from worker import run_worker

METRICS_TOKEN = "m" * 40


def sample(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """The value of one sample on a scraped page (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(
                found.labels.get(k) == v for k, v in (labels or {}).items()
            ):
                return found.value
    return 0.0


def now(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def scrape(port: int) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    response.raise_for_status()
    return response.text


@asynccontextmanager
async def running(start: Callable[[asyncio.Event], Any]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(start(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture
def settings_with(
    db_url, encryption_keys, simulator, temporal_env, job_defaults
) -> Callable[..., Settings]:
    """The process's settings, as its environment would give them, with `overrides`."""
    return lambda **overrides: Settings(
        _env_file=None,
        database_url=db_url,
        encryption_keys=encryption_keys,
        temporal_payload_keys=PAYLOAD_KEYS,
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=job_defaults.task_queue,
        luma_api_url=simulator.base_url,
        metrics_host="127.0.0.1",
        metrics_token=METRICS_TOKEN,
        **overrides,
    )


async def test_worker_bot_and_api_metrics_move_with_a_bulk_job(
    settings_with: Callable[..., Settings], temporal_env, job_defaults, simulator, org, sessions
) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=30, status_mix={"pending_approval": 0.5, "approved": 0.5}
    )
    done = {"outcome": "done"}
    writes = {"operation": "update_guest_status", "status": "200"}
    before = {
        "done": now("lumabot_bulk_guests_total", done),
        "writes": now("lumabot_luma_requests_total", writes),
        "waits": now("lumabot_rate_budget_wait_seconds_count", {"caller": "bulk"}),
        "updates": now("lumabot_bot_updates_total", {"type": "message"}),
    }
    with reserved_ports(3) as (worker_port, temporal_port, bot_port):
        worker_settings = settings_with(
            metrics_port=worker_port, temporal_metrics_port=temporal_port
        )
        async with (
            running_local_api() as telegram,
            running(lambda stop: run_worker(worker_settings, stop)),
        ):
            bot_settings = settings_with(
                metrics_port=bot_port,
                bot_token=telegram.state.default_bot.token,
                telegram_api_url=telegram.base_url,
            )
            async with running(lambda stop: run_polling(bot_settings, stop)):
                automations = Automations(temporal_env.client, job_defaults)
                started = await automations.start_bulk(
                    org_id=org.org_id,
                    event_id=event_id,
                    target_status="approved",
                    guest_filter=GuestFilter(statuses=["pending_approval"]),
                )
                report = await automations.bulk_handle(started.workflow_id).result()
                assert report.done == 15

                # The worker's own metrics: Luma writes, budget waits, guests done.
                worker_page = await scrape(worker_port)
                assert sample(worker_page, "lumabot_bulk_guests_total", done) >= before["done"] + 15
                assert (
                    sample(worker_page, "lumabot_luma_requests_total", writes)
                    >= before["writes"] + 15
                )
                assert (
                    sample(
                        worker_page, "lumabot_rate_budget_wait_seconds_count", {"caller": "bulk"}
                    )
                    >= before["waits"] + 15
                )

                # The Temporal SDK's, on their own port: this task queue's activities ran.
                temporal_page = await scrape(temporal_port)
                queue = {"task_queue": job_defaults.task_queue}
                assert sample(temporal_page, "temporal_activity_execution_latency_count", queue) > 0

                # The bot's: a person says something, the update is counted.
                person = 1_990_000_000 + org.org_id
                telegram.state.add_user(person, first_name="Metrics")
                telegram.state.user_says(person, person, "/help")
                await telegram.state.wait_for_reply(person, timeout=15)
                bot_page = await eventually(
                    lambda: _moved(bot_port, "lumabot_bot_updates_total", before["updates"])
                )
                assert sample(bot_page, "lumabot_bulk_guests_total", done) >= before["done"] + 15
            gc.unfreeze()  # `run_polling` froze what existed, for a long-lived bot

    # The API's GET /metrics: the token is wanted, and the same counters are there.
    app = create_app(settings_with(), deps=ApiDeps(sessions, automations))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api.test") as http,
    ):
        assert (await http.get("/metrics")).status_code == 401
        page = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
        assert sample(page.text, "lumabot_bulk_guests_total", done) >= before["done"] + 15
        assert "/metrics" not in (await http.get("/openapi.json")).json()["paths"]


async def _moved(port: int, name: str, before: float) -> str | None:
    page = await scrape(port)
    return page if sample(page, name, {"type": "message"}) > before else None


def test_api_metrics_are_off_in_production_without_a_token(encryption_keys) -> None:
    settings = Settings(
        _env_file=None, environment=Environment.PRODUCTION, encryption_keys=encryption_keys
    )
    app = create_app(settings)  # not started: nothing connects
    assert not any(getattr(route, "path", "") == "/metrics" for route in app.routes)
