"""Tokens, rate limits, body limits, error shape and health probes."""

from __future__ import annotations

import re

import pytest
from temporalio.client import Client

from api.deps import ApiDeps, ApiLimits
from api.main import create_app
from services.automations import Automations, JobDefaults
from store import tokens
from store.db import create_engine, session_factory
from store.models import Role
from store.orgs import remove_member, set_role
from tests.api.conftest import client_for, error_of, issue
from tests.request_limits import clear_of_window_edge


async def test_token_required_and_checked(anonymous, tenant, sessions) -> None:
    missing = await anonymous.get("/v1/events")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "/token new" in error_of(missing)["message"]

    wrong = await anonymous.get("/v1/events", headers={"Authorization": "Bearer lbt_nope"})
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "unauthorized"

    assert (await tenant.client.get("/v1/events")).status_code == 200
    async with sessions.begin() as session:
        revoked = await tokens.revoke_token(
            session, org_id=tenant.org.org_id, prefix_or_id=tenant.token[:12]
        )
    assert revoked == 1
    after = await tenant.client.get("/v1/events")
    assert after.status_code == 401 and "revoked" in error_of(after)["message"]


async def test_a_token_stops_when_its_maker_is_demoted_or_removed(app, tenant, sessions) -> None:
    """A token belongs to the admin who made it: their membership is read on every request."""
    demoted_maker, removed_maker = 7_990_000_001, 7_990_000_002
    org_id = tenant.org.org_id
    async with sessions.begin() as session:
        for maker in (demoted_maker, removed_maker):
            await set_role(session, org_id=org_id, user_id=maker, role=Role.ADMIN)
    demoted = await issue(sessions, org_id, maker=demoted_maker)
    removed = await issue(sessions, org_id, maker=removed_maker)
    for token in (demoted, removed):
        async with client_for(app, token) as client:
            assert (await client.get("/v1/events")).status_code == 200
    async with sessions.begin() as session:
        await set_role(session, org_id=org_id, user_id=demoted_maker, role=Role.MEMBER)
        await remove_member(session, org_id=org_id, user_id=removed_maker)
    for token in (demoted, removed):
        async with client_for(app, token) as client:
            refused = await client.post(
                "/v1/events/evt-x/bulk-status", json={"target_status": "approved", "all": True}
            )
            assert refused.status_code == 401, refused.text  # revoked with the role
            assert (await client.get("/v1/events")).status_code == 401
    async with sessions.begin() as session:  # promoted back: the old tokens stay revoked
        await set_role(session, org_id=org_id, user_id=demoted_maker, role=Role.ADMIN)
    async with client_for(app, demoted) as client:
        assert (await client.get("/v1/events")).status_code == 401
    assert (await tenant.client.get("/v1/events")).status_code == 200  # other makers' tokens


@pytest.mark.parametrize("api_limits", [ApiLimits(requests_per_minute=3)])
async def test_rate_limit_per_token_holds_across_api_processes(
    tenant, app, sessions, api_settings, automations, db_url
) -> None:
    """Two API apps with connections of their own (two processes, as far as the database
    can tell) together allow a token its 3 requests a minute, not 3 each."""
    await clear_of_window_edge(60.0)
    engine = create_engine(db_url)
    other_app = create_app(
        api_settings,
        deps=ApiDeps(session_factory(engine), automations),
        limits=ApiLimits(requests_per_minute=3),
    )
    try:
        async with (
            other_app.router.lifespan_context(other_app),
            client_for(other_app, tenant.token) as other,
        ):
            # A route whose dependencies also need the org counts once, not once per one.
            assert (await tenant.client.get("/v1/events/evt-missing")).status_code == 404
            assert (await other.get("/v1/events")).status_code == 200
            assert (await tenant.client.get("/v1/events")).status_code == 200
            for client in (other, tenant.client):
                limited = await client.get("/v1/events")
                assert limited.status_code == 429 and error_of(limited)["code"] == "rate_limited"
                assert 1 <= int(limited.headers["retry-after"]) <= 60
            # Another token of the same org has its own window.
            second = await _second_token(sessions, tenant.org.org_id)
            async with client_for(other_app, second) as client:
                assert (await client.get("/v1/events")).status_code == 200
    finally:
        await engine.dispose()


async def _second_token(sessions, org_id: int) -> str:
    return await issue(sessions, org_id)


@pytest.mark.parametrize("api_limits", [ApiLimits(max_body_bytes=1024)])
async def test_body_size_limit(tenant) -> None:
    big = {"target_status": "approved", "filter": {"emails": ["x" * 300 + "@a.com"] * 5}}
    declared = await tenant.client.post("/v1/events/evt-any/bulk-status", json=big)
    assert declared.status_code == 413 and error_of(declared)["code"] == "payload_too_large"

    async def chunks():  # no Content-Length: counted as it arrives
        for _ in range(4):
            yield b"x" * 400

    streamed = await tenant.client.post(
        "/v1/events/evt-any/bulk-status",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413 and "1 KiB" in error_of(streamed)["message"]


async def test_framework_errors_share_the_shape(tenant) -> None:
    unknown = await tenant.client.get("/v1/nothing-here")
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "not_found"
    wrong_method = await tenant.client.delete("/v1/events")
    assert wrong_method.status_code == 405 and error_of(wrong_method)
    not_json = await tenant.client.put(
        "/v1/digest", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422 and error_of(not_json)["code"] == "invalid_input"


async def test_health_and_readiness(anonymous) -> None:
    assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
    ready = await anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "temporal": "ok"}
    assert (await anonymous.get("/openapi.json")).json()["info"]["title"]
    assert (await anonymous.get("/docs")).status_code == 200


async def test_docs_load_nothing_from_the_internet(anonymous) -> None:
    """Swagger UI's script, styles and icon come from this server (the demo runs offline)."""
    page = (await anonymous.get("/docs")).text
    linked = re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r"url: '([^']+)'", page)
    assert linked and all(url.startswith("/") for url in linked), linked
    for url in linked:
        response = await anonymous.get(url)
        assert response.status_code == 200, url
    script = await anonymous.get("/docs-assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in script.text


async def test_readiness_names_what_is_down(api_settings) -> None:
    dead_db = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    dead_temporal = await Client.connect("127.0.0.1:1", lazy=True)
    deps = ApiDeps(session_factory(dead_db), Automations(dead_temporal, JobDefaults()))
    app = create_app(api_settings, deps=deps)
    async with app.router.lifespan_context(app), client_for(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "down", "temporal": "down"}
        assert (await client.get("/healthz")).status_code == 200
        # A route needing them answers 503 in the error shape, not a traceback.
        outage = await client.get("/v1/events", headers={"Authorization": "Bearer lbt_x"})
        assert outage.status_code == 503 and "database" in error_of(outage)["message"]
    await dead_db.dispose()
