"""Which connectors exist, and how one is made for an org from the worker's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from core.settings import Settings
from crm.airtable import AirtableConnector
from crm.base import Connector, ConnectorConfig
from crm.hubspot import HubSpotConnector

CONNECTORS: dict[str, type[Connector]] = {
    AirtableConnector.kind: AirtableConnector,
    HubSpotConnector.kind: HubSpotConnector,
}


@dataclass(frozen=True)
class CrmConfig:
    """Each service's endpoint and politeness, and one request's timeout.

    No defaults of its own: `from_settings` is how one is made, so the numbers live in
    `Settings` (and `core.defaults`) only. Tests change a field with `dataclasses.replace`.
    """

    services: Mapping[str, ConnectorConfig]
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> CrmConfig:
        wait = settings.crm_rate_limit_wait_seconds
        return cls(
            services={
                "airtable": ConnectorConfig(
                    settings.crm_airtable_url, settings.crm_airtable_requests_per_second, wait
                ),
                "hubspot": ConnectorConfig(
                    settings.crm_hubspot_url, settings.crm_hubspot_requests_per_second, wait
                ),
            },
            timeout_seconds=settings.crm_timeout_seconds,
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout_seconds)

    def connector(
        self,
        kind: str,
        client: httpx.AsyncClient,
        *,
        token: str,
        target: Mapping[str, Any],
        email_field: str,
    ) -> Connector:
        return CONNECTORS[kind](client, self.services[kind], token, target, email_field)
