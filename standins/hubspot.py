"""A local HubSpot CRM v3 for contacts batch upserts, as published, with its limits enforced.

`POST /crm/v3/objects/contacts/batch/upsert` takes `inputs` of `{idProperty, id,
properties}`: a contact whose email is new is created, a known one updated. Like the real
service it wants a Bearer private-app token, takes at most 100 inputs (400 otherwise),
refuses properties that do not exist (400 `PROPERTY_DOESNT_EXIST`), and over its
per-second limit answers 429 `RATE_LIMIT` with the X-HubSpot-RateLimit headers and a
Retry-After. Every request and every contact written is recorded.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.http_server import serving
from standins.crm_limits import Answer, CrmLimits, CrmLog, Write

MAX_INPUTS = 100
STANDARD_PROPERTIES = frozenset({"email", "firstname", "lastname", "company", "jobtitle"})


def _error(status: int, category: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"status": "error", "message": message, "category": category}, status_code=status
    )


@dataclass
class FakeHubSpot(CrmLog):
    token: str = "pat-na1-fake-hubspot-0000-1111"
    limits: CrmLimits = field(default_factory=lambda: CrmLimits(requests_per_window=10))
    properties: set[str] = field(default_factory=lambda: set(STANDARD_PROPERTIES))
    retry_after: str = "1"
    contacts: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/crm/v3/objects/contacts/batch/upsert")
        async def upsert(request: Request) -> JSONResponse:
            inputs = (await request.json()).get("inputs") or []
            answer = self._answer(request, inputs)
            self.answers.append(Answer(answer.status_code, len(inputs)))
            return answer

        return app

    def _answer(self, request: Request, inputs: list[Any]) -> JSONResponse:
        token = request.headers.get("authorization", "")
        if token != f"Bearer {self.token}":
            return _error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
        if self.limits.over(token):
            headers = {
                "Retry-After": self.retry_after,
                "X-HubSpot-RateLimit-Secondly": str(self.limits.requests_per_window),
                "X-HubSpot-RateLimit-Secondly-Remaining": "0",
            }
            return JSONResponse(
                {
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "SECONDLY",
                },
                status_code=429,
                headers=headers,
            )
        if not inputs or len(inputs) > MAX_INPUTS:
            return _error(400, "VALIDATION_ERROR", f"Batch must have 1 to {MAX_INPUTS} inputs")
        for item in inputs:
            if item.get("idProperty") != "email" or not item.get("id"):
                return _error(400, "VALIDATION_ERROR", "Each input needs idProperty email and id")
            unknown = set(item.get("properties") or {}) - self.properties
            if unknown:
                return _error(
                    400, "VALIDATION_ERROR", f"Property {sorted(unknown)[0]} does not exist"
                )
            if item["id"] in self.refuse_emails:
                return _error(400, "VALIDATION_ERROR", f"Email {item['id']} is invalid")
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        results = []
        for item in inputs:
            email, properties = str(item["id"]), dict(item.get("properties") or {})
            known = self.contacts.get(email)
            contact_id = known[0] if known else str(next(self._ids))
            merged = {**(known[1] if known else {}), **properties, "email": email}
            self.contacts[email] = (contact_id, merged)
            self.writes.append(Write(email, properties, known is None))
            results.append(
                {
                    "id": contact_id,
                    "properties": merged,
                    "createdAt": now,
                    "updatedAt": now,
                    "archived": False,
                    "new": known is None,
                }
            )
        return JSONResponse(
            {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
        )


@asynccontextmanager
async def running_fake_hubspot(fake: FakeHubSpot | None = None) -> AsyncIterator[FakeHubSpot]:
    fake = fake or FakeHubSpot()
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake
