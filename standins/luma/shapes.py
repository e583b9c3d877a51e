"""JSON shapes of the two API generations the simulator serves.

Generation 1 (legacy `/public/v1/...`) wraps objects and prefixes fields (`api_id`,
`calendar_api_id`), as `shared/luma-api.md` describes. Generation 3 (current `/v1/...`) is
exactly what Luma's published OpenAPI spec says (`tests/contract/luma-openapi.json`): flat
objects with `id`, guests that keep the `user_` prefix, check-ins only on tickets, and no field
the spec does not define. Both are rendered from the same records, so a change made through one
generation is visible in the other.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime
from typing import Any

from standins.luma.model import Calendar, Event, Guest, Person, Tag, Ticket, WriteRecord

Json = dict[str, Any]


def iso(ts: float | None) -> str | None:
    """Luma's timestamp format: UTC, milliseconds, `Z` suffix."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _share(text: str) -> float:
    """A stable number in [0, 1) from an id: settings the records do not store (so saved
    simulator data needs no new fields) still differ from event to event, the same every run."""
    return zlib.crc32(text.encode()) / 2**32


def _duration(event: Event) -> str:
    minutes = round((event.end_at - event.start_at) / 60)
    return f"P0Y0M0DT{minutes // 60}H{minutes % 60}M0S"


def _geo(event: Event) -> Json:
    city = event.city
    return {
        "address": city.address,
        "city": city.name,
        "region": city.region,
        "country": city.country,
        "city_state": f"{city.name}, {city.region}",
        "full_address": f"{city.venue}, {city.address}, {city.name}, {city.country}",
        "google_maps_place_id": None,
        "apple_maps_place_id": None,
        "description": city.venue,
    }


def _event_common(event: Event, host: str) -> Json:
    return {
        "created_at": iso(event.created_at),
        "cover_url": f"https://images.lumacdn.com/event-covers/{event.slug}.png",
        "description": event.description,
        "description_md": event.description,
        "duration_interval": _duration(event),
        "end_at": iso(event.end_at),
        "geo_address_json": _geo(event),
        "meeting_url": None,
        "name": event.name,
        "start_at": iso(event.start_at),
        "timezone": event.city.timezone,
        "url": f"https://{host}/{event.slug}",
        "visibility": event.visibility,
    }


# --- generation 1 (legacy) -----------------------------------------------------------------


def event_v1(event: Event) -> Json:
    return {
        "api_id": event.id,
        "calendar_api_id": event.calendar_id,
        "user_api_id": event.host_user_id,
        "geo_latitude": str(event.city.latitude),
        "geo_longitude": str(event.city.longitude),
        "zoom_meeting_url": None,
        **_event_common(event, "lu.ma"),
    }


def event_entry_v1(event: Event) -> Json:
    return {"api_id": event.id, "event": event_v1(event), "tags": [_tag_v1(t) for t in event.tags]}


def _tag_v1(tag: Tag) -> Json:
    return {"api_id": tag.id, "name": tag.name}


def _legacy_answers(guest: Guest, event: Event) -> list[Json]:
    if not guest.answered:
        return []
    person = guest.person
    company_q, title_q, linkedin_q = event.question_ids
    rows = [
        ("Company", company_q, "company", person.company),
        ("Job title", title_q, "text", person.job_title),
        ("LinkedIn", linkedin_q, "linkedin", person.linkedin_url),
    ]
    return [
        {"label": label, "question_id": qid, "question_type": kind, "answer": answer}
        for label, qid, kind, answer in rows
        if answer is not None
    ]


def _ticket_v1(ticket: Ticket, guest: Guest) -> Json:
    return {
        "api_id": ticket.id,
        "amount": ticket.amount,
        "amount_discount": ticket.amount_discount,
        "amount_tax": ticket.amount_tax,
        "currency": ticket.currency.lower(),
        "checked_in_at": iso(guest.checked_in_at),
        "event_ticket_type_api_id": ticket.type_id,
        "is_captured": ticket.amount > 0,
        "name": ticket.name,
    }


def _qr(guest: Guest, host: str) -> str:
    return f"https://{host}/check-in/{guest.event_id}?pk={guest.id.removeprefix('gst-')}"


def guest_v1(guest: Guest, event: Event) -> Json:
    person = guest.person
    tickets = [_ticket_v1(guest.ticket, guest)] if guest.ticket else []
    return {
        "api_id": guest.id,
        "user_api_id": person.id,
        "user_email": person.email,
        "user_name": person.name,
        "user_first_name": person.first_name,
        "user_last_name": person.last_name,
        "approval_status": guest.approval_status,
        "check_in_qr_code": _qr(guest, "lu.ma"),
        "checked_in_at": iso(guest.checked_in_at),
        "custom_source": None,
        "eth_address": None,
        "invited_at": iso(guest.invited_at),
        "joined_at": iso(guest.registered_at),
        "phone_number": None,
        "registered_at": iso(guest.registered_at),
        "registration_answers": _legacy_answers(guest, event),
        "solana_address": None,
        "event_tickets": tickets,
        "event_ticket": tickets[0] if tickets else None,
    }


def guest_entry_v1(guest: Guest, event: Event) -> Json:
    return {"api_id": guest.id, "guest": guest_v1(guest, event)}


def _user_fields(person: Person) -> Json:
    return {
        "email": person.email,
        "name": person.name,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "avatar_url": f"https://images.lumacdn.com/avatars/{person.id}.png",
    }


def self_v1(owner: Person) -> Json:
    """get-self: the person a key belongs to (a calendar's or an organization's owner)."""
    return {"user": {"api_id": owner.id, **_user_fields(owner)}}


def _person_counts(calendar: Calendar, person: Person) -> Json:
    guests = calendar.guests_by_person.get(person.id, [])
    return {
        "created_at": iso(person.created_at),
        "event_approved_count": sum(g.approval_status == "approved" for g in guests),
        "event_checked_in_count": sum(g.checked_in_at is not None for g in guests),
        "revenue_usd_cents": sum(g.ticket.amount for g in guests if g.paid and g.ticket),
        "tags": [],
    }


def person_v1(calendar: Calendar, person: Person) -> Json:
    return {
        "api_id": person.id,
        **_person_counts(calendar, person),
        "user": {"api_id": person.id, **_user_fields(person)},
    }


# --- generation 3 (current, per the published spec) ----------------------------------------


def self_v3(owner: Person) -> Json:
    return {"id": owner.id, **_user_fields(owner)}


def calendar_slug(calendar: Calendar) -> str:
    return re.sub(r"[^a-z0-9]+", "-", calendar.name.lower()).strip("-")


def calendar_v3(calendar: Calendar) -> Json:
    """`GET /v1/calendars/get`: the calendar the key belongs to."""
    slug = calendar_slug(calendar)
    return {
        "id": calendar.id,
        "name": calendar.name,
        "slug": slug,
        "avatar_url": f"https://images.lumacdn.com/calendars/{calendar.id}.png",
        "url": f"https://luma.com/{slug}",
        "description": f"Events hosted by {calendar.name}.",
        "social_image_url": None,
        "cover_image_url": f"https://images.lumacdn.com/calendar-covers/{calendar.id}.png",
        "is_personal": False,
        "location": None,
        "coordinate": None,
        "instagram_handle": None,
        "twitter_handle": slug.replace("-", "")[:15],
        "youtube_handle": None,
        "website": f"https://{calendar.owner.email.split('@')[1]}",
    }


def _collects_job_title(event: Event) -> bool:
    """Most events ask the job title inside the company question (`collect_job_title`);
    some still ask it as a separate text question, as older events did."""
    return _share(event.question_ids[1]) < 0.75


def _questions(event: Event) -> list[Json]:
    company_q, title_q, linkedin_q = event.question_ids
    company: Json = {"id": company_q, "label": "Company", "required": False}
    questions = [{**company, "question_type": "company"}]
    if _collects_job_title(event):
        questions[0] |= {"collect_job_title": True, "job_title_label": "Job title"}
    else:
        questions.append(
            {"id": title_q, "label": "Job title", "required": False, "question_type": "text"}
        )
    questions.append(
        {"id": linkedin_q, "label": "LinkedIn", "required": False, "question_type": "linkedin"}
    )
    return questions


def event_v3(event: Event) -> Json:
    """A Luma-platform event as the spec defines it (the webhook payloads carry this one)."""
    city = event.city
    return {
        "platform": "luma",
        "id": event.id,
        "user_id": event.host_user_id,
        "calendar_id": event.calendar_id,
        **_event_common(event, "luma.com"),
        "coordinate": {"latitude": city.latitude, "longitude": city.longitude},
        "location_type": "offline",
        "location_visibility": "public" if event.visibility == "public" else "guests-only",
        "registration_questions": _questions(event),
        "waitlist_status": (
            "enabled"
            if any(g.approval_status == "waitlist" for g in event.guests.values())
            else "disabled"
        ),
        "feedback_email": {"enabled": _share(event.id) < 0.6, "delay": "PT2H"},
    }


def event_entry_v3(event: Event) -> Json:
    """An entry of `/v1/calendars/events/list`: the event and its tags."""
    return {**event_v3(event), "tags": [{"id": t.id, "name": t.name} for t in event.tags]}


def org_event_v3(event: Event, calendar: Calendar) -> Json:
    """An entry of `/v1/organizations/events/list`: no tags, the deprecated spellings the spec
    still requires there, and the calendars managing the event (here only its own)."""
    city = event.city
    return {
        **event_v3(event),
        "api_id": event.id,
        "user_api_id": event.host_user_id,
        "calendar_api_id": event.calendar_id,
        "zoom_meeting_url": None,
        "geo_latitude": str(city.latitude),
        "geo_longitude": str(city.longitude),
        "managing_calendars": [{**calendar_v3(calendar), "status": "approved"}],
    }


def event_get_v3(event: Event, calendar: Calendar) -> Json:
    """`/v1/events/get`: the event with its hosts inline (and no tags)."""
    host = {"id": calendar.owner.id, **_user_fields(calendar.owner)}
    return {**event_v3(event), "hosts": [host]}


def _answers(guest: Guest, event: Event) -> list[Json]:
    """Registration answers as the spec's per-type variants: `value` always, `answer` too,
    and `answer_company` / `answer_job_title` on the company answer."""
    if not guest.answered:
        return []
    person = guest.person
    company_q, title_q, linkedin_q = event.question_ids
    with_title = _collects_job_title(event)
    title = person.job_title if with_title else None
    answers: list[Json] = []
    if person.company is not None or title is not None:
        answers.append(
            {
                "label": "Company",
                "question_id": company_q,
                "question_type": "company",
                "value": {"company": person.company, "job_title": title},
                "answer": person.company,
                "answer_company": person.company,
                "answer_job_title": title,
            }
        )
    rows = [("LinkedIn", linkedin_q, "linkedin", person.linkedin_url)]
    if not with_title:
        rows.insert(0, ("Job title", title_q, "text", person.job_title))
    for label, question_id, kind, text in rows:
        if text is not None:
            answers.append(
                {
                    "label": label,
                    "question_id": question_id,
                    "question_type": kind,
                    "value": text,
                    "answer": text,
                }
            )
    return answers


def ticket_v3(ticket: Ticket, guest: Guest) -> Json:
    """A guest's ticket as the spec's `event_tickets[]` item (and `ticket.registered`'s
    `event_ticket`)."""
    return {
        "id": ticket.id,
        "amount": ticket.amount,
        "amount_discount": ticket.amount_discount,
        "amount_tax": ticket.amount_tax,
        "currency": ticket.currency.lower(),
        "checked_in_at": iso(guest.checked_in_at),
        "event_ticket_type_id": ticket.type_id,
        "is_captured": ticket.amount > 0,
        "name": ticket.name,
    }


def _order_v3(ticket: Ticket) -> Json:
    return {
        "id": f"ord-{ticket.id.removeprefix('tkt-')}",
        "amount": ticket.amount,
        "amount_discount": ticket.amount_discount,
        "amount_tax": ticket.amount_tax,
        "currency": ticket.currency.lower(),
        "coupon_info": None,
        "is_captured": ticket.amount > 0,
    }


def guest_v3(guest: Guest, event: Event) -> Json:
    """A guest as `/v1/events/guests/list` sends it: check-ins only on the tickets."""
    person = guest.person
    return {
        "id": guest.id,
        "user_id": person.id,
        "user_email": person.email,
        "user_name": person.name,
        "user_first_name": person.first_name,
        "user_last_name": person.last_name,
        "approval_status": guest.approval_status,
        "check_in_qr_code": _qr(guest, "luma.com"),
        "eth_address": None,
        "invited_at": iso(guest.invited_at),
        "joined_at": None,  # set only when a guest opens an online event's join link
        "phone_number": None,
        "registered_at": iso(guest.registered_at),
        "registration_answers": _answers(guest, event),
        "solana_address": None,
        "utm_source": guest.utm_source,
        "event_tickets": [ticket_v3(guest.ticket, guest)] if guest.ticket else [],
    }


def guest_get_v3(guest: Guest, event: Event) -> Json:
    """`/v1/events/guests/get`: the list's guest plus the ticket orders."""
    orders = [_order_v3(guest.ticket)] if guest.ticket else []
    return {**guest_v3(guest, event), "event_ticket_orders": orders}


def person_v3(calendar: Calendar, person: Person) -> Json:
    return {
        "id": person.id,
        "user_id": person.id,
        **_person_counts(calendar, person),
        "membership": None,
        **_user_fields(person),
    }


def write_record(record: WriteRecord) -> Json:
    return {
        "seq": record.seq,
        "endpoint": record.endpoint,
        "path": record.path,
        "calendar_id": record.calendar_id,
        "event_id": record.event_id,
        "guest_id": record.guest_id,
        "email": record.email,
        "old_status": record.old_status,
        "new_status": record.new_status,
        "changed": record.changed,
        "should_refund": record.should_refund,
        "at": iso(record.at),
    }
