"""What we push about a person, the org's field mapping, and the hash that says "changed".

Our fields are fixed (`FIELDS`); the org maps each to a field of its table or a HubSpot
property, or leaves it out (empty). The email is always mapped: it is the merge key. For
HubSpot, a target of two property names ("firstname lastname") splits the name at its first
space. The hash covers the connector, the destination and the fields exactly as sent, so a
changed mapping or table pushes everyone again, and an unchanged person is never re-sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm.base import CrmRecord

# Our field -> its label (also Airtable's default column name).
FIELDS: dict[str, str] = {
    "name": "Name",
    "email": "Email",
    "company": "Company",
    "title": "Title",
    "events_attended": "Events attended",
    "no_shows": "No-shows",
    "vip_score": "VIP score",
    "tags": "Tags",
    "last_event": "Last event",
}
DEFAULT_MAPS: dict[str, dict[str, str]] = {
    "airtable": dict(FIELDS),
    # HubSpot's standard contact properties; counts and tags need custom properties, so they
    # are left out until an admin names theirs.
    "hubspot": {
        "name": "firstname lastname",
        "email": "email",
        "company": "company",
        "title": "jobtitle",
        "events_attended": "",
        "no_shows": "",
        "vip_score": "",
        "tags": "",
        "last_event": "",
    },
}
HUBSPOT_PROPERTY = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
MAX_FIELD_NAME = 100


class MappingError(ValueError):
    """A mapping that cannot be used, said in words."""


@dataclass(frozen=True)
class Person:
    """One profile, as pushed."""

    key: str  # the normalized email: our identity of the person
    email: str
    name: str = ""
    company: str = ""
    title: str = ""
    events_attended: int = 0
    no_shows: int = 0
    vip_score: int = 0
    tags: tuple[str, ...] = ()
    last_event: str = ""

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "email": self.email,
            "company": self.company,
            "title": self.title,
            "events_attended": self.events_attended,
            "no_shows": self.no_shows,
            "vip_score": self.vip_score,
            "tags": ", ".join(self.tags),
            "last_event": self.last_event,
        }


def clean_map(kind: str, submitted: Mapping[str, str]) -> dict[str, str]:
    """The mapping as stored: every one of our fields, stripped; `MappingError` when a name
    cannot be a field of the service or the email is not mapped."""
    cleaned = {ours: str(submitted.get(ours, "")).strip() for ours in FIELDS}
    if not cleaned["email"]:
        raise MappingError("The email must be mapped: it is how records are matched.")
    for ours, theirs in cleaned.items():
        if len(theirs) > MAX_FIELD_NAME:
            raise MappingError(f"The field for {FIELDS[ours]} is too long.")
        if kind != "hubspot" or not theirs:
            continue
        names = theirs.split()
        if len(names) > (2 if ours == "name" else 1) or not all(
            HUBSPOT_PROPERTY.match(name) for name in names
        ):
            raise MappingError(
                f"“{theirs}” is not a HubSpot property's internal name (lower case, digits "
                "and underscores, like jobtitle)."
            )
    return cleaned


def record_of(kind: str, person: Person, field_map: Mapping[str, str]) -> CrmRecord:
    values = person.values()
    fields: dict[str, Any] = {}
    for ours, theirs in field_map.items():
        names = theirs.split() if kind == "hubspot" else [theirs] if theirs else []
        if not names or ours not in values:
            continue
        if len(names) == 2:  # HubSpot's "firstname lastname"
            first, _, rest = str(values[ours]).partition(" ")
            fields[names[0]], fields[names[1]] = first, rest
        else:
            fields[theirs] = values[ours]
    return CrmRecord(person.email, fields)


def fields_hash(kind: str, target: Mapping[str, Any], record: CrmRecord) -> str:
    sent = {"kind": kind, "target": dict(target), "email": record.email, "fields": record.fields}
    encoded = json.dumps(sent, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()
