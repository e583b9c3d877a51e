"""A stand-in for the few Stripe API endpoints billing calls, served over HTTP on a free port.

The `stripe` library is pointed at it (STRIPE_API_BASE), so requests go through the library's
real encoding, auth header and idempotency handling; every request is recorded for asserts.
Webhook deliveries are signed here exactly as Stripe signs them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.http_server import serving


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeStripe:
    api_key: str
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    _by_idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)

    def made(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def app(self) -> FastAPI:
        app = FastAPI()

        def _error(status: int, message: str) -> JSONResponse:
            body = {"error": {"type": "invalid_request_error", "message": message}}
            return JSONResponse(body, status_code=status)

        async def _record(request: Request) -> Recorded | JSONResponse:
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return _error(401, "Invalid API Key provided")
            body = (await request.body()).decode()
            recorded = Recorded(
                request.method, request.url.path, dict(parse_qsl(body)), dict(request.headers)
            )
            self.requests.append(recorded)
            return recorded

        def _once(recorded: Recorded, make: dict[str, Any]) -> JSONResponse:
            key = recorded.headers.get("idempotency-key")
            if key:
                make = self._by_idempotency.setdefault(key, make)
            return JSONResponse(make)

        @app.post("/v1/customers")
        async def customers(request: Request) -> JSONResponse:
            recorded = await _record(request)
            if isinstance(recorded, JSONResponse):
                return recorded
            customer = {"id": f"cus_{uuid.uuid4().hex[:14]}", "object": "customer"}
            return _once(recorded, {**customer, "name": recorded.form.get("name")})

        @app.post("/v1/checkout/sessions")
        async def checkout(request: Request) -> JSONResponse:
            recorded = await _record(request)
            if isinstance(recorded, JSONResponse):
                return recorded
            if "customer" not in recorded.form or "line_items[0][price]" not in recorded.form:
                return _error(400, "Missing required param: line_items or customer")
            session_id = f"cs_test_{uuid.uuid4().hex[:16]}"
            session = {
                "id": session_id,
                "object": "checkout.session",
                "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            }
            return _once(recorded, session)

        @app.post("/v1/billing_portal/sessions")
        async def portal(request: Request) -> JSONResponse:
            recorded = await _record(request)
            if isinstance(recorded, JSONResponse):
                return recorded
            session_id = f"bps_{uuid.uuid4().hex[:16]}"
            return _once(
                recorded,
                {
                    "id": session_id,
                    "object": "billing_portal.session",
                    "url": f"https://billing.stripe.test/p/session/{session_id}",
                },
            )

        return app


@asynccontextmanager
async def running_fake_stripe(api_key: str) -> AsyncIterator[FakeStripe]:
    fake = FakeStripe(api_key)
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake


def signature(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe sends: `t=<unix>,v1=<HMAC-SHA256 of "t.payload">`."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def event(kind: str, obj: dict[str, Any], *, event_id: str | None = None) -> str:
    """A webhook body as Stripe serializes it."""
    body = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": int(time.time()),
        "type": kind,
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(body)


def subscription(
    sub_id: str, customer: str, *, price: str, status: str = "active", org_id: int | None = None
) -> dict[str, Any]:
    period_end = int(time.time()) + 30 * 86400
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "metadata": {"org_id": str(org_id)} if org_id is not None else {},
        "items": {
            "object": "list",
            "data": [{"price": {"id": price}, "current_period_end": period_end}],
        },
    }
