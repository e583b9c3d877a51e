"""A local Airtable Web API for records upserts, as published, with its limits enforced.

`PATCH /v0/{baseId}/{tableIdOrName}` with `performUpsert.fieldsToMergeOn` merges each
record on those fields: a new value creates a record, a known one updates it. Like the
real service it wants a Bearer token, takes at most 10 records a request (422 otherwise),
allows 5 requests a second per base (then 429 `RATE_LIMIT_REACHED`, with no Retry-After:
the docs ask for 30 seconds' rest) and refuses a record whose value it cannot store (422).
Every request and every record written is recorded.
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

MAX_RECORDS = 10


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


@dataclass
class FakeAirtable(CrmLog):
    token: str = "patFakeAirtableToken.0123456789"
    limits: CrmLimits = field(default_factory=lambda: CrmLimits(requests_per_window=5))
    # (base, table) -> merge value -> (record id, fields)
    tables: dict[tuple[str, str], dict[str, tuple[str, dict[str, Any]]]] = field(
        default_factory=dict
    )
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.patch("/v0/{base_id}/{table}")
        async def upsert(base_id: str, table: str, request: Request) -> JSONResponse:
            body = await request.json()
            records = body.get("records") or []
            answer = self._answer(request, base_id, table, body, records)
            self.answers.append(Answer(answer.status_code, len(records)))
            return answer

        return app

    def _answer(
        self, request: Request, base_id: str, table: str, body: dict[str, Any], records: list[Any]
    ) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "AUTHENTICATION_REQUIRED", "Authentication required")
        if self.limits.over(base_id):
            return JSONResponse(
                {
                    "errors": [
                        {
                            "error": "RATE_LIMIT_REACHED",
                            "message": "Rate limit exceeded. Please try again later",
                        }
                    ]
                },
                status_code=429,
            )
        if not records or len(records) > MAX_RECORDS:
            return _error(422, "INVALID_RECORDS", f"Request must have 1 to {MAX_RECORDS} records")
        merge_on = (body.get("performUpsert") or {}).get("fieldsToMergeOn") or []
        if len(merge_on) != 1:
            return _error(422, "INVALID_REQUEST_UNKNOWN", "fieldsToMergeOn must name one field")
        (merge_field,) = merge_on
        for record in records:
            value = (record.get("fields") or {}).get(merge_field)
            if not value:
                return _error(422, "INVALID_MERGE_FIELD", f"Every record needs {merge_field}")
            if value in self.refuse_emails:
                return _error(
                    422, "INVALID_VALUE_FOR_COLUMN", f"Cannot parse value for {merge_field}"
                )
        rows = self.tables.setdefault((base_id, table), {})
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        out: list[dict[str, Any]] = []
        created_ids: list[str] = []
        updated_ids: list[str] = []
        for record in records:
            fields = dict(record["fields"])
            value = fields[merge_field]
            known = rows.get(value)
            record_id = known[0] if known else f"rec{next(self._ids):014d}"
            merged = {**(known[1] if known else {}), **fields}
            rows[value] = (record_id, merged)
            (updated_ids if known else created_ids).append(record_id)
            self.writes.append(Write(value, fields, known is None))
            out.append({"id": record_id, "createdTime": now, "fields": merged})
        return JSONResponse(
            {"records": out, "createdRecords": created_ids, "updatedRecords": updated_ids}
        )


@asynccontextmanager
async def running_fake_airtable(fake: FakeAirtable | None = None) -> AsyncIterator[FakeAirtable]:
    fake = fake or FakeAirtable()
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake
