"""A local people-data provider over HTTP, in both the PDL and the Apollo style.

It knows the people it is given, answers unknown emails as the real APIs do (PDL: 404,
Apollo: `person: null`), checks the API key header, and can be told to answer the next calls
with 429 and a Retry-After, like a provider over its rate limit. Every call is recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.http_server import serving


@dataclass
class Known:
    company: str
    title: str
    seniority: str


@dataclass
class Call:
    style: str
    email: str
    key: str
    status: int


@dataclass
class FakeProvider:
    api_key: str = "fake-provider-key"
    people: dict[str, Known] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    throttle_next: int = 0  # answer this many upcoming calls with 429
    retry_after: str = "1"
    url: str = ""

    def emails_asked(self, status: int = 200) -> list[str]:
        return [call.email for call in self.calls if call.status == status]

    def _gate(self, style: str, email: str, key: str) -> JSONResponse | None:
        if key != self.api_key:
            return self._answer(style, email, key, 401, {"error": "invalid api key"})
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return self._answer(
                style, email, key, 429, {"error": "rate limited"}, {"Retry-After": self.retry_after}
            )
        return None

    def _answer(
        self,
        style: str,
        email: str,
        key: str,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        self.calls.append(Call(style, email, key, status))
        return JSONResponse(body, status_code=status, headers=headers)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v5/person/enrich")
        async def pdl(request: Request, email: str) -> JSONResponse:
            key = request.headers.get("x-api-key", "")
            if refused := self._gate("pdl", email, key):
                return refused
            person = self.people.get(email.lower())
            if person is None:
                return self._answer("pdl", email, key, 404, {"status": 404})
            data = {
                "job_company_name": person.company,
                "job_title": person.title,
                "job_title_levels": [person.seniority],
            }
            return self._answer("pdl", email, key, 200, {"status": 200, "data": data})

        @app.post("/api/v1/people/match")
        async def apollo(request: Request) -> JSONResponse:
            key = request.headers.get("x-api-key", "")
            email = str((await request.json()).get("email", ""))
            if refused := self._gate("apollo", email, key):
                return refused
            person = self.people.get(email.lower())
            if person is None:
                return self._answer("apollo", email, key, 200, {"person": None})
            body = {
                "person": {
                    "title": person.title,
                    "seniority": person.seniority,
                    "organization": {"name": person.company},
                }
            }
            return self._answer("apollo", email, key, 200, body)

        return app


@asynccontextmanager
async def running_fake_provider(fake: FakeProvider | None = None) -> AsyncIterator[FakeProvider]:
    fake = fake or FakeProvider()
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake
