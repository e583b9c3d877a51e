"""Enrichment: company, title and seniority of a guest from a people-data provider.

One interface (`EnrichmentProvider`) for every provider; `intel.enrichment.http` speaks the
People Data Labs and Apollo styles of HTTP API. Enrichment is off by default and enabled per
org with the org's own provider key (stored encrypted, see `intel.enrichment.store`); answers
are cached in our database with a time-to-live so a person is looked up at most once per TTL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PersonInfo:
    """What a provider knows about a person's work (any field may be unknown)."""

    company: str | None = None
    title: str | None = None
    seniority: str | None = None


class EnrichmentError(Exception):
    """A provider failure; `message` is fit to show an organizer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RateLimited(EnrichmentError):
    """HTTP 429: wait `retry_after` seconds before the next call to this provider."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"The enrichment provider asked us to wait {retry_after:.0f} s.")
        self.retry_after = retry_after


class InvalidProviderKey(EnrichmentError):
    """The provider refused the org's key: retrying cannot help."""


class ProviderUnavailable(EnrichmentError):
    """5xx, timeouts, odd answers: worth retrying later."""


class EnrichmentProvider(Protocol):
    """Looks one person up by email; None when the provider does not know them."""

    name: str

    async def lookup(self, email: str) -> PersonInfo | None: ...
