"""Answers shaped exactly as Luma's published spec says, written by hand (the spec has no
examples of its own). Each carries every property the spec defines for it, optional ones too,
so a parser that looks up anything else is caught; `test_luma_contract` checks each one is
valid against the spec before using it.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

GEO = {
    "address": "Rheinsberger Str. 76/77",
    "city": "Berlin",
    "region": "Berlin",
    "country": "Germany",
    "city_state": "Berlin, Berlin",
    "full_address": "Factory Berlin Mitte, Rheinsberger Str. 76/77, 10115 Berlin, Germany",
    "google_maps_place_id": "ChIJ2d8pQ-FRqEcR6Xn0hMjNL9s",
    "apple_maps_place_id": None,
    "description": "Factory Berlin Mitte",
}

QUESTIONS = [
    {"id": "q-agree", "label": "I agree to the code of conduct", "required": True,
     "question_type": "agree-check"},
    {"id": "q-company", "label": "Company", "required": True, "question_type": "company",
     "collect_job_title": True, "job_title_label": "Job title"},
    {"id": "q-track", "label": "Track", "required": False, "question_type": "dropdown",
     "options": ["Builders", "Investors"]},
    {"id": "q-topics", "label": "Topics", "required": False, "question_type": "multi-select",
     "options": ["AI", "Climate", "Infra"]},
    {"id": "q-phone", "label": "Phone", "required": False, "question_type": "phone-number"},
    {"id": "q-terms", "label": "Photo release", "required": True, "question_type": "terms",
     "terms": {"content_type": "link", "url": "https://example.com/terms",
               "collect_signature": False}},
    {"id": "q-linkedin", "label": "LinkedIn", "required": False, "question_type": "linkedin"},
    {"id": "q-site", "label": "Website", "required": False, "question_type": "url"},
]  # fmt: skip

EVENT: Json = {
    "platform": "luma",
    "id": "evt-7Qx2LmNp4RtY9a",
    "user_id": "usr-owner1",
    "calendar_id": "cal-berlinbuilders",
    "start_at": "2026-03-05T17:00:00.000Z",
    "duration_interval": "P0Y0M0DT3H0M0S",
    "end_at": "2026-03-05T20:00:00.000Z",
    "created_at": "2026-01-20T09:12:44.310Z",
    "timezone": "Europe/Berlin",
    "name": "AI Builders Meetup Berlin",
    "description": "Talks and demos.",
    "description_md": "Talks and **demos**.",
    "geo_address_json": GEO,
    "coordinate": {"longitude": 13.3946, "latitude": 52.5374},
    "meeting_url": None,
    "location_type": "offline",
    "location_visibility": "guests-only",
    "cover_url": "https://images.lumacdn.com/event-covers/ai-berlin.png",
    "registration_questions": QUESTIONS,
    "url": "https://luma.com/ai-berlin",
    "visibility": "public",
    "waitlist_status": "enabled",
    "feedback_email": {"enabled": True, "delay": "PT2H"},
}

EXTERNAL_EVENT: Json = {
    "platform": "external",
    "id": "evt-ext9KpQ2",
    "calendar_id": "cal-berlinbuilders",
    "start_at": "2026-04-10T16:00:00.000Z",
    "duration_interval": "P0Y0M0DT2H0M0S",
    "end_at": "2026-04-10T18:00:00.000Z",
    "created_at": "2026-02-01T10:00:00.000Z",
    "timezone": "Europe/Berlin",
    "name": "Partner Hackathon",
    "geo_address_json": None,
    "coordinate": None,
    "url": "https://partner.example.com/hackathon",
    "host": "Partner Inc.",
}

HOST = {
    "id": "usr-owner1",
    "email": "maya@berlinbuilders.com",
    "name": "Maya Chen",
    "first_name": "Maya",
    "last_name": "Chen",
    "avatar_url": "https://images.lumacdn.com/avatars/usr-owner1.png",
}

EVENT_GET: Json = {**EVENT, "hosts": [HOST]}

EVENTS_PAGE: Json = {
    "entries": [
        {**EVENT, "tags": [{"id": "tag-ai", "name": "AI"}]},
        {**EXTERNAL_EVENT, "tags": []},
    ],
    "has_more": True,
    "next_cursor": "c2VlbiB0aHJvdWdo",
}

ANSWERS = [
    {"label": "I agree to the code of conduct", "question_id": "q-agree", "value": True,
     "answer": True, "question_type": "agree-check"},
    {"label": "Company", "question_id": "q-company",
     "value": {"company": "Acme", "job_title": "CTO"}, "answer": "Acme",
     "answer_company": "Acme", "answer_job_title": "CTO", "question_type": "company"},
    {"label": "Track", "question_id": "q-track", "value": "Builders", "answer": "Builders",
     "question_type": "dropdown"},
    {"label": "Topics", "question_id": "q-topics", "value": ["AI", "Infra"],
     "answer": ["AI", "Infra"], "question_type": "multi-select"},
    {"label": "Phone", "question_id": "q-phone", "value": "+4915550100",
     "answer": "+4915550100", "question_type": "phone-number"},
    {"label": "Photo release", "question_id": "q-terms", "value": True, "answer": True,
     "question_type": "terms"},
    {"label": "LinkedIn", "question_id": "q-linkedin",
     "value": "https://www.linkedin.com/in/ann-lee", "answer": "https://www.linkedin.com/in/ann-lee",
     "question_type": "linkedin"},
    {"label": "Website", "question_id": "q-site", "value": "https://acme.example",
     "answer": "https://acme.example", "question_type": "url"},
]  # fmt: skip

TICKETS = [
    {
        "id": "tkt-1aZ",
        "amount": 2500,
        "amount_discount": 0,
        "amount_tax": 475,
        "currency": "eur",
        "checked_in_at": None,
        "event_ticket_type_id": "ett-general",
        "is_captured": True,
        "name": "General Admission",
    },
    {
        "id": "tkt-2bY",
        "amount": 0,
        "amount_discount": 0,
        "amount_tax": 0,
        "currency": None,
        "checked_in_at": "2026-03-05T17:21:09.000Z",
        "event_ticket_type_id": "ett-workshop",
        "is_captured": False,
        "name": "Workshop add-on",
    },
]

GUEST: Json = {
    "id": "gst-Ann8xQ",
    "user_id": "usr-ann",
    "user_email": "ann.lee@acme.com",
    "user_name": "Ann Lee",
    "user_first_name": "Ann",
    "user_last_name": "Lee",
    "approval_status": "approved",
    "check_in_qr_code": "https://luma.com/check-in/evt-7Qx2LmNp4RtY9a?pk=Ann8xQ",
    "eth_address": "0x52908400098527886E0F7030069857D2E4169EE7",
    "invited_at": None,
    "joined_at": None,
    "phone_number": "+4915550100",
    "registered_at": "2026-02-11T08:30:00.000Z",
    "registration_answers": ANSWERS,
    "solana_address": "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV",
    "utm_source": "newsletter",
    "event_tickets": TICKETS,
}

INVITED: Json = {
    **GUEST,
    "id": "gst-Bo2",
    "user_id": "usr-bo",
    "user_email": "bo@gmail.com",
    "user_name": None,
    "user_first_name": None,
    "user_last_name": None,
    "approval_status": "invited",
    "eth_address": None,
    "invited_at": "2026-02-01T12:00:00.000Z",
    "phone_number": None,
    "registered_at": None,
    "registration_answers": None,
    "solana_address": None,
    "utm_source": None,
    "event_tickets": [],
}

GUESTS_PAGE: Json = {"entries": [GUEST, INVITED], "has_more": False, "next_cursor": "end"}

GUEST_GET: Json = {
    **GUEST,
    "event_ticket_orders": [
        {
            "id": "ord-1aZ",
            "amount": 2500,
            "amount_discount": 500,
            "amount_tax": 475,
            "currency": "eur",
            "coupon_info": {
                "api_id": "cpn-early",
                "percent_off": 20,
                "cents_off": None,
                "currency": None,
                "code": "EARLY",
            },
            "is_captured": True,
        }
    ],
}

SELF: Json = {
    "id": "usr-owner1",
    "name": "Maya Chen",
    "avatar_url": "https://images.lumacdn.com/avatars/usr-owner1.png",
    "email": "maya@berlinbuilders.com",
    "first_name": "Maya",
    "last_name": "Chen",
}

CALENDAR: Json = {
    "id": "cal-berlinbuilders",
    "name": "Berlin Builders",
    "slug": "berlin-builders",
    "avatar_url": None,
    "url": "https://luma.com/berlin-builders",
    "description": "Monthly meetups for builders in Berlin.",
    "social_image_url": None,
    "cover_image_url": None,
    "is_personal": False,
    "location": {
        "city": "Berlin",
        "region": "Berlin",
        "country": "Germany",
        "country_code": "DE",
        "timezone": "Europe/Berlin",
    },
    "coordinate": {"longitude": 13.405, "latitude": 52.52},
    "instagram_handle": None,
    "twitter_handle": "berlinbuilders",
    "youtube_handle": None,
    "website": "https://berlinbuilders.com",
}

PEOPLE_PAGE: Json = {
    "entries": [
        {
            "id": "cm-ann",
            "user_id": "usr-ann",
            "created_at": "2025-11-02T10:00:00.000Z",
            "event_approved_count": 4,
            "event_checked_in_count": 3,
            "revenue_usd_cents": 7500,
            "tags": [{"id": "tag-vip", "name": "VIP"}],
            "membership": {"status": "approved", "calendar_membership_tier_id": None},
            "name": "Ann Lee",
            "avatar_url": "https://images.lumacdn.com/avatars/usr-ann.png",
            "email": "ann.lee@acme.com",
            "first_name": "Ann",
            "last_name": "Lee",
        }
    ],
    "has_more": False,
}

WEBHOOK: Json = {
    "id": "whk-01",
    "url": "https://bot.example.com/luma/webhook/secret-path-token",
    "event_types": ["guest.registered", "guest.updated", "ticket.registered"],
    "status": "active",
    "secret": "whsec_0123456789abcdef",
    "created_at": "2026-01-05T09:30:00.000Z",
}

WEBHOOKS_PAGE: Json = {
    "entries": [WEBHOOK, {**WEBHOOK, "id": "whk-02", "status": "paused"}],
    "has_more": False,
}

# --- contact tags ---------------------------------------------------------------------------

CONTACT_TAGS: Json = {
    "entries": [
        {"id": "tag-vip01", "name": "VIP", "color": "cranberry"},
        {"id": "tag-spk02", "name": "speaker", "color": "blue"},
    ],
    "has_more": False,
}
CONTACT_TAG_CREATED: Json = {"id": "tag-new03"}
CONTACT_TAG_APPLIED: Json = {"applied_count": 2, "skipped_count": 1}

# --- organization keys ----------------------------------------------------------------------

SISTER_CALENDAR: Json = {
    **CALENDAR,
    "id": "cal-lisbonbuilders",
    "name": "Lisbon Builders",
    "slug": None,
    "url": "https://luma.com/cal-lisbonbuilders",
    "location": None,
    "coordinate": None,
    "twitter_handle": None,
}

ORG_CALENDARS_PAGE: Json = {
    "entries": [CALENDAR, SISTER_CALENDAR],
    "has_more": True,
    "next_cursor": "b3JnLWNhbGVuZGFycw",
}

# An organization's event: no tags, the deprecated spellings the spec still requires here, and
# the calendars that manage it (this one is Berlin's, and approved on Lisbon's as well).
ORG_EVENT: Json = {
    **EVENT,
    "api_id": EVENT["id"],
    "user_api_id": EVENT["user_id"],
    "calendar_api_id": EVENT["calendar_id"],
    "zoom_meeting_url": None,
    "geo_latitude": "52.5374",
    "geo_longitude": "13.3946",
    "managing_calendars": [
        {**CALENDAR, "status": "approved"},
        {**SISTER_CALENDAR, "status": "approved"},
    ],
}
SISTER_EVENT: Json = {
    **ORG_EVENT,
    "id": "evt-lisbonNight01",
    "api_id": "evt-lisbonNight01",
    "calendar_id": SISTER_CALENDAR["id"],
    "calendar_api_id": SISTER_CALENDAR["id"],
    "managing_calendars": [
        {**SISTER_CALENDAR, "status": "approved"},
        {**CALENDAR, "status": "pending"},
    ],
}

ORG_EVENTS_PAGE: Json = {
    "entries": [ORG_EVENT, SISTER_EVENT],
    "has_more": True,
    "next_cursor": "b3JnLWV2ZW50cw",
}
