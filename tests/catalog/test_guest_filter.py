"""The one guest filter in Python: what each part means, and job ids that never move."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from catalog.guest_filter import GuestFilter, People
from luma import LumaGuest

ADA = LumaGuest(
    id="gst-1",
    email="Ada.Lovelace@Gmail.com",
    name="Ada Lovelace",
    approval_status="pending_approval",
    registration_answers=[
        {"label": "Company name", "question_type": "company", "answer": "Analytical Engines"},
        {"label": "Dietary needs", "answer": "vegan"},
        {"label": "Anything else?", "answer": "no"},
    ],
)


def test_each_part_of_the_filter() -> None:
    assert GuestFilter(statuses=["pending_approval"], domains=["@GMAIL.com"]).matches(ADA)
    assert not GuestFilter(statuses=["approved"]).matches(ADA)
    # Emails by identity key: Gmail dots and case do not matter.
    assert GuestFilter(emails=["adalovelace@gmail.com", "not an email"]).matches(ADA)
    assert not GuestFilter(emails=["not an email"]).matches(ADA)  # nobody, never everybody
    # Search: the name, the email or the company.
    assert GuestFilter(search="ANALYTICAL").matches(ADA)
    assert GuestFilter(search="lovelace@").matches(ADA)
    assert not GuestFilter(search="babbage").matches(ADA)
    # The answer to a named question, never any answer's text.
    assert GuestFilter(answer_label="diet", answer_value="VEGAN").matches(ADA)
    assert GuestFilter(answer_label="diet").matches(ADA)
    assert not GuestFilter(answer_label="diet", answer_value="no").matches(ADA)
    assert not GuestFilter(answer_label="diet", answer_value="answer").matches(ADA)
    assert not GuestFilter(answer_label="shoe size").matches(ADA)
    assert not GuestFilter(answer_label="  ", answer_value="vegan").matches(ADA)  # blank: nobody
    # An answer without its question names no question: it is ignored.
    assert GuestFilter(answer_value="nothing like it").matches(ADA)
    # Tags, VIPs and repeat guests come from our database, as identity keys.
    key = "adalovelace@gmail.com"
    assert not GuestFilter(tags=["speaker"]).matches(ADA)
    assert GuestFilter(tags=["speaker"]).matches(ADA, People(tagged=frozenset({key})))
    assert not GuestFilter(vip=True).matches(ADA, People(repeats=frozenset({key})))
    assert GuestFilter(vip=True, repeat=True).matches(
        ADA, People(vips=frozenset({key}), repeats=frozenset({key}))
    )


def test_fingerprints_of_old_filters_never_change() -> None:
    """Workflow ids are derived from the fingerprint: fields added later stay out of it
    while unused, so a filter from before them names the same job."""
    old = GuestFilter(statuses=["pending_approval"], domains=["acme.com"], emails=["a@b.co"])
    fields: dict[str, Any] = {
        "statuses": ["pending_approval"],
        "domains": ["acme.com"],
        "emails": ["a@b.co"],
        "answer_label": None,
        "answer_value": None,
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
    assert old.fingerprint() == digest
    assert GuestFilter(**fields, search="").fingerprint() == digest
    different = {
        GuestFilter(**fields, search="ada").fingerprint(),
        GuestFilter(**fields, vip=True).fingerprint(),
        GuestFilter(**fields, repeat=True).fingerprint(),
        GuestFilter(**fields, tags=["vip"]).fingerprint(),
    }
    assert digest not in different and len(different) == 4


def test_the_needles_are_computed_once_per_filter() -> None:
    """The bulk job matches 50,000 guests against one filter: the 2,000-email key set is
    built once (bench/guest_filter.py measures it), not per guest."""
    wanted = GuestFilter(emails=[f"p{i}@example.com" for i in range(2000)])
    assert wanted.compiled is wanted.compiled
    assert wanted.compiled.email_keys is not None and len(wanted.compiled.email_keys) == 2000
    assert wanted == GuestFilter(emails=list(wanted.emails))  # equality ignores the cache
