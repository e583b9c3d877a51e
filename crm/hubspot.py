"""HubSpot's CRM v3: batch upsert of contacts keyed on their email.

`POST /crm/v3/objects/contacts/batch/upsert` with `idProperty: "email"` creates the contacts
whose email is new and updates the others, at most 100 inputs a request. Property values go
as strings, as HubSpot stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm.base import Connector, CrmRecord

PATH = "/crm/v3/objects/contacts/batch/upsert"


class HubSpotConnector(Connector):
    kind = "hubspot"
    max_records = 100

    def request(self, records: Sequence[CrmRecord]) -> tuple[str, str, dict[str, Any]]:
        inputs = [
            {
                "idProperty": "email",
                "id": record.email,
                "properties": {name: _text(value) for name, value in record.fields.items()},
            }
            for record in records
        ]
        return "POST", PATH, {"inputs": inputs}


def _text(value: Any) -> str:
    return "" if value is None else str(value)
