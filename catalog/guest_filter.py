"""Which guests: the one guest filter of the product, and its Python predicate.

Every guest list, count, export and bulk preview compiles a `GuestFilter` to SQL
(`catalog.guest_query`); the bulk job applies the very same filter in Python to fresh Luma
pages (`GuestFilter.matches`). Both sides read their needles from `GuestMatcher`, so a
condition means the same thing wherever it is evaluated:

- `statuses`, `domains`, `emails`, `tags`: any of the listed values (empty: any guest).
  Emails are compared by identity key (`luma.identity_key`), tags are ours (store.profiles).
- `search`: part of the name, the email or the company, case-insensitive.
- `answer_label` / `answer_value`: the guest answered a question whose label contains
  `answer_label` (case-insensitive) with an answer containing `answer_value`. An
  `answer_value` without an `answer_label` is ignored (it names no question; the API refuses
  it at its door, the portal says so next to the field).
- `vip`, `repeat`: the person is a VIP (intel.vip) / has registered for enough events.

Tags, VIPs and repeat guests are facts about people in our database, not in the guest row:
the Python side is handed them as a `People` (identity keys), the SQL side joins for them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from luma import LumaGuest, identity_key
from luma.errors import InvalidEmailError

# Fields added after the first bulk jobs ran, with the value that means "not used": a filter
# that leaves them so keeps the fingerprint (and so the workflow id) it always had.
_LATER_FIELDS: dict[str, Any] = {"tags": [], "search": None, "vip": False, "repeat": False}


def needle(text: str | None) -> str:
    """A filter's text as both sides compare it: trimmed, lowercase ("" means unused)."""
    return (text or "").strip().lower()


@dataclass
class GuestFilter:
    """Which guests a list shows or a bulk job touches; every given part must match.

    Serialized by field name into bulk workflow histories (`BulkStatusInput.filter`): fields
    are only ever added, with defaults, and left out of `fingerprint` while unused.
    """

    statuses: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    answer_label: str | None = None
    answer_value: str | None = None
    tags: list[str] = field(default_factory=list)
    search: str | None = None
    vip: bool = False
    repeat: bool = False

    @cached_property
    def compiled(self) -> GuestMatcher:
        """The needles, computed once per filter (treat a filter as frozen once matched)."""
        return GuestMatcher.of(self)

    def matches(self, guest: LumaGuest, people: People | None = None) -> bool:
        """True when the guest passes; `people` answers the tag, VIP and repeat parts."""
        return self.compiled.matches(guest, people or People())

    @property
    def empty(self) -> bool:
        """No part set: the filter lets every guest of the event through."""
        return self == GuestFilter()

    def server_status(self) -> str | None:
        """A single status can be filtered by Luma itself, saving pages."""
        return self.statuses[0] if len(self.statuses) == 1 else None

    def fingerprint(self) -> str:
        """Stable short hash: the same filter always names the same job."""
        fields = asdict(self)
        for name, unused in _LATER_FIELDS.items():
            if fields[name] == unused or (name == "search" and not fields[name]):
                del fields[name]
        canonical = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:12]


@dataclass(frozen=True)
class People:
    """Facts about people that a guest row lacks, as identity keys, resolved from our
    database by `catalog.guest_query.people_for` (only the ones the filter asks about)."""

    tagged: frozenset[str] = frozenset()  # carry one of the filter's tags
    vips: frozenset[str] = frozenset()
    repeats: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GuestMatcher:
    """A filter's needles, normalized once; `matches` is the filter's Python predicate."""

    statuses: frozenset[str]
    domains: frozenset[str]
    email_keys: frozenset[str] | None  # None: any email (an empty set matches nobody)
    tags: frozenset[str]
    search: str
    answer: tuple[str, str] | None  # (label needle, value needle)
    vip: bool
    repeat: bool

    @classmethod
    def of(cls, wanted: GuestFilter) -> GuestMatcher:
        label = needle(wanted.answer_label)
        return cls(
            statuses=frozenset(wanted.statuses),
            domains=frozenset(domain.lower().lstrip("@") for domain in wanted.domains),
            email_keys=frozenset(_email_keys(wanted.emails)) if wanted.emails else None,
            tags=frozenset(tag.lower() for tag in wanted.tags),
            search=needle(wanted.search),
            # A question asked for but blank matches nobody (never "any question").
            answer=None if wanted.answer_label is None else (label, needle(wanted.answer_value)),
            vip=wanted.vip,
            repeat=wanted.repeat,
        )

    @property
    def needs_key(self) -> bool:
        return bool(self.email_keys is not None or self.tags or self.vip or self.repeat)

    def matches(self, guest: LumaGuest, people: People) -> bool:
        if self.statuses and guest.approval_status not in self.statuses:
            return False
        if self.domains and guest.email_domain not in self.domains:
            return False
        if self.needs_key and not self._person_matches(person_key(guest.email), people):
            return False
        if self.search and not self._search_matches(guest):
            return False
        return self.answer is None or self._answer_matches(guest, *self.answer)

    def _person_matches(self, key: str, people: People) -> bool:
        return not (
            (self.email_keys is not None and key not in self.email_keys)
            or (self.tags and key not in people.tagged)
            or (self.vip and key not in people.vips)
            or (self.repeat and key not in people.repeats)
        )

    def _search_matches(self, guest: LumaGuest) -> bool:
        return any(
            self.search in (text or "").lower() for text in (guest.name, guest.email, guest.company)
        )

    @staticmethod
    def _answer_matches(guest: LumaGuest, label: str, value: str) -> bool:
        if not label:
            return False
        return any(
            label in answer.label.lower() and value in answer.text.lower()
            for answer in guest.registration_answers
        )


def person_key(email: str) -> str:
    """The identity key a guest's email is matched by (lenient: never raises)."""
    try:
        return identity_key(email)
    except InvalidEmailError:
        return email.strip().lower()  # as the sync stores such a guest's normalized_email


def _email_keys(emails: list[str]) -> set[str]:
    keys = set()
    for raw in emails:
        try:
            keys.add(identity_key(raw))
        except InvalidEmailError:
            continue  # reported as a failure when resolving ends
    return keys
