"""The operators' codec endpoint: `/codec/decode` and `/codec/encode`, for the Temporal UI and CLI.

Only the operator's credential (OPERATOR_TOKEN, as a bearer token or a Basic password) opens
it; without the setting it does not exist. The real Temporal CLI reads a history through it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from api.deps import ApiDeps
from api.main import create_app
from core.binaries import temporal_cli
from core.http_server import serving
from core.settings import Settings
from services.automations import Automations, JobDefaults
from tests.api.conftest import client_for, error_of
from tests.conftest import DATA_CONVERTER, PAYLOAD_KEYS

OPERATOR = "operator-" + "x" * 40
UI = "http://ui.test:8080"
GUEST = "ada.codec@example.com"


@pytest.fixture
def api_settings(db_url: str) -> Settings:
    """The test clients' payload key, an operator token, and where the Temporal UI is."""
    return Settings(
        _env_file=None,
        database_url=db_url,
        temporal_payload_keys=[SecretStr(key) for key in PAYLOAD_KEYS],
        operator_token=SecretStr(OPERATOR),
        temporal_ui_url=f"{UI}/namespaces/default",
    )


def body(payloads: Payloads) -> dict[str, object]:
    result: dict[str, object] = json.loads(json_format.MessageToJson(payloads))
    return result


async def encrypted(value: object) -> Payloads:
    """A value as the product's clients send it to Temporal."""
    return Payloads(payloads=await DATA_CONVERTER.encode([value]))


def decoded(response: httpx.Response) -> list[object]:
    payloads = json_format.Parse(response.text, Payloads())
    return [json.loads(payload.data) for payload in payloads.payloads]


@pytest.fixture
async def operator(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, OPERATOR) as client:
        yield client


async def test_operator_decodes_what_the_product_encrypted(operator: httpx.AsyncClient) -> None:
    sealed = await encrypted({"emails": [GUEST]})
    assert GUEST.encode() not in sealed.SerializeToString()
    headers = {"X-Namespace": "default"}
    response = await operator.post("/codec/decode", json=body(sealed), headers=headers)
    assert response.status_code == 200, response.text
    assert decoded(response) == [{"emails": [GUEST]}]
    assert response.headers["cache-control"] == "no-store"

    # Encode, then decode: the round trip of the UI's encoder; the product reads it too.
    plain = Payloads(payloads=[DATA_CONVERTER.payload_converter.to_payload("hello")])
    sealed_again = await operator.post("/codec/encode", json=body(plain))
    assert sealed_again.status_code == 200
    payloads = json_format.Parse(sealed_again.text, Payloads())
    assert payloads.payloads[0].metadata["encoding"] == b"binary/encrypted"
    assert await DATA_CONVERTER.decode(payloads.payloads, [str]) == ["hello"]

    # Payloads from before encryption pass through unchanged.
    through = await operator.post("/codec/decode", json=body(plain))
    assert decoded(through) == ["hello"]


async def test_basic_auth_password_is_the_operator_token(app: FastAPI) -> None:
    """What a browser sends once the operator signed in at GET /codec."""
    sealed = await encrypted(GUEST)
    login = base64.b64encode(f"operator:{OPERATOR}".encode()).decode()
    async with client_for(app) as browser:
        browser.headers["Authorization"] = f"Basic {login}"
        assert (await browser.get("/codec")).status_code == 200
        response = await browser.post("/codec/decode", json=body(sealed))
    assert decoded(response) == [GUEST]


async def test_nobody_else_may_call_it(app: FastAPI, tenant) -> None:
    sealed = body(await encrypted(GUEST))
    wrong_basic = base64.b64encode(f"{OPERATOR}:wrong".encode()).decode()
    attempts = {
        "no credential": None,
        "a wrong token": "Bearer " + "y" * 49,
        "an org's API token": f"Bearer {tenant.token}",
        "the token as a Basic user name": f"Basic {wrong_basic}",
        "a non-ASCII token": "Bearer opérateur",  # sent as UTF-8: 401, never 500
        "another scheme": f"Token {OPERATOR}",
    }
    async with client_for(app) as client:
        for what, authorization in attempts.items():
            headers = {b"authorization": authorization.encode()} if authorization else {}
            for path in ("/codec/decode", "/codec/encode"):
                response = await client.post(path, json=sealed, headers=headers)
                assert response.status_code == 401, (what, path, response.text)
                assert error_of(response)["code"] == "unauthorized"
                assert GUEST not in response.text
            assert "Basic" in response.headers["www-authenticate"]
    # The org's token still works where it belongs.
    assert (await tenant.client.get("/v1/jobs")).status_code == 200


async def test_without_an_operator_token_there_is_no_endpoint(db_url: str, sessions) -> None:
    settings = Settings(_env_file=None, database_url=db_url)
    temporal = await Client.connect("127.0.0.1:1", lazy=True)  # never called
    app = create_app(settings, deps=ApiDeps(sessions, Automations(temporal, JobDefaults())))
    async with client_for(app, OPERATOR) as client:
        response = await client.post("/codec/decode", json={"payloads": []})
        assert response.status_code == 404
        assert (await client.options("/codec/decode")).status_code == 404


async def test_cors_admits_the_temporal_ui_only(app: FastAPI, operator: httpx.AsyncClient) -> None:
    preflight = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    allowed = await operator.options("/codec/decode", headers=preflight)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == UI
    assert "x-namespace" in allowed.headers["access-control-allow-headers"]
    assert allowed.headers["access-control-allow-credentials"] == "true"
    other = await operator.options(
        "/codec/decode", headers={**preflight, "Origin": "https://x.test"}
    )
    assert "access-control-allow-origin" not in other.headers

    sealed = body(await encrypted(GUEST))
    answered = await operator.post("/codec/decode", json=sealed, headers={"Origin": UI})
    assert answered.headers["access-control-allow-origin"] == UI
    # Outside the tenant API's documentation.
    assert not any(path.startswith("/codec") for path in app.openapi()["paths"])


async def test_the_temporal_cli_reads_a_history_through_it(
    api_settings: Settings, sessions, automations, temporal_env
) -> None:
    """`temporal workflow show --codec-endpoint … --codec-auth …`, as the README says."""
    handle = await automations.client.start_workflow(
        "BulkStatusWorkflow",
        {"filter": {"emails": [GUEST]}},
        id=f"codec-cli-{uuid.uuid4().hex}",
        task_queue=f"nobody-{uuid.uuid4().hex}",  # never runs: its input is what we read
    )
    app = create_app(api_settings, deps=ApiDeps(sessions, automations))
    target = temporal_env.client.service_client.config.target_host

    async def show(*codec: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            str(temporal_cli()),
            "workflow",
            "show",
            "--workflow-id",
            handle.id,
            "--address",
            target,
            "--output",
            "json",
            *codec,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, out.decode()

    def started_input(output: str) -> tuple[str, bytes]:
        """The encoding and data of the workflow's input, as the CLI printed them."""
        started = json.loads(output)["events"][0]["workflowExecutionStartedEventAttributes"]
        (payload,) = started["input"]["payloads"]
        encoding = base64.b64decode(payload["metadata"]["encoding"]).decode()
        return encoding, base64.b64decode(payload["data"])

    try:
        async with serving(app) as url:
            endpoint = ["--codec-endpoint", f"{url}/codec"]
            shown = await show(*endpoint, "--codec-auth", f"Bearer {OPERATOR}")
            refused = await show(*endpoint, "--codec-auth", "Bearer nope")
        plain = await show()
    finally:
        await handle.terminate("test over")
    assert shown[0] == 0, shown[1]
    encoding, data = started_input(shown[1])
    assert encoding == "json/plain" and json.loads(data) == {"filter": {"emails": [GUEST]}}
    assert plain[0] == 0
    encoding, data = started_input(plain[1])
    assert encoding == "binary/encrypted" and GUEST.encode() not in data
    assert refused[0] != 0 and GUEST not in refused[1]
