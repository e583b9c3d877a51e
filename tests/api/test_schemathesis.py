"""Schemathesis against the live OpenAPI schema: generated requests never get a 500.

The app is served by uvicorn on a free port (the CLI needs a real server) with real
PostgreSQL, Temporal and the simulator behind it; the token's org has a synced event, so
generated requests reach the database and Temporal, not only the 401/404 paths.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from api.deps import ApiLimits
from core.http_server import serving
from store import orgs
from store.models import Organization
from tests.api.conftest import synced_event
from workflows import ids

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Every check but two: a time zone or a cursor can be schema-valid and still wrong
# (positive_data_acceptance), and Starlette's 405 lists the methods of one route only
# (allow_header_conformance).
CHECKS = "all"
SKIPPED_CHECKS = "positive_data_acceptance,allow_header_conformance"


def known_values(values: dict[str, list[object]]) -> str:
    """A schemathesis.toml that mixes these real ids into generated ones (70 % of the time)."""
    lines = []
    for number, choices in enumerate(values.values()):
        lines += [f"[dictionaries.d{number}]", f"values = {json.dumps(choices)}", ""]
    lines.append("[parameters]")
    for number, key in enumerate(values):
        lines.append(f'"{key}" = {{ dictionary = "d{number}", probability = 0.7 }}')
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("api_limits", [ApiLimits(requests_per_minute=100_000)])
@pytest.mark.timeout(120)
async def test_no_server_errors(app, tenant, simulator, automations, sessions, tmp_path) -> None:
    event_id = await synced_event(simulator, automations, tenant.org, guests=5)
    chat_id = -3_000_000 - tenant.org.org_id
    async with sessions.begin() as session:
        await orgs.link_chat(
            session, chat_id=chat_id, org_id=tenant.org.org_id, kind="group", title="T", linked_by=1
        )
        webhook_token = (await session.get(Organization, tenant.org.org_id)).webhook_token
    bulk = await tenant.client.post(
        f"/v1/events/{event_id}/bulk-status", json={"target_status": "approved", "all": True}
    )
    emails = [g.person.email for g in simulator.state.event(event_id).guests.values()]
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        known_values(
            {
                "path.event_id": [event_id],
                "path.email": emails,
                "path.workflow_id": [ids.sync_id(tenant.org.org_id), bulk.json()["workflow_id"]],
                "path.token": [webhook_token],
                "query.chat_id": [chat_id],
                "body.chat_id": [chat_id],
            }
        )
    )
    report = tmp_path / "report.json"
    async with serving(app) as base_url:
        process = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "run",
            f"{base_url}/openapi.json",
            "--header",
            f"Authorization: Bearer {tenant.token}",
            "--checks",
            CHECKS,
            "--exclude-checks",
            SKIPPED_CHECKS,
            "--max-examples",
            "20",
            "--seed",
            "20261125",
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--request-timeout",
            "20",
            "--generation-database",
            "none",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            "--no-color",
            cwd=tmp_path,  # its crash cache stays out of the work tree
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        )
        output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
    cases = json.loads(report.read_text())["test_cases"]
    assert cases["generated"] >= 500 and cases["with_failures"] == cases["errored"] == 0
    print(f"schemathesis: {cases['generated']} cases, no failures")
