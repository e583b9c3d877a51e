"""The models read every generation of Luma's JSON, hand-written from the published shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from luma.models import ApprovalStatus, LumaEvent, LumaGuest, LumaPerson, LumaUser, Page

GEO = {
    "address": "1 Market St",
    "city": "San Francisco",
    "region": "California",
    "country": "United States",
    "city_state": "San Francisco, California",
    "full_address": "1 Market St, San Francisco, CA 94105, USA",
    "google_maps_place_id": "ChIJ",
}

EVENT_GEN1 = {
    "api_id": "evt-1",
    "event": {
        "api_id": "evt-1",
        "created_at": "2026-01-02T10:00:00.000Z",
        "cover_url": "https://images.lumacdn.com/c.png",
        "calendar_api_id": "cal-1",
        "description": "Talks",
        "description_md": "Talks",
        "duration_interval": "PT2H",
        "end_at": "2026-03-01T20:00:00.000Z",
        "geo_address_json": GEO,
        "geo_latitude": "37.79",
        "geo_longitude": "-122.39",
        "meeting_url": None,
        "name": "AI Night",
        "start_at": "2026-03-01T18:00:00.000Z",
        "timezone": "America/Los_Angeles",
        "url": "https://lu.ma/ai-night",
        "user_api_id": "usr-1",
        "visibility": "public",
        "zoom_meeting_url": None,
    },
    "tags": [{"api_id": "tag-1", "name": "AI"}],
}

EVENT_GEN2 = {
    "api_id": "evt-2",
    "event": {
        "id": "evt-2",
        "api_id": "evt-2",
        "name": "Founders Breakfast",
        "start_at": "2026-04-01T08:00:00+02:00",
        "end_at": None,
        "timezone": "Europe/Berlin",
        "geo_address_json": None,
        "visibility": "members-only",
        "calendar_id": "cal-2",
        "new_field_from_the_future": {"anything": 1},
    },
    "tags": [],
}

EVENT_GEN3 = {
    "id": "evt-3",
    "name": "Hack Day",
    "start_at": "2026-05-01T09:00:00Z",
    "end_at": "2026-05-01T18:00:00Z",
    "timezone": "UTC",
    "platform": "luma",
    "coordinate": {"latitude": 52.5, "longitude": 13.4},
    "location_type": "offline",
    "geo_address_json": {"city": "Berlin", "country": "Germany", "full_address": "Berlin"},
    "tags": [{"id": "tag-9", "name": "Hackathon"}],
    "url": "https://luma.com/hack",
}


def test_event_generation_1_wrapped_with_api_ids() -> None:
    event = LumaEvent.model_validate(EVENT_GEN1)
    assert event.id == "evt-1"
    assert event.name == "AI Night"
    assert event.start_at == datetime(2026, 3, 1, 18, tzinfo=UTC)
    assert event.calendar_id == "cal-1"
    assert (event.city, event.region, event.country) == (
        "San Francisco",
        "California",
        "United States",
    )
    assert event.full_address == GEO["full_address"]
    assert event.tag_names == ["AI"]
    assert event.tags[0].id == "tag-1"
    assert event.visibility == "public"
    assert event.raw == EVENT_GEN1


def test_event_generation_2_ignores_unknown_fields_and_keeps_offsets() -> None:
    event = LumaEvent.model_validate(EVENT_GEN2)
    assert event.id == "evt-2"
    assert event.start_at == datetime(2026, 4, 1, 6, tzinfo=UTC)
    assert event.start_at.tzinfo is UTC  # offsets are converted, not just kept
    assert event.end_at is None
    assert event.city is None and event.full_address is None
    assert event.visibility == "members-only"
    assert event.calendar_id == "cal-2"


def test_event_generation_3_flat() -> None:
    event = LumaEvent.model_validate(EVENT_GEN3)
    assert event.id == "evt-3"
    assert event.platform == "luma"
    assert event.location_type == "offline"
    assert event.city == "Berlin" and event.country == "Germany"
    assert event.tag_names == ["Hackathon"]
    assert event.end_at is not None and event.end_at.tzinfo is not None


def test_event_with_only_an_id() -> None:
    event = LumaEvent.model_validate({"api_id": "evt-min"})
    assert event.id == "evt-min"
    assert event.name == ""
    assert event.tags == []
    assert event.start_at is None


ANSWERS_GEN1 = [
    {"label": "Company", "question_id": "q1", "question_type": "company", "answer": "Acme"},
    {"label": "Job title", "question_id": "q2", "question_type": "text", "answer": "CTO"},
    {"label": "LinkedIn", "question_id": "q3", "question_type": "linkedin", "answer": "in/ann"},
    {"label": "I agree", "question_id": "q4", "question_type": "agree-check", "answer": True},
]

GUEST_GEN1 = {
    "api_id": "gst-1",
    "guest": {
        "api_id": "gst-1",
        "user_api_id": "usr-1",
        "user_email": "ann@acme.com",
        "user_name": "Ann Lee",
        "user_first_name": "Ann",
        "user_last_name": "Lee",
        "approval_status": "approved",
        "check_in_qr_code": "https://lu.ma/check-in/x",
        "checked_in_at": None,
        "custom_source": None,
        "eth_address": None,
        "invited_at": None,
        "joined_at": "2026-02-01T10:00:00.000Z",
        "phone_number": "+15550100",
        "registered_at": "2026-02-01T10:00:00.000Z",
        "registration_answers": ANSWERS_GEN1,
        "solana_address": None,
        "event_tickets": [
            {
                "api_id": "tkt-1",
                "amount": 2500,
                "amount_discount": 0,
                "amount_tax": None,
                "currency": "usd",
                "checked_in_at": "2026-03-01T18:05:00.000Z",
                "event_ticket_type_api_id": "ett-1",
                "is_captured": True,
                "name": "Standard",
            }
        ],
        "event_ticket": {"api_id": "tkt-1", "amount": 2500, "currency": "usd", "name": "Standard"},
    },
}

GUEST_GEN2 = {
    "api_id": "gst-2",
    "guest": {
        "id": "gst-2",
        "api_id": "gst-2",
        "user_id": "usr-2",
        "user_email": "bo@example.org",
        "user_name": "Bo",
        "approval_status": "pending_approval",
        "registered_at": "2026-02-03T12:00:00Z",
        "registration_answers": [
            {
                "label": "Where do you work?",
                "question_id": "q1",
                "question_type": "text",
                "answer": None,
                "value": "Globex",
            },
            {"label": "Your role", "question_type": "dropdown", "value": "Engineer"},
            {"label": "Topics", "question_type": "multi-select", "answer": ["AI", "Infra"]},
        ],
        "event_tickets": [],
        "event_ticket": None,
    },
}

GUEST_GEN3 = {
    "id": "gst-3",
    "user_id": "usr-3",
    "email": "cy@startup.io",
    "name": "Cy Young",
    "first_name": "Cy",
    "last_name": "Young",
    "approval_status": "some_new_status",
    "invited_at": "2026-02-05T09:00:00Z",
    "registered_at": None,
    "checked_in_at": "",
    "utm_source": "newsletter",
    "registration_answers": [
        {"label": "Organisation", "question_type": "text", "answer": "Startup IO", "value": None},
        {"label": "Profile", "question_type": "url", "answer": "https://linkedin.com/in/cy"},
    ],
    "event_tickets": [{"id": "tkt-3", "amount": 0, "checked_in_at": None}],
    "unknown": [1, 2, 3],
}


def test_guest_generation_1_reads_user_prefixed_fields_and_tickets() -> None:
    guest = LumaGuest.model_validate(GUEST_GEN1)
    assert guest.id == "gst-1"
    assert guest.user_id == "usr-1"
    assert guest.email == "ann@acme.com"
    assert guest.name == "Ann Lee"
    assert (guest.first_name, guest.last_name) == ("Ann", "Lee")
    assert guest.status is ApprovalStatus.APPROVED
    assert guest.registered_at == datetime(2026, 2, 1, 10, tzinfo=UTC)
    # Same ticket in `event_tickets` and `event_ticket`: counted once.
    assert [ticket.id for ticket in guest.tickets] == ["tkt-1"]
    assert guest.tickets[0].ticket_type_id == "ett-1"
    assert guest.is_paid
    assert guest.checked_in_at == datetime(2026, 3, 1, 18, 5, tzinfo=UTC)  # from the ticket
    assert guest.company == "Acme"
    assert guest.job_title == "CTO"
    assert guest.linkedin == "in/ann"
    assert guest.email_domain == "acme.com"
    assert guest.registration_answers[3].text == "yes"


def test_guest_generation_2_reads_answer_values() -> None:
    guest = LumaGuest.model_validate(GUEST_GEN2)
    assert guest.id == "gst-2"
    assert guest.user_id == "usr-2"
    assert guest.status is ApprovalStatus.PENDING_APPROVAL
    assert guest.tickets == []
    assert not guest.is_paid
    assert guest.company is None  # a free-text label that does not say "company"
    assert guest.job_title == "Engineer"
    assert guest.registration_answers[0].text == "Globex"
    assert guest.registration_answers[2].text == "AI, Infra"
    assert guest.checked_in_at is None


def test_guest_generation_3_flat_with_unknown_status_kept() -> None:
    guest = LumaGuest.model_validate(GUEST_GEN3)
    assert guest.id == "gst-3"
    assert guest.email == "cy@startup.io"
    assert guest.name == "Cy Young"
    assert guest.approval_status == "some_new_status"
    assert guest.status is None
    assert guest.registered_at is None
    assert guest.checked_in_at is None  # "" means not set
    assert guest.invited_at == datetime(2026, 2, 5, 9, tzinfo=UTC)
    assert guest.utm_source == "newsletter"
    assert guest.company == "Startup IO"
    assert guest.linkedin is None  # a url answer whose label does not say LinkedIn
    assert not guest.is_paid
    assert guest.email_domain == "startup.io"


def test_guest_with_the_bare_minimum() -> None:
    guest = LumaGuest.model_validate({"api_id": "gst-x", "approval_status": "invited"})
    assert guest.email == ""
    assert guest.registration_answers == [] and guest.tickets == []
    assert guest.company is None and guest.job_title is None and guest.linkedin is None


@pytest.mark.parametrize(
    "payload",
    [
        {
            "user": {
                "api_id": "usr-1",
                "email": "o@x.com",
                "name": "Org Anizer",
                "first_name": "Org",
                "last_name": "Anizer",
                "avatar_url": "https://a/b.png",
            }
        },
        {
            "id": "usr-1",
            "name": "Org Anizer",
            "avatar_url": "https://a/b.png",
            "email": "o@x.com",
            "first_name": "Org",
            "last_name": "Anizer",
        },
    ],
    ids=["generation-1", "generation-3"],
)
def test_get_self_in_both_shapes(payload: dict[str, Any]) -> None:
    user = LumaUser.model_validate(payload)
    assert (user.id, user.email, user.name) == ("usr-1", "o@x.com", "Org Anizer")


def test_pages_of_each_generation() -> None:
    wrapped = Page[LumaEvent].model_validate(
        {"entries": [EVENT_GEN1, EVENT_GEN2], "has_more": True, "next_cursor": "c2"}
    )
    assert [event.id for event in wrapped.entries] == ["evt-1", "evt-2"]
    assert wrapped.has_more and wrapped.next_cursor == "c2"

    flat = Page[LumaGuest].model_validate(
        {"entries": [GUEST_GEN1, GUEST_GEN2, GUEST_GEN3], "has_more": False}
    )
    assert [guest.id for guest in flat.entries] == ["gst-1", "gst-2", "gst-3"]
    assert not flat.has_more and flat.next_cursor is None

    assert Page[LumaGuest].model_validate({"entries": []}).entries == []


def test_people_nested_and_flat() -> None:
    nested = LumaPerson.model_validate(
        {
            "api_id": "per-1",
            "created_at": "2026-01-01T00:00:00Z",
            "event_approved_count": 3,
            "event_checked_in_count": 2,
            "user": {"api_id": "usr-1", "email": "p@x.com", "name": "P"},
            "tags": [{"api_id": "tag-1", "name": "VIP"}],
        }
    )
    assert (nested.id, nested.user_id, nested.email, nested.name) == (
        "per-1",
        "usr-1",
        "p@x.com",
        "P",
    )
    assert nested.event_checked_in_count == 2
    assert nested.tags[0].name == "VIP"

    flat = LumaPerson.model_validate({"id": "per-2", "email": "q@x.com", "name": "Q"})
    assert (flat.id, flat.email, flat.user_id) == ("per-2", "q@x.com", None)
