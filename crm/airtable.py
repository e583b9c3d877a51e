"""Airtable's Web API: upsert records into one table, merged on the email field.

`PATCH /v0/{baseId}/{tableIdOrName}` with `performUpsert.fieldsToMergeOn` creates the
records whose email is new and updates the others; at most 10 records a request and 5
requests a second per base, and a 429 asks for 30 seconds' rest
(https://airtable.com/developers/web/api/update-multiple-records).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from crm.base import Connector, CrmRecord


class AirtableConnector(Connector):
    kind = "airtable"
    max_records = 10

    def request(self, records: Sequence[CrmRecord]) -> tuple[str, str, dict[str, Any]]:
        base = quote(str(self.target["base_id"]), safe="")
        table = quote(str(self.target["table"]), safe="")
        body = {
            "performUpsert": {"fieldsToMergeOn": [self.email_field]},
            "records": [{"fields": dict(record.fields)} for record in records],
        }
        return "PATCH", f"/v0/{base}/{table}", body
