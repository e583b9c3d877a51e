"""`lumabot up`: worker, bot and control API in one process, stopped by one SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import httpx

from services.automations import Automations, JobDefaults
from standins.luma import SimulatorConfig, running_simulator
from standins.telegram import running_local_api
from store.orgs import save_org
from tests.conftest import PAYLOAD_KEYS, eventually

LUMABOT = str(Path(sys.prefix) / "bin" / "lumabot")


async def test_up_runs_all_three_and_stops(
    temporal_env, db_url, sessions, keybox, encryption_keys, tmp_path, reserved_port: int
) -> None:
    port = reserved_port  # `lumabot up` binds it in a child process
    queue = f"tq-{uuid.uuid4().hex}"
    seed = uuid.uuid4().int % 10**9
    async with (
        running_local_api() as telegram,
        running_simulator(SimulatorConfig(seed=seed, calendars=1, events_per_calendar=2)) as sim,
    ):
        calendar = sim.calendars[0]
        async with sessions.begin() as session:
            org = await save_org(
                session,
                calendar_id=calendar.id,
                name="Up",
                luma_key=calendar.api_key,
                keybox=keybox,
            )
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "ENCRYPTION_KEYS": encryption_keys[0],
            "TEMPORAL_PAYLOAD_KEYS": PAYLOAD_KEYS[0],  # the test client's codec key
            "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
            "TEMPORAL_TASK_QUEUE": queue,
            "LUMA_API_URL": sim.base_url,
            "BOT_TOKEN": telegram.state.default_bot.token,
            "TELEGRAM_API_URL": telegram.base_url,
        }
        log = (tmp_path / "up.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            LUMABOT, "up", "--port", str(port), env=env, stdout=log, stderr=log, cwd=tmp_path
        )
        try:

            async def api_up() -> bool:
                try:
                    async with httpx.AsyncClient() as http:
                        reply = await http.get(f"http://127.0.0.1:{port}/healthz")
                    return reply.status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(api_up, timeout=60)
            telegram.state.user_says(5151, 5151, "/help")  # the bot polls in the same process
            help_text = await telegram.state.wait_for_bot_message(5151, timeout=30)
            assert help_text.text
            automations = Automations(temporal_env.client, JobDefaults(task_queue=queue))
            report = await asyncio.wait_for((await automations.sync_now(org.id)).result(), 60)
            assert report.events == 2  # and the worker runs in it too
        finally:
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 30)
            log.close()
    assert code == 0, (tmp_path / "up.log").read_text()
