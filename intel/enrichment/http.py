"""People-data providers over HTTP: People Data Labs and Apollo styles, behind one interface.

Both are "person by email" lookups authenticated with the org's key in an `X-Api-Key`
header. PDL answers `GET /v5/person/enrich?email=` with `data.job_company_name`,
`data.job_title` and `data.job_title_levels` (404 when unknown); Apollo answers
`POST /api/v1/people/match` with `person.organization.name`, `person.title` and
`person.seniority` (`person: null` when unknown). The base URL is configurable, so tests and
self-hosted proxies work unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from intel.enrichment import (
    InvalidProviderKey,
    PersonInfo,
    ProviderUnavailable,
    RateLimited,
)

DEFAULT_RETRY_AFTER = 5.0
# Providers spell seniority their own way; VIP rules read these canonical slugs.
SENIORITY = {"cxo": "c_suite", "c suite": "c_suite", "c-suite": "c_suite", "chief": "c_suite"}


def seniority_slug(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    word = value.strip().lower()
    return SENIORITY.get(word, "_".join(word.replace("-", " ").split()))[:64]


def _text(value: Any, limit: int = 255) -> str | None:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def _pdl(body: dict[str, Any]) -> PersonInfo | None:
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    levels = data.get("job_title_levels") or []
    return PersonInfo(
        company=_text(data.get("job_company_name")),
        title=_text(data.get("job_title")),
        seniority=seniority_slug(levels[0] if isinstance(levels, list) and levels else None),
    )


def _apollo(body: dict[str, Any]) -> PersonInfo | None:
    person = body.get("person")
    if not isinstance(person, dict):
        return None
    organization = person.get("organization") or {}
    return PersonInfo(
        company=_text(organization.get("name") if isinstance(organization, dict) else None),
        title=_text(person.get("title")),
        seniority=seniority_slug(person.get("seniority")),
    )


@dataclass(frozen=True)
class Style:
    """How one provider is asked and how its answer reads."""

    method: str
    path: str
    email_in_query: bool
    parse: Callable[[dict[str, Any]], PersonInfo | None]


STYLES: dict[str, Style] = {
    "pdl": Style("GET", "/v5/person/enrich", True, _pdl),
    "apollo": Style("POST", "/api/v1/people/match", False, _apollo),
}


def retry_after(response: httpx.Response) -> float:
    """Seconds from a 429's Retry-After (seconds form); a default when absent or odd."""
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return DEFAULT_RETRY_AFTER


class HttpProvider:
    """One org's view of one provider: its key, over a shared HTTP client."""

    def __init__(self, name: str, base_url: str, api_key: str, client: httpx.AsyncClient) -> None:
        if name not in STYLES:
            raise ValueError(f"unknown enrichment provider {name!r}")
        self.name = name
        self._style = STYLES[name]
        self._url = base_url.rstrip("/") + self._style.path
        self._key = api_key
        self._client = client

    async def lookup(self, email: str) -> PersonInfo | None:
        style = self._style
        try:
            response = await self._client.request(
                style.method,
                self._url,
                headers={"X-Api-Key": self._key, "Accept": "application/json"},
                params={"email": email} if style.email_in_query else None,
                json=None if style.email_in_query else {"email": email},
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"The enrichment provider could not be reached ({type(exc).__name__})."
            ) from None
        if response.status_code == 429:
            raise RateLimited(retry_after(response))
        if response.status_code in (401, 403):
            raise InvalidProviderKey(
                f"{self.name} refused the enrichment key (HTTP {response.status_code}); "
                "set a valid one with /enrich on."
            )
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ProviderUnavailable(f"{self.name} answered HTTP {response.status_code}.")
        try:
            body = response.json()
        except ValueError:
            raise ProviderUnavailable(f"{self.name} sent an answer that is not JSON.") from None
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{self.name} sent an unexpected answer.")
        return style.parse(body)
