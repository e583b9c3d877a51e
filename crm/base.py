"""The connector interface: upsert people into a CRM or an Airtable table, keyed on email.

A connector sends one request's worth of records at a time (`max_records`), no faster than
its service allows (`requests_per_second`, a pacer per connector), and waits out a 429 itself
(the Retry-After the service sends, else `rate_limit_wait`) before sending the same records
again: a rate limit slows a run, it never fails a batch. Every other answer becomes one of
three errors the activity turns into Temporal's terms: `InvalidToken` (final for the run),
`Rejected` (final for the batch: the records themselves were refused) and `Unavailable`
(the batch is retried).
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx


@dataclass(frozen=True)
class CrmRecord:
    """One person as the service will store them: their email (the merge key) and the
    fields named as in the service (the org's mapping applied)."""

    email: str
    fields: Mapping[str, Any]


class CrmError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidToken(CrmError):
    """The service refused the token (401/403): nothing will work until it is replaced."""


class Rejected(CrmError):
    """The service refused these records (a 4xx other than 401/403/429): sending them again
    would be refused again."""


class Unavailable(CrmError):
    """No answer, or a 5xx: worth another try later."""


class Pacer:
    """At most `rate` starts a second, spaced evenly (a burst would meet the limit's edge)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
                now = time.monotonic()
            self._next = now + self.interval


@dataclass(frozen=True)
class ConnectorConfig:
    """Where a connector sends and how politely; built from settings by `crm.connectors`."""

    base_url: str
    requests_per_second: float
    rate_limit_wait: float


class Connector(ABC):
    """One org's connection to one service, for one batch or one test write."""

    kind: ClassVar[str]
    max_records: ClassVar[int]

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: ConnectorConfig,
        token: str,
        target: Mapping[str, Any],
        email_field: str,
    ) -> None:
        self.client = client
        self.config = config
        self.token = token
        self.target = target
        self.email_field = email_field  # the service's field holding the email (merge key)
        self.pacer = Pacer(config.requests_per_second)
        self.rate_limited = 0  # 429s met, for the report

    @abstractmethod
    def request(self, records: Sequence[CrmRecord]) -> tuple[str, str, dict[str, Any]]:
        """The method, path and JSON body that upsert these records."""

    async def upsert(self, records: Sequence[CrmRecord]) -> None:
        """Write at most `max_records` records, waiting out any number of 429s."""
        if len(records) > self.max_records:
            raise ValueError(f"{self.kind} takes at most {self.max_records} records a request")
        method, path, body = self.request(records)
        url = self.config.base_url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {self.token}"}
        while True:
            await self.pacer.wait()
            try:
                response = await self.client.request(method, url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise Unavailable(f"{self.kind} did not answer ({type(exc).__name__})") from None
            if response.status_code != 429:
                break
            self.rate_limited += 1
            await asyncio.sleep(self._retry_after(response))
        if response.status_code in (401, 403):
            raise InvalidToken(f"{self.kind} refused the token ({response.status_code})")
        if response.status_code >= 500:
            raise Unavailable(f"{self.kind} answered {response.status_code}")
        if response.status_code >= 400:
            raise Rejected(f"{self.kind} refused the records: {_said(response)}")

    def _retry_after(self, response: httpx.Response) -> float:
        try:
            return max(0.0, float(response.headers["Retry-After"]))
        except (KeyError, ValueError):
            return self.config.rate_limit_wait


def _said(response: httpx.Response) -> str:
    """What the service said about a refusal, short (its message, never our request)."""
    return f"{response.status_code} {response.text[:300]}"
