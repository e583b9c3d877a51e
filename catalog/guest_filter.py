"""Which guests a status change touches: the one guest filter of the product."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import asdict, dataclass, field

from luma import LumaGuest, identity_key
from luma.errors import InvalidEmailError


@dataclass
class GuestFilter:
    """Which guests a bulk job touches; empty lists mean "any".

    `tags` are ours (store.profiles), not Luma's: a guest matches when their person carries
    any of them. They are resolved from our database, org-scoped, into `tagged` identity keys
    by whoever applies the filter (the resolve activity, the cache preview).
    """

    statuses: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    answer_label: str | None = None
    answer_value: str | None = None
    tags: list[str] = field(default_factory=list)

    def matches(self, guest: LumaGuest, tagged: Collection[str] = frozenset()) -> bool:
        if self.statuses and guest.approval_status not in self.statuses:
            return False
        if self.domains and guest.email_domain not in {d.lower().lstrip("@") for d in self.domains}:
            return False
        key = identity_key(guest.email) if self.emails or self.tags else ""
        if self.emails and key not in self._email_keys():
            return False
        if self.tags and key not in tagged:
            return False
        return self.answer_label is None or self._answer_matches(guest)

    def _answer_matches(self, guest: LumaGuest) -> bool:
        wanted = (self.answer_value or "").strip().lower()
        for answer in guest.registration_answers:
            if self.answer_label and self.answer_label.lower() in answer.label.lower():
                return not wanted or wanted in answer.text.lower()
        return False

    def _email_keys(self) -> set[str]:
        keys = set()
        for raw in self.emails:
            try:
                keys.add(identity_key(raw))
            except InvalidEmailError:
                continue  # reported as a failure when resolving ends
        return keys

    def server_status(self) -> str | None:
        """A single status can be filtered by Luma itself, saving pages."""
        return self.statuses[0] if len(self.statuses) == 1 else None

    def fingerprint(self) -> str:
        """Stable short hash: the same filter always names the same job."""
        fields = asdict(self)
        if not self.tags:
            del fields["tags"]  # filters from before tags existed keep their job ids
        canonical = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:12]
